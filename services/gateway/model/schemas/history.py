"""HTTP bodies of history on a new device: the account's backup key and device linking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from haven_crypto import crypto
from services.gateway.model.schemas.base import _B64_OUT, Key32, Request, Response, ServerId, Sig64

MAX_BACKUP_SIGNATURES = 10  # an account has at most 10 active devices


class BackupPut(Request):
    """Signatures by the account's active devices over `b"haven-backup-v1\x00" + handle +
    b"\x00" + kx_key`; the calling device's is required."""

    kx_key: Key32
    signatures: Annotated[
        dict[ServerId, Sig64], Field(min_length=1, max_length=MAX_BACKUP_SIGNATURES)
    ]


class BackupOut(Response):
    backup_id: str
    kx_key: Annotated[bytes, _B64_OUT]
    signatures: dict[str, Annotated[bytes, _B64_OUT]]
    created_at: datetime
    # Earlier backup ids of this account that published the same key: wraps for them open
    # with the same recovery key (a re-publish with more signatures gets a new id).
    earlier_backup_ids: list[str] = Field(default_factory=list)


LINK_CIPHERTEXT_MIN = 24 + 16 + 1  # nonce, MAC, at least one byte
LINK_CIPHERTEXT_MAX = 4096


def _b64_bounded(low: int, high: int) -> Callable[[object], bytes]:
    def decode(value: object) -> bytes:
        if not isinstance(value, str):
            raise ValueError("must be a base64url string")  # noqa: TRY004 - pydantic wants ValueError
        if len(value) > (high * 4 + 2) // 3:
            raise ValueError(f"must decode to at most {high} bytes")
        try:
            raw = crypto.b64d(value)
        except ValueError as error:
            raise ValueError("must be canonical base64url without padding") from error
        if not low <= len(raw) <= high:
            raise ValueError(f"must decode to {low} to {high} bytes")
        return raw

    return decode


LinkCiphertext = Annotated[
    bytes,
    BeforeValidator(_b64_bounded(LINK_CIPHERTEXT_MIN, LINK_CIPHERTEXT_MAX)),
    _B64_OUT,
    WithJsonSchema(
        {
            "type": "string",
            "contentEncoding": "base64url",
            "description": f"{LINK_CIPHERTEXT_MIN} to {LINK_CIPHERTEXT_MAX} bytes",
        }
    ),
]


class LinkPost(Request):
    ciphertext: LinkCiphertext
    sender_device_id: ServerId


class LinkOut(Response):
    link_id: str
    sender_device_id: str
    ciphertext: Annotated[bytes, _B64_OUT]
    created_at: datetime
    expires_at: datetime


class LinkSent(Response):
    link_id: str
    expires_at: datetime


class LinkList(Response):
    links: list[LinkOut]
