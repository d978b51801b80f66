"""Optional client binding (docs/security.md R81): detect by default, terminate only when opted in.

The login records the user agent and a keyed hash of the client address; with
``client_binding`` set, later authenticated requests are compared with them. Runs on every
store kind (the recorded device travels through the store); the sync twin is generated.
"""

from __future__ import annotations

import secrets

import pytest

from sessionary import AsyncSessionManager, ClientBinding
from sessionary.exceptions import ConfigurationError
from sessionary.sansio.events import EventName
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests._async.test_users import UA, Device, manager_for

pytestmark = pytest.mark.anyio

OTHER_UA = "curl/8.5.0"
OTHER_IP = "192.0.2.99"


def mismatches(observer: CapturingObserver) -> list[tuple[list[str], bool]]:
    return [(e.detail["fields"], e.detail["ended"]) for e in observer.of(EventName.CLIENT_MISMATCH)]


async def test_binding_is_off_by_default(async_store: AsyncSessionStore, clock: FakeClock) -> None:
    observer = CapturingObserver()
    manager = manager_for(async_store, clock, observer)
    assert manager.config.client_binding is ClientBinding.OFF
    device = Device(manager)
    await device.login("alice")
    device.ua, device.ip = OTHER_UA, OTHER_IP
    assert await device.whoami() == "alice"
    assert mismatches(observer) == []


async def test_detect_reports_each_mismatch_and_keeps_the_session(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    observer = CapturingObserver()
    manager = manager_for(async_store, clock, observer, client_binding="detect")
    device = Device(manager)
    await device.login("alice")
    assert await device.whoami() == "alice"  # the same client: nothing to report
    device.ua = OTHER_UA
    assert await device.whoami() == "alice"
    device.ua, device.ip = UA, OTHER_IP
    assert await device.whoami() == "alice"
    device.ua = OTHER_UA
    assert await device.whoami() == "alice"
    assert mismatches(observer) == [
        (["user_agent"], False),
        (["client"], False),
        (["user_agent", "client"], False),
    ]
    event = observer.of(EventName.CLIENT_MISMATCH)[0]
    assert event.user == "alice"
    assert event.fingerprint is not None
    assert OTHER_IP not in repr(event)  # the address is never logged


async def test_enforce_ends_the_session_on_a_mismatch(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    observer = CapturingObserver()
    manager = manager_for(
        async_store,
        clock,
        observer,
        client_binding="enforce",
        client_binding_fields=("user_agent",),
    )
    victim = Device(manager)
    await victim.login("alice")
    victim.ip = OTHER_IP  # the address is not bound here: a new network is fine
    assert await victim.whoami() == "alice"

    thief = Device(manager, ua=OTHER_UA)
    thief.cookie = victim.cookie
    session = await thief.request()
    assert session.user_id is None
    assert thief.cookie is None  # the cookie was cleared
    assert mismatches(observer) == [(["user_agent"], True)]
    assert EventName.DESTROYED in observer.names()
    assert await victim.whoami() is None  # the stolen session is over for everyone
    assert await manager.list_user_sessions("alice") == []


async def test_a_key_rotation_keeps_the_binding_and_the_device_refs(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    """Rotating ``[A]`` to ``[B, A]`` changes nothing a signed-in user can see: the client
    still matches (no ``client_mismatch``, no forced logout under ``enforce``), and the refs
    of the device list stay the same, so ``revoke_session(ref)`` still finds its session."""
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    observer = CapturingObserver()

    def manager(*keys: bytes) -> AsyncSessionManager:
        config = session_config(clock=clock, secret_keys=list(keys), client_binding="enforce")
        return AsyncSessionManager(async_store, config, observer=observer)

    before = manager(old)
    laptop, phone = Device(before), Device(before, ua="Phone/1.0")
    await laptop.login("alice")
    await phone.login("alice")
    refs = sorted(s.ref for s in await before.list_user_sessions("alice"))

    after = manager(new, old)  # the ring rotated: a new secret first, the old one kept
    laptop.manager = phone.manager = after
    assert await laptop.whoami() == "alice"
    assert await phone.whoami() == "alice"
    assert mismatches(observer) == []
    assert sorted(s.ref for s in await after.list_user_sessions("alice")) == refs
    assert laptop.last is not None
    assert laptop.last.ref in refs
    phone_ref = next(r for r in refs if r != laptop.last.ref)
    assert await after.revoke_session("alice", phone_ref) is True
    assert await phone.whoami() is None
    assert await laptop.whoami() == "alice"

    thief = Device(after, ua=OTHER_UA)  # the binding still bites after the rotation
    thief.cookie = laptop.cookie
    assert (await thief.request()).user_id is None
    assert mismatches(observer) == [(["user_agent"], True)]


def test_binding_options_are_validated() -> None:
    assert session_config(client_binding="detect").client_binding is ClientBinding.DETECT
    with pytest.raises(ConfigurationError, match="client_binding"):
        session_config(client_binding="strict")
    for fields in [("ip",), (), ["user_agent"]]:
        with pytest.raises(ConfigurationError, match="client_binding_fields"):
            session_config(client_binding_fields=fields)


async def test_the_agent_is_compared_by_its_label(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    """A browser's minor update is the same device; another major version or system is not."""
    observer = CapturingObserver()
    manager = manager_for(async_store, clock, observer, client_binding="detect")
    device = Device(manager, ua="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0")
    await device.login("alice")
    device.ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.6099.71"
    assert await device.whoami() == "alice"
    assert mismatches(observer) == []
    device.ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/121.0.0.0"
    assert await device.whoami() == "alice"
    device.ua = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0"
    assert await device.whoami() == "alice"
    assert mismatches(observer) == [(["user_agent"], False), (["user_agent"], False)]
