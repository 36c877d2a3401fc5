"""How events look: a calm line per message or notice, and the same facts as JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from haven_client import copy as sdk_copy
from haven_client.cli import copy
from haven_client.cli.filelines import file_lines
from haven_client.client import HavenClient
from haven_client.events import (
    CoachAway,
    ConnectionChanged,
    DevicesChanged,
    Event,
    InvalidMessage,
    KeyChanged,
    MessageDeleted,
    MessageRejected,
    ReadReceipt,
    ReceivedMessage,
    RelationshipChanged,
    RetentionChanged,
    SendingShortly,
    UrgentAttempt,
)
from haven_client.historyevents import AccountNotice, DeviceExpiring, LinkOffered
from haven_client.models import CrisisResource

WARN_TRUST = {"key_changed": "keys changed", "unlisted": "unconfirmed device"}


def event_record(event: Event) -> dict[str, Any]:
    """One JSON object; a received message carries its decrypted ``body``."""
    body = {"event": type(event).__name__, **dataclasses.asdict(event)}
    if isinstance(event, ReceivedMessage):
        body["body"] = event.body
    return body


def who(client: HavenClient, account_id: str | None) -> str:
    """A participant's display name (or handle); "you" for this account."""
    me = client.store.state.account
    if me is not None and account_id == me.account_id:
        return "you"
    for conversation in client.store.state.conversations.values():
        found = conversation.participant(account_id or "")
        if found is not None:
            return found.display_name or found.handle
    return account_id or "someone"


def describe(client: HavenClient, event: Event) -> Text | str | None:
    """The line a person sees for ``event``; None for bookkeeping they need not see."""
    if isinstance(event, ReceivedMessage):
        return _message(client, event)
    if isinstance(event, InvalidMessage):
        return Text(f"#{event.seq} {event.notice}", style="dim" if event.predates_device else "red")
    if isinstance(event, MessageDeleted):
        return Text(f"#{event.seq} [deleted]", style="dim")
    if isinstance(event, ReadReceipt):
        if who(client, event.account_id) == "you":
            return None  # another of your devices read it: nothing to show
        return Text(f"  ✓ {who(client, event.account_id)} read up to #{event.up_to_seq}", "dim")
    if isinstance(event, CoachAway):
        return _away(event)
    if isinstance(event, RelationshipChanged):
        return status_line(event.status, event.reason, event.resume_on)
    if isinstance(event, KeyChanged):
        name = who(client, event.account_id)
        return Text(f"! {copy.KEYS_CHANGED.format(name=name)}", style="bold red")
    if isinstance(event, MessageRejected):
        return Text(f"! {copy.NOT_STORED}", "red")
    if isinstance(event, RetentionChanged):
        days = event.retention_days
        line = copy.RETENTION_CHANGED.format(days=days) if days else copy.RETENTION_KEPT
        return Text(f"· {line}", style="cyan")
    if isinstance(event, UrgentAttempt):
        return Text(f"! {event.notice}", style="bold yellow")
    if isinstance(event, SendingShortly):
        return Text(f"· {event.notice}", style="cyan")
    if isinstance(event, AccountNotice | DeviceExpiring | LinkOffered):
        return Text(f"· {event.notice}", style="cyan")
    if isinstance(event, DevicesChanged | ConnectionChanged):
        return None
    return None


def status_line(status: str, reason: str | None, resume_on: str | None) -> Text:
    """A conversation's state as the person in it should read it."""
    if status == "paused":
        line = Text(f"· {sdk_copy.PAUSED}", style="yellow")
        if reason:
            line.append(f"\n  {reason}")
        if resume_on:
            line.append(f"\n  Planned to resume on {resume_on}.")
        return line
    if status == "ended":
        return Text(f"· {sdk_copy.ENDED}", style="yellow")
    return Text(f"· {copy.RESUMED}", style="green")


def _message(client: HavenClient, event: ReceivedMessage) -> Text:
    line = Text()
    line.append(f"#{event.seq} {event.server_ts:%H:%M} ", style="dim")
    line.append(who(client, event.sender_account_id), style="bold")
    if event.urgent:
        line.append(" [urgent]", style="bold red")
    if event.trust in WARN_TRUST:
        line.append(f" [{WARN_TRUST[event.trust]}]", style="bold red")
    line.append(": ")
    line.append(event.body if event.body is not None else f"({event.payload.get('type')})")
    for shown in file_lines(event.payload):  # cli/filelines.py: `haven save-attachment` opens
        line.append(f"\n  {shown}", style="cyan")
    return line


def _away(event: CoachAway) -> Text:
    line = Text(f"· {event.reply_expectation}", style="cyan")
    if event.away_message:
        line.append(f"\n  {event.away_message}")
    if event.backup_contact:
        line.append(f"\n  While they are away: {event.backup_contact}")
    return line


def resource_lines(resources: Sequence[CrisisResource], *, markup: bool = False) -> str:
    """One line per crisis resource: "Name: contact — description"."""
    return "\n".join(
        (f"[bold]{escape(r.name)}[/]" if markup else r.name)
        + f": {escape(r.contact) if markup else r.contact}"
        + (f" — {escape(r.description) if markup else r.description}" if r.description else "")
        for r in resources
    )


def crisis_panel(resources: Sequence[CrisisResource]) -> Panel:
    """Shown at once with every urgent send, in calm colours: an offer, not an order; the
    emergency number is kept for danger."""
    body = resource_lines(resources, markup=True) or copy.NO_CRISIS_RESOURCES
    return Panel(body, title=copy.CRISIS_TITLE, subtitle=copy.CRISIS_SUBTITLE, border_style="cyan")
