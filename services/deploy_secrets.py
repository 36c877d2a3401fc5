"""``python -m services.deploy_secrets DIR``: every secret the compose deployment needs, in DIR.

Creates what is missing and keeps what exists (run it again after an upgrade): one broker
password and one database password per service, the broker administrator's and the database
root's passwords, the access-token signing key, the push-secret key, the VAPID key (Web
Push), the Erlang cookie and the MongoDB keyfile of the clustered profile, and the broker's
definitions file (users with salted hashes, the vhost, each service's permissions). Deployment
tooling, not a service: it knows each service's key format. Nothing is printed but file
names. DIR is the owner's alone (0700); the files in it are 0444 because compose bind-mounts
each into the containers that need it, whose users (uid 10001 for Haven, 999 for RabbitMQ
and MongoDB) differ from the owner, and the directory already keeps everyone else out.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from services.broker_users import SERVICES, definitions
from services.gateway.security.tokens import generate_pem
from services.notification.push.sealing import generate_key_text
from services.notification.push.webpush import generate_pem as generate_vapid_pem

PASSWORDS = [
    "rabbitmq_admin_password",
    "mongo_root_password",
    *(f"{s}_amqp_password" for s in SERVICES),
    *(f"{s}_mongo_password" for s in SERVICES),
]


def _write(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    path.chmod(0o444)


def _password() -> bytes:
    return secrets.token_hex(24).encode()  # URL-safe: it goes into connection URLs


def _erlang_cookie() -> bytes:
    """The RabbitMQ nodes' shared secret (Erlang distribution): letters and digits."""
    return secrets.token_hex(32).upper().encode()


def _mongo_keyfile() -> bytes:
    """The replica set members' shared key: 6-1024 base64 characters (1008 here)."""
    return base64.b64encode(secrets.token_bytes(756))


def ensure(directory: Path) -> list[str]:
    """Create the missing secrets; the names of the files written."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    written = []
    makers: dict[str, Callable[[], bytes]] = dict.fromkeys(PASSWORDS, _password)
    makers["token_signing_key"] = generate_pem
    makers["receipt_signing_key"] = generate_pem  # deletion receipts: a key of their own
    makers["push_secret_key"] = lambda: generate_key_text().encode()
    makers["vapid_private_key"] = generate_vapid_pem  # Web Push: the application server key
    # The clustered profile (docker-compose.cluster.yml): what its nodes share.
    makers["rabbitmq_erlang_cookie"] = _erlang_cookie
    makers["mongo_keyfile"] = _mongo_keyfile
    for name, make in makers.items():
        if not (directory / name).exists():
            _write(directory / name, make())
            written.append(name)
    read = {name: (directory / name).read_text().strip() for name in PASSWORDS}
    rendered = definitions(
        {s: read[f"{s}_amqp_password"] for s in SERVICES}, read["rabbitmq_admin_password"]
    )
    target = directory / "rabbitmq_definitions.json"
    target.unlink(missing_ok=True)  # re-rendered every time: passwords may have been rotated
    _write(target, json.dumps(rendered, indent=2).encode())
    written.append(target.name)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m services.deploy_secrets DIR\n")
        return 2
    for name in ensure(Path(argv[0])):
        sys.stdout.write(f"wrote {Path(argv[0]) / name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
