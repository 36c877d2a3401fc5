"""Accounts made through the API for browser journeys: the operator's coach invites, ready
coaches and their client invites (what a browser test does not want to click through)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tools.api import Api, DeviceKeys, Session
from tools.stack import BOOTSTRAP_OPERATOR

# The bootstrap operator's one API device per stack (by gateway URL): each sign-in resumes it,
# so the modules sharing a stack never reach an account's limit of active devices.
_OPERATOR_KEYS: dict[str, DeviceKeys] = {}


def new_handle(prefix: str) -> str:
    """A handle no other test on the module's stack uses (handles: lowercase, digits, _)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def password_for(handle: str) -> str:
    return f"{handle}-password-1"


@dataclass
class People:
    """Invites and accounts on one stack, made the way an operator or a coach's script would."""

    api: Api

    async def operator(self) -> Session:
        """The bootstrap operator, signed in again on the stack's one operator device."""
        keys = _OPERATOR_KEYS.setdefault(self.api.base, DeviceKeys())
        return await self.api.login(*BOOTSTRAP_OPERATOR, keys=keys)

    async def coach_invite(self) -> str:
        """A coach invite code from the bootstrap operator."""
        return await self.api.invite(await self.operator(), "coach")

    async def coach(self, handle: str = "", name: str = "Coach Robin") -> Session:
        """A registered coach signed in on an API device (password: `password_for(handle)`)."""
        handle = handle or new_handle("coach")
        reply = await self.api.register(
            handle, password_for(handle), await self.coach_invite(), name
        )
        assert reply.status == 201, reply.body
        return await self.api.login(handle, password_for(handle))

    async def client_invite(self, coach: Session) -> str:
        """A client invite code from `coach` (the client accepts it by registering)."""
        return await self.api.invite(coach, "client")
