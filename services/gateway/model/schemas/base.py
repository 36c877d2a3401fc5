"""What every HTTP body of the gateway shares: the strict request and frozen response bases,
and the field types (base64url keys and signatures, ids, handles, passwords)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from haven_crypto import crypto


def b64_decoder(size: int, most: int | None = None) -> Callable[[object], bytes]:
    """Canonical base64url of exactly `size` bytes or, given `most`, of `size` to `most` bytes
    (then text longer than `most` bytes could need is refused before it is decoded)."""

    def decode(value: object) -> bytes:
        if not isinstance(value, str):
            raise ValueError("must be a base64url string")  # noqa: TRY004 - pydantic wants ValueError
        if most is not None and len(value) > (most * 4 + 2) // 3:
            raise ValueError(f"must decode to at most {most} bytes")
        try:
            raw = crypto.b64d(value)
        except ValueError as error:
            raise ValueError("must be canonical base64url without padding") from error
        if most is None and len(raw) != size:
            raise ValueError(f"must decode to {size} bytes")
        if most is not None and not size <= len(raw) <= most:
            raise ValueError(f"must decode to {size} to {most} bytes")
        return raw

    return decode


B64_OUT = PlainSerializer(crypto.b64e, return_type=str)
Key32 = Annotated[
    bytes,
    BeforeValidator(b64_decoder(32)),
    B64_OUT,
    WithJsonSchema({"type": "string", "contentEncoding": "base64url", "description": "32 bytes"}),
]
Sig64 = Annotated[
    bytes,
    BeforeValidator(b64_decoder(64)),
    B64_OUT,
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
