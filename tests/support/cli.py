"""Drive `haven` and `haven-admin` the way a person or a script would: in this process (the
CLIs' own `run_cli`/`run_admin` with the person's environment, streams and exit status —
a process adds only interpreter start-up), or as a process where that is under test
(`python -m haven_client`, and `chat` on a real pseudo-terminal)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pexpect

from haven_client.cli import run_cli
from haven_client.client import HavenClient
from haven_client.keystore import KdfParams, Keystore
from services.gateway.cli.admin import run_admin
from tools.stack import BOOTSTRAP_OPERATOR

PASSPHRASE = "keystore passphrase for tests"
HAVEN = [sys.executable, "-m", "haven_client"]
HAVEN_ADMIN = [sys.executable, "-m", "services.gateway.cli.admin"]


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
        """The command in this process, from synchronous code; called while an event loop runs
        (an async test), it blocks that loop as a process would, on a loop of its own."""
        command = self._run(argv, stdin, admin, extra)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(command)
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, command).result()

    async def arun(
        self, *argv: str, stdin: str = "", admin: bool = False, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """The command in this process and this event loop, one at a time (it sets
        `os.environ` to the person's environment while it runs)."""
        async with _one_at_a_time():
            return await self._run(argv, stdin, admin, extra)

    async def _run(
        self, argv: tuple[str, ...], stdin: str, admin: bool, extra: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        return await run_in_process(
            [*(HAVEN_ADMIN if admin else HAVEN), *argv], self.environment(**extra), stdin
        )

    def run_process(
        self, *argv: str, stdin: str = "", admin: bool = False, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """The command as its own process, where the process itself is under test."""
        return subprocess.run(
            [*(HAVEN_ADMIN if admin else HAVEN), *argv],
            input=stdin,
            env=self.environment(**extra),
            capture_output=True,
            text=True,
            timeout=45,
            check=False,
        )

    async def json(self, *argv: str, stdin: str = "", admin: bool = False) -> list[Any]:
        """The JSON lines of a command that must succeed."""
        done = await self.arun("--json", *argv, stdin=stdin, admin=admin)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return [json.loads(line) for line in done.stdout.splitlines()]

    def chat(self, conversation_id: str) -> pexpect.spawn:
        """`haven chat` on a pseudo-terminal, as a person would run it."""
        return self.terminal("chat", conversation_id)

    def terminal(self, *argv: str, **extra: str) -> pexpect.spawn:
        """Any `haven` command on a pseudo-terminal (what a person sees, stderr included)."""
        return pexpect.spawn(
            HAVEN[0],
            [*HAVEN[1:], *argv],
            env=self.environment(**extra),
            encoding="utf-8",
            timeout=20,
            dimensions=(50, 200),
        )


_LOCKS: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


def _one_at_a_time() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    return _LOCKS.setdefault(loop, asyncio.Lock())


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` is exactly `env` inside the block, and as before after it."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def run_in_process(
    command: list[str], env: Mapping[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`python -m haven_client …` or `python -m services.gateway.admin_cli …` (HAVEN or
    HAVEN_ADMIN + arguments) run by the CLI's own entry coroutine in this event loop: the same
    exit status, stdout and stderr; an unexpected exception is a traceback and status 1."""
    runner = run_admin if command[: len(HAVEN_ADMIN)] == HAVEN_ADMIN else run_cli
    argv = command[len(HAVEN_ADMIN) if runner is run_admin else len(HAVEN) :]
    out, err = io.StringIO(), io.StringIO()
    with environment(env), redirect_stdout(out), redirect_stderr(err):  # click.echo too
        try:
            code = await runner(argv, out, io.StringIO(stdin), err)
        except Exception:
            err.write(traceback.format_exc())
            code = 1
    return subprocess.CompletedProcess(command, code, out.getvalue(), err.getvalue())


CRISIS = {
    "resources": [
        {
            "name": "Night Line",
            "contact": "0800 111 0 111",
            "description": "Free, day and night.",
            "region": "DE",
        }
    ]
}


@dataclass
class Cast:
    operator: Person
    coach: Person
    client: Person
    coach_handle: str
    client_handle: str
    conversation_id: str
    directory: Path


async def onboard_fast(server: str, directory: Path, tag: str) -> Cast:
    """The same cast as `onboard`, made in-process with the SDK (seconds instead of a dozen
    CLI processes), for the tests that drive the CLIs afterwards."""
    people = {
        "operator": await Person.create(server, directory, "operator", BOOTSTRAP_OPERATOR[1]),
        "coach": await Person.create(server, directory, "coach", "coach-password-1"),
        "client": await Person.create(server, directory, "client", "client-password-1"),
    }
    clients = {
        role: HavenClient(server, await Keystore.open(person.keystore, PASSPHRASE))
        for role, person in people.items()
    }
    coach_handle, client_handle = f"{tag}_kim", f"{tag}_sam"
    try:
        operator, coach, client = clients["operator"], clients["coach"], clients["client"]
        await operator.login(BOOTSTRAP_OPERATOR[0], BOOTSTRAP_OPERATOR[1])
        await operator.transport.request("PUT", "/v1/admin/crisis-resources", json=CRISIS)
        code = (await operator.create_invite("coach")).code
        await coach.register(coach_handle, "coach-password-1", code, "Kim")
        await coach.login(coach_handle, "coach-password-1")
        code = (await coach.create_invite("client")).code
        await client.register(client_handle, "client-password-1", code, "Sam")
        await client.login(client_handle, "client-password-1")
        [conversation] = await client.conversations()
        await coach.conversations()
    finally:
        for opened in clients.values():
            await opened.close()
    return Cast(
        people["operator"],
        people["coach"],
        people["client"],
        coach_handle,
        client_handle,
        conversation.conversation_id,
        directory,
    )


async def onboard(server: str, directory: Path, tag: str) -> Cast:
    """The bootstrap operator sets crisis resources and invites a coach (`{tag}_kim`), who
    invites a client (`{tag}_sam`): with the two CLIs only."""
    operator = await Person.create(server, directory, "operator", BOOTSTRAP_OPERATOR[1])
    await operator.json("login", "--handle", BOOTSTRAP_OPERATOR[0], admin=True)
    (directory / "crisis.json").write_text(json.dumps(CRISIS))
    await operator.json("crisis-resources", "set", str(directory / "crisis.json"), admin=True)
    [coach_invite] = await operator.json("invite-coach", admin=True)
    coach_handle, client_handle = f"{tag}_kim", f"{tag}_sam"
    coach = await Person.create(server, directory, "coach", "coach-password-1")
    code = coach_invite["code"]
    await coach.json(
        "register", "--handle", coach_handle, "--invite", code, "--display-name", "Kim"
    )
    await coach.json("login", "--handle", coach_handle)
    [client_invite] = await coach.json("invite")
    assert client_invite["kind"] == "client"
    client = await Person.create(server, directory, "client", "client-password-1")
    code = client_invite["code"]
    await client.json(
        "register", "--handle", client_handle, "--invite", code, "--display-name", "Sam"
    )
    await client.json("login", "--handle", client_handle)
    [conversation] = await client.json("conversations")
    return Cast(
        operator,
        coach,
        client,
        coach_handle,
        client_handle,
        conversation["conversation_id"],
        directory,
    )
