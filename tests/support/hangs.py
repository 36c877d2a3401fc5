"""What a hung test process is waiting for: `kill -USR1 <pid>` (a pytest process, an xdist
worker) writes the stack of every asyncio task of its running loop, and which test or fixture
started it (`leaks.OWNER`), to $TMPDIR/haven-tasks-<pid>.txt. A thread dump (py-spy) shows only
an idle event loop; this shows the await that never returns."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import tempfile
from pathlib import Path
from types import FrameType


def _dump(signum: int, frame: FrameType | None) -> None:
    out = io.StringIO()
    loop = asyncio._get_running_loop()
    if loop is None:
        out.write("no event loop running\n")
    else:
        for task in asyncio.all_tasks(loop):
            out.write(f"--- {task.get_name()} {task.get_coro()!r}\n")
            task.print_stack(file=out)
    path = Path(tempfile.gettempdir()) / f"haven-tasks-{os.getpid()}.txt"
    path.write_text(out.getvalue())


def install() -> None:
    signal.signal(signal.SIGUSR1, _dump)
