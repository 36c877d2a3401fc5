"""What the CLI prints: rich text for people, one JSON object per line with ``--json``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console, RenderableType


def _default(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


class Output:
    """One place decides between a human rendering and a JSON line, so scripts stay stable."""

    def __init__(self, out: TextIO, *, as_json: bool, err: TextIO | None = None) -> None:
        self.as_json = as_json
        self._out = out
        self.console = Console(file=out, highlight=False, soft_wrap=True)
        self.errors = Console(file=err, stderr=err is None, highlight=False, soft_wrap=True)

    def emit(self, record: dict[str, Any], human: RenderableType | None = None) -> None:
        """``record`` as JSON, or ``human`` (by default nothing) as text."""
        if self.as_json:
            self._out.write(json.dumps(record, default=_default, ensure_ascii=False) + "\n")
            self._out.flush()
        elif human is not None:
            self.console.print(human)

    def say(self, text: RenderableType) -> None:
        """A line for people only (progress, hints); never part of the JSON output."""
        if not self.as_json:
            self.console.print(text)

    def warn(self, text: str) -> None:
        self.errors.print(text, markup=False)
