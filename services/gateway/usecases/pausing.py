"""Pause, not block: the coach pauses a relationship (active ↔ paused) and resumes it.

Ended is final for a conversation; a paused one stays readable and refuses sends for both
sides with its reason and date. Every transition is audited (in the client's copy too) and
announced on the bus. Pause, resume and re-pause take tokens from one budget per
conversation, and pausing again with the same reason and date announces nothing: a pause
must not become a channel of its own (issue 18).
"""

from __future__ import annotations

from datetime import date

from services.gateway import copy
from services.gateway.model.principal import Principal
from services.gateway.model.records import Relationship
from services.gateway.security.limits import Limits
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.outbox import Outbox
from services.gateway.stores.relationships import RelationshipRepository
from services.gateway.usecases.relationships import Relationships
from shared.errors import ConflictError, ForbiddenError, UnprocessableError
from shared.events import RelationshipStatusChanged, RelationshipStatusData, utcnow


class Pausing:
    def __init__(
        self,
        rules: Relationships,
        relationships: RelationshipRepository,
        outbox: Outbox,
        audit: AuditLog,
        limits: Limits,
    ) -> None:
        self._limits = limits
        self._rules = rules
        self._relationships = relationships
        self._outbox = outbox
        self._audit = audit

    async def _coach_of(self, who: Principal, conversation_id: str) -> Relationship:
        relationship = await self._rules.participant_of(who, conversation_id)
        if who.account_id != relationship.coach_account_id:
            raise ForbiddenError(copy.COACH_PAUSES)
        if relationship.status == "ended":
            raise ConflictError(copy.ENDED_IS_FINAL)
        await self._limits.check("pause", conversation_id, utcnow())
        return relationship

    async def pause(
        self, who: Principal, conversation_id: str, reason: str | None, resume_on: date | None
    ) -> None:
        """Pausing a paused relationship again updates its reason and date."""
        if resume_on is not None and resume_on < utcnow().date():
            raise UnprocessableError(copy.RESUME_ON_PAST, field="resume_on")
        relationship = await self._coach_of(who, conversation_id)
        pause = {
            "reason": reason,
            "resume_on": None if resume_on is None else resume_on.isoformat(),
        }
        unchanged = (relationship.pause_reason, relationship.resume_on) == (
            pause["reason"],
            pause["resume_on"],
        )
        if relationship.status == "paused" and unchanged:
            return  # already so: announced once
        changed = await self._relationships.transition(conversation_id, "active", "paused", pause)
        if changed is None and relationship.status == "paused":
            changed = await self._relationships.repause(conversation_id, pause)
        if changed is None:  # ended or resumed by a parallel call: look again
            await self._coach_of(who, conversation_id)
            raise ConflictError(copy.CHANGED_JUST_NOW)
        await self._announce(who, changed, "relationship_paused")

    async def resume(self, who: Principal, conversation_id: str) -> None:
        """Idempotent: resuming an active relationship changes nothing."""
        await self._coach_of(who, conversation_id)
        changed = await self._relationships.transition(conversation_id, "paused", "active", None)
        if changed is not None:
            await self._announce(who, changed, "relationship_resumed")

    async def _announce(self, who: Principal, relationship: Relationship, audit_type: str) -> None:
        status = "paused" if relationship.status == "paused" else "active"
        await self._outbox.emit(
            RelationshipStatusChanged.create(
                RelationshipStatusData(
                    conversation_id=relationship.conversation_id,
                    coach_account_id=relationship.coach_account_id,
                    client_account_id=relationship.client_account_id,
                    status=status,
                    reason=relationship.pause_reason,
                    resume_on=relationship.resume_on,
                    changed_by=who.account_id,
                )
            )
        )
        # Metadata only: the reason is the coach's words to the client, not an audit fact.
        await self._audit.record(
            audit_type,
            account_id=who.account_id,
            about=[relationship.client_account_id],
            conversation_id=relationship.conversation_id,
            resume_on=relationship.resume_on,
        )
