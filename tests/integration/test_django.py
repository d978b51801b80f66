"""The Django engine: Django's SessionBase behaviours, auth login/logout, the middleware.

Modelled on the behaviours Django's own session test-suite checks for every engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import redis

from tests.django_project.settings import ensure_django

ensure_django()

from asgiref.sync import async_to_sync  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from sessionary import SessionConfig  # noqa: E402
from sessionary._sync.manager import SessionManager  # noqa: E402
from sessionary.integrations.django import SessionStore, configure  # noqa: E402
from sessionary.integrations.django.conf import config_from_settings  # noqa: E402
from sessionary.stores import MemoryStore, RedisStore  # noqa: E402
from sessionary.testing import session_config  # noqa: E402

COOKIE = "__Host-session"


@pytest.fixture(params=["memory", "redis"])
def manager(request: pytest.FixtureRequest, key_prefix: str) -> Iterator[SessionManager]:
    if request.param == "memory":
        store: MemoryStore | RedisStore = MemoryStore()
    else:
        request.getfixturevalue("redis_admin")
        store = RedisStore.from_url(request.getfixturevalue("redis_url"), prefix=key_prefix)
    built = SessionManager(store, session_config())
    configure(built)
    yield built
    configure(None)
    store.close()


@pytest.fixture
def session(manager: SessionManager) -> SessionStore:
    return SessionStore()


def saved(session: SessionStore) -> str:
    session.save()
    key = session.session_key
    assert key is not None
    return key


# ------------------------------------------------------------------ SessionBase behaviours
def test_new_session_is_empty(session: SessionStore) -> None:
    assert session.session_key is None
    assert session.is_empty()
    assert session.get("cat") is None
    assert session.get("cat", "miaow") == "miaow"
    assert "cat" not in session
    assert not session.modified


def test_store_and_get(session: SessionStore) -> None:
    session["cat"] = "dog"
    assert session.modified
    assert session["cat"] == "dog"
    assert session.pop("cat") == "dog"
    assert session.pop("some key", "does not exist") == "does not exist"
    with pytest.raises(KeyError):
        session.pop("some key")


def test_setdefault_update_has_key_views(session: SessionStore) -> None:
    assert session.setdefault("foo", "bar") == "bar"
    assert session.setdefault("foo", "baz") == "bar"
    session.update({"update key": 1, "x": [1, 2]})
    assert session.has_key("update key")
    assert not session.has_key("nope")
    assert sorted(session.keys()) == ["foo", "update key", "x"]
    assert sorted(map(str, session.values())) == ["1", "[1, 2]", "bar"]
    assert sorted(session.items()) == [("foo", "bar"), ("update key", 1), ("x", [1, 2])]
    session.clear()
    assert list(session.items()) == []


def test_save_exists_and_reload(session: SessionStore) -> None:
    session["a"] = {"nested": [1]}
    key = saved(session)
    assert len(key) == 43
    assert session.exists(key)
    again = SessionStore(key)
    assert again["a"] == {"nested": [1]}
    again["a"]["nested"].append(2)  # nested mutation is saved
    again.save()
    assert SessionStore(key)["a"] == {"nested": [1, 2]}


def test_an_empty_session_is_never_stored(session: SessionStore) -> None:
    session.save()
    assert session.session_key is None


def test_delete(session: SessionStore) -> None:
    session["a"] = 1
    key = saved(session)
    session.delete(key)
    assert not session.exists(key)
    other = SessionStore()
    other["b"] = 2
    other_key = saved(other)
    other.delete()
    assert not SessionStore().exists(other_key)


def test_flush(session: SessionStore) -> None:
    session["foo"] = "bar"
    key = saved(session)
    session = SessionStore(key)
    assert session["foo"] == "bar"
    session.flush()
    assert session.session_key is None
    assert "foo" not in session
    session.save()
    assert not session.exists(key)


def test_cycle_key_keeps_data_and_retires_the_old_key(session: SessionStore) -> None:
    session["a"], session["b"] = "c", "d"
    key = saved(session)
    session = SessionStore(key)
    session.cycle_key()
    session.save()
    new_key = session.session_key
    assert new_key not in (None, key)
    assert not session.exists(key)
    assert dict(SessionStore(new_key).items()) == {"a": "c", "b": "d"}


def test_invalid_or_unknown_keys_load_empty(manager: SessionManager) -> None:
    for key in ("1234567890", "x" * 43, "not a key at all", "A" * 43):
        store = SessionStore(key)
        assert dict(store.items()) == {}
        assert not store.exists(key)
    assert SessionStore("short").session_key is None  # Django's minimum key length


def test_expiry_settings(session: SessionStore) -> None:
    session.set_expiry(10)
    assert session.get_expiry_age() == 10
    assert not session.get_expire_at_browser_close()
    session.set_expiry(dt.timedelta(seconds=20))
    assert 19 <= session.get_expiry_age() <= 20
    session.set_expiry(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30))
    assert 28 <= session.get_expiry_age() <= 30
    session.set_expiry(0)
    assert session.get_expire_at_browser_close()
    session.set_expiry(None)
    assert session.get_expiry_age() == 1_209_600  # Django's SESSION_COOKIE_AGE default
    assert isinstance(session.get_expiry_date(), dt.datetime)


def test_clear_expired_and_clearsessions(manager: SessionManager) -> None:
    SessionStore.clear_expired()
    call_command("clearsessions")


def test_async_api(session: SessionStore) -> None:
    async def scenario() -> str | None:
        await session.aset("a", 1)
        assert await session.aget("a") == 1
        assert await session.ahas_key("a")
        await session.asave()
        key = session.session_key
        assert key is not None
        assert await session.aexists(key)
        await session.acycle_key()
        await session.asave()
        assert not await session.aexists(key)
        await session.aflush()
        return session.session_key

    assert async_to_sync(scenario)() is None


def test_settings_map_to_a_session_config() -> None:
    config = config_from_settings()
    assert isinstance(config, SessionConfig)
    assert config.cookie.name == COOKIE  # Django's default "sessionid" → __Host-session
    assert config.cookie.secure


# ------------------------------------------------------------------ requests and auth
@pytest.fixture
def ada(db_ready: None) -> User:
    user: User = User.objects.get_or_create(username="ada")[0]
    return user


@pytest.fixture(scope="module")
def db_ready() -> None:
    call_command("migrate", verbosity=0, run_syncdb=True)


def cookie_of(response: object) -> str | None:
    morsel = response.cookies.get(COOKIE)  # type: ignore[attr-defined]
    return morsel.value if morsel is not None else None


def test_auth_login_rotates_and_logout_ends(manager: SessionManager, ada: User) -> None:
    client = Client()
    first = client.get("/django/set?cart=1", secure=True)
    old = cookie_of(first)
    assert old is not None
    login = client.get("/auth/login?user=ada", secure=True)
    assert login.json() == {"user": "ada"}
    new = cookie_of(login)
    assert new not in (None, old)
    assert client.get("/auth/whoami", secure=True).json() == {"user": "ada"}
    stale = Client()
    stale.cookies[COOKIE] = old
    assert stale.get("/auth/whoami", secure=True).json() == {"user": None}
    assert stale.get("/django/get", secure=True).json()["data"] == {}

    out = client.get("/auth/logout", secure=True)
    assert out.json() == {"user": None}
    assert str(out.cookies[COOKIE]["max-age"]) == "0"
    replay = Client()
    replay.cookies[COOKIE] = new
    assert replay.get("/auth/whoami", secure=True).json() == {"user": None}


def test_cookie_attributes_and_anonymous_requests(manager: SessionManager) -> None:
    client = Client()
    anonymous = client.get("/untouched", secure=True)
    assert COOKIE not in anonymous.cookies
    assert client.get("/read", secure=True).json() == {"data": {}}
    created = client.post("/write?a=1", secure=True)
    morsel = created.cookies[COOKIE]
    assert morsel["secure"]
    assert morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    assert created["Cache-Control"] == "no-store"
    assert "Cookie" in created["Vary"]


def test_set_expiry_zero_through_the_api(manager: SessionManager) -> None:
    client = Client()
    response = client.get("/django/expiry?seconds=0", secure=True)
    assert response.json()["expire_at_browser_close"] is True


def test_outage_gives_503_only_where_the_session_is_used() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0", timeout=0.5, retries=0)
    configure(SessionManager(store, session_config()))
    try:
        client = Client()
        client.cookies[COOKIE] = "A" * 43
        assert client.get("/untouched", secure=True).status_code == 200
        failed = client.get("/read", secure=True)
        assert failed.status_code == 503
        assert COOKIE not in failed.cookies
    finally:
        configure(None)
        store.close()


def test_redis_records_are_removed_by_logout(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    configure(SessionManager(store, session_config()))
    try:
        client = Client()
        client.post("/write?a=1", secure=True)
        assert list(redis_admin.scan_iter(match=f"{key_prefix}:*"))
        client.post("/logout", secure=True)
        assert list(redis_admin.scan_iter(match=f"{key_prefix}:*")) == []
    finally:
        configure(None)
        store.close()
