"""HTTP bodies of history on a new device: the account's backup key and device linking."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from services.gateway.model.schemas.base import (
    B64_OUT,
    Key32,
    Request,
    Response,
    ServerId,
    Sig64,
    b64_decoder,
)

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
    kx_key: Annotated[bytes, B64_OUT]
    signatures: dict[str, Annotated[bytes, B64_OUT]]
    created_at: datetime
    # Earlier backup ids of this account that published the same key: wraps for them open
    # with the same recovery key (a re-publish with more signatures gets a new id).
    earlier_backup_ids: list[str] = Field(default_factory=list)


LINK_CIPHERTEXT_MIN = 24 + 16 + 1  # nonce, MAC, at least one byte
LINK_CIPHERTEXT_MAX = 4096


LinkCiphertext = Annotated[
    bytes,
    BeforeValidator(b64_decoder(LINK_CIPHERTEXT_MIN, LINK_CIPHERTEXT_MAX)),
    B64_OUT,
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
    ciphertext: Annotated[bytes, B64_OUT]
    created_at: datetime
    expires_at: datetime


class LinkSent(Response):
    link_id: str
    expires_at: datetime


class LinkList(Response):
    links: list[LinkOut]
