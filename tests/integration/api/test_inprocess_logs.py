"""The in-process stack files each log line under the service that wrote it, as the process
stack's log files do, so API tests can assert on logs honestly."""

from __future__ import annotations

import logging

import aiohttp
from pymongo import AsyncMongoClient

from tests.support.inprocess import AppStack
from tests.support.isolation import wait_for_document


async def test_each_service_logs_under_its_own_name_with_the_correlation_id(
    app_stack: AppStack, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{app_stack.ops_url}/ops/probe", headers={"X-Request-Id": "req-inproc"}
        )
        assert response.status == 202
        probe_id = (await response.json())["probe_id"]
    for service in ("messaging", "notification"):
        await wait_for_document(
            mongo_client, f"{isolation[1]}_{service}", "ops_probes", {"probe_id": probe_id}
        )
    await app_stack.wait_for_log("gateway", event="probe_published", correlation_id="req-inproc")
    for service in ("messaging", "notification"):
        line = await app_stack.wait_for_log(service, event="probe_recorded")
        assert line["correlation_id"] == "req-inproc"
    for service in ("gateway", "messaging", "notification"):
        started = [
            line for line in app_stack.log_lines(service) if line["event"] == "service_started"
        ]
        assert len(started) == 1, service  # each app's start-up, filed under its own name
    assert not [
        line for line in app_stack.log_lines("gateway") if line["event"] == "probe_recorded"
    ]


async def test_a_second_replica_logs_under_its_own_name(app_stack: AppStack) -> None:
    name = await app_stack.start_extra("gateway", "b")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{app_stack.health_url(name)}/no/such/route") as response,
    ):
        assert response.status == 404
    line = await app_stack.wait_for_log(name, event="http_request", route="unmatched")
    assert line["status"] == 404
    assert not [line for line in app_stack.log_lines("gateway") if line.get("route") == "unmatched"]


async def test_library_errors_are_kept_with_their_traceback(app_stack: AppStack) -> None:
    with app_stack.logs.serving("gateway"):
        try:
            raise RecursionError("deep")
        except RecursionError:
            logging.getLogger("aiohttp.server").exception("Error handling request")
    text = app_stack.log_text("gateway")
    assert "Traceback" in text and "RecursionError" in text
