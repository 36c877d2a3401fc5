"""The keystore file's format: a JSON header naming the argon2id cost and salt, and the state
sealed in a SecretBox under the key derived from the passphrase."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret
from pydantic import ValidationError

from haven_client.errors import KeystoreError, WrongPassphrase
from haven_client.keystore_state import KeystoreState
from haven_crypto.crypto import b64d

FORMAT = "haven-keystore"


@dataclasses.dataclass(frozen=True)
class KdfParams:
    """argon2id cost; stored in the file so it can be raised later without breaking old files."""

    opslimit: int = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
    memlimit: int = nacl.pwhash.argon2id.MEMLIMIT_MODERATE

    @classmethod
    def interactive(cls) -> KdfParams:
        return cls(
            nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
        )

    @classmethod
    def minimal(cls) -> KdfParams:
        """For tests only: argon2id's floor, milliseconds instead of a second."""
        return cls(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)


async def load(target: Path, passphrase: str) -> tuple[bytes, bytes, KdfParams, KeystoreState]:
    try:
        document = json.loads(await asyncio.to_thread(target.read_bytes))
        salt, params, sealed = _parse_header(document)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeystoreError(f"cannot read keystore {target}: {exc}") from exc
    key = await asyncio.to_thread(derive, passphrase, salt, params)
    try:
        plain = nacl.secret.SecretBox(key).decrypt(sealed)
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassphrase("wrong passphrase or tampered keystore") from exc
    try:
        state = KeystoreState.model_validate_json(plain)
    except ValidationError as exc:
        raise KeystoreError(f"keystore content is invalid: {exc}") from exc
    return key, salt, params, state


def derive(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    if not passphrase:
        raise KeystoreError("an empty passphrase would not protect anything")
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        passphrase.encode("utf-8"),
        salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )


def _parse_header(document: Any) -> tuple[bytes, KdfParams, bytes]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("not a Haven keystore")
    kdf = document["kdf"]
    if kdf.get("alg") != "argon2id":
        raise ValueError(f"unsupported kdf {kdf.get('alg')!r}")
    params = KdfParams(int(kdf["opslimit"]), int(kdf["memlimit"]))
    return b64d(kdf["salt"]), params, b64d(document["box"])
