"""Invites and coach-client relationships (each relationship is one conversation)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from services.gateway.context import Gateway, Principal, new_id
from services.gateway.repository.relationships import RelationshipExists
from services.gateway.schemas import InviteOut
from shared.errors import Conflict, Forbidden, InviteInvalid, NotFound
from shared.events import (
    RelationshipCreated,
    RelationshipData,
    RelationshipEnded,
    RelationshipEndedData,
    derive_event_id,
)
from shared.logging import current_correlation_id
from shared.mongo import Document

INVITE_KIND_BY_ROLE = {"operator": "coach", "coach": "client"}


async def create_invite(gw: Gateway, who: Principal, kind: str) -> InviteOut:
    if INVITE_KIND_BY_ROLE.get(who.role) != kind:
        raise Forbidden(f"a {who.role} cannot create {kind} invites")
    await gw.limits.check("invites", who.account_id, gw.now())
    code = secrets.token_urlsafe(24)
    expires_at = gw.now() + timedelta(days=gw.settings.invite_days)
    await gw.invites.insert(
        code,
        {
            "kind": kind,
            "created_by": who.account_id,
            "created_at": gw.now(),
            "expires_at": expires_at,
            "used_at": None,
        },
    )
    await gw.audit("invite_created", account_id=who.account_id, invite_kind=kind)
    return InviteOut(code=code, kind=kind, expires_at=expires_at)


async def accept_invite(gw: Gateway, who: Principal, code: str) -> str:
    """An existing client connects to another coach."""
    if who.role != "client":
        raise Forbidden("only clients accept client invites")
    invite = await gw.invites.usable(code, gw.now())
    if invite is None or invite["kind"] != "client":
        raise InviteInvalid("this invite is unknown, used or expired")
    if await gw.relationships.connected(invite["created_by"], who.account_id):
        raise Conflict("you are already connected with this coach")
    if await gw.invites.claim(code, who.account_id, gw.now()) is None:
        raise InviteInvalid("this invite is unknown, used or expired")
    await gw.audit(
        "invite_redeemed",
        account_id=who.account_id,
        invite_kind="client",
        created_by=invite["created_by"],
    )
    return await start(gw, coach_id=invite["created_by"], client_id=who.account_id)


async def start(gw: Gateway, *, coach_id: str, client_id: str) -> str:
    conversation_id = new_id()
    try:
        await gw.relationships.insert(
            {
                "_id": conversation_id,
                "coach_account_id": coach_id,
                "client_account_id": client_id,
                "status": "active",
                "created_at": gw.now(),
                "ended_at": None,
            }
        )
    except RelationshipExists as error:
        raise Conflict("this relationship already exists") from error
    await gw.outbox.emit(
        RelationshipCreated(
            event_id=derive_event_id("relationship.created", conversation_id),
            correlation_id=current_correlation_id(),
            data=RelationshipData(
                conversation_id=conversation_id,
                coach_account_id=coach_id,
                client_account_id=client_id,
            ),
        )
    )
    await gw.audit(
        "relationship_started",
        account_id=client_id,
        conversation_id=conversation_id,
        coach_account_id=coach_id,
    )
    return conversation_id


def participants(relationship: Document) -> list[str]:
    return [relationship["coach_account_id"], relationship["client_account_id"]]


async def participant_of(gw: Gateway, who: Principal, conversation_id: str) -> Document:
    """The relationship, if the caller is in it; 404 otherwise (never reveal it exists)."""
    relationship = await gw.relationships.by_id(conversation_id)
    if relationship is None or who.account_id not in participants(relationship):
        raise NotFound("no such conversation")
    return relationship


async def end(gw: Gateway, who: Principal, conversation_id: str) -> None:
    await participant_of(gw, who, conversation_id)
    if await gw.relationships.end(conversation_id, who.account_id, gw.now()) is None:
        return  # already ended: idempotent
    await gw.outbox.emit(
        RelationshipEnded(
            event_id=derive_event_id("relationship.ended", conversation_id),
            correlation_id=current_correlation_id(),
            data=RelationshipEndedData(conversation_id=conversation_id, ended_by=who.account_id),
        )
    )
    await gw.audit("relationship_ended", account_id=who.account_id, conversation_id=conversation_id)
