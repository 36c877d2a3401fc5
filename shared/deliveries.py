"""Real-time deliveries on `haven.deliveries`: the body schema, publishing, the gateway's router.

notification publishes one `DeviceDelivery` per recipient device with routing key
`device.<device_id>` (mandatory): RabbitMQ routes it to whichever gateway replica bound that
key for the device's open socket, or returns it when none did (the device is offline).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Self

import pydantic
import structlog
from pydantic import Field, model_validator

from shared.bus import Bus, Delivery
from shared.errors import Unavailable, Unroutable
from shared.events import Schema
from shared.exclusive import exclusive_queue

log = structlog.get_logger(__name__)

DEVICE_ID_PATTERN = r"[A-Za-z0-9_-]{1,128}"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
QUEUE_BASE = "gateway.deliveries"
BIND_TIMEOUT = 5.0
RETRY_MIN, RETRY_MAX = 0.1, 2.0

ControlAction = Literal["replace", "revoke", "reauth"]
OnDelivery = Callable[["DeviceDelivery"], Awaitable[None]]
OnRebound = Callable[[], Awaitable[None]]


class Control(Schema):
    """Close a device's sockets on whichever replica holds them.

    `replace`: close every socket of the device except `socket_id` (the newer one) with 4409.
    `revoke`: close every socket of the device with 4403 (`socket_id` is not used).
    `reauth`: close the device's sockets opened before `socket_id` (a time-ordered cut-off)
    with 4401: their session ended (a login resumed the device), so they must authenticate
    again; a socket the resumed session opened meanwhile stays.
    """

    action: ControlAction
    socket_id: str | None = None

    @model_validator(mode="after")
    def _replace_names_the_survivor(self) -> Self:
        if self.action in ("replace", "reauth") and not self.socket_id:
            raise ValueError(f"{self.action} needs a socket_id")
        return self


class DeviceDelivery(Schema):
    """The body of one delivery: a server→client WebSocket frame, or a socket control."""

    delivery_id: str = Field(min_length=1, max_length=128)
    device_id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    kind: Literal["frame", "control"]
    frame: dict[str, Any] | None = None
    control: Control | None = None
    # Set on `message` frames: the gateway expects the device's ack for this id within 10 s.
    ack_message_id: str | None = None

    @model_validator(mode="after")
    def _payload_matches_kind(self) -> Self:
        if self.kind == "frame":
            if self.frame is None or self.control is not None:
                raise ValueError("a frame delivery carries a frame and no control")
            if not isinstance(self.frame.get("type"), str):
                raise ValueError("a frame needs a string `type`")
        elif self.control is None or self.frame is not None or self.ack_message_id:
            raise ValueError("a control delivery carries a control and nothing else")
        return self


def is_device_id(value: str) -> bool:
    return _DEVICE_ID.fullmatch(value) is not None


def routing_key(device_id: str) -> str:
    """`device.<id>`; anything that could act as a topic wildcard (`*`, `#`, `.`) is refused."""
    if not is_device_id(device_id):
        raise ValueError("not a device id")
    return f"device.{device_id}"


def delivery_id_for(event_id: str, device_id: str) -> str:
    """Deterministic, so a redelivered event republishes the same delivery ids."""
    key = f"delivery\x00{event_id}\x00{device_id}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


async def publish_delivery(bus: Bus, delivery: DeviceDelivery) -> bool:
    """True once a gateway queue holds it; False when returned (no gateway holds the device)."""
    try:
        await _publish(bus, delivery, mandatory=True)
    except Unroutable:
        return False
    return True


async def _publish(bus: Bus, delivery: DeviceDelivery, *, mandatory: bool) -> None:
    await bus.publish(
        bus.topology.deliveries,
        routing_key(delivery.device_id),
        delivery.model_dump_json().encode(),
        message_id=delivery.delivery_id,
        message_type=f"delivery.{delivery.kind}",
        mandatory=mandatory,
        persistent=False,  # transient: the durable record is the stored message, in messaging
    )


class DeliveryRouter:
    """One per gateway process: its own queue on `haven.deliveries`, bound per open device.

    Binds only `device.<id>` keys, never a wildcard. Bind/unbind/restore run one at a time
    under a lock; when the queue is lost (connection or channel gone) a supervisor task
    declares a fresh one, re-binds every bound device, then calls `on_rebound` so the gateway
    can send `resync` to its sockets: whatever was routed in between is gone.
    """

    def __init__(
        self, bus: Bus, *, instance: str | None = None, bind_timeout: float = BIND_TIMEOUT
    ) -> None:
        self._bus = bus
        self.instance = instance or uuid.uuid4().hex[:12]
        self._queue = exclusive_queue(bus, f"{QUEUE_BASE}.{self.instance}", self._receive)
        self._bind_timeout = bind_timeout
        self._devices: set[str] = set()
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._on_delivery: OnDelivery | None = None
        self._on_rebound: OnRebound | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self._queue.is_open

    @property
    def queue_name(self) -> str | None:
        return self._queue.name

    @property
    def bound(self) -> frozenset[str]:
        return frozenset(self._devices)

    async def start(self, on_delivery: OnDelivery, on_rebound: OnRebound) -> None:
        """Declare the queue and keep it declared; returns once devices can be bound."""
        if self._task is not None:
            raise RuntimeError("router already started")
        self._on_delivery, self._on_rebound = on_delivery, on_rebound
        self._task = asyncio.create_task(self._supervise(), name=f"deliveries-{self.instance}")
        ready = asyncio.create_task(self._ready.wait())
        try:
            await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._task.done():
            self._task.result()  # re-raises whatever stopped the supervisor

    async def bind(self, device_id: str) -> None:
        """Route `device.<id>` here; returns once the binding exists, else Unavailable.

        Idempotent. The gateway binds before sending `ready` and unbinds only when the
        device has no socket left on this replica (bindings are not reference-counted).
        """
        key = routing_key(device_id)
        self._devices.add(device_id)
        try:
            await asyncio.wait_for(self._bind_when_ready(key), self._bind_timeout)
        except BaseException as error:  # timed out, or the socket went away while binding
            await self._forget(device_id)
            if isinstance(error, TimeoutError):
                raise Unavailable("delivery binding not confirmed in time") from error
            raise

    async def unbind(self, device_id: str) -> None:
        """Stop routing `device.<id>` here; never fails for a lost broker (the binding died)."""
        await self._forget(device_id)

    async def publish_control(
        self, device_id: str, action: ControlAction, socket_id: str | None = None
    ) -> None:
        """Close the device's sockets on every replica (see `Control`); nobody bound is fine."""
        delivery = DeviceDelivery(
            delivery_id=uuid.uuid4().hex,
            device_id=device_id,
            kind="control",
            control=Control(action=action, socket_id=socket_id),
        )
        await _publish(self._bus, delivery, mandatory=False)

    async def close(self) -> None:
        """Stop routing here; call before closing the bus (its connection carries the queue)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._ready.clear()
        await self._queue.close()

    async def _supervise(self) -> None:
        delay, lost_before = RETRY_MIN, False
        while True:
            try:
                await self._declare()
            except Unavailable as error:
                log.warning("delivery_queue_unavailable", reason=str(error), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay = RETRY_MIN
            self._ready.set()
            log.info("delivery_queue_ready", queue=self._queue.name, devices=len(self._devices))
            if lost_before:
                await self._rebound()
            await self._queue.wait_closed()
            self._ready.clear()
            lost_before = True
            log.warning("delivery_queue_lost", queue=self._queue.name)

    async def _declare(self) -> None:
        async with self._lock:
            await self._queue.open()
            for device_id in sorted(self._devices):
                await self._queue.bind(self._bus.topology.deliveries, routing_key(device_id))

    async def _rebound(self) -> None:
        assert self._on_rebound is not None
        try:
            await self._on_rebound()
        except Exception:
            log.exception("delivery_rebound_callback_failed")

    async def _bind_when_ready(self, key: str) -> None:
        while True:
            await self._ready.wait()
            if await self._try_bind(key):
                return
            await asyncio.sleep(RETRY_MIN)  # the supervisor is about to notice the loss

    async def _try_bind(self, key: str) -> bool:
        async with self._lock:
            if not self._queue.is_open:
                return False
            try:
                await self._queue.bind(self._bus.topology.deliveries, key)
            except Unavailable:
                return False
        return True

    async def _forget(self, device_id: str) -> None:
        self._devices.discard(device_id)  # before the lock: a restore in progress skips it
        async with self._lock:
            if not self._queue.is_open:
                return
            try:
                await self._queue.unbind(self._bus.topology.deliveries, routing_key(device_id))
            except Unavailable as error:
                log.warning("delivery_unbind_failed", device_id=device_id, reason=str(error))

    async def _receive(self, raw: Delivery) -> None:
        """Every valid delivery goes to `on_delivery`, including one racing an unbind."""
        try:
            delivery = DeviceDelivery.model_validate_json(raw.body)
        except pydantic.ValidationError as error:
            log.warning(
                "delivery_malformed", routing_key=raw.routing_key, errors=error.error_count()
            )
            return
        if raw.routing_key != f"device.{delivery.device_id}":
            log.warning("delivery_misrouted", routing_key=raw.routing_key)
            return
        if self._on_delivery is not None:
            await self._on_delivery(delivery)
