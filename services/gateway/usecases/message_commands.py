"""Commands to messaging: each one durably queued on its conversation's shard, or a 503."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from shared.commands import CommandBase

# `Bus.send_command`: confirmed by the broker or UnavailableError, never a 202 for nothing.
SendCommand = Callable[[CommandBase[Any]], Awaitable[None]]
