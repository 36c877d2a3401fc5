"""`make bench`: the workloads of docs/PERFORMANCE.md against a fresh local stack (or given URLs),
the building-block ceilings in the same run, JSON and a PNG.

    .venv/bin/python -m bench.run                # everything, about 4 minutes
    .venv/bin/python -m bench.run --quick        # a few messages per workload (the bench's test)
    .venv/bin/python -m bench.run --gateway-url http://127.0.0.1:8080 --mongo-url ... --key-file ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import ceilings, idle, plot, selfcheck, storetop, traffic
from bench.procstat import Sampler
from bench.stack import (
    DEFAULT_SHARDS,
    SERVICES,
    Target,
    local_stack,
    profiled,
    raise_fd_limit,
)
from bench.stats import latency_summary
from bench.verdicts import summary, verdicts
from shared.topology import Topology
from tools import broker
from tools.api import Api

MIB = 1024 * 1024


@dataclass
class Config:
    seconds: float
    conversations: int
    in_flight: int
    idle_sockets: int
    sweep: tuple[float, ...]
    sweep_seconds: float
    out: Path
    ceiling_scale: float = 1.0
    profile: Path | None = None
    trace: Path | None = None


def interval_report(
    sampler: Sampler, before: Any, after: Any, tracker: traffic.Tracker, started: float
) -> dict[str, Any]:
    report = traffic.rates(tracker)
    delivered = report.get("delivered", 0)
    cpu = Sampler.cpu_ms_per(before, after, delivered)
    report["cpu_ms_per_delivered"] = cpu
    report["cpu_ms_per_delivered_services"] = round(
        sum(v for k, v in cpu.items() if k in SERVICES), 3
    )
    report["rss_mib"] = {k: round(v / MIB, 1) for k, v in after.rss.items()}
    latencies = tracker.latencies()
    report["latency"] = latency_summary([lat for _, lat in latencies])
    report["latency_series"] = [
        (round(at - started, 3), round(lat * 1000, 2)) for at, lat in latencies
    ]
    return report


async def measured(
    sampler: Sampler,
    drive: Callable[[traffic.Tracker], Awaitable[Any]],
    mongo_url: str | None = None,
) -> dict[str, Any]:
    """Run one workload: CPU sampled from its first send until its last delivery (and the
    store's operations, when it answers `top`)."""
    tracker = traffic.Tracker()
    top_before = await storetop.snapshot(mongo_url)
    before, started = sampler.snapshot(), time.monotonic()
    extra = await drive(tracker)
    await traffic.drained(tracker, 20)
    after = sampler.snapshot()
    top_after = await storetop.snapshot(mongo_url)
    report = interval_report(sampler, before, after, tracker, started)
    report["store_ops_per_delivered"] = storetop.per_message(
        top_before, top_after, report.get("delivered", 0)
    )
    if extra is not None:
        report["skipped_offered"] = extra
    return report


def say(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


async def run(target: Target, config: Config) -> dict[str, Any]:
    sampler = Sampler({**target.pids, "loadgen": os.getpid()})
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "conditions": {**conditions(config), "namespace": target.namespace},
        "workloads": {},
    }
    await asyncio.sleep(0.5 if config.seconds < 2 else 2)  # the services settle
    idle_snapshot = sampler.snapshot()
    result["idle_rss_mib"] = {k: round(v / MIB, 1) for k, v in idle_snapshot.rss.items()}
    result["idle_rss_services_mib"] = round(
        sum(idle_snapshot.rss.get(s, 0) for s in SERVICES[:3]) / MIB, 1
    )
    say("measuring the building blocks")
    result["ceilings_per_s"] = await ceilings.measure_all(
        target.amqp_url, target.mongo_url or "mongodb://127.0.0.1:27017", config.ceiling_scale
    )
    say(f"ceilings: {result['ceilings_per_s']}")
    ws_url = target.gateway_url.replace("http", "ws", 1) + "/v1/ws"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        api = Api(http, target.gateway_url)
        tag = uuid.uuid4().hex[:6]
        say(f"creating {config.conversations} coach-client pairs")
        pairs = await traffic.make_pairs(api, config.conversations, tag)
        receivers: list[traffic.Receiver] = []
        shared = traffic.Tracker()

        async def fresh(tracker: traffic.Tracker) -> None:
            """New tokens for everyone; every receiver reports into `tracker`."""
            for pair in pairs:
                for session in (pair.client, pair.coach):
                    await traffic.refresh(api, session)
            for receiver in receivers:
                receiver.tracker = tracker
                await receiver.reauth()

        for pair in pairs:
            for session in (pair.coach, pair.client):
                await traffic.refresh(api, session)  # creating the pairs may take minutes
                receiver = traffic.Receiver(session, shared)
                await receiver.open(http, ws_url)
                receivers.append(receiver)
        base, s = target.gateway_url, config.seconds
        budget = int(s * 2500)  # more sealed envelopes than any run could send

        async def workload(name: str, drive: Callable[[traffic.Tracker], Awaitable[Any]]) -> Any:
            say(f"workload {name}")
            tracker = traffic.Tracker()
            await fresh(tracker)

            async def driven(t: traffic.Tracker) -> Any:
                # The receivers report into the tracker `measured` passes.
                for receiver in receivers:
                    receiver.tracker = t
                return await drive(t)

            tracker_seen: list[traffic.Tracker] = []

            async def traced(t: traffic.Tracker) -> Any:
                tracker_seen.append(t)
                return await driven(t)

            report = await measured(sampler, traced, target.mongo_url)
            if config.trace is not None:
                traffic.write_trace(tracker_seen[0], config.trace / f"{name}.jsonl")
            result["workloads"][name] = report
            say(
                f"  {name}: {report['delivered_per_s']}/s delivered, "
                f"latency {report['latency']}, "
                f"cpu/msg services {report['cpu_ms_per_delivered_services']} ms"
            )
            for collection, ops in report["store_ops_per_delivered"].items():
                say(f"    store {collection}: {ops}")
            return report

        one = pairs[:1]
        one[0].seal(budget, "a")
        a = await workload("a", lambda t: traffic.flat_out(http, base, one, 8, s, t))
        per = budget // len(pairs) + 1
        for pair in pairs:
            pair.seal(per, "b")
        with profiled(config.profile, target.pids, s):
            await workload(
                "b", lambda t: traffic.flat_out(http, base, pairs, config.in_flight, s, t)
            )
        top = max(a["delivered_per_s"], 1.0)
        result["sweep"] = []
        for share in config.sweep:
            offered = top * share
            for pair in pairs:
                pair.seal(int(offered * config.sweep_seconds / len(pairs)) + 2, "s")
            report = await workload(
                f"sweep_{share}",
                lambda t, r=offered: traffic.at_rate(http, base, pairs, r, config.sweep_seconds, t),
            )
            report.pop("latency_series", None)
            result["workloads"].pop(f"sweep_{share}")
            result["sweep"].append({"offered_per_s": round(offered, 1), **report})
        half = top / 2
        one[0].seal(int(half * s) + 10, "c")
        await workload("c", lambda t: traffic.at_rate(http, base, one, half, s, t))
        if config.idle_sockets and target.key_file and target.mongo_url and target.gateway_db:
            await idle_workload(target, config, sampler, result, pairs, ws_url, api)
            one[0].seal(int(half * s) + 10, "d")
            await workload("d", lambda t: traffic.at_rate(http, base, one, half, s, t))
            await result.pop("_idle").close()
        for receiver in receivers:
            await receiver.close()
    result["targets"] = verdicts(result)
    result["finished_at"] = datetime.now(UTC).isoformat()
    return result


async def idle_workload(
    target: Target,
    config: Config,
    sampler: Sampler,
    result: dict[str, Any],
    pairs: list[traffic.Pair],
    ws_url: str,
    api: Api,
) -> None:
    """Open the idle sockets (kept open for workload d) and measure what each one costs."""
    assert target.mongo_url
    assert target.gateway_db
    assert target.key_file
    say(f"opening {config.idle_sockets} idle sockets")
    # An account of their own: the pairs' device sets (hence their envelopes) stay as sealed.
    owner = await api.onboard(pairs[0].coach, "client", f"bidle{uuid.uuid4().hex[:6]}")
    ids = await idle.seed_devices(
        target.mongo_url, target.gateway_db, owner.account_id, config.idle_sockets
    )
    tokens = idle.tokens(target.key_file, owner.account_id, owner.role, ids)
    before = sampler.snapshot()
    sockets = idle.IdleSockets()
    seconds = await sockets.open(ws_url, tokens)
    await asyncio.sleep(0.5 if config.seconds < 2 else 3)  # let allocations settle
    after = sampler.snapshot()
    opened = sockets.open_count
    grown = after.rss.get("gateway", 0) - before.rss.get("gateway", 0)
    result["idle_sockets"] = {
        "requested": config.idle_sockets,
        "open": opened,
        "failed": sockets.failed,
        "connect_seconds": round(seconds, 1),
        "gateway_rss_before_mib": round(before.rss.get("gateway", 0) / MIB, 1),
        "gateway_rss_after_mib": round(after.rss.get("gateway", 0) / MIB, 1),
        "kib_per_socket": round(grown / 1024 / opened, 1) if opened else None,
        "loadgen_kib_per_socket": round(
            (after.rss["loadgen"] - before.rss["loadgen"]) / 1024 / opened, 1
        )
        if opened
        else None,
    }
    say(f"  idle sockets: {result['idle_sockets']}")
    result["_idle"] = sockets


def conditions(config: Config) -> dict[str, Any]:
    load = Path("/proc/loadavg").read_text().split()[:3]
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_at_start": load,
        "seconds_per_workload": config.seconds,
        "conversations_b": config.conversations,
        "in_flight_per_conversation_b": config.in_flight,
        "idle_sockets": config.idle_sockets,
        "sweep": list(config.sweep),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=2, help="per conversation in (b)")
    parser.add_argument("--idle-sockets", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--quick", action="store_true", help="tiny run: the bench's own test")
    parser.add_argument("--gateway-url", help="use running services instead of starting them")
    parser.add_argument(
        "--amqp-url", default=broker.DEFAULT_URL, help="the broker, also of a stack started here"
    )
    parser.add_argument("--mongo-url", help="for the store ceiling and seeding idle devices")
    parser.add_argument("--key-file", type=Path, help="the stack's token signing key")
    parser.add_argument("--gateway-db", help="the gateway's database name")
    parser.add_argument("--pid", action="append", default=[], help="name=pid to sample")
    parser.add_argument("--logs", type=Path, help="keep the services' logs in this directory")
    parser.add_argument("--profile", type=Path, help="py-spy stacks of workload b, if installed")
    parser.add_argument(
        "--trace",
        type=Path,
        help="per message: sent, accepted and delivered (Unix time), a JSON line each, per "
        "workload in this directory (with --logs: to follow a message through the services)",
    )
    parser.add_argument(
        "--store-ttl-sweep",
        type=float,
        help="seconds between the embedded store's TTL sweeps (its own: 60), a diagnostic of "
        "the latency tail (bench/store.py)",
    )
    parser.add_argument(
        "--sweep",
        default="0.25,0.5,0.75,1.0,1.25",
        help="shares of (a)'s rate for the sweep, comma-separated; empty: no sweep",
    )
    args = parser.parse_args(argv)
    shares = tuple(float(x) for x in args.sweep.split(",") if x.strip())
    config = Config(
        seconds=1.0 if args.quick else args.seconds,
        conversations=2 if args.quick else args.conversations,
        in_flight=args.in_flight,
        idle_sockets=10 if args.quick else args.idle_sockets,
        sweep=(0.5,) if args.quick else shares,
        sweep_seconds=1.0 if args.quick else 5.0,
        out=args.out,
        ceiling_scale=0.1 if args.quick else 1.0,
        profile=args.profile,
        trace=args.trace,
    )
    limit = raise_fd_limit()
    if limit < config.idle_sockets * 2 + 1000:
        say(f"open-file limit {limit} is too low for {config.idle_sockets} sockets on both ends")
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = str(args.logs) if args.logs else scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        if args.gateway_url:
            pids = {k: int(v) for k, v in (p.split("=", 1) for p in args.pid)}
            target = Target(
                args.gateway_url,
                args.amqp_url,
                args.mongo_url,
                args.key_file,
                args.gateway_db,
                pids,
            )
            result = asyncio.run(run(target, config))
        else:
            with local_stack(Path(tmp), args.amqp_url, args.store_ttl_sweep) as target:
                result = asyncio.run(run(target, config))
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    config.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = config.out / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(result, indent=2))
    png_path = config.out / f"bench-{stamp}.png"
    drew = plot.draw(result, png_path)
    print(json.dumps(summary(result), indent=2))
    say(f"wrote {json_path}" + (f" and {png_path}" if drew else " (no matplotlib: no PNG)"))
    return check(result, args.amqp_url)


def check(result: dict[str, Any], amqp_url: str) -> int:
    """The run's own checks; a stack started here must have left no queue on the broker."""
    found = selfcheck.problems(result)
    namespace = result["conditions"].get("namespace")
    if namespace:
        names = Topology(namespace=namespace, command_shards=DEFAULT_SHARDS)
        left = asyncio.run(selfcheck.leftover_queues(amqp_url, names))
        found += [f"queue left on the broker: {name}" for name in left]
    for problem in found:
        say(f"CHECK FAILED: {problem}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
