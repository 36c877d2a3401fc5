"""What every HTTP body of the gateway shares: the strict request and frozen response bases,
and the field types (base64url keys and signatures, ids, handles, passwords)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from haven_crypto import crypto


def _b64_decoder(size: int) -> Callable[[object], bytes]:
    def decode(value: object) -> bytes:
        if not isinstance(value, str):
            raise ValueError("must be a base64url string")  # noqa: TRY004 - pydantic wants ValueError
        try:
            raw = crypto.b64d(value)
        except ValueError as error:
            raise ValueError("must be canonical base64url without padding") from error
        if len(raw) != size:
            raise ValueError(f"must decode to {size} bytes")
        return raw

    return decode


_B64_OUT = PlainSerializer(crypto.b64e, return_type=str)
Key32 = Annotated[
    bytes,
    BeforeValidator(_b64_decoder(32)),
    _B64_OUT,
    WithJsonSchema({"type": "string", "contentEncoding": "base64url", "description": "32 bytes"}),
]
Sig64 = Annotated[
    bytes,
    BeforeValidator(_b64_decoder(64)),
    _B64_OUT,
    WithJsonSchema({"type": "string", "contentEncoding": "base64url", "description": "64 bytes"}),
]
ServerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Handle = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[a-z0-9_.-]+$")]
Password = Annotated[str, Field(min_length=10, max_length=256)]
DisplayName = Annotated[str, Field(min_length=1, max_length=64)]
Role = Literal["client", "coach", "operator"]


class Request(BaseModel):
    """Request bodies refuse unknown fields, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Response(BaseModel):
    model_config = ConfigDict(frozen=True)
