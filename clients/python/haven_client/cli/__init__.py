"""``haven``: the companion CLI over the SDK (click commands, rich output, JSON with --json)."""

from haven_client.cli.app import app, main, run_cli

__all__ = ["app", "main", "run_cli"]
