"""Naming a conversation the way people do: by its id, or by the counterpart's handle."""

from __future__ import annotations

from haven_client.cli import copy
from haven_client.client import HavenClient
from haven_client.errors import HavenError


async def conversation_id_for(client: HavenClient, target: str) -> str:
    """``target`` as a conversation id: itself, or the one conversation with that handle
    (``@kim`` or ``kim``; an ended one only when there is no other)."""
    listing = await client.conversations()
    if any(c.conversation_id == target for c in listing):
        return target
    wanted = target.removeprefix("@").lower()
    me = client.store.state.account
    mine = me.account_id if me is not None else None
    matches = [
        c
        for c in listing
        if any(p.handle.lower() == wanted and p.account_id != mine for p in c.participants)
    ]
    if len(matches) > 1:
        matches = [c for c in matches if c.status != "ended"] or matches
    if len(matches) == 1:
        return matches[0].conversation_id
    if not matches:
        raise HavenError(copy.UNKNOWN_CONVERSATION.format(conversation_id=target))
    raise HavenError(copy.AMBIGUOUS_HANDLE.format(handle=wanted))


async def counterpart_target(client: HavenClient, target: str) -> str:
    """For commands that also take an account id: a handle becomes its conversation."""
    if target in client.store.state.conversations:
        return target
    try:
        return await conversation_id_for(client, target)
    except HavenError:
        return target  # an account id, checked by the SDK
