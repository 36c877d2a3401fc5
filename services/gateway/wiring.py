"""The gateway's composition root: repositories, services and background work, each built
once per process in a named cleanup context and stored under its key (edge/keys.py).

Background work waits until the shared start-up (indexes, broker) has finished, then runs
until shutdown; /readyz reports each piece that must be up before traffic is welcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.background import (
    bootstrap_operator,
    close_sockets_on_shutdown,
    expire_devices,
    finish_deletions,
    invalidate_devices,
    relay_outbox,
    route_sockets,
    sweep_attachments,
)
from services.gateway.edge.keys import (
    account_admin_key,
    accounts_key,
    agreement_key,
    agreements_key,
    attachments_key,
    authenticator_key,
    backups_key,
    conversations_key,
    deletion_key,
    device_cache_key,
    devices_key,
    directory_key,
    exporter_key,
    hasher_key,
    linking_key,
    notifications_key,
    operations_key,
    operators_key,
    outbox_key,
    panic_key,
    pausing_key,
    pending_sockets_key,
    reads_key,
    receipt_signer_key,
    relationships_key,
    resets_key,
    sending_key,
    sessions_key,
    settings_key,
    sockets_key,
)
from services.gateway.security.auth import Authenticator
from services.gateway.security.guard import PasswordGuard
from services.gateway.security.limits import Limits
from services.gateway.security.passwords import PasswordHasher
from services.gateway.security.tokens import TokenSigner
from services.gateway.settings import GatewaySettings
from services.gateway.sockets.admission import PendingSockets
from services.gateway.sockets.registry import SocketRegistry
from services.gateway.stores.accounts import AccountRepository, DeviceRepository
from services.gateway.stores.attachments import AttachmentStore
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.backups import BackupRepository
from services.gateway.stores.consents import CachedAgreementRepository
from services.gateway.stores.crisis import CrisisResources, is_example_file
from services.gateway.stores.devicecache import DeviceCache
from services.gateway.stores.directory import SendDirectory
from services.gateway.stores.links import LinkRepository
from services.gateway.stores.outbox import Outbox
from services.gateway.stores.personal_data import PersonalData
from services.gateway.stores.ratelimits import RateBuckets
from services.gateway.stores.relationships import RelationshipRepository
from services.gateway.stores.resets import ResetCodeRepository
from services.gateway.stores.throttle import Throttle
from services.gateway.stores.tokens import InviteRepository, RefreshTokenRepository
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
from services.gateway.usecases.retention import RetentionPolicy
from services.gateway.usecases.send import Sending
from services.gateway.usecases.sessions import Sessions
from services.gateway.usecases.urgent_pause import UrgentWhilePaused
from shared.events import Event
from shared.lifecycle import CleanupCtx, bus_key, checks_key, mongo_key
from shared.mongo import Document
from shared.periodic import background
from shared.rpc import RpcClient

log = structlog.get_logger(__name__)


def services_ctx(
    settings: GatewaySettings, signer: TokenSigner, crisis_file: list[dict[str, Any]]
) -> CleanupCtx:
    """Every repository and service, wired by hand: the dependencies are the signatures."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        db, bus = app[mongo_key].db, app[bus_key]
        accounts, devices = AccountRepository(db), DeviceRepository(db)
        relationships, invites = RelationshipRepository(db), InviteRepository(db)
        backup_store, link_store = BackupRepository(db), LinkRepository(db)
        directory = SendDirectory(
            relationships=relationships, devices=devices, backups=backup_store
        )
        agreements = CachedAgreementRepository(db=db)

        def forget(event: Event) -> None:
            """This replica's caches drop what its own writes changed, before anyone hears."""
            data = event.data.model_dump()
            directory.forget_event(data)
            agreements.forget_event(event.type, data)

        outbox = Outbox(db=db, bus=bus, on_emit=forget)
        audit = AuditLog(db)
        crisis = CrisisResources(db=db, from_file=crisis_file)
        resources_file = settings.crisis_resources_file
        if resources_file and is_example_file(resources_file):
            log.warning("crisis_resources_example_ignored", file=str(resources_file))
        limits = Limits(buckets=RateBuckets(db), settings=settings)
        cache = DeviceCache(devices=devices, accounts=accounts, directory=directory)
        sockets = SocketRegistry(bus=bus, crisis_resources=crisis.current)
        hasher = PasswordHasher(
            opslimit=settings.pwhash_opslimit,
            memlimit_mib=settings.pwhash_memlimit_mib,
            workers=settings.pwhash_workers,
            queue=settings.pwhash_queue,
        )
        rpc, send_command = RpcClient.of(bus), bus.send_command
        backups = BackupKeys(
            backups=backup_store,
            devices=devices,
            accounts=accounts,
            outbox=outbox,
            audit=audit,
            limits=limits,
        )
        device_rules = Devices(
            devices=devices,
            accounts=accounts,
            relationships=relationships,
            audit=audit,
            outbox=outbox,
            sockets=sockets,
            cache=cache,
            limits=limits,
            expiry_days=settings.device_expiry_days,
            warning_days=settings.device_expiry_warning_days,
            expire_last_device=settings.device_expiry_last_device,
            backups=backups,
            links=link_store,
        )
        guard = PasswordGuard(Throttle(db=db, backoff_base=settings.throttle_backoff_base_seconds))
        sessions = Sessions(
            settings=settings,
            accounts=accounts,
            devices=devices,
            device_rules=device_rules,
            refresh_tokens=RefreshTokenRepository(db),
            signer=signer,
            hasher=hasher,
            guard=guard,
            audit=audit,
            outbox=outbox,
            sockets=sockets,
            cache=cache,
            limits=limits,
        )
        retention = RetentionPolicy.of(settings)
        relationship_rules = Relationships(
            relationships=relationships,
            invites=invites,
            accounts=accounts,
            outbox=outbox,
            audit=audit,
            limits=limits,
            crisis=crisis,
            retention=retention,
            invite_days=settings.invite_days,
        )
        agreement = Agreement(agreements=agreements, audit=audit, outbox=outbox)
        app[settings_key] = settings
        app[device_cache_key], app[outbox_key], app[hasher_key] = cache, outbox, hasher
        app[directory_key], app[agreements_key] = directory, agreements
        app[sockets_key] = sockets
        app[pending_sockets_key] = PendingSockets(settings.ws_unauthenticated_per_address)
        app[authenticator_key] = Authenticator(signer=signer, cache=cache)
        app[devices_key] = device_rules
        app[backups_key] = backups
        app[linking_key] = Linking(
            links=link_store,
            devices=devices,
            sockets=sockets,
            audit=audit,
            limits=limits,
            ttl_seconds=settings.link_ttl_seconds,
        )
        app[sessions_key] = sessions
        app[resets_key] = PasswordResets(
            accounts=accounts,
            devices=devices,
            codes=ResetCodeRepository(db),
            sessions=sessions,
            sockets=sockets,
            hasher=hasher,
            outbox=outbox,
            audit=audit,
            limits=limits,
            code_hours=settings.reset_code_hours,
        )
        app[relationships_key] = relationship_rules
        app[conversations_key] = Conversations(
            rules=relationship_rules,
            relationships=relationships,
            accounts=accounts,
            rpc=rpc,
            retention=retention,
            audit=audit,
        )
        app[pausing_key] = Pausing(
            rules=relationship_rules,
            relationships=relationships,
            outbox=outbox,
            audit=audit,
            limits=limits,
        )
        app[agreement_key] = agreement
        app[panic_key] = Panic(devices=devices, rules=device_rules, rpc=rpc)
        app[accounts_key] = Accounts(
            accounts=accounts,
            invites=invites,
            devices=device_rules,
            relationships=relationship_rules,
            sessions=sessions,
            hasher=hasher,
            guard=guard,
            audit=audit,
            limits=limits,
            invite_conflicts=settings.invite_conflicts,
        )
        attachments = Attachments(
            store=AttachmentStore(db),
            relationships=relationships,
            directory=directory,
            limits=limits,
            agreement=agreement,
            settings=settings,
        )
        app[attachments_key] = attachments
        app[sending_key] = Sending(
            directory=directory,
            limits=limits,
            send_command=send_command,
            agreement=agreement,
            urgent_while_paused=UrgentWhilePaused(rpc=rpc, outbox=outbox),
            attachments=attachments,
        )
        app[reads_key] = Reads(
            relationships=relationship_rules, rpc=rpc, send_command=send_command, limits=limits
        )
        app[operations_key] = Operations(audit=audit, crisis=crisis)
        app[notifications_key] = Notifications(
            devices=devices, device_rules=device_rules, limits=limits, rpc=rpc, audit=audit
        )
        app[operators_key] = Operators(accounts=accounts, hasher=hasher, audit=audit)
        app[account_admin_key] = AccountAdmin(
            accounts=accounts,
            devices=devices,
            device_rules=device_rules,
            audit=audit,
            invites=invites,
        )
        wire_personal_data(app, db, rpc)
        yield
        hasher.close()

    return ctx


def wire_personal_data(app: web.Application, db: AsyncDatabase[Document], rpc: RpcClient) -> None:
    """ "Your data": the export and account deletion (usecases/export.py, usecases/deletion.py)."""
    data = PersonalData(db)
    accounts, devices = AccountRepository(db), DeviceRepository(db)
    app[exporter_key] = Exporter(
        accounts=accounts,
        relationships=RelationshipRepository(db),
        data=data,
        rpc=rpc,
        agreements=app[agreements_key],
        audit=AuditLog(db),
        attachments=AttachmentStore(db),
    )
    app[deletion_key] = AccountDeletion(
        accounts=accounts,
        devices=devices,
        device_rules=app[devices_key],
        data=data,
        confirm=app[accounts_key].confirm_password,
        outbox=app[outbox_key],
        audit=AuditLog(db),
        signer=app[receipt_signer_key],
        relationships=RelationshipRepository(db),
        remove_files=app[attachments_key].account_deleted,
    )


def install(
    app: web.Application,
    settings: GatewaySettings,
    signer: TokenSigner,
    crisis_file: list[dict[str, Any]],
) -> None:
    """Resources and background work in order, after the shared mongo/bus/start-up contexts."""
    bootstrapped = asyncio.Event()
    app.cleanup_ctx.extend(
        [
            services_ctx(settings, signer, crisis_file),
            background("socket-routing", route_sockets),
            background("device-invalidation", invalidate_devices),
            background("outbox-relay", relay_outbox),
            background("device-expiry", expire_devices),
            background("account-deletions", finish_deletions),
            background("attachment-sweep", sweep_attachments),
            background("bootstrap-operator", bootstrap_operator(settings, bootstrapped)),
        ]
    )
    app[checks_key]["deliveries"] = lambda: sockets_key in app and app[sockets_key].router.ready
    app[checks_key]["bootstrap"] = bootstrapped.is_set
    app.on_shutdown.append(close_sockets_on_shutdown)
