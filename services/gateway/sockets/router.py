"""This gateway replica's side of `haven.deliveries`: one queue, bound per open device.

The delivery body, its routing key and how notification publishes it are the shared contract
in `shared/deliveries.py`; binding, unbinding, socket controls and recovery live here.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pydantic
import structlog

from shared.bus import Bus, Delivery
from shared.deliveries import Control, ControlAction, DeviceDelivery, publish_delivery, routing_key
from shared.errors import UnavailableError
from shared.exclusive import exclusive_queue
from shared.frames import ServerFrame
from shared.supervise import Backoff, supervised

log = structlog.get_logger(__name__)

QUEUE_BASE = "gateway.deliveries"
BIND_TIMEOUT = 5.0
RETRY = Backoff(first=0.1, maximum=2.0)

OnDelivery = Callable[[DeviceDelivery], Awaitable[None]]
OnRebound = Callable[[], Awaitable[None]]


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
        self._lost_before = False
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
        self._task = asyncio.create_task(
            supervised("delivery_queue", self._hold_queue, retry=RETRY),
            name=f"deliveries-{self.instance}",
        )
        ready = asyncio.create_task(self._ready.wait())
        try:
            await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._task.done():
            self._task.result()  # re-raises whatever stopped the supervisor

    async def bind(self, device_id: str) -> None:
        """Route `device.<id>` here; returns once the binding exists, else UnavailableError.

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
                raise UnavailableError("delivery binding not confirmed in time") from error
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
        await publish_delivery(self._bus, delivery, mandatory=False)

    async def publish_frame(self, device_id: str, frame: ServerFrame, delivery_id: str) -> bool:
        """A frame from the gateway itself (a `link`) to the device's socket on whichever replica
        holds it, through the same exchange notification's frames take; False: nobody holds it."""
        delivery = DeviceDelivery(
            delivery_id=delivery_id, device_id=device_id, kind="frame", frame=frame
        )
        return await publish_delivery(self._bus, delivery)

    async def close(self) -> None:
        """Stop routing here; call before closing the bus (its connection carries the queue)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._ready.clear()
        await self._queue.close()

    async def _hold_queue(self) -> None:
        """One life of the queue: declare and re-bind, then wait until it is lost."""
        await self._declare()
        self._ready.set()
        log.info("delivery_queue_ready", queue=self._queue.name, devices=len(self._devices))
        if self._lost_before:
            await self._rebound()
        await self._queue.wait_closed()
        self._ready.clear()
        self._lost_before = True
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
            await asyncio.sleep(RETRY.first)  # the supervisor is about to notice the loss

    async def _try_bind(self, key: str) -> bool:
        async with self._lock:
            if not self._queue.is_open:
                return False
            try:
                await self._queue.bind(self._bus.topology.deliveries, key)
            except UnavailableError:
                return False
        return True

    async def _forget(self, device_id: str) -> None:
        self._devices.discard(device_id)  # before the lock: a restore in progress skips it
        async with self._lock:
            if not self._queue.is_open:
                return
            try:
                await self._queue.unbind(self._bus.topology.deliveries, routing_key(device_id))
            except UnavailableError as error:
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
