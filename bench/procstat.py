"""CPU time and resident memory of processes, read from /proc for a measured interval only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process (all its threads), in seconds."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size, from statm (pages)."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def find_by_comm(name: str) -> list[int]:
    """Pids whose command name is `name` (e.g. the broker's `beam.smp`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == name:
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)


def listening_pid(port: int) -> int | None:
    """The process listening on this local TCP port (the broker among several `beam.smp`, say
    a local cluster's nodes), or None when it cannot be told (no access to its descriptors)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


@dataclass(frozen=True)
class Snapshot:
    cpu: dict[str, float]
    rss: dict[str, int]


class Sampler:
    """Named processes, sampled at the start and the end of an interval."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)

    def snapshot(self) -> Snapshot:
        cpu, rss = {}, {}
        for name, pid in self.pids.items():
            try:
                cpu[name] = cpu_seconds(pid)
                rss[name] = rss_bytes(pid)
            except (OSError, ValueError):
                continue
        return Snapshot(cpu, rss)

    @staticmethod
    def cpu_ms_per(before: Snapshot, after: Snapshot, count: int) -> dict[str, float]:
        """CPU milliseconds each process spent between the snapshots, per counted item."""
        if count <= 0:
            return {name: 0.0 for name in after.cpu}
        return {
            name: round((after.cpu[name] - before.cpu[name]) * 1000 / count, 3)
            for name in after.cpu
            if name in before.cpu
        }
