"""The bench's embedded store with its TTL sweep at another interval: a diagnostic.

SecantusDB's sweeper wakes every 60 s and reads every document of each TTL-indexed collection
under its storage lock, so a run's latency tail holds one stall that grows with the messages
stored (docs/PERFORMANCE.md, "A quieter sitting"). `secantusd-py` has no flag for the interval
(its config file's `ttl_sweep_seconds` does not reach the server), so `bench.run
--store-ttl-sweep S` starts the store through this module: the server class the daemon runs,
standalone and in memory as `tools.processes.secantus_argv` starts it, only the interval
changed. A real MongoDB's TTL monitor is not this code.

    python -m bench.store --port 27017 --ttl-sweep 600
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from secantus.server import SecantusDBServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttl-sweep", type=float, required=True, help="seconds between sweeps")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    server = SecantusDBServer(
        host="127.0.0.1",
        port=args.port,
        storage_path=":memory:",
        replica_set_name=None,
        enable_test_commands=False,
        ttl_sweep_seconds=args.ttl_sweep,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    server.start()
    server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
