"""What a keystore holds, decrypted: the device's keys, session, trust and delivery memory."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StoredAccount(BaseModel):
    account_id: str
    handle: str
    role: str
    display_name: str = ""


class StoredParticipant(BaseModel):
    account_id: str
    handle: str
    display_name: str = ""
    role: str = ""


class StoredConversation(BaseModel):
    conversation_id: str
    status: str = "active"
    participants: list[StoredParticipant] = Field(default_factory=list)

    def participant(self, account_id: str) -> StoredParticipant | None:
        return next((p for p in self.participants if p.account_id == account_id), None)


class KeystoreState(BaseModel):
    """The decrypted content; binary values are base64url strings like on the wire."""

    model_config = ConfigDict(extra="ignore")

    version: int = 1
    server_url: str | None = None
    device_name: str = ""  # empty: the SDK default (session.DEFAULT_DEVICE_NAME)
    identity_seed: str | None = None
    kx_private: str | None = None
    old_kx: list[str] = Field(default_factory=list)
    old_kx_retired_at: list[str] = Field(default_factory=list)
    """When each ``old_kx`` key was replaced (ISO UTC; same order); missing: unknown."""
    kx_created_at: str | None = None
    device_id: str | None = None
    account: StoredAccount | None = None
    refresh_token: str | None = None
    listed_devices: dict[str, dict[str, str]] = Field(default_factory=dict)
    """account id → device id → identity key, pinned when an active-device listing showed it."""
    disputed_devices: dict[str, list[str]] = Field(default_factory=dict)
    """account id → device ids later shown with another identity key (until acknowledged)."""
    seen_kx: dict[str, list[str]] = Field(default_factory=dict)
    verified: dict[str, str] = Field(default_factory=dict)
    last_safety: dict[str, str] = Field(default_factory=dict)
    pending_key_changes: dict[str, str] = Field(default_factory=dict)
    last_seq: dict[str, int] = Field(default_factory=dict)
    accepted_ids: dict[str, str] = Field(default_factory=dict)
    """conversation id → concatenated 16-byte digests of every message id accepted there."""
    conversations: dict[str, StoredConversation] = Field(default_factory=dict)
    crisis_resources: list[dict[str, Any]] = Field(default_factory=list)
    decrypted_files: list[str] = Field(default_factory=list)
    """Files holding decrypted content (readable exports): the panic wipe shreds them too."""
    backup_keys: dict[str, str] = Field(default_factory=dict)
    """backup id → private half of the account's backup key, when this device keeps it
    (it turned backup on, was linked, or the user asked to keep it: docs/history.md)."""
    restored_keys: dict[str, dict[str, str]] = Field(default_factory=dict)
    """conversation id → message id → content key of a message restored from the backup."""
