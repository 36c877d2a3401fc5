"""Log lines of in-process services, kept in memory per service as the processes write them.

A running process logs JSON lines to its own file; in-process, every service shares one
structlog configuration and one root logger. `LogCapture` stands in for the files: each app
is started inside `LogCapture.serving(name)`, which binds the service name as a structlog
context variable. Everything started there — start-up, consumers, the server's accept loop
and so every request handler — inherits it, so each line (structlog or stdlib, with its
traceback if any) is filed under the service that wrote it.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

SERVICE_KEY = "service"
UNATTRIBUTED = "test"  # lines from code the test itself runs


class LogCapture:
    def __init__(self, level: int = logging.INFO) -> None:
        self.level = level
        self.lines: list[dict[str, Any]] = []
        self._saved: dict[str, Any] | None = None
        self._handler = _RecordHandler(self)
        self._root_level = logging.WARNING

    def install(self) -> None:
        """Route structlog and stdlib logging here until `uninstall`."""
        self._saved = structlog.get_config()
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
                self._keep,
            ],
            wrapper_class=structlog.make_filtering_bound_logger(self.level),
            logger_factory=structlog.ReturnLoggerFactory(),
            cache_logger_on_first_use=False,
        )
        root = logging.getLogger()
        self._root_level = root.level
        root.addHandler(self._handler)
        root.setLevel(self.level)

    def uninstall(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self._handler)
        root.setLevel(self._root_level)
        if self._saved is not None:
            structlog.configure(**self._saved)
            self._saved = None

    @contextmanager
    def serving(self, service: str) -> Iterator[None]:
        """Whatever starts inside this block logs as `service`."""
        with structlog.contextvars.bound_contextvars(**{SERVICE_KEY: service}):
            yield

    def _keep(self, _logger: object, _method: str, event: dict[str, Any]) -> str:
        event.setdefault(SERVICE_KEY, UNATTRIBUTED)
        self.lines.append(event)
        raise structlog.DropEvent

    def of(self, service: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get(SERVICE_KEY) == service]

    def text(self, service: str) -> str:
        """The service's lines as the JSON a process would have written (tracebacks included)."""
        return "\n".join(json.dumps(line, default=str) for line in self.of(service))


class _RecordHandler(logging.Handler):
    """stdlib records (aiohttp, aio-pika, asyncio) as lines, attributed like structlog's."""

    def __init__(self, capture: LogCapture) -> None:
        super().__init__(logging.NOTSET)
        self.capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "aiohttp.access" and record.levelno < logging.WARNING:
            return  # the services run with access logs off
        context = structlog.contextvars.get_contextvars()
        line: dict[str, Any] = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
            SERVICE_KEY: context.get(SERVICE_KEY, UNATTRIBUTED),
        }
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info))
        self.capture.lines.append(line)
