"""The caller's conversations and their own settings in each (read receipts, push detail,
retention). Push detail is kept by the notification service (its RPC), the rest here."""

from __future__ import annotations

import asyncio

from services.gateway import copy
from services.gateway.model.principal import Principal
from services.gateway.model.records import Relationship
from services.gateway.model.schemas import (
    ConversationOut,
    OwnSettings,
    Participant,
    PauseOut,
    SettingsOut,
    SettingsPut,
)
from services.gateway.stores.accounts import AccountRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.relationships import RelationshipRepository
from services.gateway.usecases.relationships import Relationships
from services.gateway.usecases.retention import RetentionPolicy, shares_read_receipts
from shared.contracts import SUMMARY, ConversationSummary, SummaryQuery
from shared.errors import ConflictError
from shared.notify_contracts import (
    DETAIL_GET,
    DETAIL_PUT,
    NotificationDetail,
    NotificationDetailPut,
    NotificationDetailQuery,
)
from shared.rpc import RpcClient


class Conversations:
    def __init__(
        self,
        rules: Relationships,
        relationships: RelationshipRepository,
        accounts: AccountRepository,
        rpc: RpcClient,
        retention: RetentionPolicy,
        audit: AuditLog,
    ) -> None:
        self._audit = audit
        self._rules = rules
        self._relationships = relationships
        self._accounts = accounts
        self._rpc = rpc
        self._retention = retention

    async def put_settings(
        self, who: Principal, conversation_id: str, body: SettingsPut
    ) -> SettingsOut:
        """Each participant changes only their own; a new effective retention is announced."""
        relationship = await self._rules.participant_of(who, conversation_id)
        given = body.model_fields_set
        keeps_record = "retention_days" in given
        if keeps_record:
            if relationship.status == "ended":
                raise ConflictError(copy.RECORD_KEPT)  # the record stays as it was (issue 18)
            self._retention.check_choice(body.retention_days)
        if body.notification_detail is not None:  # first: if it cannot be kept, nothing changes
            await self._rpc.call(
                DETAIL_PUT,
                NotificationDetailPut(
                    account_id=who.account_id,
                    conversation_id=conversation_id,
                    notification_detail=body.notification_detail,
                ),
            )
        values = {name: getattr(body, name) for name in given - {"notification_detail"}}
        if values:
            updated = await self._relationships.put_settings(
                conversation_id, who.account_id, values, live_only=keeps_record
            )
            if updated is None:  # it ended since it was read
                raise ConflictError(copy.RECORD_KEPT)
            relationship = updated
        await self._audit.record(
            "settings_changed",
            account_id=who.account_id,
            device_id=who.device_id,
            conversation_id=conversation_id,
            changed=sorted(given),
        )
        effective = self._retention.effective(relationship)
        if await self._relationships.set_retention(conversation_id, effective):
            await self._rules.announce_retention(conversation_id, effective, by=who)
        detail = body.notification_detail or await self._detail(who.account_id, conversation_id)
        own = self._own(relationship, who.account_id, detail)
        return SettingsOut(
            **own.model_dump(), conversation_id=conversation_id, effective_retention_days=effective
        )

    async def listing(self, who: Principal) -> list[ConversationOut]:
        """The caller's relationships (ended ones too) joined with messaging's state."""
        found = await self._relationships.of_account(who.account_id)
        if not found:
            return []
        ids = sorted({a for r in found for a in r.participants})
        people = await self._accounts.by_ids(ids)
        conversation_ids = [r.conversation_id for r in found]
        state, details = await asyncio.gather(
            self._rpc.call(
                SUMMARY, SummaryQuery(account_id=who.account_id, conversation_ids=conversation_ids)
            ),
            asyncio.gather(*(self._detail(who.account_id, c) for c in conversation_ids)),
        )
        result = []
        for relationship, detail in zip(found, details, strict=True):
            summary = state.conversations.get(relationship.conversation_id, ConversationSummary())
            members = [people[a] for a in relationship.participants if a in people]
            result.append(
                ConversationOut(
                    conversation_id=relationship.conversation_id,
                    status=relationship.status,
                    participants=[
                        Participant(
                            account_id=p.account_id,
                            handle=p.handle,
                            display_name=p.display_name,
                            role=p.role,
                        )
                        for p in members
                    ],
                    last_seq=summary.last_seq,
                    read_up_to=summary.read_up_to,
                    pause=_pause(relationship),
                    retention_days=self._retention.effective(relationship),
                    settings=self._own(relationship, who.account_id, detail),
                )
            )
        return result

    def _own(
        self, relationship: Relationship, account_id: str, detail: NotificationDetail
    ) -> OwnSettings:
        return OwnSettings(
            share_read_receipts=shares_read_receipts(relationship, account_id),
            notification_detail=detail,
            retention_days=self._retention.choice_of(relationship, account_id),
        )

    async def _detail(self, account_id: str, conversation_id: str) -> NotificationDetail:
        query = NotificationDetailQuery(account_id=account_id, conversation_id=conversation_id)
        return (await self._rpc.call(DETAIL_GET, query)).notification_detail


def _pause(relationship: Relationship) -> PauseOut | None:
    if relationship.status != "paused":
        return None
    return PauseOut(reason=relationship.pause_reason, resume_on=relationship.resume_on)
