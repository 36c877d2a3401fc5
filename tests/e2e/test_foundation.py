"""The foundation, driven from outside: health, metrics, the event path, restarts, shutdown.

The tests share one stack; broker loss comes after the tests that only look, SIGTERM last."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import aiohttp
from pymongo import AsyncMongoClient

from tests.support.isolation import wait_for_document
from tests.support.rabbit import close_connections
from tools.processes import free_port
from tools.stack import Stack


async def test_probe_event_reaches_both_consumers_with_its_correlation_id(
    shared_stack: Stack, shared_mongo: AsyncMongoClient, shared_names: tuple[str, str]
) -> None:
    stack, (_, prefix) = shared_stack, shared_names
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{stack.ops_url}/ops/probe", headers={"X-Request-Id": "req-42"})
        assert response.status == 202
        assert response.headers["X-Request-Id"] == "req-42"
        probe_id = (await response.json())["probe_id"]

    for service in ("messaging", "notification"):
        record = await wait_for_document(
            shared_mongo, f"{prefix}_{service}", "ops_probes", {"probe_id": probe_id}
        )
        assert record["correlation_id"] == "req-42"
    stack.wait_for_log("gateway", event="probe_published", correlation_id="req-42")
    stack.wait_for_log("messaging", event="probe_recorded", correlation_id="req-42")
    stack.wait_for_log("notification", event="probe_recorded", correlation_id="req-42")


async def test_every_response_carries_a_request_id_generated_when_absent(
    shared_stack: Stack,
) -> None:
    stack = shared_stack
    async with aiohttp.ClientSession() as http:
        response = await http.get(f"{stack.gateway_url}/healthz")
        generated = response.headers["X-Request-Id"]
        assert len(generated) >= 16
        missing = await http.get(f"{stack.gateway_url}/no/such/route")
        assert missing.status == 404
        assert missing.headers["Content-Type"].startswith("application/problem+json")
        assert (await missing.json())["code"] == "not_found"
        assert missing.headers["X-Request-Id"]


async def test_metrics_only_on_internal_ports(shared_stack: Stack) -> None:
    stack = shared_stack
    async with aiohttp.ClientSession() as http:
        public = await http.get(f"{stack.gateway_url}/metrics")
        assert public.status == 404
        ops = await http.get(f"{stack.ops_url}/metrics")
        assert ops.status == 200
        assert "haven_http_request_seconds" in await ops.text()
        for service in ("messaging", "notification"):
            internal = await http.get(f"{stack.health_url(service)}/metrics")
            assert internal.status == 200
            assert "haven_bus_consumed_total" in await internal.text()


async def test_services_reconnect_after_broker_drops_connections(
    shared_stack: Stack, shared_mongo: AsyncMongoClient, shared_names: tuple[str, str]
) -> None:
    stack, (namespace, prefix) = shared_stack, shared_names
    closed = await close_connections(namespace)
    assert closed >= 3  # one connection per service at least
    await asyncio.to_thread(stack.wait_ready, 30)
    async with aiohttp.ClientSession() as http:
        for _ in range(50):  # readiness can flip before every consumer channel is back
            response = await http.post(f"{stack.ops_url}/ops/probe")
            if response.status == 202:
                break
            await asyncio.sleep(0.2)
        probe_id = (await response.json())["probe_id"]
    for service in ("messaging", "notification"):
        await wait_for_document(
            shared_mongo, f"{prefix}_{service}", "ops_probes", {"probe_id": probe_id}, 20
        )


async def test_ready_only_with_a_broker_but_healthy_without_one(
    stack_environment: dict[str, str], mongo_client: AsyncMongoClient, tmp_path
) -> None:
    env = {
        **stack_environment,
        "HAVEN_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/",
        "HAVEN_MESSAGING_PORT": str(free_port()),
    }
    lonely = Stack(env=env, log_dir=tmp_path)
    lonely.start("messaging")
    try:
        url = lonely.health_url("messaging")
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    health = await http.get(f"{url}/healthz")
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            assert health.status == 200
            ready = await http.get(f"{url}/readyz")
            assert ready.status == 503
            assert (await ready.json())["checks"]["broker"] is False
    finally:
        assert lonely.stop() == {"messaging": 0}


def test_bad_configuration_stops_with_one_line_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.gateway"],
        env={"HAVEN_GATEWAY_PORT": "eighty", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "HAVEN_GATEWAY_PORT" in lines[0]


def test_sigterm_shuts_every_service_down_cleanly(stoppable_stack: Stack) -> None:
    stack = stoppable_stack  # last: the module's stack after all the other tests
    codes = stack.stop()
    assert codes == {"gateway": 0, "messaging": 0, "notification": 0}
    for service in ("gateway", "messaging", "notification"):
        assert any(line.get("event") == "stopped" for line in stack.log_lines(service))
