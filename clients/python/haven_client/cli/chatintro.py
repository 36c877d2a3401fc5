"""What every `haven chat` opens with: who it is with, how to use it, that it is not for
emergencies (with the crisis resources), the conversation's state and, for clients, when to
expect a reply."""

from __future__ import annotations

import contextlib

from rich.text import Text

from haven_client.cli import copy
from haven_client.cli.output import Output
from haven_client.cli.render import resource_lines, status_line
from haven_client.client import HavenClient
from haven_client.errors import HavenError


async def introduce(client: HavenClient, conversation_id: str, out: Output) -> tuple[str, bool]:
    """Print the opening lines; the counterpart's name and whether this account is a coach."""
    listing = {c.conversation_id: c for c in await client.conversations()}
    conversation = listing.get(conversation_id)
    if conversation is None:
        raise HavenError(copy.UNKNOWN_CONVERSATION.format(conversation_id=conversation_id))
    me = client.store.state.account
    others = [p for p in conversation.participants if me is None or p.account_id != me.account_id]
    names = ", ".join(f"{p.display_name or p.handle} ({p.role})" for p in others)
    out.console.print(Text(f"Chat with {names}. {copy.CHAT_HELP}", style="bold"))
    resources = await client.crisis_resources(refresh=True)
    out.console.print(Text(copy.NOT_FOR_EMERGENCIES, style="cyan"))
    out.console.print(Text(resource_lines(resources) or copy.NO_CRISIS_RESOURCES))
    if conversation.status != "active":
        pause = conversation.pause
        out.console.print(
            status_line(
                conversation.status,
                pause.reason if pause else None,
                pause.resume_on if pause else None,
            )
        )
    if me is not None and me.role == "client":
        with contextlib.suppress(HavenError):
            expectation = await client.reply_expectation(conversation_id)
            out.console.print(Text(f"· {expectation}", style="cyan"))
    counterpart = ", ".join(p.display_name or p.handle for p in others) or "them"
    return counterpart, me is not None and me.role == "coach"
