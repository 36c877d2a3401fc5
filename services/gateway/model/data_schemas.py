"""HTTP bodies of "Your data": deletion, its receipt, the public keys, the export's shape."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from services.gateway.model.schemas import Request, Response


class DeleteAccount(Request):
    password: Annotated[str, Field(min_length=1, max_length=256)]


class DeletionReceipt(Response):
    """`receipt` is signed as canonical JSON (haven_crypto/receipts.py) with the key it names."""

    receipt: dict[str, Any]
    receipt_signature: str = Field(json_schema_extra={"contentEncoding": "base64url"})


class PublicKey(Response):
    kid: str
    alg: str = "Ed25519"
    public_key: str = Field(json_schema_extra={"contentEncoding": "base64url"})
    current: bool


class PublicKeys(Response):
    """The gateway's token and receipt signing keys (current and still-accepted older ones)."""

    keys: list[PublicKey]


class ExportDocument(Response):
    """The streamed export (docs/integrators.md "Export format")."""

    format: str = "haven-export"
    version: int = 1
    exported_at: str
    account: dict[str, Any]
    devices: list[dict[str, Any]]
    conversations: list[dict[str, Any]]
    notifications: dict[str, Any]
    agreement_consents: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    complete: bool
