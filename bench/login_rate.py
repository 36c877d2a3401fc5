"""How many logins per second one gateway sustains, and whether a burst stalls other requests.

Runs the real stack (like the e2e tests), then fires N concurrent logins while timing
/healthz round-trips. Prints figures; asserts nothing.

    .venv/bin/python -m bench.login_rate --logins 60 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from tools.api import Api
from tools.infra import session_infra
from tools.stack import BOOTSTRAP_OPERATOR, running_stack, stack_env


async def measure(base: str, logins: int, concurrency: int) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, base)
        operator = await api.login(*BOOTSTRAP_OPERATOR)
        # One account per worker: a single handle from one address is throttled by design.
        people = []
        for n in range(concurrency):
            coach = await api.onboard(operator, "coach", f"bench_{n}")
            people.append((coach.handle, coach.password, coach.keys))
        gate = asyncio.Queue()
        for person in people:
            gate.put_nowait(person)
        latencies: list[float] = []
        health: list[float] = []
        done = asyncio.Event()

        async def one() -> None:
            handle, password, keys = await gate.get()  # each login resumes that account's device
            try:
                started = time.perf_counter()
                reply = await api.call(
                    "POST",
                    "/v1/sessions",
                    {
                        "handle": handle,
                        "password": password,
                        "device": keys.block(handle, name="bench"),
                    },
                )
                latencies.append(time.perf_counter() - started)
                assert reply.status == 201, reply.body
            finally:
                gate.put_nowait((handle, password, keys))

        async def probe() -> None:
            while not done.is_set():
                started = time.perf_counter()
                await api.call("GET", "/healthz")
                health.append(time.perf_counter() - started)
                await asyncio.sleep(0.05)

        prober = asyncio.create_task(probe())
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(logins)))
        elapsed = time.perf_counter() - started
        done.set()
        await prober
    print(
        f"logins: {logins} in {elapsed:.2f}s = {logins / elapsed:.1f}/s "
        f"(concurrency {concurrency}; each one verifies argon2id and resumes a device)"
    )
    print(
        f"login latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    print(
        f"/healthz during the burst: p50 {statistics.median(health) * 1000:.1f} ms, "
        f"max {max(health) * 1000:.1f} ms over {len(health)} probes"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, session_infra(tmp) as infra:
        tag = uuid.uuid4().hex[:8]
        env = stack_env(infra.amqp_url, infra.mongo_url, f"b{tag}.", f"b{tag}", Path(tmp))
        with running_stack(env, Path(tmp), "gateway") as stack:
            asyncio.run(measure(stack.gateway_url, args.logins, args.concurrency))


if __name__ == "__main__":
    main()
