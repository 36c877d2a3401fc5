"""Imported first by each service's `__main__`: keep a service process from loading what only
the command-line tools (or the test tooling) use.

structlog renders exceptions with rich when rich is importable, and imports it at once; rich
is installed for the `haven` CLI, and a service's JSON logs never use it (about 3 MiB of every
service process). Its deprecated `structlog.threadlocal` picks greenlet-local storage when
greenlet is importable, and imports it at once; greenlet comes with the browser tests'
playwright (not a dependency of the services, not in the image) and no service runs
greenlets (0.1 to 0.3 MiB of a service process where it is installed). So structlog is imported
here while both read as absent; nothing else in a service imports them.
"""

from __future__ import annotations

import sys

_ABSENT = ("rich", "greenlet")

if "structlog" not in sys.modules and not any(name in sys.modules for name in _ABSENT):
    for _name in _ABSENT:
        sys.modules[_name] = None  # type: ignore[assignment]  # ImportError for structlog
    try:
        import structlog  # noqa: F401
    finally:
        for _name in _ABSENT:
            del sys.modules[_name]
