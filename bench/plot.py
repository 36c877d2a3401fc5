"""The PNG: delivered/s against offered load, and send→deliver latency over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(result: dict[str, Any], path: Path) -> bool:
    """False when matplotlib (the `bench` extra) is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    sweep = result.get("sweep", [])
    if sweep:
        offered = [s["offered_per_s"] for s in sweep]
        left.plot(offered, [s["delivered_per_s"] for s in sweep], "o-", label="delivered/s")
        left.plot(offered, [s["accepted_per_s"] for s in sweep], "s--", label="accepted/s")
        top = max(offered)
        left.plot([0, top], [0, top], ":", color="grey", label="offered = delivered")
    left.set_xlabel("offered load (messages/s, 20 conversations)")
    left.set_ylabel("messages/s")
    left.set_title("Throughput against offered load")
    left.legend()
    for name in ("c", "d"):
        series = result.get("workloads", {}).get(name, {}).get("latency_series", [])
        if series:
            right.plot(
                [t for t, _ in series],
                [ms for _, ms in series],
                ".",
                ms=2,
                label=f"workload {name}",
            )
    right.set_xlabel("seconds since the workload started")
    right.set_ylabel("send→deliver (ms)")
    right.set_yscale("log")
    right.set_title("Latency over time at half of (a)'s maximum")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
