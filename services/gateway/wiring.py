"""The gateway's composition root: repositories, services and background work, each built
once per process in a named cleanup context and stored under its key (edge/keys.py).

Background work waits until the shared start-up (indexes, broker) has finished, then runs
until shutdown; /readyz reports each piece that must be up before traffic is welcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from services.gateway.edge.keys import (
    account_admin_key,
    accounts_key,
    agreement_key,
    agreements_key,
    authenticator_key,
    conversations_key,
    deletion_key,
    device_cache_key,
    devices_key,
    directory_key,
    exporter_key,
    hasher_key,
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
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.consents import CachedAgreementRepository
from services.gateway.stores.crisis import CrisisResources, is_example_file
from services.gateway.stores.devicecache import DeviceCache
from services.gateway.stores.directory import SendDirectory
from services.gateway.stores.invalidation import DeviceInvalidation
from services.gateway.stores.outbox import Outbox
from services.gateway.stores.personal_data import PersonalData
from services.gateway.stores.ratelimits import RateBuckets
from services.gateway.stores.relationships import RelationshipRepository
from services.gateway.stores.throttle import Throttle
from services.gateway.stores.tokens import InviteRepository, RefreshTokenRepository
from services.gateway.usecases.accounts import Accounts
from services.gateway.usecases.agreement import Agreement
from services.gateway.usecases.conversations import Conversations
from services.gateway.usecases.deletion import AccountDeletion
from services.gateway.usecases.devices import Devices
from services.gateway.usecases.directory_admin import AccountAdmin
from services.gateway.usecases.export import Exporter
from services.gateway.usecases.message_queries import Reads
from services.gateway.usecases.notifications import Notifications
from services.gateway.usecases.operations import Operations
from services.gateway.usecases.operators import Operators
from services.gateway.usecases.panic import Panic
from services.gateway.usecases.pausing import Pausing
from services.gateway.usecases.relationships import Relationships
from services.gateway.usecases.retention import RetentionPolicy
from services.gateway.usecases.send import Sending
from services.gateway.usecases.sessions import Sessions
from services.gateway.usecases.urgent_pause import UrgentWhilePaused
from shared.errors import HavenError
from shared.events import Event
from shared.lifecycle import CleanupCtx, bus_key, checks_key, mongo_key, started_key
from shared.mongo import Document
from shared.rpc import RpcClient

log = structlog.get_logger(__name__)

EXPIRY_SWEEP_SECONDS = 3600.0
DELETION_SWEEP_SECONDS = 300.0


def services_ctx(
    settings: GatewaySettings, signer: TokenSigner, crisis_file: list[dict[str, Any]]
) -> CleanupCtx:
    """Every repository and service, wired by hand: the dependencies are the signatures."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        db, bus = app[mongo_key].db, app[bus_key]
        accounts, devices = AccountRepository(db), DeviceRepository(db)
        relationships, invites = RelationshipRepository(db), InviteRepository(db)
        directory = SendDirectory(relationships, devices)
        agreements = CachedAgreementRepository(db)

        def forget(event: Event) -> None:
            """This replica's caches drop what its own writes changed, before anyone hears."""
            data = event.data.model_dump()
            directory.forget_event(data)
            agreements.forget_event(event.type, data)

        outbox = Outbox(db, bus, on_emit=forget)
        audit = AuditLog(db)
        crisis = CrisisResources(db, crisis_file)
        resources_file = settings.crisis_resources_file
        if resources_file and is_example_file(resources_file):
            log.warning("crisis_resources_example_ignored", file=str(resources_file))
        limits = Limits(RateBuckets(db), settings)
        cache = DeviceCache(devices, accounts, directory)
        sockets = SocketRegistry(bus, crisis.current)
        hasher = PasswordHasher(
            settings.pwhash_opslimit,
            settings.pwhash_memlimit_mib,
            settings.pwhash_workers,
            settings.pwhash_queue,
        )
        rpc, send_command = RpcClient.of(bus), bus.send_command
        device_rules = Devices(
            devices,
            accounts,
            relationships,
            audit,
            outbox,
            sockets,
            cache,
            limits,
            settings.device_expiry_days,
        )
        guard = PasswordGuard(Throttle(db, settings.throttle_backoff_base_seconds))
        sessions = Sessions(
            settings,
            accounts,
            devices,
            device_rules,
            RefreshTokenRepository(db),
            signer,
            hasher,
            guard,
            audit,
            outbox,
            sockets,
            cache,
            limits,
        )
        retention = RetentionPolicy.of(settings)
        relationship_rules = Relationships(
            relationships,
            invites,
            accounts,
            outbox,
            audit,
            limits,
            crisis,
            retention,
            settings.invite_days,
        )
        agreement = Agreement(agreements, audit, outbox)
        app[settings_key] = settings
        app[device_cache_key], app[outbox_key], app[hasher_key] = cache, outbox, hasher
        app[directory_key], app[agreements_key] = directory, agreements
        app[sockets_key] = sockets
        app[pending_sockets_key] = PendingSockets(settings.ws_unauthenticated_per_address)
        app[authenticator_key] = Authenticator(signer, cache)
        app[devices_key] = device_rules
        app[sessions_key] = sessions
        app[relationships_key] = relationship_rules
        app[conversations_key] = Conversations(
            relationship_rules, relationships, accounts, rpc, retention, audit
        )
        app[pausing_key] = Pausing(relationship_rules, relationships, outbox, audit, limits)
        app[agreement_key] = agreement
        app[panic_key] = Panic(devices, device_rules, rpc)
        app[accounts_key] = Accounts(
            accounts,
            invites,
            device_rules,
            relationship_rules,
            sessions,
            hasher,
            guard,
            audit,
            limits,
            settings.invite_conflicts,
        )
        app[sending_key] = Sending(
            directory, limits, send_command, agreement, UrgentWhilePaused(rpc, outbox)
        )
        app[reads_key] = Reads(relationship_rules, rpc, send_command, limits)
        app[operations_key] = Operations(audit, crisis)
        app[notifications_key] = Notifications(devices, device_rules, limits, rpc, audit)
        app[operators_key] = Operators(accounts, hasher, audit)
        app[account_admin_key] = AccountAdmin(accounts, devices, device_rules, audit, invites)
        wire_personal_data(app, db, rpc)
        yield
        hasher.close()

    return ctx


def wire_personal_data(app: web.Application, db: AsyncDatabase[Document], rpc: RpcClient) -> None:
    """ "Your data": the export and account deletion (usecases/export.py, usecases/deletion.py)."""
    data = PersonalData(db)
    accounts, devices = AccountRepository(db), DeviceRepository(db)
    app[exporter_key] = Exporter(
        accounts, RelationshipRepository(db), data, rpc, app[agreements_key], AuditLog(db)
    )
    app[deletion_key] = AccountDeletion(
        accounts,
        devices,
        app[devices_key],
        data,
        app[accounts_key].confirm_password,
        app[outbox_key],
        AuditLog(db),
        app[receipt_signer_key],
        RelationshipRepository(db),
    )


async def finish_deletions(app: web.Application) -> None:
    """Deletions interrupted half way (a crash, the store away) are completed."""
    while True:
        try:
            finished = await app[deletion_key].finish_pending()
            if finished:
                log.info("account_deletions_completed", count=finished)
        except (PyMongoError, HavenError) as error:
            log.warning("account_deletion_sweep_failed", reason=type(error).__name__)
        await asyncio.sleep(DELETION_SWEEP_SECONDS)


def background(name: str, body: Callable[[web.Application], Awaitable[None]]) -> CleanupCtx:
    """A named task that starts once start-up finished and is cancelled at shutdown."""

    async def run(app: web.Application) -> None:
        await app[started_key].wait()
        await body(app)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run(app), name=name)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    ctx.__name__ = f"{name.replace('-', '_')}_ctx"
    return ctx


async def route_sockets(app: web.Application) -> None:
    """This replica's delivery queue; /readyz waits for it (the `deliveries` check)."""
    await app[sockets_key].start()


async def invalidate_devices(app: web.Application) -> None:
    """Every replica forgets a revoked or logged-out device's cached session at once."""
    invalidation = DeviceInvalidation(
        app[bus_key], app[device_cache_key], app[directory_key], app[agreements_key]
    )
    invalidation.start()
    try:
        await asyncio.Event().wait()
    finally:
        await invalidation.close()


async def relay_outbox(app: web.Application) -> None:
    await app[outbox_key].run()


async def expire_devices(app: web.Application) -> None:
    devices = app[devices_key]
    while True:
        try:
            expired = await devices.expire_unseen()
            if expired:
                log.info("devices_expired", count=expired)
        except PyMongoError as error:
            log.warning("device_expiry_failed", reason=type(error).__name__)
        await asyncio.sleep(EXPIRY_SWEEP_SECONDS)


def bootstrap_operator(
    settings: GatewaySettings, done: asyncio.Event
) -> Callable[[web.Application], Awaitable[None]]:
    """The first operator from configuration; /readyz waits for the attempt (`bootstrap`)."""

    async def create(app: web.Application) -> None:
        handle, password = settings.bootstrap_operator_handle, settings.bootstrap_operator_password
        while True:
            try:
                if await app[operators_key].ensure_bootstrap(handle, password):
                    log.info("bootstrap_operator_created")
                break
            except PyMongoError as error:
                log.warning("bootstrap_operator_failed", reason=type(error).__name__)
                await asyncio.sleep(1.0)
        done.set()

    return create


async def close_sockets_on_shutdown(app: web.Application) -> None:
    """Clients reconnect elsewhere at once (1012) instead of waiting for a timeout."""
    if sockets_key in app:
        await app[sockets_key].close_all(1012)


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
            background("bootstrap-operator", bootstrap_operator(settings, bootstrapped)),
        ]
    )
    app[checks_key]["deliveries"] = lambda: sockets_key in app and app[sockets_key].router.ready
    app[checks_key]["bootstrap"] = bootstrapped.is_set
    app.on_shutdown.append(close_sockets_on_shutdown)
