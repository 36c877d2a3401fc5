"""What a bench run's figures say against the issue's targets, and the figures for printing."""

from __future__ import annotations

from typing import Any

from bench import ceilings

TARGETS = {
    "a_delivered_per_s": 400,
    "b_delivered_per_s": 600,
    "c_p99_ms": 50,
    "cpu_ms_per_message": 4,
    "kib_per_idle_socket": 30,
    "idle_rss_services_mib": 160,
}


def verdicts(result: dict[str, Any]) -> dict[str, Any]:
    w = result["workloads"]
    got = {
        "a_delivered_per_s": w.get("a", {}).get("delivered_per_s"),
        "b_delivered_per_s": w.get("b", {}).get("delivered_per_s"),
        "c_p99_ms": w.get("c", {}).get("latency", {}).get("p99_ms"),
        "cpu_ms_per_message": w.get("b", {}).get("cpu_ms_per_delivered_services"),
        "kib_per_idle_socket": result.get("idle_sockets", {}).get("kib_per_socket"),
        "idle_rss_services_mib": result.get("idle_rss_services_mib"),
    }
    higher = {"a_delivered_per_s", "b_delivered_per_s"}
    out: dict[str, Any] = {}
    for name, goal in TARGETS.items():
        value = got[name]
        met = None if value is None else (value >= goal if name in higher else value <= goal)
        out[name] = {"target": goal, "measured": value, "met": met}
    ceil = result.get("ceilings_per_s", {})
    for name in ("a", "b"):
        if name in w:
            out[f"{name}_ratio_to_ceilings"] = ceilings.ratios(w[name]["delivered_per_s"], ceil)
    return out


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The figures without the latency series."""
    workloads = {
        name: {k: v for k, v in w.items() if k != "latency_series"}
        for name, w in result["workloads"].items()
    }
    return {**{k: v for k, v in result.items() if k != "workloads"}, "workloads": workloads}
