"""Cancellation (a client disconnect, ``CancelledError``) during save, regenerate and logout.

docs/security.md R28/R84: whatever the point a commit is cancelled at, the state stays
consistent. A regeneration with a write either happened completely (the old ID is dead, the
record holds the new data) or not at all (the old ID still works with the old data); a
cancelled logout either destroyed the session or left it untouched; a cancelled command
never leaves a Redis connection answering another request with a stale reply
(CVE-2023-28858/28859 class). asyncio only: the sync manager cannot be cancelled midway.
"""

from __future__ import annotations

import asyncio
import collections

import pytest

from sessionary import AsyncSessionManager, Session, SessionConfig
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import CapturingObserver
from tests._async.test_users import Device

pytestmark = pytest.mark.anyio

ROUNDS = 60


async def cancel_after(manager: AsyncSessionManager, cycle: object, round_: int) -> str | None:
    """Commit ``cycle`` in a task and cancel it at a point that depends on ``round_``.

    Returns the new cookie if the commit finished before the cancellation landed, else
    ``None``. Even rounds yield to the loop a few times; odd rounds wait a few real
    microseconds, so cancellations land before, during and after the store's round trip.
    """
    task = asyncio.ensure_future(manager.commit(cycle))  # type: ignore[arg-type]
    if round_ % 2 == 0:
        for _ in range(round_ // 2):
            await asyncio.sleep(0)
    else:
        await asyncio.sleep(round_ * 0.000_02)
    task.cancel()
    try:
        update = await task
    except asyncio.CancelledError:
        return None
    if update.set_cookie is None:
        return None
    return update.set_cookie.split(";", 1)[0].split("=", 1)[1]


async def read(device: Device) -> tuple[str | None, dict[str, object]]:
    seen: dict[str, object] = {}

    def keep(session: Session) -> None:
        seen.update(session)

    session = await device.request(keep)
    return session.user_id, seen


async def test_cancelled_regenerations_logouts_and_saves_leave_a_consistent_state(
    async_store: AsyncSessionStore, config: SessionConfig
) -> None:
    manager = AsyncSessionManager(async_store, config, observer=CapturingObserver())
    bystander = Device(manager, ua="bystander")
    await bystander.login("bob")
    await bystander.request(lambda s: s.__setitem__("mine", "bob's"))
    outcomes: collections.Counter[str] = collections.Counter()
    browser = Device(manager)
    orphans = 0
    for round_ in range(ROUNDS):
        if browser.cookie is None:
            await browser.login("alice")
            await browser.request(lambda s: s.__setitem__("n", 0))
        user, data = await read(browser)
        assert user == "alice"
        n = data["n"]
        assert isinstance(n, int)
        old = browser.cookie

        cycle = await manager.open(browser.cookies())
        if round_ % 3 == 2:
            cycle.session.logout()
        else:
            cycle.session["n"] = n + 1
            if round_ % 3 == 0:
                cycle.session.rotate()
        new = await cancel_after(manager, cycle, round_)

        probe = Device(manager)
        probe.cookie = old
        old_user, old_data = await read(probe)
        if round_ % 3 == 1:  # a plain save: the ID stays; the write happened or not
            assert (old_user, old_data["n"]) in {("alice", n), ("alice", n + 1)}
            outcomes["save " + ("done" if old_data["n"] == n + 1 else "not done")] += 1
        elif old_user is None:  # rotation or logout happened: the old ID is dead ...
            assert old_data == {}
            outcomes[("rotate" if round_ % 3 == 0 else "logout") + " done"] += 1
        else:  # ... or nothing happened: the old ID works with the old data
            assert (old_user, old_data) == ("alice", {"n": n})
            outcomes[("rotate" if round_ % 3 == 0 else "logout") + " not done"] += 1
        if round_ % 3 == 0 and new:  # a finished rotation: the new ID has the new data
            probe.cookie = new
            assert await read(probe) == ("alice", {"n": n + 1})
        if round_ % 3 == 0 and old_user is None and not new:
            # The store rotated, but the client never got the new ID: a live session nobody
            # holds, listed as a device until it idles out (or is revoked).
            orphans += 1
        browser.cookie = new or (old if old_user is not None else None)
        # Other requests on the same connections get their own answers.
        assert await read(bystander) == ("bob", {"mine": "bob's"})
        listed = await manager.list_user_sessions("alice")
        assert len(listed) == orphans + (browser.cookie is not None)

    assert sum(outcomes.values()) == ROUNDS
    # The early cancellations land before any I/O: the first rounds never change anything.
    assert outcomes["rotate not done"] + outcomes["logout not done"] >= 1
    await manager.revoke_user("alice")  # the orphans end like any other session
    assert await manager.list_user_sessions("alice") == []
