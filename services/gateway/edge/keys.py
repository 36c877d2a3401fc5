"""Typed application state of the gateway: every service and resource under its own key."""

from __future__ import annotations

from aiohttp import web

from services.gateway.security.auth import Authenticator
from services.gateway.security.passwords import PasswordHasher
from services.gateway.security.receipt_keys import ReceiptSigner
from services.gateway.settings import GatewaySettings
from services.gateway.sockets.admission import PendingSockets
from services.gateway.sockets.registry import SocketRegistry
from services.gateway.stores.consents import CachedAgreementRepository
from services.gateway.stores.devicecache import DeviceCache
from services.gateway.stores.directory import SendDirectory
from services.gateway.stores.outbox import Outbox
from services.gateway.usecases.accounts import Accounts
from services.gateway.usecases.agreement import Agreement
from services.gateway.usecases.attachments import Attachments
from services.gateway.usecases.backup import BackupKeys
from services.gateway.usecases.conversations import Conversations
from services.gateway.usecases.deletion import AccountDeletion
from services.gateway.usecases.devices import Devices
from services.gateway.usecases.directory_admin import AccountAdmin
from services.gateway.usecases.export import Exporter
from services.gateway.usecases.linking import Linking
from services.gateway.usecases.message_queries import Reads
from services.gateway.usecases.notifications import Notifications
from services.gateway.usecases.operations import Operations
from services.gateway.usecases.operators import Operators
from services.gateway.usecases.panic import Panic
from services.gateway.usecases.pausing import Pausing
from services.gateway.usecases.relationships import Relationships
from services.gateway.usecases.resets import PasswordResets
from services.gateway.usecases.send import Sending
from services.gateway.usecases.sessions import Sessions

settings_key = web.AppKey("settings", GatewaySettings)
authenticator_key = web.AppKey("authenticator", Authenticator)
accounts_key = web.AppKey("accounts", Accounts)
sessions_key = web.AppKey("sessions", Sessions)
devices_key = web.AppKey("devices", Devices)
backups_key = web.AppKey("backups", BackupKeys)
linking_key = web.AppKey("linking", Linking)
resets_key = web.AppKey("resets", PasswordResets)
relationships_key = web.AppKey("relationships", Relationships)
conversations_key = web.AppKey("conversations", Conversations)
pausing_key = web.AppKey("pausing", Pausing)
agreement_key = web.AppKey("agreement", Agreement)
panic_key = web.AppKey("panic", Panic)
sending_key = web.AppKey("sending", Sending)
attachments_key = web.AppKey("attachments", Attachments)
reads_key = web.AppKey("reads", Reads)
operations_key = web.AppKey("operations", Operations)
notifications_key = web.AppKey("notifications", Notifications)
sockets_key = web.AppKey("sockets", SocketRegistry)
pending_sockets_key = web.AppKey("pending_sockets", PendingSockets)
operators_key = web.AppKey("operators", Operators)
account_admin_key = web.AppKey("account_admin", AccountAdmin)
exporter_key = web.AppKey("exporter", Exporter)
deletion_key = web.AppKey("deletion", AccountDeletion)
receipt_signer_key = web.AppKey("receipt_signer", ReceiptSigner)
# Resources the background contexts need.
device_cache_key = web.AppKey("device_cache", DeviceCache)
directory_key = web.AppKey("directory", SendDirectory)
agreements_key = web.AppKey("agreements", CachedAgreementRepository)
outbox_key = web.AppKey("outbox", Outbox)
hasher_key = web.AppKey("hasher", PasswordHasher)
