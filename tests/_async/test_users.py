"""Users and their sessions: login indexing, device lists, revocation, limits, end reasons.

Runs on every store kind (memory, Redis, Redis Cluster); the generated sync twin runs the
same scenarios with threads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest

from sessionary import AsyncSessionManager, Session, SessionConfig
from sessionary.backends.redis._async import admission as redis_admission
from sessionary.config import LimitPolicy
from sessionary.exceptions import ConfigurationError, LockNotAcquiredError, SessionLimitError
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import mint_token
from sessionary.stores import AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore, Capability
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests.concurrency import async_gather

pytestmark = pytest.mark.anyio

UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


class Device:
    """A browser: keeps its cookie, sends a user agent and a client address."""

    def __init__(self, manager: AsyncSessionManager, ua: str = UA, ip: str = "203.0.113.7"):
        self.manager = manager
        self.ua = ua
        self.ip = ip
        self.cookie: str | None = None
        self.last: Session | None = None

    def cookies(self) -> list[str]:
        name = self.manager.config.cookie.name
        return [f"{name}={self.cookie}"] if self.cookie else []

    async def request(self, handler: object = None) -> Session:
        cycle = await self.manager.open(self.cookies(), client=self.ip, user_agent=self.ua)
        session = cycle.session
        if callable(handler):
            handler(session)
        update = await self.manager.commit(cycle)
        if update.set_cookie is not None:
            value = update.set_cookie.split(";", 1)[0].split("=", 1)[1]
            self.cookie = value or None
        self.last = session
        return session

    async def login(self, user: str) -> Session:
        return await self.request(lambda s: s.login(user))

    async def whoami(self) -> str | None:
        return (await self.request()).user_id


def mark(session: Session) -> None:
    session["n"] = 1


def manager_for(
    store: AsyncSessionStore,
    clock: FakeClock,
    observer: CapturingObserver | None = None,
    **options: object,
) -> AsyncSessionManager:
    return AsyncSessionManager(
        store, session_config(clock=clock, **options), observer=observer or CapturingObserver()
    )


async def test_login_indexes_the_session_with_its_device(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = manager_for(async_store, clock)
    laptop, phone = Device(manager), Device(manager, ua="Phone/1.0", ip="198.51.100.9")
    await laptop.login("alice")
    clock.advance(60)
    await phone.login("alice")
    await Device(manager).login("bob")

    current = await phone.request()
    listed = await manager.list_user_sessions("alice", current=current)
    # A browser's agent is listed as its label (sansio/devices.py), a short one as it is.
    assert [s.user_agent for s in listed] == ["Firefox 140 on Linux", "Phone/1.0"]
    assert [s.current for s in listed] == [False, True]
    assert listed[0].client_hash != listed[1].client_hash
    assert all(s.client_hash and "203.0.113.7" not in s.client_hash for s in listed)
    assert listed[1].created - listed[0].created == pytest.approx(60)
    assert listed[0].auth_time is not None
    assert listed[0].describe_age(clock() + 125) == "3 min ago"
    assert await manager.count_user_sessions("bob") == 1
    assert await manager.count_user_sessions("carol") == 0


async def test_logout_removes_the_session_from_the_index(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = manager_for(async_store, clock)
    device = Device(manager)
    await device.login("alice")
    assert await manager.count_user_sessions("alice") == 1
    await device.request(lambda s: s.logout())
    assert await manager.count_user_sessions("alice") == 0


async def test_expired_sessions_drop_out_of_the_list(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = manager_for(async_store, clock, idle_timeout=600, absolute_timeout=3600)
    first, second = Device(manager), Device(manager)
    await first.login("alice")
    clock.advance(500)
    await second.login("alice")
    clock.advance(200)  # first is idle-expired now, second is not
    assert len(await manager.list_user_sessions("alice")) == 1


async def test_revoke_user_ends_every_session_and_says_why(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    observer = CapturingObserver()
    manager = manager_for(async_store, clock, observer)
    devices = [Device(manager) for _ in range(3)]
    for device in devices:
        await device.login("alice")
    bob = Device(manager)
    await bob.login("bob")
    clock.advance(1)

    ended = await manager.revoke_user("alice")
    assert ended == 3
    for device in devices:
        session = await device.request()
        assert session.user_id is None
        assert session.end_reason == "revoked"
    assert await bob.whoami() == "bob"
    assert await manager.list_user_sessions("alice") == []
    revoked = observer.of(EventName.REVOKED)
    assert any(e.detail.get("scope") == "user" and e.user == "alice" for e in revoked)

    clock.advance(1)
    await devices[0].login("alice")  # logging in again after the revocation works
    assert await devices[0].whoami() == "alice"


async def test_revoke_user_can_keep_the_current_session(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = manager_for(async_store, clock)
    here, elsewhere = Device(manager), Device(manager)
    await here.login("alice")
    await elsewhere.login("alice")
    clock.advance(1)
    current = await here.request()
    assert await manager.revoke_user("alice", keep_current=current) == 1
    assert await here.whoami() == "alice"
    assert await elsewhere.whoami() is None
    listed = await manager.list_user_sessions("alice", current=await here.request())
    assert [s.current for s in listed] == [True]


async def test_revoke_session_ends_one_device_without_its_id(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = manager_for(async_store, clock)
    laptop, phone = Device(manager), Device(manager, ua="Phone/1.0")
    await laptop.login("alice")
    await phone.login("alice")
    listed = await manager.list_user_sessions("alice")
    phone_ref = next(s.ref for s in listed if s.user_agent == "Phone/1.0")
    assert phone.cookie is not None
    assert phone.cookie not in phone_ref

    assert await manager.revoke_session("alice", phone_ref) is True
    session = await phone.request()
    assert (session.user_id, session.end_reason) == (None, "revoked")
    assert phone.cookie is None  # the dead cookie was cleared
    assert await laptop.whoami() == "alice"
    assert await manager.revoke_session("alice", phone_ref) is False
    assert await manager.revoke_session("bob", listed[0].ref) is False  # not bob's session


async def test_session_limit_reject_new(async_store: AsyncSessionStore, clock: FakeClock) -> None:
    manager = manager_for(async_store, clock, max_sessions_per_user=2)
    first, second, third = Device(manager), Device(manager), Device(manager)
    await first.login("alice")
    await second.login("alice")
    with pytest.raises(SessionLimitError):
        await third.login("alice")
    assert await third.whoami() is None
    await second.login("alice")  # re-authenticating an indexed session is not a new one
    await first.request(lambda s: s.logout())
    await third.login("alice")
    assert await third.whoami() == "alice"


async def test_session_limit_evict_oldest_tells_the_evicted_session(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    observer = CapturingObserver()
    manager = manager_for(
        async_store,
        clock,
        observer,
        max_sessions_per_user=2,
        session_limit=LimitPolicy.EVICT_OLDEST,
    )
    devices = [Device(manager) for _ in range(3)]
    for device in devices:
        await device.login("alice")
        clock.advance(1)
    assert len(observer.of(EventName.EVICTED)) == 1
    oldest = await devices[0].request()
    assert (oldest.user_id, oldest.end_reason) == (None, "evicted")
    assert [await d.whoami() for d in devices[1:]] == ["alice", "alice"]
    assert len(await manager.list_user_sessions("alice")) == 2


@pytest.mark.parametrize("policy", [LimitPolicy.REJECT_NEW, LimitPolicy.EVICT_OLDEST])
async def test_concurrent_logins_never_exceed_the_session_limit(
    async_store: AsyncSessionStore,
    clock: FakeClock,
    policy: LimitPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """30 logins of one user at once, limit 3: afterwards at most 3 signed-in sessions."""
    # The 30 take turns: on a loaded CI machine the last may wait longer than the default 2 s.
    monkeypatch.setattr(redis_admission, "ADMISSION_WAIT_S", 30.0)
    manager = manager_for(async_store, clock, max_sessions_per_user=3, session_limit=policy)
    devices = [Device(manager) for _ in range(30)]
    refused = 0

    async def login(device: Device) -> object:
        nonlocal refused
        try:
            await device.login("alice")
        except SessionLimitError:
            refused += 1
        return None

    await async_gather([partial(login, d) for d in devices], limit=30)
    signed_in = [d for d in devices if await d.whoami() == "alice"]
    listed = await manager.list_user_sessions("alice")
    assert len(signed_in) == len(listed) <= 3
    if policy is LimitPolicy.REJECT_NEW:
        assert (len(signed_in), refused) == (3, 27)
    else:
        assert (len(signed_in), refused) == (3, 0)


async def test_a_login_that_cannot_get_its_users_admission_is_refused(
    async_redis_store: AsyncRedisStore,
    key_prefix: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another login holds the user's admission past the wait: a typed error, nothing written."""
    monkeypatch.setattr(redis_admission, "ADMISSION_WAIT_S", 0.05)
    manager = manager_for(async_redis_store, clock, max_sessions_per_user=2)
    first, second = Device(manager), Device(manager)
    await first.login("alice")
    client: Any = async_redis_store.client
    (index,) = await client.keys(f"{key_prefix}:u:*}}")  # the user's index
    admission = index + b":ad"  # its slot, its suffix
    await client.set(admission, b"a login that crashed", px=60_000)
    with pytest.raises(LockNotAcquiredError):
        await second.login("alice")
    assert await second.whoami() is None
    assert len(await manager.list_user_sessions("alice")) == 1
    await client.delete(admission)
    await second.login("alice")
    assert await second.whoami() == "alice"
    assert await client.exists(admission) == 0  # released after use


async def test_logins_without_a_limit_take_no_admission(
    async_redis_store: AsyncRedisStore, clock: FakeClock
) -> None:
    device = Device(manager_for(async_redis_store, clock))
    counting: Any = async_redis_store.client  # records every command it sends
    counting.sent.clear()
    await device.login("alice")
    assert "SET" not in counting.sent


async def test_reauthentication_extends_the_absolute_deadline(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = manager_for(async_store, clock, idle_timeout=3000, absolute_timeout=3600)
    device = Device(manager)
    await device.login("alice")
    clock.advance(2400)
    await device.request(lambda s: s.__setitem__("x", 1))
    clock.advance(1000)  # 3400 s after the first login
    await device.login("alice")
    clock.advance(1000)  # past the first deadline, within the second
    assert await device.whoami() == "alice"


async def test_revoke_user_wins_over_concurrent_logins(
    async_store: AsyncSessionStore, config: SessionConfig
) -> None:
    """Acceptance: revoke_user during 200 concurrent logins leaves none of them signed in."""
    manager = AsyncSessionManager(async_store, config, observer=CapturingObserver())
    devices = [Device(manager) for _ in range(200)]
    await async_gather([partial(d.request, mark) for d in devices], limit=50)
    cycles = await async_gather([partial(manager.open, d.cookies()) for d in devices], limit=50)
    for cycle in cycles:
        cycle.session.login("mallory")

    async def commit(index: int) -> object:
        update = await manager.commit(cycles[index])
        assert update.set_cookie is not None
        devices[index].cookie = update.set_cookie.split(";", 1)[0].split("=", 1)[1]
        return None

    async def revoke() -> object:
        return await manager.revoke_user("mallory")

    jobs: list[Callable[[], Awaitable[object]]] = [partial(commit, i) for i in range(100)]
    jobs.append(revoke)
    jobs += [partial(commit, i) for i in range(100, 200)]
    await async_gather(jobs, limit=50)

    assert [await d.whoami() for d in devices] == [None] * 200
    assert await manager.list_user_sessions("mallory") == []


async def test_user_api_needs_a_user_store(clock: FakeClock) -> None:
    class Bare:
        capabilities = frozenset({Capability.SESSIONS})  # nothing else declared

        async def load(self, op: object) -> object: ...
        async def create(self, op: object) -> object: ...
        async def update(self, op: object) -> object: ...
        async def destroy(self, op: object) -> object: ...
        async def discard(self, op: object) -> object: ...
        async def aclose(self) -> None: ...

    manager = AsyncSessionManager(Bare(), session_config(clock=clock))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="per-user"):
        await manager.list_user_sessions("alice")
    with pytest.raises(ConfigurationError, match="lock"):
        await manager.open([f"__Host-session={mint_token().value}"], lock=True)


def test_limit_configuration_is_validated() -> None:
    with pytest.raises(ConfigurationError):
        session_config(max_sessions_per_user=0)
    with pytest.raises(ConfigurationError):
        session_config(session_limit="most_recent")
    assert session_config(session_limit="evict_oldest").session_limit is LimitPolicy.EVICT_OLDEST
