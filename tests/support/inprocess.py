"""The three services in the test's own event loop, against the real broker and store.

Each app is what `python -m services.<name>` serves — `create_app(settings)` with settings
read from the same HAVEN_* environment the process stack gets — run by an `AppRunner`
configured like `shared/runner.py` on a port of its own. What a process adds (signal
handling, exit codes, a log file) is not here: tests of that use `tools/stack.py`.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from services.gateway.app import create_app as create_gateway
from services.gateway.edge.ops import create_ops_app
from services.gateway.settings import GatewaySettings
from services.messaging.app import create_app as create_messaging
from services.messaging.settings import MessagingSettings
from services.notification.app import create_app as create_notification
from services.notification.settings import NotificationSettings
from shared.settings import CommonSettings
from tests.support.logcapture import LogCapture

SERVICES = ("messaging", "notification", "gateway")  # consumers first, the edge last
SHUTDOWN_GRACE = 5.0

S = TypeVar("S", bound=CommonSettings)


def settings_from_env(kind: type[S], env: Mapping[str, str]) -> S:
    """Settings from HAVEN_* variables, exactly as a process would read them from its
    environment (the test process's own environment is not consulted)."""
    values = {k.removeprefix("HAVEN_").lower(): v for k, v in env.items() if k.startswith("HAVEN_")}
    return kind(**values)


def _build(
    service: str, env: Mapping[str, str], dependencies: Mapping[str, Any]
) -> list[web.Application]:
    """The apps one replica of `service` serves: its main app first (the gateway: + ops);
    `dependencies` are keyword arguments of its `create_app` (e.g. notification's `clock`)."""
    if service == "gateway":
        app = create_gateway(settings_from_env(GatewaySettings, env), **dependencies)
        return [app, create_ops_app(app)]
    if service == "messaging":
        return [create_messaging(settings_from_env(MessagingSettings, env), **dependencies)]
    if service == "notification":
        return [create_notification(settings_from_env(NotificationSettings, env), **dependencies)]
    raise ValueError(f"unknown service {service}")


@dataclass
class Replica:
    """One running replica: its apps' runners and the URL of each."""

    runners: list[web.AppRunner]
    urls: list[str]

    async def stop(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_GRACE
    )
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    try:
        await web.SockSite(runner, sock).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class AppStack:
    """The services of one test, in-process; the small interface of `Stack` the API tests use.

    Logs are kept per service in memory (`log_lines`, `log_text`, `wait_for_log`)."""

    env: dict[str, str]
    logs: LogCapture
    replicas: dict[str, Replica] = field(default_factory=dict)
    # Per service, variables on top of `env` (e.g. each service's own broker user).
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    # Per service, keyword-only dependencies of its `create_app` for every replica started
    # (e.g. {"notification": {"clock": shifted}}).
    dependencies: dict[str, dict[str, Any]] = field(default_factory=dict)
    _http: aiohttp.ClientSession | None = None

    @property
    def gateway_url(self) -> str:
        return self.replicas["gateway"].urls[0]

    @property
    def ops_url(self) -> str:
        return self.replicas["gateway"].urls[1]

    def health_url(self, service: str) -> str:
        return self.replicas[service].urls[0]

    async def start(self, *names: str) -> None:
        """Start services (all, by default) and wait until they are ready."""
        for name in names or SERVICES:
            await self._start(name, name, {**self.env, **self.overrides.get(name, {})})
        await self.wait_ready()

    async def start_extra(self, service: str, suffix: str) -> str:
        """Another replica of `service` named `service-suffix`; `health_url(name)` is its main
        URL. Its log lines are filed under that name."""
        name = f"{service}-{suffix}"
        await self._start(name, service, {**self.env, **self.overrides.get(service, {})})
        await self.wait_ready()
        return name

    async def _start(self, name: str, service: str, env: Mapping[str, str]) -> None:
        if name in self.replicas:
            raise RuntimeError(f"{name} is running already")
        runners: list[web.AppRunner] = []
        urls: list[str] = []
        with self.logs.serving(name):
            try:
                for app in _build(service, env, self.dependencies.get(service, {})):
                    runner, url = await _serve(app)
                    runners.append(runner)
                    urls.append(url)
            except BaseException:
                await Replica(runners, urls).stop()
                raise
        self.replicas[name] = Replica(runners, urls)

    async def stop(self, *names: str) -> None:
        """Shut replicas down as SIGTERM would (sockets get 1012); the edge first."""
        order = names or tuple(reversed(self.replicas))
        for name in order:
            replica = self.replicas.pop(name, None)
            if replica is not None:
                await replica.stop()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Every replica's main app answers /readyz with 200 (start-up done, broker and store)."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        async with asyncio.timeout(timeout):
            for replica in list(self.replicas.values()):
                while not await self._ready(replica.urls[0]):
                    await asyncio.sleep(0.02)

    async def _ready(self, url: str) -> bool:
        assert self._http is not None
        try:
            async with self._http.get(f"{url}/readyz") as response:
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False

    async def close(self) -> None:
        await self.stop()
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- logs -------------------------------------------------------------------------

    def log_lines(self, service: str) -> list[dict[str, Any]]:
        return self.logs.of(service)

    def log_text(self, service: str) -> str:
        return self.logs.text(service)

    async def wait_for_log(
        self, service: str, timeout: float = 10.0, **match: object
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.logs.of(service):
                if all(line.get(k) == v for k, v in match.items()):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line {match} from {service} within {timeout}s")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running_apps(
    env: dict[str, str], overrides: dict[str, dict[str, str]] | None = None
) -> AsyncIterator[AppStack]:
    """Start messaging, notification and the gateway (+ ops) in this loop; stop them after."""
    logs = LogCapture()
    logs.install()
    stack = AppStack(env=env, logs=logs, overrides=overrides or {})
    try:
        await stack.start()
        yield stack
    finally:
        try:
            await stack.close()
        finally:
            logs.uninstall()
