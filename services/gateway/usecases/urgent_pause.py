"""An urgent attempt during a pause: refused like any send, and — only if the coach chose it
(`urgent_while_paused`, off by default) — announced to the coach without its content."""

from __future__ import annotations

import structlog
from pymongo.errors import PyMongoError

from services.gateway.model.records import Relationship
from services.gateway.stores.outbox import Outbox
from shared.errors import HavenError
from shared.events import UrgentAttemptData, UrgentAttempted
from shared.notify_contracts import SETTINGS_GET, NotificationSettingsQuery
from shared.rpc import RpcClient

log = structlog.get_logger(__name__)


class UrgentWhilePaused:
    def __init__(self, rpc: RpcClient, outbox: Outbox) -> None:
        self._rpc = rpc
        self._outbox = outbox

    async def __call__(self, relationship: Relationship) -> bool:
        """Whether the coach is told (the client's answer says so, never more)."""
        query = NotificationSettingsQuery(account_id=relationship.coach_account_id)
        try:
            settings = (await self._rpc.call(SETTINGS_GET, query)).settings
            if not settings.urgent_while_paused:
                return False
            await self._outbox.emit(
                UrgentAttempted.create(
                    UrgentAttemptData(
                        conversation_id=relationship.conversation_id,
                        coach_account_id=relationship.coach_account_id,
                        client_account_id=relationship.client_account_id,
                    )
                )
            )
        except (
            HavenError,
            PyMongoError,
        ) as error:  # notification away: the client is told it was not sent
            log.warning("urgent_attempt_not_announced", error=type(error).__name__)
            return False
        return True
