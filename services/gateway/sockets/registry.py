"""This replica's open sockets, one per device, fed by the delivery router.

A `coach_away` notice leaves here with the operator's crisis resources: the gateway holds
them, and a client told that their coach is away must also be told where real help is.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from services.gateway.sockets.router import DeliveryRouter
from services.gateway.sockets.socket import DeviceSocket, Expected, socket_id_now
from shared.bus import Bus
from shared.deliveries import ControlAction, DeviceDelivery
from shared.errors import HavenError, UnavailableError
from shared.events import DeliveryFailed, DeliveryFailedData
from shared.frames import CoachAway, MessageFrame, Resync, ServerFrame

log = structlog.get_logger(__name__)

SWEEP_EVERY = 1.0  # seconds: how late a token's expiry may close its socket

CLOSE_REPLACED, CLOSE_REVOKED, CLOSE_UNAUTHENTICATED = 4409, 4403, 4401

CurrentResources = Callable[[], Awaitable[list[dict[str, Any]]]]


class SocketRegistry:
    def __init__(self, *, bus: Bus, crisis_resources: CurrentResources | None = None) -> None:
        self.bus = bus
        self._crisis_resources = crisis_resources
        self.router = DeliveryRouter(bus=bus)
        self.sockets: dict[str, DeviceSocket] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.router.start(self.on_delivery, self.on_rebound)
        self._sweeper = asyncio.create_task(self._sweep(), name="socket-sweeper")

    async def _sweep(self) -> None:
        """Pings, dead sockets and expired tokens for every socket, from one task."""
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            now, wall = time.monotonic(), time.time()
            for socket in list(self.sockets.values()):
                socket.tick(now, wall)

    async def close_device(self, device_id: str, action: ControlAction = "revoke") -> None:
        """Close the device's sockets on every replica: 4403 (`revoke`; `signout` once the frames
        routed before it are written) or 4401 (`reauth`: the session ended but the device did
        not; sockets opened from now on stay)."""
        cutoff = socket_id_now() if action == "reauth" else None
        try:
            await self.router.publish_control(device_id, action, cutoff)
        except HavenError as error:
            log.warning("socket_close_not_published", device_id=device_id, reason=str(error))

    async def deliver_frame(self, device_id: str, frame: ServerFrame, delivery_id: str) -> bool:
        """Hand a frame to the device's open socket on any replica; False when it has none (or
        the broker is away): the caller keeps what the frame says for the device to fetch."""
        try:
            return await self.router.publish_frame(device_id, frame, delivery_id)
        except HavenError as error:
            log.warning("frame_not_published", device_id=device_id, reason=str(error))
            return False

    async def attach(self, socket: DeviceSocket) -> None:
        """Newer wins: older sockets of the device close with 4409, on every replica.

        Bound before announcing, so two sockets racing on two replicas each hear the other's
        `replace`; the later announcement wins and the earlier socket closes."""
        older = self.sockets.get(socket.device_id)
        self.sockets[socket.device_id] = socket
        if older is not None and older is not socket:
            older.close_soon(CLOSE_REPLACED, "replaced by a newer socket")
        await self.router.bind(socket.device_id)
        await self.router.publish_control(socket.device_id, "replace", socket.socket_id)

    async def detach(self, socket: DeviceSocket) -> None:
        pending = await socket.finish()
        for expected in pending:
            await self.ack_missed(socket, expected)
        if self.sockets.get(socket.device_id) is socket:
            del self.sockets[socket.device_id]
            await self.router.unbind(socket.device_id)

    async def on_delivery(self, delivery: DeviceDelivery) -> None:
        socket = self.sockets.get(delivery.device_id)
        if delivery.control is not None:
            self._control(socket, delivery)
            return
        frame = delivery.frame
        assert frame is not None  # a delivery without a control carries a frame
        expected = None
        if delivery.ack_message_id and isinstance(frame, MessageFrame):
            expected = Expected.of(delivery.ack_message_id, frame)
        if socket is None or socket.closing:
            if expected is not None:
                await self._report_failed(delivery.device_id, expected)
            return
        if isinstance(frame, CoachAway) and self._crisis_resources is not None:
            frame = frame.model_copy(update={"crisis_resources": await self._crisis_resources()})
        socket.send(frame)
        if expected is not None:
            socket.expect_ack(expected)

    def _control(self, socket: DeviceSocket | None, delivery: DeviceDelivery) -> None:
        control = delivery.control
        if socket is None or control is None:
            return
        if control.action == "revoke":
            socket.close_soon(CLOSE_REVOKED, "device revoked or logged out")
        elif control.action == "signout":
            socket.close_when_sent(CLOSE_REVOKED, "signed out: sign in again")
        elif control.action == "reauth":
            if control.socket_id is not None and socket.socket_id < control.socket_id:
                socket.close_soon(CLOSE_UNAUTHENTICATED, "session ended; authenticate again")
        elif control.socket_id is not None and control.socket_id > socket.socket_id:
            socket.close_soon(CLOSE_REPLACED, "replaced by a newer socket")

    async def on_rebound(self) -> None:
        """Deliveries routed while our queue was gone are lost: every device must resync."""
        for socket in list(self.sockets.values()):
            socket.send(Resync())
        log.info("sockets_resync", count=len(self.sockets))

    async def ack_missed(self, socket: DeviceSocket, expected: Expected) -> None:
        log.info("delivery_unacked", device_id=socket.device_id, message_id=expected.message_id)
        await self._report_failed(socket.device_id, expected)

    async def _report_failed(self, device_id: str, expected: Expected) -> None:
        event = DeliveryFailed.create(
            DeliveryFailedData(
                device_id=device_id,
                conversation_id=expected.conversation_id,
                message_id=expected.message_id,
                urgent=expected.urgent,
                seq=expected.seq,
            )
        )
        try:
            await self.bus.publish_event(event)
        except UnavailableError:
            log.warning("delivery_failure_not_reported", device_id=device_id)

    async def close_all(self, code: int = 1012) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for socket in list(self.sockets.values()):
            socket.close_soon(code, "server restarting")
        await self.router.close()
