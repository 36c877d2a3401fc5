"""What a service process loads (docs/PERFORMANCE.md, "Idle memory"): the libraries only the
command-line tools or the test tooling use stay out, and the notification service loads
cryptography only when a VAPID key is first needed. Each check runs in a fresh interpreter:
this one has imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVICES = ("gateway", "messaging", "notification")


def loaded_after(code: str) -> set[str]:
    """Top-level packages in `sys.modules` after `code` runs in a new interpreter that
    starts the way a service's `__main__` does."""
    script = f"import shared.lean\n{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_leaves_the_tools_libraries_unloaded(service: str) -> None:
    loaded = loaded_after(f"import services.{service}.app")
    assert {"structlog", "aiohttp", "pydantic"} <= loaded
    assert not loaded & {"rich", "greenlet", "pywebpush", "requests", "py_vapid"}


def test_notification_makes_its_temporary_vapid_key_on_first_use() -> None:
    code = """
import services.notification.app
from services.notification.push.webpush import VapidKey
key = VapidKey.load(None, "mailto:ops@haven.example.org")
assert "cryptography" not in sys.modules and "py_vapid" not in sys.modules
public = key.public_key
assert public == key.public_key and len(public) == 87  # 65 bytes, base64url
assert key.authorization("https://fcm.googleapis.com/x", 0).startswith("vapid t=")
""".replace("import services", "import sys\nimport services", 1)
    loaded = loaded_after(code)
    assert {"cryptography", "py_vapid"} <= loaded
