"""`kx` keys on a schedule, and old private keys dropped once no kept message needs them.

`haven-v1` has no forward secrecy: whoever obtains a device's `kx` private key opens every
message still stored that was wrapped for it. Two habits bound that. The device rotates its
`kx` key (weekly by default; `PUT /v1/devices/{id}/kx`), so a key stolen today opens nothing
wrapped for a later one. And it forgets an old private key once every message that could have
been wrapped for it is gone from the server: an old key retired at R is kept until
R + the longest retention among the account's conversations (ended ones too: they stay
readable) + one day's grace (a sender may still have used a device listing fetched just
before the rotation). A conversation with no retention period keeps every old key. An old key
whose retirement time is unknown (a keystore from before this rule) counts as retired now.
Rotation changes only the `kx` key: the identity key, and so the safety numbers, stay.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from haven_client.api import HavenApi
from haven_client.keystore import Keystore

DEFAULT_PERIOD = timedelta(days=7)
GRACE = timedelta(days=1)
Clock = Callable[[], datetime]


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def keep_fresh(
    store: Keystore,
    api: HavenApi,
    rotate: Callable[[], Awaitable[None]],
    now: datetime,
    period: timedelta = DEFAULT_PERIOD,
) -> bool:
    """Rotate if the current key is older than `period`, then drop old keys no kept message
    can need; True if it rotated. A keystore that never noted its key's age starts the clock."""
    state = store.state
    if state.kx_private is None or state.device_id is None:
        return False
    if state.kx_created_at is None:
        state.kx_created_at = iso(now)
        store.save()
    rotated = now - datetime.fromisoformat(state.kx_created_at) >= period
    if rotated:
        await rotate()
    if state.old_kx:
        await drop_unneeded(store, api, now)
    return rotated


async def drop_unneeded(store: Keystore, api: HavenApi, now: datetime) -> int:
    """Forget old private keys retired before (now - longest retention - grace); how many."""
    retentions = [c.retention_days for c in await api.conversations()]
    if any(days is None for days in retentions):
        return 0  # some conversation keeps its messages until deleted
    longest = timedelta(days=max((d for d in retentions if d is not None), default=0))
    cutoff = now - longest - GRACE
    state = store.state
    count = len(state.old_kx)
    # Unknown retirement (an older keystore) is noted as now: kept for a full period from here.
    retired = [t or iso(now) for t in [*state.old_kx_retired_at, *[""] * count][:count]]
    kept = [
        (key, when)
        for key, when in zip(state.old_kx, retired, strict=True)
        if datetime.fromisoformat(when) > cutoff
    ]
    state.old_kx = [key for key, _ in kept]
    state.old_kx_retired_at = [when for _, when in kept]
    store.save()
    return count - len(kept)
