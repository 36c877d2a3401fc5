"""Typed application state of the gateway: every service and resource under its own key."""

from __future__ import annotations

from aiohttp import web

from services.gateway.auth import Authenticator
from services.gateway.consents import CachedAgreementRepository
from services.gateway.data.export import Exporter
from services.gateway.devicecache import DeviceCache
from services.gateway.directory import SendDirectory
from services.gateway.identity.accounts import Accounts
from services.gateway.identity.agreement import Agreement
from services.gateway.identity.conversations import Conversations
from services.gateway.identity.deletion import AccountDeletion
from services.gateway.identity.devices import Devices
from services.gateway.identity.directory_admin import AccountAdmin
from services.gateway.identity.operators import Operators
from services.gateway.identity.panic import Panic
from services.gateway.identity.pausing import Pausing
from services.gateway.identity.relationships import Relationships
from services.gateway.identity.sessions import Sessions
from services.gateway.messages.queries import Reads
from services.gateway.messages.send import Sending
from services.gateway.notifications import Notifications
from services.gateway.operations import Operations
from services.gateway.outbox import Outbox
from services.gateway.passwords import PasswordHasher
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import TokenSigner
from services.gateway.ws.admission import PendingSockets
from services.gateway.ws.registry import SocketRegistry

settings_key = web.AppKey("settings", GatewaySettings)
authenticator_key = web.AppKey("authenticator", Authenticator)
accounts_key = web.AppKey("accounts", Accounts)
sessions_key = web.AppKey("sessions", Sessions)
devices_key = web.AppKey("devices", Devices)
relationships_key = web.AppKey("relationships", Relationships)
conversations_key = web.AppKey("conversations", Conversations)
pausing_key = web.AppKey("pausing", Pausing)
agreement_key = web.AppKey("agreement", Agreement)
panic_key = web.AppKey("panic", Panic)
sending_key = web.AppKey("sending", Sending)
reads_key = web.AppKey("reads", Reads)
operations_key = web.AppKey("operations", Operations)
notifications_key = web.AppKey("notifications", Notifications)
sockets_key = web.AppKey("sockets", SocketRegistry)
pending_sockets_key = web.AppKey("pending_sockets", PendingSockets)
operators_key = web.AppKey("operators", Operators)
account_admin_key = web.AppKey("account_admin", AccountAdmin)
exporter_key = web.AppKey("exporter", Exporter)
deletion_key = web.AppKey("deletion", AccountDeletion)
signer_key = web.AppKey("signer", TokenSigner)
# Resources the background contexts need.
device_cache_key = web.AppKey("device_cache", DeviceCache)
directory_key = web.AppKey("directory", SendDirectory)
agreements_key = web.AppKey("agreements", CachedAgreementRepository)
outbox_key = web.AppKey("outbox", Outbox)
hasher_key = web.AppKey("hasher", PasswordHasher)
