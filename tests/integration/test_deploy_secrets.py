"""The secrets of the compose deployment: generated once, kept on a second run, and the
broker's definitions file is one RabbitMQ itself imports and authenticates against."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from pathlib import Path

from services.broker_users import SERVICES
from services.deploy_secrets import PASSWORDS, ensure


def _ctl(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rabbitmqctl", "-q", *argv], input=stdin, capture_output=True, text=True, check=False
    )


def test_a_second_run_keeps_every_secret_and_re_renders_the_definitions(tmp_path: Path) -> None:
    ensure(tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in PASSWORDS}
    assert ensure(tmp_path) == ["rabbitmq_definitions.json"]
    assert {name: (tmp_path / name).read_bytes() for name in PASSWORDS} == before
    assert tmp_path.stat().st_mode & 0o077 == 0  # the directory is the owner's alone
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o777 == 0o444, path  # read-only, for the containers' users
    rendered = (tmp_path / "rabbitmq_definitions.json").read_text()
    for name in PASSWORDS:
        assert before[name].decode() not in rendered  # hashes only


async def test_rabbitmq_imports_the_definitions_and_accepts_each_service_password(
    tmp_path: Path,
) -> None:
    ensure(tmp_path)
    tag = uuid.uuid4().hex[:8]
    rendered = json.loads((tmp_path / "rabbitmq_definitions.json").read_text())
    # The broker is shared with other tests: the same users and vhost under names of our own.
    names = {user["name"]: f"{tag}-{user['name']}" for user in rendered["users"]}
    for user in rendered["users"]:
        user["name"] = names[user["name"]]
    vhost = f"{tag}-{rendered['vhosts'][0]['name']}"
    rendered["vhosts"] = [{"name": vhost}]
    for rule in [*rendered["permissions"], *rendered["topic_permissions"]]:
        rule["user"], rule["vhost"] = names[rule["user"]], vhost
    try:  # through stdin: the broker node could not read the test's private directory
        imported = await asyncio.to_thread(_ctl, "import_definitions", stdin=json.dumps(rendered))
        assert imported.returncode == 0, imported.stderr
        topics = await asyncio.to_thread(_ctl, "list_topic_permissions", "-p", vhost)
        for rule in rendered["topic_permissions"]:  # the broker took each service's keys
            assert f"{rule['user']}\t{rule['exchange']}\t{rule['write']}" in topics.stdout
        for service in SERVICES:
            password = (tmp_path / f"{service}_amqp_password").read_text()
            ok = await asyncio.to_thread(
                _ctl, "authenticate_user", names[f"haven-{service}"], password
            )
            assert ok.returncode == 0, ok.stderr
        wrong = await asyncio.to_thread(_ctl, "authenticate_user", names["haven-gateway"], "x")
        assert wrong.returncode != 0
    finally:
        await asyncio.gather(
            asyncio.to_thread(_ctl, "delete_vhost", vhost),
            *(asyncio.to_thread(_ctl, "delete_user", name) for name in names.values()),
        )
