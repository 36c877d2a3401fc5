"""`haven-admin verify-receipt FILE`: check a deletion receipt offline.

FILE holds the answer of `POST /v1/me/delete` (`{"receipt", "receipt_signature"}`). The
public keys are the configured receipt keys' (HAVEN_RECEIPT_KEY_FILE and the previous ones —
never the token keys, which sign no receipt), or given as `--public-key KID=BASE64URL` (from
`GET /v1/keys`). Exit 0: valid; 1: not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from haven_crypto.receipts import verify_receipt
from services.gateway.security.receipt_keys import ReceiptSigner
from services.gateway.settings import GatewaySettings


def add_parser(commands: Any) -> None:
    verify = commands.add_parser("verify-receipt", help="verify an account deletion receipt")
    verify.add_argument("file", type=Path)
    verify.add_argument("--public-key", action="append", default=[], metavar="KID=BASE64URL")


def public_keys(settings: GatewaySettings, given: list[str]) -> dict[str, bytes | str]:
    if given:
        pairs = [item.partition("=") for item in given]
        return {kid: key for kid, _, key in pairs if kid and key}
    if settings.receipt_key_file is None:
        raise SystemExit("no HAVEN_RECEIPT_KEY_FILE configured: pass --public-key KID=KEY")
    return dict(ReceiptSigner.from_settings(settings).public_keys())


def run(settings: GatewaySettings, args: argparse.Namespace) -> int:
    try:
        answer = json.loads(args.file.read_text())
        receipt, signature = answer["receipt"], answer["receipt_signature"]
    except (OSError, ValueError, KeyError, TypeError):
        sys.stderr.write("not a deletion receipt: expected {receipt, receipt_signature}\n")
        return 2
    if not isinstance(receipt, dict) or not isinstance(signature, str):
        sys.stderr.write("not a deletion receipt: expected {receipt, receipt_signature}\n")
        return 2
    if verify_receipt(receipt, signature, public_keys(settings, args.public_key)):
        sys.stdout.write(
            f"valid: account {receipt.get('account_id')} deletion requested at "
            f"{receipt.get('requested_at')}\n"
        )
        return 0
    sys.stdout.write("NOT valid: altered, or signed by another key\n")
    return 1
