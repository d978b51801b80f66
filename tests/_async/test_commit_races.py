"""Commits that lose a race never look like success, on every store kind.

Three races seen in the field: many concurrent rotations of one session, a rotation racing
writers, and two concurrent logins on one session. Writes of distinct keys racing a
rotation are carried over to the rotated record (they do not conflict); a login that lost
to another login fails visibly (``SessionRotatedError``, a 409 in the adapters), never
"ok" while signed out.
"""

from __future__ import annotations

from functools import partial

import pytest

from sessionary import AsyncSessionManager, SessionConfig
from sessionary.exceptions import SessionRotatedError
from sessionary.stores.base import AsyncSessionStore
from tests._async.test_manager import Client, header
from tests.concurrency import async_gather

pytestmark = pytest.mark.anyio


async def test_fifty_concurrent_rotations_keep_every_write_and_issue_one_cookie(
    async_store: AsyncSessionStore, config: SessionConfig
) -> None:
    manager = AsyncSessionManager(async_store, config)
    browser = Client(manager)
    await browser.request(lambda s: s.login("ada"))
    assert browser.cookie is not None
    cookies = header(config, browser.cookie)
    cycles = [await manager.open(cookies) for _ in range(50)]
    issued: list[str] = []

    async def rotate_and_write(index: int) -> None:
        cycle = cycles[index]
        cycle.session.rotate()
        cycle.session[f"k{index}"] = index
        update = await manager.commit(cycle)
        if update.set_cookie is not None:
            issued.append(update.set_cookie)

    await async_gather([partial(rotate_and_write, i) for i in range(50)])
    assert len(issued) == 1  # one new ID; the others joined that rotation
    browser.cookie = issued[0].split(";", 1)[0].split("=", 1)[1]
    final = await browser.request()
    assert all(final.get(f"k{i}") == i for i in range(50))


async def test_a_rotation_racing_ten_writers_keeps_every_write(
    async_store: AsyncSessionStore, config: SessionConfig
) -> None:
    manager = AsyncSessionManager(async_store, config)
    browser = Client(manager)
    await browser.request(lambda s: s.login("ada"))
    assert browser.cookie is not None
    cookies = header(config, browser.cookie)
    writers = [await manager.open(cookies) for _ in range(10)]
    rotator = await manager.open(cookies)
    rotator.session.elevate()
    update = await manager.commit(rotator)
    assert update.set_cookie is not None
    browser.cookie = update.set_cookie.split(";", 1)[0].split("=", 1)[1]

    async def write(index: int) -> None:
        writers[index].session[f"w{index}"] = index
        assert (await manager.commit(writers[index])).set_cookie is None

    await async_gather([partial(write, i) for i in range(10)])
    final = await browser.request()
    assert all(final.get(f"w{i}") == i for i in range(10))


async def test_of_two_concurrent_logins_one_signs_in_and_one_fails_visibly(
    async_store: AsyncSessionStore, config: SessionConfig
) -> None:
    manager = AsyncSessionManager(async_store, config)
    browser = Client(manager)
    await browser.request(lambda s: s.__setitem__("cart", [1]))
    assert browser.cookie is not None
    cookies = header(config, browser.cookie)
    first, second = await manager.open(cookies), await manager.open(cookies)
    first.session.login("ada")
    second.session.login("ada")
    update = await manager.commit(first)
    assert update.set_cookie is not None
    with pytest.raises(SessionRotatedError):
        await manager.commit(second)
    browser.cookie = update.set_cookie.split(";", 1)[0].split("=", 1)[1]
    cycle = await manager.open(header(config, browser.cookie))
    assert cycle.session.user_id == "ada"
    await manager.commit(cycle)
