"""Imported first by each service's `__main__`: keep a service process from loading what only
the command-line tools use.

structlog renders exceptions with rich when rich is importable, and imports it at once; rich
is installed for the `haven` CLI, and a service's JSON logs never use it (about 3 MiB of every
service process). So structlog is imported here while rich reads as absent; nothing else in a
service imports rich.
"""

from __future__ import annotations

import sys

if "structlog" not in sys.modules and "rich" not in sys.modules:
    sys.modules["rich"] = None  # type: ignore[assignment]  # ImportError for structlog
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]
