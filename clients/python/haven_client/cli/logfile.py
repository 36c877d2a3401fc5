"""Where the CLI's log lines go: a file beside the keystore, never the terminal (a chat is
no place for debug lines), and where an unexpected failure leaves its details."""

from __future__ import annotations

import logging
import os
from pathlib import Path

_handler: logging.Handler | None = None
_path: Path | None = None


def log_to(keystore: Path) -> Path:
    """Send every log record to ``haven.log`` in the keystore's directory (0600)."""
    global _handler, _path
    path = Path(os.environ.get("HAVEN_LOG_FILE") or keystore.parent / "haven.log")
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()  # no writable place: quiet beats a broken chat
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    _handler, _path = handler, path
    return path


def current() -> Path:
    """The log file in use (set up on first use if no command did yet)."""
    return _path if _path is not None else log_to(Path.home() / ".config" / "haven" / "x")


def record_unexpected(error: BaseException) -> Path:
    path = current()
    logging.getLogger("haven_client.cli").error("unexpected_failure", exc_info=error)
    return path


def erase() -> None:
    """The panic exit leaves nothing of Haven here: the log file goes with the keystore."""
    global _handler, _path
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
    if _path is not None:
        _path.unlink(missing_ok=True)
    _handler, _path = None, None
