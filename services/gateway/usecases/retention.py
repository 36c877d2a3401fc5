"""Per-participant defaults and the retention rule: the shorter choice wins, within bounds."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.model.records import Relationship
from services.gateway.settings import GatewaySettings
from shared.errors import UnprocessableError


def shares_read_receipts(relationship: Relationship, account_id: str) -> bool:
    """A participant's choice, else the role's default: a coach shares, a client does not
    until they opt in (a counterpart must not learn when a client reads)."""
    chosen = relationship.settings_of(account_id).share_read_receipts
    if chosen is not None:
        return chosen
    return relationship.role_of(account_id) == "coach"


@dataclass(frozen=True)
class RetentionPolicy:
    """The operator's bounds (`HAVEN_RETENTION_*_DAYS`); None days means keep."""

    default_days: int | None
    min_days: int
    max_days: int | None

    @classmethod
    def of(cls, settings: GatewaySettings) -> RetentionPolicy:
        return cls(
            settings.retention_default_days,
            settings.retention_min_days,
            settings.retention_max_days,
        )

    def check_choice(self, days: int | None) -> None:
        """A participant may choose any number of days within the bounds, or null (no wish
        shorter than the other's or the operator's)."""
        if days is None:
            return
        if days < self.min_days or (self.max_days is not None and days > self.max_days):
            top = "" if self.max_days is None else f" and at most {self.max_days}"
            raise UnprocessableError(
                f"retention_days must be at least {self.min_days}{top}; choose a number in"
                " that range or null.",
                field="retention_days",
            )

    def choice_of(self, relationship: Relationship, account_id: str) -> int | None:
        """What counts as this participant's choice: their own, else the default."""
        own = relationship.settings_of(account_id)
        return own.retention_days if own.retention_chosen else self.default_days

    def effective(self, relationship: Relationship) -> int | None:
        """The shorter of both choices (null counts as no limit), clamped to the bounds."""
        finite = [
            days
            for days in (self.choice_of(relationship, a) for a in relationship.participants)
            if days is not None
        ]
        days = min(finite) if finite else self.max_days
        if days is None:
            return None
        if self.max_days is not None:
            days = min(days, self.max_days)
        return max(days, self.min_days)
