"""Acceptance: the per-user index lists exactly the live sessions after 10 000 random steps.

Random create / login / rotate / logout / revoke / expire steps (a fake clock jumps past
idle and absolute timeouts) over a few users and many devices. At checkpoints, every
user's device list is compared with the truth obtained by presenting each device's cookie.
"""

from __future__ import annotations

import random

import pytest

from sessionary import AsyncSessionManager
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests._async.test_users import Device

pytestmark = pytest.mark.anyio

USERS = ("ann", "ben", "cat", "dan")
STEPS = 10_000
CHECK_EVERY = 1_000


async def truth(manager: AsyncSessionManager, devices: list[Device]) -> dict[str, set[str]]:
    """Which devices are signed in as whom, asked the way a browser would."""
    live: dict[str, set[str]] = {user: set() for user in USERS}
    for device in devices:
        if device.cookie is None:
            continue
        cycle = await manager.open(device.cookies())
        user, ref = cycle.session.user_id, cycle.session.ref
        await manager.commit(cycle)
        if user is not None and ref is not None:
            live[user].add(ref)
    return live


async def listed(manager: AsyncSessionManager) -> dict[str, set[str]]:
    return {user: {entry.ref for entry in await manager.list_user_sessions(user)} for user in USERS}


async def test_index_lists_exactly_the_live_sessions(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = AsyncSessionManager(
        async_store,
        session_config(clock=clock, idle_timeout=600, absolute_timeout=3600, touch_interval=60),
        observer=CapturingObserver(),
    )
    rng = random.Random(20261201)
    devices = [Device(manager, ua=f"device-{i}") for i in range(40)]
    checks = seen = 0
    for step in range(1, STEPS + 1):
        device = rng.choice(devices)
        roll = rng.random()
        if roll < 0.30:
            await device.login(rng.choice(USERS))
        elif roll < 0.45:
            await device.request(lambda s: s.rotate())
        elif roll < 0.55:
            await device.request(lambda s: s.logout())
        elif roll < 0.60:
            await device.request(lambda s: s.__setitem__("anonymous", True))
        elif roll < 0.62:
            await manager.revoke_user(rng.choice(USERS))
        elif roll < 0.65:
            entries = await manager.list_user_sessions(rng.choice(USERS))
            if entries:
                await manager.revoke_session(rng.choice(USERS), rng.choice(entries).ref)
        elif roll < 0.85:
            await device.request()
        else:
            clock.advance(rng.choice((1, 30, 120, 400, 700, 4000)))
        if step % CHECK_EVERY == 0:
            expected = await truth(manager, devices)
            assert await listed(manager) == expected, f"step {step}"
            checks += 1
            seen += sum(map(len, expected.values()))
    assert checks == STEPS // CHECK_EVERY
    assert seen >= checks  # the checkpoints compared real, non-empty device lists
