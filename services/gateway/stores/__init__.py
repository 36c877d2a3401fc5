"""The gateway database; these modules are the only ones that query its collections."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from shared.mongo import IndexSpec

INDEXES: IndexSpec = {
    "accounts": [IndexModel("handle", unique=True), IndexModel("role")],
    "devices": [
        IndexModel("identity_key", unique=True),
        IndexModel([("account_id", ASCENDING), ("revoked_at", ASCENDING)]),
        IndexModel("last_seen_at"),
    ],
    "refresh_tokens": [
        IndexModel([("device_id", ASCENDING), ("session", ASCENDING)]),
        IndexModel("expires_at", expireAfterSeconds=0),
    ],
    "invites": [IndexModel("expires_at", expireAfterSeconds=30 * 24 * 3600)],
    "relationships": [
        # One relationship per pair that has not ended (stores/relationships.py).
        IndexModel("live_pair", unique=True, sparse=True),
        IndexModel("coach_account_id"),
        IndexModel("client_account_id"),
    ],
    # Backup keys (stores/backups.py): one current per account; replaced ones are kept.
    "backups": [IndexModel("current_of", unique=True, sparse=True), IndexModel("account_id")],
    # Pending device links (stores/links.py): gone once acknowledged or expired.
    "links": [IndexModel("device_id"), IndexModel("expires_at", expireAfterSeconds=0)],
    # Password reset codes (stores/resets.py), kept a week past expiry, then gone.
    "reset_codes": [
        IndexModel("account_id"),
        IndexModel("expires_at", expireAfterSeconds=7 * 24 * 3600),
    ],
    "audit": [IndexModel([("at", DESCENDING), ("_id", DESCENDING)])],
    "login_throttle": [IndexModel("expires_at", expireAfterSeconds=0)],
    "rate_limits": [IndexModel("expires_at", expireAfterSeconds=0)],
    "ops_probes": [],
    "agreements": [IndexModel([("published_at", DESCENDING)])],
    "consents": [IndexModel([("account_id", ASCENDING), ("order", ASCENDING)])],
    # GridFS's own (stores/attachments.py); it adds its filename index on first write.
    "attachments.files": [
        IndexModel("metadata.uploader"),
        IndexModel([("metadata.conversation_id", ASCENDING), ("metadata.message_id", ASCENDING)]),
        IndexModel([("metadata.state", ASCENDING), ("metadata.uploaded_at", ASCENDING)]),
        # The retention sweep: sent blobs of some conversations, sent before a cutoff.
        IndexModel(
            [
                ("metadata.state", ASCENDING),
                ("metadata.conversation_id", ASCENDING),
                ("metadata.sent_at", ASCENDING),
            ]
        ),
    ],
    "attachments.chunks": [IndexModel([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)],
    # One quota counter per account (stores/attachment_usage.py); idle ones are dropped.
    "attachment_usage": [IndexModel("touched_at")],
}
