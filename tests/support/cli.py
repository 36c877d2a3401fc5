"""Drive `haven` and `haven-admin` as processes, the way a person or a script would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pexpect

from haven_client.keystore import KdfParams, Keystore

PASSPHRASE = "keystore passphrase for tests"
HAVEN = [sys.executable, "-m", "haven_client"]
HAVEN_ADMIN = [sys.executable, "-m", "services.gateway.admin_cli"]


@dataclass
class Person:
    """One device of one person: a keystore file, a password, the server it talks to."""

    server: str
    keystore: Path
    password: str
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def create(cls, server: str, directory: Path, name: str, password: str) -> Person:
        """The keystore is made with argon2id's floor (the CLI then opens it as usual)."""
        path = directory / f"{name}.keystore"
        (await Keystore.create(path, PASSPHRASE, KdfParams.minimal())).close()
        return cls(server, path, password)

    def environment(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "HAVEN_SERVER": self.server,
            "HAVEN_KEYSTORE": str(self.keystore),
            "HAVEN_ADMIN_KEYSTORE": str(self.keystore),
            "HAVEN_KEYSTORE_PASSPHRASE": PASSPHRASE,
            "HAVEN_PASSWORD": self.password,
            "HAVEN_ADMIN_PASSWORD": self.password,
            "TERM": "dumb",
            "COLUMNS": "200",
            "PYTHONUNBUFFERED": "1",
            **self.env,
            **extra,
        }

    def run(
        self, *argv: str, stdin: str = "", admin: bool = False, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*(HAVEN_ADMIN if admin else HAVEN), *argv],
            input=stdin,
            env=self.environment(**extra),
            capture_output=True,
            text=True,
            timeout=45,
            check=False,
        )

    async def arun(
        self, *argv: str, stdin: str = "", admin: bool = False, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(self.run, *argv, stdin=stdin, admin=admin, **extra)

    async def json(self, *argv: str, stdin: str = "", admin: bool = False) -> list[Any]:
        """The JSON lines of a command that must succeed."""
        done = await self.arun("--json", *argv, stdin=stdin, admin=admin)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return [json.loads(line) for line in done.stdout.splitlines()]

    def chat(self, conversation_id: str) -> pexpect.spawn:
        """`haven chat` on a pseudo-terminal, as a person would run it."""
        return pexpect.spawn(
            HAVEN[0],
            [*HAVEN[1:], "chat", conversation_id],
            env=self.environment(),
            encoding="utf-8",
            timeout=20,
            dimensions=(50, 200),
        )
