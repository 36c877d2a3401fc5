"""What every bench run checks about itself before it reports: each workload delivered what
it got accepted, every measure is there, and a stack started here left no queue behind."""

from __future__ import annotations

from typing import Any

import aio_pika

from shared.topology import Topology, queue_specs

WORKLOADS = ("a", "b", "c", "d")
CEILINGS = {"publish", "insert", "http", "verify"}
PROCESSES = {"gateway", "messaging", "notification", "store", "loadgen"}


def problems(result: dict[str, Any]) -> list[str]:
    """Why this result cannot be trusted (empty: it can)."""
    found = []
    idle_ran = "idle_sockets" in result  # needs the stack's key and store (always when local)
    local = bool(result.get("conditions", {}).get("namespace"))  # every process sampled
    for name in WORKLOADS if idle_ran else WORKLOADS[:3]:
        workload = result.get("workloads", {}).get(name)
        if workload is None:
            found.append(f"workload {name} did not run")
            continue
        if not 0 < workload["delivered"] == workload["accepted"]:
            found.append(
                f"workload {name} delivered {workload['delivered']} of "
                f"{workload['accepted']} accepted"
            )
        if not workload["latency"]["p50_ms"] > 0:
            found.append(f"workload {name} measured no latency")
        missing = PROCESSES - set(workload["cpu_ms_per_delivered"]) if local else set()
        if missing or not workload["cpu_ms_per_delivered_services"] > 0:
            found.append(f"workload {name} has no CPU figures for {sorted(missing)}")
    idle = result.get("idle_sockets", {})
    if idle_ran and (
        idle.get("open") != idle.get("requested") or idle.get("kib_per_socket") is None
    ):
        found.append(f"idle sockets: {idle}")
    ceilings = result.get("ceilings_per_s", {})
    if set(ceilings) != CEILINGS or not all(v > 0 for v in ceilings.values()):
        found.append(f"ceilings: {ceilings}")
    measured = result.get("targets", {}).get("a_delivered_per_s", {}).get("measured")
    swept = result.get("conditions", {}).get("sweep", True)  # asked for (older results: yes)
    if (swept and not result.get("sweep")) or not measured:
        found.append("no sweep, or no delivery rate measured")
    return found


async def leftover_queues(amqp_url: str, names: Topology) -> list[str]:
    """The namespace's queues that still exist (a passive declare finds them)."""
    connection = await aio_pika.connect(amqp_url)
    found = []
    async with connection:
        for spec in queue_specs(names):
            channel = await connection.channel()  # a failed passive declare closes it
            try:
                await channel.declare_queue(spec.name, passive=True)
                found.append(spec.name)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                pass
    return found
