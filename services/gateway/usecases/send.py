"""The synchronous half of sending: every check the gateway can make, then a confirmed publish."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pymongo.errors import PyMongoError

from haven_crypto import crypto
from haven_crypto.envelope import Envelope, verify_envelope
from services.gateway import copy
from services.gateway.model.principal import Principal
from services.gateway.model.records import Relationship
from services.gateway.security.limits import Limits
from services.gateway.stores.directory import SendDirectory
from services.gateway.usecases.agreement import Agreement
from services.gateway.usecases.message_commands import SendCommand
from shared.commands import SendData, SendMessage
from shared.errors import (
    ApiError,
    ConflictError,
    DeviceMismatchError,
    ForbiddenError,
    HavenError,
    NotFoundError,
    PausedError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    SignatureInvalidError,
    UnprocessableError,
)
from shared.events import utcnow

if TYPE_CHECKING:
    from services.gateway.usecases.attachments import Attachments

MAX_CIPHERTEXT = 64 * 1024


class Sending:
    def __init__(
        self,
        *,
        directory: SendDirectory,
        limits: Limits,
        send_command: SendCommand,
        agreement: Agreement,
        urgent_while_paused: Callable[[Relationship], Awaitable[bool]] | None = None,
        attachments: Attachments | None = None,
    ) -> None:
        self._attachments = attachments
        self._directory = directory
        self._agreement = agreement
        self._limits = limits
        self._send_command = send_command
        self._urgent_while_paused = urgent_while_paused

    async def send(
        self,
        who: Principal,
        conversation_id: str,
        raw_envelope: object,
        attachment_ids: object = None,
    ) -> str:
        """Validate and queue; the message id once the broker confirmed it. The edge adds the
        crisis resources to every answer of an urgent send (services/gateway/edge/urgent.py)."""
        try:
            return await self._send(who, conversation_id, raw_envelope, attachment_ids)
        except ApiError:
            raise
        except (HavenError, PyMongoError) as error:  # broker or database down: 503
            raise ServiceUnavailableError("the message was not queued; try again") from error

    async def _send(
        self, who: Principal, conversation_id: str, raw_envelope: object, attachment_ids: object
    ) -> str:
        envelope = parse_envelope(raw_envelope)
        await self._limits.check("send", who.account_id, utcnow())
        # From memory in steady state: services/gateway/stores/directory.py says how it stays true.
        relationship = await self._directory.relationship(conversation_id)
        if relationship is None or who.account_id not in relationship.participants:
            raise NotFoundError("no such conversation")  # never reveal that it exists
        try:
            check_status(relationship)
        except PausedError as paused:
            if envelope.urgent and who.role == "client" and self._urgent_while_paused:
                paused.extra["coach_notified"] = await self._urgent_while_paused(relationship)
            raise
        await self.check_consent(who)
        if envelope.sender_device_id != who.device_id:
            raise ForbiddenError("sender_device_id must be the sending device")
        if envelope.urgent and who.role != "client":
            raise UnprocessableError(
                "only clients can mark a message urgent", field="envelope.urgent"
            )
        members = relationship.participants
        devices = {d.device_id: d for d in await self._directory.active_devices(members)}
        if who.device_id not in devices:
            raise ForbiddenError("the sending device is not active")
        # An account's backup key is a recipient like its devices (API.md "History on a new
        # device"): senders wrap for it, or the send is refused naming it.
        check_device_set(envelope, set(devices) | set(await self._directory.backup_ids(members)))
        try:
            verify_envelope(conversation_id, envelope, devices[who.device_id].identity_key)
        except crypto.BadSignatureError as error:
            raise SignatureInvalidError("the envelope signature does not verify") from error
        claimed: list[str] = []
        if self._attachments is not None:
            claimed = await self._attachments.claim(
                who, relationship, envelope.message_id, attachment_ids
            )
        try:
            await self._publish(who, conversation_id, envelope, members)
        except BaseException:
            if self._attachments is not None:
                await self._attachments.release(claimed, envelope.message_id)
            raise
        return envelope.message_id

    async def _publish(
        self, who: Principal, conversation_id: str, envelope: Envelope, members: list[str]
    ) -> None:
        await self._send_command(
            SendMessage.create(
                SendData(
                    conversation_id=conversation_id,
                    message_id=envelope.message_id,
                    sender_account_id=who.account_id,
                    sender_device_id=who.device_id,
                    urgent=envelope.urgent,
                    envelope=envelope.to_wire(),
                    participants=members,
                )
            )
        )

    async def check_consent(self, who: Principal) -> None:
        """A client without the current messaging agreement cannot send (403)."""
        await self._agreement.check_consent(who)


def check_status(relationship: Relationship) -> None:
    """Only an active relationship takes messages: paused (409 `paused`, with the coach's reason
    and date) and ended (409 `conflict`) stay readable."""
    if relationship.status == "paused":
        raise PausedError(
            copy.PAUSED,
            reason=relationship.pause_reason,
            resume_on=relationship.resume_on,
        )
    if relationship.status != "active":
        raise ConflictError(copy.ENDED)


def parse_envelope(raw: object) -> Envelope:
    try:
        envelope = Envelope.from_wire(raw)  # type: ignore[arg-type]
    except crypto.EnvelopeError as error:
        field = getattr(error, "field", None)
        name = "envelope" if field in (None, "envelope") else f"envelope.{field}"
        raise UnprocessableError(str(error), field=name) from error
    if len(envelope.ciphertext) > MAX_CIPHERTEXT:
        raise PayloadTooLargeError("ciphertext is larger than 64 KiB")
    return envelope


def check_device_set(envelope: Envelope, active: set[str]) -> None:
    named = set(envelope.keys)
    if named != active:
        raise DeviceMismatchError(
            "keys must name exactly the active devices (and backup keys) of all participants",
            missing_devices=sorted(active - named),
            extra_devices=sorted(named - active),
        )
