"""HTTP bodies of messages: the envelope sent, what acceptance answers, read markers, and
the crisis resources a deployment points people to."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

from haven_crypto.envelope import ALG
from services.gateway.model.schemas.base import Request, Response
from shared.wire import WireEnvelope

# The wire envelope's own schema (shared/wire.py), which the gateway checks in full.
ENVELOPE_SCHEMA = WireEnvelope.model_json_schema()
ENVELOPE_SCHEMA["description"] = (
    "haven-v1 envelope (API.md, 'Envelope haven-v1 - byte-exact'); binary fields are canonical "
    "base64url. `commitment` is carried so the gateway can verify the signature."
)
ENVELOPE_SCHEMA["properties"]["alg"]["const"] = ALG
EnvelopeJson = Annotated[dict[str, object], WithJsonSchema(ENVELOPE_SCHEMA)]


class SendRequest(Request):
    envelope: EnvelopeJson
    # Uploads this message refers to (API.md "Attachments"); checked by usecases/attachments.py.
    attachment_ids: Annotated[list[str], Field(max_length=10)] | None = None


class AttachmentStored(Response):
    attachment_id: str
    size: int


class Accepted(Response):
    message_id: str
    status: Literal["accepted"] = "accepted"
    crisis_resources: list[dict[str, str]] | None = None


class ReadMarker(Request):
    up_to_seq: Annotated[int, Field(ge=0, strict=True)]


class CrisisResource(Request):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    contact: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=1000)] = ""
    region: Annotated[str, Field(max_length=100)] = ""


class CrisisResources(Request):
    """At least one: a deployment must always be able to point a person in crisis somewhere."""

    resources: Annotated[list[CrisisResource], Field(min_length=1, max_length=50)]
