"""What the gateway's repositories return: typed records, never raw documents.

Each record knows how to read itself from its stored document (`from_doc`) and, where the
gateway creates it, how to write itself (`to_doc`); only the repositories call either. One
module a concern; this package names them all."""

from __future__ import annotations

from services.gateway.model.records.accounts import (
    Account,
    AuditRecord,
    RefreshRecord,
)
from services.gateway.model.records.common import (
    Role,
    new_id,
    unflagged_token,
)
from services.gateway.model.records.devices import (
    Device,
    PreviousKxKey,
)
from services.gateway.model.records.history import (
    Backup,
    Link,
)
from services.gateway.model.records.relationships import (
    Contact,
    Invite,
    ParticipantSettings,
    Relationship,
    RelationshipStatus,
)

__all__ = [
    "Account",
    "AuditRecord",
    "Backup",
    "Contact",
    "Device",
    "Invite",
    "Link",
    "ParticipantSettings",
    "PreviousKxKey",
    "RefreshRecord",
    "Relationship",
    "RelationshipStatus",
    "Role",
    "new_id",
    "unflagged_token",
]
