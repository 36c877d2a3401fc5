"""Invites and coach-client relationships (each relationship is one conversation).

A pair may have many relationships over time but at most one that has not ended: after an
end, a new client invite from the same coach opens a new conversation.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from services.gateway import copy
from services.gateway.model.principal import Principal
from services.gateway.model.records import (
    Account,
    Invite,
    Relationship,
    new_id,
    unflagged_token,
)
from services.gateway.model.schemas import InviteOut
from services.gateway.security.limits import Limits
from services.gateway.stores.accounts import AccountRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.crisis import CrisisResources
from services.gateway.stores.outbox import Outbox
from services.gateway.stores.relationships import (
    RelationshipExistsError,
    RelationshipRepository,
)
from services.gateway.stores.tokens import InviteRepository
from services.gateway.usecases.retention import RetentionPolicy
from shared.errors import (
    ConflictError,
    CrisisResourcesMissingError,
    ForbiddenError,
    InviteInvalidError,
    NotFoundError,
)
from shared.events import (
    RelationshipCreated,
    RelationshipData,
    RelationshipEnded,
    RelationshipEndedData,
    RetentionChanged,
    RetentionData,
    utcnow,
)

INVITE_KIND_BY_ROLE = {"operator": "coach", "coach": "client"}


class Relationships:
    def __init__(
        self,
        *,
        relationships: RelationshipRepository,
        invites: InviteRepository,
        accounts: AccountRepository,
        outbox: Outbox,
        audit: AuditLog,
        limits: Limits,
        crisis: CrisisResources,
        retention: RetentionPolicy,
        invite_days: int,
    ) -> None:
        self._relationships = relationships
        self._invites = invites
        self._accounts = accounts
        self._outbox = outbox
        self._audit = audit
        self._limits = limits
        self._crisis = crisis
        self._retention = retention
        self._invite_lifetime = timedelta(days=invite_days)

    async def require_crisis_resources(self) -> None:
        """A deployment cannot take clients before it can point one in crisis to real help."""
        if not await self._crisis.configured():
            raise CrisisResourcesMissingError(copy.CRISIS_RESOURCES_MISSING)

    async def create_invite(self, who: Principal, kind: str) -> InviteOut:
        if INVITE_KIND_BY_ROLE.get(who.role) != kind:
            raise ForbiddenError(f"a {who.role} cannot create {kind} invites")
        if kind == "client":
            await self.require_crisis_resources()
        await self._limits.check("invites", who.account_id, utcnow())
        code = unflagged_token(24)
        now = utcnow()
        invite = Invite(
            kind=kind,  # type: ignore[arg-type]
            created_by=who.account_id,
            created_at=now,
            expires_at=now + self._invite_lifetime,
        )
        await self._invites.insert(code, invite)
        await self._audit.record("invite_created", account_id=who.account_id, invite_kind=kind)
        return InviteOut(code=code, kind=kind, expires_at=invite.expires_at)

    async def usable_invite(self, code: str) -> Invite:
        """An unused, unexpired invite whose creator is still active: a deactivated or deleted
        coach's invites bring nobody in, new or existing client (issue 18)."""
        invite = await self._invites.usable(code, utcnow())
        if invite is None:
            raise InviteInvalidError("this invite is unknown, used or expired")
        creator = await self._accounts.by_id(invite.created_by)
        if creator is None or not creator.active:
            raise InviteInvalidError("whoever made this invite can no longer bring anyone in")
        return invite

    async def accept_invite(self, who: Principal, code: str) -> str:
        """An existing client connects to a coach: another one, or again after an end."""
        if who.role != "client":
            raise ForbiddenError("only clients accept client invites")
        invite = await self.usable_invite(code)
        if invite.kind != "client":
            raise InviteInvalidError("this invite is unknown, used or expired")
        if await self._relationships.live_between(invite.created_by, who.account_id):
            raise ConflictError("you are already connected with this coach")
        await self.require_crisis_resources()
        if not await self._invites.claim(code, who.account_id, utcnow()):
            raise InviteInvalidError("this invite is unknown, used or expired")
        await self._audit.record(
            "invite_redeemed",
            account_id=who.account_id,
            invite_kind="client",
            created_by=invite.created_by,
        )
        return await self.start(coach_id=invite.created_by, client_id=who.account_id)

    async def start(self, *, coach_id: str, client_id: str) -> str:
        relationship = Relationship(
            conversation_id=new_id(),
            coach_account_id=coach_id,
            client_account_id=client_id,
            status="active",
            created_at=utcnow(),
        )
        relationship = replace(relationship, retention_days=self._retention.effective(relationship))
        try:
            await self._relationships.insert(relationship)
        except RelationshipExistsError as error:
            raise ConflictError("this relationship already exists") from error
        conversation_id = relationship.conversation_id
        # Display names travel with the event so a push may name the sender (when the
        # recipient chose `notification_detail: sender`); nothing else about the accounts does.
        names = await self._accounts.by_ids([coach_id, client_id])
        await self._outbox.emit(
            RelationshipCreated.create(
                RelationshipData(
                    conversation_id=conversation_id,
                    coach_account_id=coach_id,
                    client_account_id=client_id,
                    coach_display_name=_display_name(names, coach_id),
                    client_display_name=_display_name(names, client_id),
                )
            )
        )
        await self.announce_retention(conversation_id, relationship.retention_days)
        await self._audit.record(
            "relationship_started",
            account_id=client_id,
            conversation_id=conversation_id,
            coach_account_id=coach_id,
        )
        return conversation_id

    async def announce_retention(
        self, conversation_id: str, days: int | None, by: Principal | None = None
    ) -> None:
        """The new effective retention, announced; a participant's change is audited for
        both sides (it changes how long either keeps the conversation)."""
        if by is not None:
            relationship = await self.participant_of(by, conversation_id)
            await self._audit.record(
                "retention_changed",
                account_id=by.account_id,
                about=[a for a in relationship.participants if a != by.account_id],
                conversation_id=conversation_id,
                retention_days=days,
            )
        await self._outbox.emit(
            RetentionChanged.create(
                RetentionData(conversation_id=conversation_id, retention_days=days)
            )
        )

    async def participant_of(self, who: Principal, conversation_id: str) -> Relationship:
        """The relationship, if the caller is in it; 404 otherwise (never reveal it exists)."""
        relationship = await self._relationships.by_id(conversation_id)
        if relationship is None or who.account_id not in relationship.participants:
            raise NotFoundError("no such conversation")
        return relationship

    async def end(self, who: Principal, conversation_id: str) -> None:
        relationship = await self.participant_of(who, conversation_id)
        if not await self._relationships.end(conversation_id, who.account_id, utcnow()):
            return  # already ended: idempotent
        await self._outbox.emit(
            RelationshipEnded.create(
                RelationshipEndedData(conversation_id=conversation_id, ended_by=who.account_id)
            )
        )
        await self._audit.record(
            "relationship_ended",
            account_id=who.account_id,
            about=[a for a in relationship.participants if a != who.account_id],
            conversation_id=conversation_id,
        )


def _display_name(accounts: dict[str, Account], account_id: str) -> str | None:
    account = accounts.get(account_id)
    return account.display_name if account else None
