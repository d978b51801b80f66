"""The Django engine and middleware: Django's session contract and sessionary's guarantees.

Session-level tests follow the behaviours of Django's own session test-suite (new session,
mapping methods, save/exists/delete/flush/cycle_key, expiry, invalid keys, clear_expired);
request-level tests drive views with ``django.test.Client`` and ``AsyncClient`` on the memory
store and on Redis. Settings are configured once per process (see the Django driver).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

import pytest
import redis
from django.contrib.auth import (
    aauthenticate,
    alogin,
    alogout,
    authenticate,
    login,
    logout,
)
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from sessionary import ConfigurationError, SessionConfig
from sessionary.config import ConflictPolicy, CookieOptions
from sessionary.exceptions import StoreUnavailableError
from sessionary.integrations.asgi import SessionMiddleware as AsgiSessionMiddleware
from sessionary.integrations.django import (
    SessionStore,
    config_from_settings,
    get_runtime,
    get_session,
)
from sessionary.integrations.django.conf import Runtime
from sessionary.integrations.django.expiry import shape_cookie
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore, MemoryStore, RedisStore
from sessionary.stores.base import AsyncSessionStore
from sessionary.stores.base import SessionStore as SyncSessionStore
from sessionary.stores.memory import MemoryEngine
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests.conformance.drivers.django import MIDDLEWARE, configure_django, reply_of

configure_django()

if TYPE_CHECKING:
    from django.contrib.auth.models import User

COOKIE = "__Host-session"
DOWN_URL = "redis://127.0.0.1:1/0"
PASSWORD = "correct horse"


# --------------------------------------------------------------------------- views


def twin_stores(
    store_kind: str, key_prefix: str, request: Any
) -> tuple[SyncSessionStore, AsyncSessionStore]:
    """A sync and an async store over the same sessions (one engine, or one Redis prefix)."""
    if store_kind == "memory":
        memory = MemoryEngine()
        return MemoryStore(engine=memory), AsyncMemoryStore(engine=memory)
    request.getfixturevalue("redis_admin")
    url = request.getfixturevalue("redis_url")
    return (
        RedisStore.from_url(url, prefix=key_prefix),
        AsyncRedisStore.from_url(url, prefix=key_prefix),
    )


def _data(request: HttpRequest) -> dict[str, Any]:
    session = request.session
    return {key: session[key] for key in session.keys()}  # noqa: SIM118 - SessionBase API


def untouched(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


def read(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"data": _data(request)})


def write(request: HttpRequest) -> HttpResponse:
    for key, value in request.GET.items():
        if key == "expiry":
            request.session.set_expiry(int(str(value)))
        else:
            request.session[key] = value
    return JsonResponse({"data": _data(request)})


def append(request: HttpRequest) -> HttpResponse:
    cart = request.session.setdefault("cart", [])
    cart.append(int(str(request.GET["item"])))
    return JsonResponse({"cart": cart})


def save_midway(request: HttpRequest) -> HttpResponse:
    session = request.session
    session["a"] = "1"
    session.save()  # an explicit save in the middle of the request
    saved = session.session_key is not None
    session["b"] = "2"
    return JsonResponse({"saved": saved})


def flush_then_write(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    request.session["flash"] = "bye"
    return JsonResponse({})


def conflict(request: HttpRequest) -> HttpResponse:
    """Reads ``n``, lets a concurrent writer change it, then writes it (raise policy: 409)."""
    session = request.session
    session.get("n")
    other = SessionStore(session.session_key)
    other["n"] = "theirs"
    other.save()
    session["n"] = "mine"
    return JsonResponse({})


def boom(request: HttpRequest) -> HttpResponse:
    request.session["a"] = "1"
    raise ValueError


def flush_then_boom(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    request.session["after"] = "1"
    raise ValueError


def save_then_boom(request: HttpRequest) -> HttpResponse:
    request.session["a"] = "1"
    request.session.save()
    raise ValueError


def sessionary_login(request: HttpRequest) -> HttpResponse:
    session = get_session(request)
    session.login(str(request.GET["user"]))
    return JsonResponse({"user": session.user_id})


def sign_in(request: HttpRequest) -> HttpResponse:
    user = authenticate(request, username=request.GET["user"], password=PASSWORD)
    if user is None:
        return JsonResponse({}, status=403)
    login(request, user)
    return JsonResponse({"user": user.get_username()})


def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return JsonResponse({})


def whoami(request: HttpRequest) -> HttpResponse:
    user = request.user
    return JsonResponse({"user": user.get_username() if user.is_authenticated else None})


async def async_write(request: HttpRequest) -> HttpResponse:
    for key, value in request.GET.items():
        await request.session.aset(key, value)
    return JsonResponse({"data": dict(await request.session.aitems())})


async def async_read(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"data": dict(await request.session.aitems())})


async def async_conflict(request: HttpRequest) -> HttpResponse:
    session = request.session
    await session.aget("n")
    other = SessionStore(session.session_key)
    await other.aset("n", "theirs")
    await other.asave()
    await session.aset("n", "mine")
    return JsonResponse({})


async def async_rotate(request: HttpRequest) -> HttpResponse:
    """Rotation inside the middleware is deferred; ``aexists`` carries it out first."""
    session = request.session
    old = session.session_key
    await session.acycle_key()
    assert old is not None
    return JsonResponse({"old_gone": not await session.aexists(old)})


async def async_sign_in(request: HttpRequest) -> HttpResponse:
    user = await aauthenticate(request, username=request.GET["user"], password=PASSWORD)
    assert user is not None
    await alogin(request, user)
    return JsonResponse({"user": user.get_username()})


async def async_sign_out(request: HttpRequest) -> HttpResponse:
    await alogout(request)
    return JsonResponse({})


async def async_whoami(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return JsonResponse({"user": user.get_username() if user.is_authenticated else None})


urlpatterns = [
    path("untouched", untouched),
    path("read", read),
    path("write", write),
    path("append", append),
    path("save-midway", save_midway),
    path("flush-then-write", flush_then_write),
    path("login", sign_in),
    path("logout", sign_out),
    path("whoami", whoami),
    path("conflict", conflict),
    path("boom", boom),
    path("save-then-boom", save_then_boom),
    path("flush-then-boom", flush_then_boom),
    path("sessionary-login", sessionary_login),
    path("async/conflict", async_conflict),
    path("async/rotate", async_rotate),
    path("async/write", async_write),
    path("async/read", async_read),
    path("async/login", async_sign_in),
    path("async/logout", async_sign_out),
    path("async/whoami", async_whoami),
]


# --------------------------------------------------------------------------- fixtures
def _sessionary(
    config: SessionConfig,
    store: SyncSessionStore | None,
    async_store: AsyncSessionStore | None = None,
    observer: CapturingObserver | None = None,
) -> Any:
    return override_settings(
        ROOT_URLCONF=__name__,
        MIDDLEWARE=MIDDLEWARE,
        SESSIONARY={
            "CONFIG": config,
            "STORE": store,
            "ASYNC_STORE": async_store,
            "OBSERVER": observer,
        },
    )


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(
    store_kind: str, request: pytest.FixtureRequest, key_prefix: str
) -> Iterator[SyncSessionStore]:
    if store_kind == "memory":
        yield MemoryStore()
        return
    request.getfixturevalue("redis_admin")  # deletes this test's keys afterwards
    redis_store = RedisStore.from_url(request.getfixturevalue("redis_url"), prefix=key_prefix)
    yield redis_store
    redis_store.close()


@pytest.fixture
def observer() -> CapturingObserver:
    return CapturingObserver()


@pytest.fixture
def engine(
    store: SyncSessionStore, config: SessionConfig, observer: CapturingObserver
) -> Iterator[None]:
    """sessionary's engine on ``store`` with the FakeClock config."""
    with _sessionary(config, store, observer=observer):
        yield


@pytest.fixture
def client(engine: None) -> Client:
    return Client()


@pytest.fixture(scope="module")
def database() -> None:
    call_command("migrate", verbosity=0, interactive=False)


@pytest.fixture
def user(database: None) -> User:
    from django.contrib.auth.models import User  # noqa: PLC0415 - needs configured settings

    name = f"ada-{uuid.uuid4().hex[:8]}"
    created: User = User.objects.create_user(name, password=PASSWORD)
    return created


def send(client: Client, method: str, url: str, token: str | None = None) -> Any:
    """A request presenting ``token`` (or nothing): the client's cookie jar is reset."""
    client.cookies = SimpleCookie({COOKIE: token} if token else {})
    return client.generic(method, url, secure=True)


async def asend(client: AsyncClient, method: str, url: str, token: str | None = None) -> Any:
    client.cookies = SimpleCookie({COOKIE: token} if token else {})
    return await client.generic(method, url, secure=True)


def cookie_of(response: Any) -> str | None:
    """The session cookie a response sets (``""`` when it clears it), else ``None``."""
    morsel = response.cookies.get(COOKIE)
    return None if morsel is None else str(morsel.value)


def cookie_line(response: Any) -> str:
    morsel = response.cookies[COOKIE]
    return str(morsel.OutputString())


def stored_keys(request: pytest.FixtureRequest, prefix: str) -> list[bytes]:
    admin: redis.Redis = request.getfixturevalue("redis_admin")
    return list(admin.scan_iter(match=f"{prefix}:*"))


# --------------------------------------------------------------------------- SessionBase
def test_a_new_session_is_empty(engine: None) -> None:
    session = SessionStore()
    assert session.modified is False
    assert session.accessed is False
    assert session.session_key is None
    assert session.is_empty()
    assert session.get("cat") is None
    assert "cat" not in session
    assert session.accessed is True
    assert session.modified is False
    assert session.load() == {}


def test_mapping_methods(engine: None) -> None:
    session = SessionStore()
    session["cat"] = "cheshire"
    assert session.modified is True
    assert session["cat"] == "cheshire"
    assert session.get("cat") == "cheshire"
    assert session.get("dog", "rex") == "rex"
    assert session.has_key("cat")
    assert session.setdefault("cat", "other") == "cheshire"
    assert session.setdefault("mouse", "jerry") == "jerry"
    session.update({"owl": "hedwig", "count": 1})
    assert sorted(session.keys()) == ["cat", "count", "mouse", "owl"]
    assert sorted(map(str, session.values())) == ["1", "cheshire", "hedwig", "jerry"]
    assert dict(session.items())["owl"] == "hedwig"
    assert session.pop("owl") == "hedwig"
    assert session.pop("owl", "gone") == "gone"
    with pytest.raises(KeyError):
        session.pop("owl")
    del session["mouse"]
    assert "mouse" not in session
    session.clear()
    assert list(session.keys()) == []
    assert session.modified is True


def test_pop_of_a_missing_key_does_not_modify(engine: None) -> None:
    session = SessionStore()
    assert session.pop("nothing", None) is None
    assert session.modified is False


def test_save_exists_and_reload(engine: None) -> None:
    session = SessionStore()
    session["cart"] = [1, 2]
    session.save()
    key = session.session_key
    assert key is not None
    assert len(key) == 43
    assert session.modified is True  # as with Django's backends: save() leaves the flag
    assert session.exists(key)
    again = SessionStore(key)
    assert again["cart"] == [1, 2]
    again["cart"].append(3)  # nested mutation, no ``modified = True`` needed
    again.save()
    assert again.session_key == key
    assert SessionStore(key).load() == {"cart": [1, 2, 3]}


def test_an_empty_session_is_never_stored(engine: None) -> None:
    session = SessionStore()
    session.save()
    session.create()
    assert session.session_key is None
    assert not session.exists("A" * 43)


def test_must_create_refuses_a_session_that_has_a_record(engine: None) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save(must_create=True)
    with pytest.raises(CreateError):
        session.save(must_create=True)


def test_save_after_a_logout_elsewhere_raises_update_error(engine: None) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    key = session.session_key
    stale = SessionStore(key)
    stale["b"] = 2
    SessionStore(key).flush()
    with pytest.raises(UpdateError):
        stale.save()
    assert stale.session_key is None


def test_delete(engine: None) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    key = session.session_key
    assert key is not None
    session.delete(key)
    assert session.session_key is None
    assert not session.exists(key)
    assert SessionStore(key).load() == {}


def test_delete_another_key_and_a_missing_one(engine: None) -> None:
    other = SessionStore()
    other["a"] = 1
    other.save()
    key = other.session_key
    assert key is not None
    session = SessionStore()
    session.delete("A" * 43)  # unknown: nothing happens
    session.delete("not a key")
    session.delete()  # no session yet: nothing happens
    session.delete(key)
    assert not session.exists(key)


def test_flush(engine: None) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    old = session.session_key
    assert old is not None
    session.flush()
    assert session.session_key is None
    assert "a" not in session
    assert not session.exists(old)
    session["b"] = 2
    session.save()
    assert session.session_key not in (None, old)
    assert SessionStore(session.session_key).load() == {"b": 2}


def test_cycle_key_keeps_data_and_kills_the_old_key(engine: None) -> None:
    session = SessionStore()
    session["a"], session["b"] = "c", "d"
    session.save()
    old = session.session_key
    assert old is not None
    before = sorted(session.items())
    session.cycle_key()
    assert not session.exists(old)
    assert session.session_key not in (None, old)
    assert sorted(session.items()) == before
    assert SessionStore(old).load() == {}
    assert sorted(SessionStore(session.session_key).items()) == before


def test_cycle_key_of_a_new_session_issues_no_key(engine: None) -> None:
    session = SessionStore()
    session.cycle_key()
    assert session.session_key is None
    session["a"] = 1
    session.save()
    assert session.session_key is not None


@pytest.mark.parametrize(
    "key",
    ["", "short", "x" * 8, "A" * 42, "A" * 42 + "B", "A" * 44, "/" * 43, "é" * 43],
)
def test_malformed_keys_are_not_keys(engine: None, key: str) -> None:
    session = SessionStore(key)
    assert session.session_key is None
    assert session.load() == {}
    assert not session.exists(key)


def test_an_unknown_key_loads_as_a_new_empty_session(engine: None) -> None:
    session = SessionStore("A" * 43)
    assert session.session_key == "A" * 43  # well-formed, not yet looked up
    assert session.load() == {}
    assert session.session_key is None
    session["a"] = 1
    session.save()
    assert session.session_key not in (None, "A" * 43)  # a presented ID is never adopted


def test_session_key_validation_on_assignment(engine: None) -> None:
    session = SessionStore()
    session._session_key = "too short"
    assert session.session_key is None
    assert session._session_key is None
    session._session_key = "A" * 43
    assert session.session_key == "A" * 43


def test_decode_of_garbage_is_an_empty_dict(engine: None) -> None:
    assert SessionStore().decode("not a signed payload") == {}


@pytest.mark.parametrize("store_kind", ["redis"])
def test_a_tampered_value_refuses_the_whole_record(
    engine: None, request: pytest.FixtureRequest, key_prefix: str
) -> None:
    session = SessionStore()
    session["good"] = 1
    session["bad"] = 2
    session.save()
    (key,) = stored_keys(request, key_prefix)
    admin: redis.Redis = request.getfixturevalue("redis_admin")
    admin.hset(key, "bad", b"\xc1 not a value")
    assert SessionStore(session.session_key).load() == {}  # never half a session
    assert stored_keys(request, key_prefix) == []  # the corrupt record is deleted


def test_a_session_that_timed_out_loads_empty(engine: None, clock: FakeClock) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    key = session.session_key
    clock.advance(31 * 60)  # past the 30 min idle timeout
    late = SessionStore(key)
    assert late.load() == {}
    assert late.session_key is None


# --------------------------------------------------------------------------- expiry
def _at(clock: FakeClock, seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(clock() + seconds, tz=dt.timezone.utc)


def test_default_expiry_is_the_idle_timeout(engine: None) -> None:
    session = SessionStore()
    assert session.get_expiry_age() == 30 * 60
    now = dt.datetime.now(dt.timezone.utc)
    assert session.get_expiry_date(modification=now) == now + dt.timedelta(minutes=30)
    assert session.get_expire_at_browser_close() is False


@pytest.mark.parametrize("kind", ["seconds", "timedelta", "datetime"])
def test_custom_expiry_in_seconds_timedelta_or_datetime(engine: None, kind: str) -> None:
    session = SessionStore()
    now = dt.datetime.now(dt.timezone.utc)
    expiries: dict[str, int | dt.timedelta | dt.datetime] = {
        "seconds": 10,
        "timedelta": dt.timedelta(seconds=10),
        "datetime": now + dt.timedelta(seconds=10),
    }
    session.set_expiry(expiries[kind])
    assert 9 <= session.get_expiry_age(modification=now) <= 10
    delta = session.get_expiry_date(modification=now) - now
    assert 9 <= delta.total_seconds() < 11
    assert session.get_expire_at_browser_close() is False


def test_expiry_zero_means_browser_close_and_none_resets(engine: None) -> None:
    session = SessionStore()
    session.set_expiry(0)
    assert session.get_expire_at_browser_close() is True
    assert session.get_expiry_age() == 30 * 60
    session.set_expiry(60)
    session.set_expiry(None)
    assert session.get_expiry_age() == 30 * 60
    assert session.get_expire_at_browser_close() is False
    session.set_expiry(None)  # removing an absent expiry is fine


def test_browser_close_default_follows_the_cookie_configuration(store: SyncSessionStore) -> None:
    config = session_config(cookie=CookieOptions(persistent=False))
    with _sessionary(config, store):
        session = SessionStore()
        assert session.get_expire_at_browser_close() is True
        session.set_expiry(300)
        assert session.get_expire_at_browser_close() is False


def test_a_custom_expiry_date_ends_the_session(engine: None, clock: FakeClock) -> None:
    session = SessionStore()
    session["a"] = 1
    session.set_expiry(_at(clock, 60))
    session.save()
    key = session.session_key
    clock.advance(30)
    assert SessionStore(key).get("a") == 1
    clock.advance(31)
    late = SessionStore(key)
    assert late.get("a") is None
    assert late.session_key is None
    assert not late.exists(key)  # the pending destruction was carried out


def test_shape_cookie() -> None:
    base = "__Host-session=v; Max-Age=600; Path=/; Secure; HttpOnly; SameSite=Lax"
    assert shape_cookie(base, None, now=0, cap=43200) == base
    assert shape_cookie(base, 0, now=0, cap=43200) == (
        "__Host-session=v; Path=/; Secure; HttpOnly; SameSite=Lax"
    )
    assert "Max-Age=60;" in shape_cookie(base, 60, now=0, cap=43200)
    assert "Max-Age=600;" in shape_cookie(base, 9999, now=0, cap=43200)  # never longer
    date = dt.datetime.fromtimestamp(100, tz=dt.timezone.utc).isoformat()
    assert "Max-Age=90;" in shape_cookie(base, date, now=10, cap=43200)
    assert shape_cookie(base, "not a date", now=0, cap=43200) == base
    assert shape_cookie(base, True, now=0, cap=43200) == base
    session_cookie = "__Host-session=v; Path=/; Secure; HttpOnly; SameSite=Lax"
    assert "Max-Age=300;" in shape_cookie(session_cookie, 300, now=0, cap=43200)


# --------------------------------------------------------------------------- maintenance
def test_clear_expired_sweeps_the_memory_store(config: SessionConfig, clock: FakeClock) -> None:
    store = MemoryStore()
    with _sessionary(config, store):
        session = SessionStore()
        session["a"] = 1
        session.save()
        assert len(store.engine) == 1
        SessionStore.clear_expired()
        assert len(store.engine) == 1
        clock.advance(13 * 3600)
        SessionStore.clear_expired()
        assert len(store.engine) == 0


def _assert_swept(store: SyncSessionStore, expired: str, live: str, records_before: int) -> None:
    """The memory store dropped the expired record (Redis expires keys by TTL: nothing to
    sweep); on either, the expired session is gone and the live one intact."""
    if isinstance(store, MemoryStore):
        assert (records_before, len(store.engine)) == (2, 1)
    assert not SessionStore().exists(expired)
    assert SessionStore(live).load() == {"a": 2}


@pytest.mark.anyio
async def test_aclear_expired(engine: None, store: SyncSessionStore, clock: FakeClock) -> None:
    old = SessionStore()
    await old.aset("a", 1)
    await old.asave()
    clock.advance(31 * 60 + 3600)  # past the idle timeout and the hour of expiry_notice
    new = SessionStore()
    await new.aset("a", 2)
    await new.asave()
    assert old.session_key is not None
    assert new.session_key is not None
    before = len(store.engine) if isinstance(store, MemoryStore) else 2
    await SessionStore.aclear_expired()
    _assert_swept(store, old.session_key, new.session_key, before)


def test_clearsessions_command_runs(
    engine: None, store: SyncSessionStore, clock: FakeClock
) -> None:
    old = SessionStore()
    old["a"] = 1
    old.save()
    clock.advance(31 * 60 + 3600)
    new = SessionStore()
    new["a"] = 2
    new.save()
    assert old.session_key is not None
    assert new.session_key is not None
    before = len(store.engine) if isinstance(store, MemoryStore) else 2
    call_command("clearsessions")
    _assert_swept(store, old.session_key, new.session_key, before)


# --------------------------------------------------------------------------- requests
def test_cookie_attributes(client: Client) -> None:
    response = send(client, "POST", "/write?a=1")
    assert response.status_code == 200
    token = cookie_of(response)
    assert token is not None
    assert len(token) == 43
    line = cookie_line(response).lower()
    for attribute in ("path=/", "secure", "httponly", "samesite=lax"):
        assert attribute in line
    assert "domain" not in line
    max_age = int(response.cookies[COOKIE]["max-age"])
    assert 0 < max_age <= 12 * 3600
    assert response["Cache-Control"] == "no-store"
    assert "Cookie" in response["Vary"]
    assert response.content.find(token.encode()) == -1  # the ID travels only in Set-Cookie


def test_anonymous_requests_write_nothing(
    client: Client, store_kind: str, request: pytest.FixtureRequest, key_prefix: str
) -> None:
    for method, url in (("GET", "/untouched"), ("GET", "/read"), ("GET", "/whoami")):
        response = send(client, method, url)
        assert response.status_code == 200
        assert cookie_of(response) is None
    response = send(client, "POST", "/logout")
    assert cookie_of(response) is None
    assert not response.has_header("Vary") or "Cookie" in response["Vary"]
    if store_kind == "redis":
        assert stored_keys(request, key_prefix) == []


def test_untouched_views_send_no_vary(client: Client) -> None:
    token = cookie_of(send(client, "POST", "/write?a=1"))
    response = send(client, "GET", "/untouched", token)
    assert cookie_of(response) is None
    assert not response.has_header("Vary")
    assert send(client, "GET", "/read", token)["Vary"] == "Cookie"


def test_round_trips(client: Client, observer: CapturingObserver) -> None:
    send(client, "GET", "/read")
    assert observer.operations == []  # no ID: no store call
    token = cookie_of(send(client, "POST", "/write?a=1"))
    observer.operations.clear()
    send(client, "GET", "/read", token)
    assert [name for name, _, _ in observer.operations] == ["load"]
    observer.operations.clear()
    send(client, "POST", "/write?b=2", token)
    assert [name for name, _, _ in observer.operations] == ["load", "update"]


def test_nested_mutation_is_saved(client: Client) -> None:
    token = cookie_of(send(client, "POST", "/append?item=1"))
    assert token
    assert send(client, "POST", "/append?item=2", token).json() == {"cart": [1, 2]}
    assert send(client, "GET", "/read", token).json() == {"data": {"cart": [1, 2]}}


def test_auth_login_rotates_in_one_write_and_the_old_id_stops_working(
    client: Client, user: User, observer: CapturingObserver
) -> None:
    first = cookie_of(send(client, "POST", "/write?cart=1"))
    assert first
    observer.operations.clear()
    response = send(client, "POST", f"/login?user={user.username}", first)
    assert response.json() == {"user": user.username}
    assert [name for name, _, _ in observer.operations] == ["load", "update"]
    second = cookie_of(response)
    assert second not in (None, "", first)
    assert send(client, "GET", "/whoami", second).json() == {"user": user.username}
    assert send(client, "GET", "/read", second).json()["data"]["cart"] == "1"
    assert send(client, "GET", "/whoami", first).json() == {"user": None}
    assert send(client, "GET", "/read", first).json() == {"data": {}}
    assert SessionStore(second).user_id == str(user.pk)  # sessionary's user_id, too


def test_auth_logout_clears_the_record_and_the_cookie(
    client: Client,
    user: User,
    store_kind: str,
    request: pytest.FixtureRequest,
    key_prefix: str,
) -> None:
    token = cookie_of(send(client, "POST", f"/login?user={user.username}"))
    assert token
    response = send(client, "POST", "/logout", token)
    assert response.status_code == 200
    assert cookie_of(response) == ""
    assert response.cookies[COOKIE]["max-age"] == "0"
    assert response["Cache-Control"] == "no-store"
    assert send(client, "GET", "/whoami", token).json() == {"user": None}
    assert not SessionStore().exists(token)
    if store_kind == "redis":
        assert stored_keys(request, key_prefix) == []


def test_writes_after_flush_go_to_a_new_session(client: Client) -> None:
    token = cookie_of(send(client, "POST", "/write?a=1"))
    assert token
    response = send(client, "POST", "/flush-then-write", token)
    fresh = cookie_of(response)
    assert fresh not in (None, "", token)
    assert send(client, "GET", "/read", fresh).json() == {"data": {"flash": "bye"}}
    assert send(client, "GET", "/read", token).json() == {"data": {}}


def test_a_save_inside_the_view_and_later_writes_make_one_session(client: Client) -> None:
    response = send(client, "POST", "/save-midway")
    assert response.json() == {"saved": True}
    token = cookie_of(response)
    assert token
    assert send(client, "GET", "/read", token).json() == {"data": {"a": "1", "b": "2"}}


def test_set_expiry_shapes_the_cookie(client: Client) -> None:
    browser = send(client, "POST", "/write?a=1&expiry=0")
    assert "max-age" not in cookie_line(browser).lower()
    short = send(client, "POST", "/write?a=1&expiry=60")
    assert short.cookies[COOKIE]["max-age"] == "60"


def test_test_client_force_login_and_logout(client: Client, user: User) -> None:
    client.force_login(user)
    assert client.get("/whoami", secure=True).json() == {"user": user.username}
    token = client.cookies[COOKIE].value
    client.logout()
    client.cookies = SimpleCookie({COOKIE: token})
    assert client.get("/whoami", secure=True).json() == {"user": None}


def test_django_own_middleware_works_with_this_engine(
    store: SyncSessionStore, config: SessionConfig, user: User
) -> None:
    stock = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    with _sessionary(config, store), override_settings(MIDDLEWARE=stock):
        client = Client()
        token = cookie_of(send(client, "POST", "/write?a=1"))
        assert token
        assert len(token) == 43
        assert send(client, "GET", "/read", token).json() == {"data": {"a": "1"}}
        assert cookie_of(send(client, "GET", "/untouched", token)) is None
        login_response = send(client, "POST", f"/login?user={user.username}", token)
        second = cookie_of(login_response)
        assert second not in (None, token)
        assert send(client, "GET", "/whoami", token).json() == {"user": None}
        assert send(client, "GET", "/whoami", second).json() == {"user": user.username}
        assert cookie_of(send(client, "POST", "/logout", second)) == ""
        assert not SessionStore().exists(second)


def test_store_outage_answers_503_only_where_the_session_is_used(config: SessionConfig) -> None:
    down = RedisStore.from_url(DOWN_URL, prefix="down", timeout=0.5, retries=0)
    try:
        with _sessionary(config, down):
            client = Client()
            assert send(client, "GET", "/untouched").status_code == 200
            token = "A" * 43
            assert send(client, "GET", "/untouched", token).status_code == 200
            failed = send(client, "GET", "/read", token)
            assert failed.status_code == 503
            assert failed.cookies.get(COOKIE) is None
            assert failed["Cache-Control"] == "no-store"
            assert send(client, "POST", "/write?a=1").status_code == 503
            assert send(client, "POST", "/logout", token).status_code == 503
            unavailable = SessionStore(token)
            with pytest.raises(StoreUnavailableError):
                unavailable.load()
            assert unavailable.session_key == token  # kept: the store could not say
            assert not unavailable.is_empty()  # so Django's middleware keeps the cookie
    finally:
        down.close()


class _TouchesTheSession:
    """A middleware below sessionary's that reads the session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.session.get("anything")
        return self.get_response(request)


def test_an_inner_middleware_touching_a_down_store_gets_503(config: SessionConfig) -> None:
    down = RedisStore.from_url(DOWN_URL, prefix="down", timeout=0.5, retries=0)
    inner = [MIDDLEWARE[0], f"{__name__}._TouchesTheSession"]
    try:
        with _sessionary(config, down), override_settings(MIDDLEWARE=inner):
            client = Client(raise_request_exception=False)
            assert send(client, "GET", "/untouched", "A" * 43).status_code == 503
    finally:
        down.close()


def test_header_transport(store: SyncSessionStore) -> None:
    config = session_config(transport="header")
    with _sessionary(config, store):
        client = Client()
        created = client.post("/write?a=1", secure=True)
        token = created["X-Session-Token"]
        assert len(token) == 43
        assert COOKIE not in created.cookies
        headers = {"X-Session-Token": token}
        read_back = client.get("/read", secure=True, headers=headers)
        assert read_back.json() == {"data": {"a": "1"}}
        assert SessionStore(token).load() == {"a": "1"}
        assert client.get("/read", secure=True, headers={"Cookie": f"{COOKIE}={token}"}).json() == {
            "data": {}
        }


def test_a_refused_commit_answers_409(store: SyncSessionStore) -> None:
    with _sessionary(session_config(conflict_policy=ConflictPolicy.RAISE), store):
        client = Client()
        token = cookie_of(send(client, "POST", "/write?n=0"))
        refused = send(client, "POST", "/conflict", token)
        assert refused.status_code == 409
        assert cookie_of(refused) is None
        assert send(client, "GET", "/read", token).json() == {"data": {"n": "theirs"}}


def test_partitioned_cookies_are_sent_as_rendered(store: SyncSessionStore) -> None:
    config = session_config(cookie=CookieOptions(partitioned=True))
    with _sessionary(config, store):
        response = send(Client(), "POST", "/write?a=1")
        assert COOKIE not in response.cookies  # SimpleCookie cannot hold Partitioned
        assert response["Set-Cookie"].startswith(f"{COOKIE}=")
        assert "Partitioned" in response["Set-Cookie"]


def test_other_view_errors_stay_500_and_write_nothing(
    client: Client, observer: CapturingObserver
) -> None:
    failed = Client(raise_request_exception=False).post("/boom", secure=True)
    assert failed.status_code == 500
    assert COOKIE not in failed.cookies
    assert observer.operations == []


def test_a_propagated_error_still_commits_the_logout(client: Client) -> None:
    """``DEBUG_PROPAGATE_EXCEPTIONS``: no response reaches the middleware; the flush holds."""
    token = cookie_of(send(client, "POST", "/write?a=1"))
    assert token
    with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=True), pytest.raises(ValueError):
        send(client, "POST", "/flush-then-boom", token)
    assert SessionStore(token).load() == {}
    assert not SessionStore().exists(token)


def test_a_commit_made_before_a_crash_keeps_its_cookie(client: Client) -> None:
    failed = Client(raise_request_exception=False).post("/save-then-boom", secure=True)
    assert failed.status_code == 500
    token = cookie_of(failed)
    assert token
    assert SessionStore(token).load() == {"a": "1"}


def test_sessionary_login_in_a_view(client: Client, observer: CapturingObserver) -> None:
    token = cookie_of(send(client, "POST", "/write?a=1"))
    observer.operations.clear()
    response = send(client, "POST", "/sessionary-login?user=grace", token)
    assert response.json() == {"user": "grace"}
    assert [name for name, _, _ in observer.operations] == ["load", "update"]
    rotated = cookie_of(response)
    assert rotated not in (None, "", token)
    assert SessionStore(rotated).user_id == "grace"


def test_get_session_needs_this_engine() -> None:
    request = HttpRequest()
    with pytest.raises(ConfigurationError):
        get_session(request)


def test_sessionary_api_on_the_store(engine: None) -> None:
    session = SessionStore()
    session["a"] = 1
    session.login("ada")
    key = session.session_key
    assert key is not None
    assert SessionStore(key).user_id == "ada"
    session.rotate()
    assert session.session_key not in (None, key)
    assert session.sessionary["a"] == 1
    session.logout()
    assert session.user_id is None


# --------------------------------------------------------------------------- settings
def test_settings_are_mapped() -> None:
    with override_settings(
        SESSIONARY={"IDLE_TIMEOUT": 600, "ABSOLUTE_TIMEOUT": dt.timedelta(hours=2)},
        SESSION_COOKIE_NAME="sessionid",
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_EXPIRE_AT_BROWSER_CLOSE=True,
        SECRET_KEY_FALLBACKS=["k3P9vQz1Lr8xWm2Tq7Yb4Nc6Hd0Jf5Gs_aZeRuIoVy"],
    ):
        config = config_from_settings()
    assert config.cookie.name == "__Host-session"
    assert config.cookie.secure is True  # Django's SESSION_COOKIE_SECURE=False is not enough
    assert config.cookie.samesite == "strict"
    assert config.cookie.persistent is False
    assert config.idle_timeout_ms == 600_000
    assert config.absolute_timeout_ms == 7_200_000
    assert len(config.secrets) == 2
    with override_settings(
        SESSION_COOKIE_AGE=3600, SESSION_COOKIE_NAME="app-session", SESSION_COOKIE_SAMESITE="None"
    ):
        config = config_from_settings()
    assert config.cookie.samesite == "none"
    assert config.idle_timeout_ms == 3_600_000
    assert config.absolute_timeout_ms == 12 * 3_600_000
    assert config.cookie.name == "app-session"


def test_insecure_cookies_need_the_development_flag() -> None:
    insecure = {"INSECURE_DEVELOPMENT_MODE": True, "TRANSPORT": "cookie"}
    with override_settings(
        SESSIONARY=insecure, SESSION_COOKIE_NAME="dev-session", SESSION_COOKIE_SECURE=False
    ):
        assert config_from_settings().cookie.secure is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SESSION_COOKIE_HTTPONLY": False}, "HTTPONLY"),
        ({"SECRET_KEY": "django-insecure-0123456789abcdefghijklmnop"}, "SECRET_KEYS"),
        ({"SESSION_COOKIE_SAMESITE": "Sometimes"}, "SAMESITE"),
        ({"SESSION_COOKIE_AGE": "long"}, "SESSION_COOKIE_AGE"),
        ({"SESSIONARY": ["not", "a", "dict"]}, "dict"),
        ({"SESSIONARY": {"CONFIG": "not a config"}}, "CONFIG"),
        ({"SESSIONARY": {"SECRET_KEYS": ["short"]}}, "secret_keys"),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with override_settings(**overrides), pytest.raises(ConfigurationError, match=message):
        config_from_settings()


@pytest.mark.anyio
async def test_store_settings(redis_url: str, key_prefix: str) -> None:
    with override_settings(SESSIONARY={}):
        runtime = get_runtime()
        assert isinstance(runtime.store, MemoryStore)
        assert runtime.async_manager is not None
        assert isinstance(runtime.async_manager.store, AsyncMemoryStore)
    with override_settings(SESSIONARY={"STORE_URL": redis_url, "PREFIX": key_prefix}):
        runtime = get_runtime()
        assert isinstance(runtime.store, RedisStore)
    engine_store = AsyncMemoryStore()
    with override_settings(SESSIONARY={"ASYNC_STORE": engine_store}):
        runtime = get_runtime()
        assert isinstance(runtime.store, MemoryStore)
        assert runtime.store.engine is engine_store.engine
    with pytest.raises(ConfigurationError, match="needs a store"):
        Runtime(session_config(), None, None)
    async_only = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    try:
        with (
            override_settings(SESSIONARY={"ASYNC_STORE": async_only}),
            pytest.raises(ConfigurationError, match="sync store"),
        ):
            get_runtime().manager  # noqa: B018 - the property raises
    finally:
        await async_only.aclose()


# --------------------------------------------------------------------------- async
@pytest.fixture
async def async_engine(
    store_kind: str, config: SessionConfig, request: pytest.FixtureRequest, key_prefix: str
) -> AsyncIterator[None]:
    """Both stores of one kind (sharing the sessions), created in the test's event loop."""
    store, async_store = twin_stores(store_kind, key_prefix, request)
    with _sessionary(config, store, async_store):
        yield
    store.close()
    await async_store.aclose()


@pytest.mark.anyio
async def test_async_views(async_engine: None) -> None:
    client = AsyncClient()
    created = await asend(client, "POST", "/async/write?a=1")
    token = cookie_of(created)
    assert token
    assert (await asend(client, "GET", "/async/read", token)).json() == {"data": {"a": "1"}}
    assert (await asend(client, "GET", "/read", token)).json() == {"data": {"a": "1"}}  # sync view
    untouched_reply = await asend(client, "GET", "/untouched", token)
    assert cookie_of(untouched_reply) is None


@pytest.mark.anyio
async def test_several_cookie_lines_under_asgi(async_engine: None) -> None:
    """HTTP/2 splits ``Cookie``; Django's META would join the lines with ``,`` (R23)."""
    client = AsyncClient()
    token = cookie_of(await asend(client, "POST", "/async/write?a=1"))
    client.cookies = SimpleCookie({"theme": "dark"})  # sent as a second Cookie line
    reply = await client.get("/async/read", secure=True, headers={"Cookie": f"{COOKIE}={token}"})
    assert reply.json() == {"data": {"a": "1"}}


@pytest.mark.anyio
async def test_async_login_and_logout(async_engine: None, user: User) -> None:
    client = AsyncClient()
    first = cookie_of(await asend(client, "POST", "/async/write?cart=1"))
    login_response = await asend(client, "POST", f"/async/login?user={user.username}", first)
    second = cookie_of(login_response)
    assert second not in (None, "", first)
    assert (await asend(client, "GET", "/async/whoami", second)).json() == {"user": user.username}
    assert (await asend(client, "GET", "/async/whoami", first)).json() == {"user": None}
    assert (await asend(client, "GET", "/async/read", second)).json()["data"]["cart"] == "1"
    logout_response = await asend(client, "POST", "/async/logout", second)
    assert cookie_of(logout_response) == ""
    assert (await asend(client, "GET", "/async/whoami", second)).json() == {"user": None}


@pytest.mark.anyio
async def test_async_session_api(async_engine: None) -> None:
    session = SessionStore()
    await session.aset("a", 1)
    assert await session.aget("a") == 1
    await session.aset_expiry(60)
    assert await session.aget_expiry_age() == 60
    assert await session.aget_expire_at_browser_close() is False
    await session.asave()
    key = session.session_key
    assert key is not None
    assert await session.aexists(key)
    assert await SessionStore(key).aload() == {"a": 1, "_session_expiry": 60}
    await session.acycle_key()
    assert session.session_key not in (None, key)
    assert not await session.aexists(key)
    rotated = session.session_key
    assert rotated is not None
    await session.aflush()
    assert not await session.aexists(rotated)
    assert session.session_key is None
    other = SessionStore()
    await other.aset("b", 2)
    await other.asave()
    other_key = other.session_key
    assert other_key is not None
    await session.adelete(other_key)
    assert not await session.aexists(other_key)
    await other.acreate()
    assert other.session_key is None
    again = SessionStore()
    await again.aset("c", 3)
    await again.asave()
    with pytest.raises(CreateError):
        await again.asave(must_create=True)
    await again.adelete()
    assert not await again.aexists(again.session_key)
    await again.adelete()  # nothing left: nothing to do
    await again.adelete("A" * 43)  # unknown: nothing to do
    await again.adelete("not a key")
    live = SessionStore()
    await live.aset("d", 4)
    await live.asave()
    stale = SessionStore(live.session_key)
    await stale.aset("e", 5)  # loaded before the logout below
    await SessionStore(live.session_key).aflush()
    with pytest.raises(UpdateError):
        await stale.asave()


@pytest.mark.anyio
async def test_async_rotation_and_conflict(store_kind: str, key_prefix: str, request: Any) -> None:
    store, async_store = twin_stores(store_kind, key_prefix, request)
    config = session_config(conflict_policy=ConflictPolicy.RAISE)
    try:
        with _sessionary(config, store, async_store):
            client = AsyncClient()
            token = cookie_of(await asend(client, "POST", "/async/write?n=0"))
            rotated = await asend(client, "POST", "/async/rotate", token)
            assert rotated.json() == {"old_gone": True}
            fresh = cookie_of(rotated)
            assert fresh not in (None, "", token)
            refused = await asend(client, "POST", "/async/conflict", fresh)
            assert refused.status_code == 409
    finally:
        store.close()
        await async_store.aclose()


@pytest.mark.anyio
async def test_async_mode_with_only_a_sync_store(
    config: SessionConfig, redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    """Without an async store, async code runs the sync store in a thread."""
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    try:
        with _sessionary(config, store):
            client = AsyncClient()
            token = cookie_of(await asend(client, "POST", "/async/write?a=1"))
            assert token
            reply = await asend(client, "GET", "/async/read", token)
            assert reply.json() == {"data": {"a": "1"}}
            session = SessionStore(token)
            assert await session.aget("a") == "1"
            other = SessionStore()
            await other.aset("b", 2)
            await other.asave()
            assert other.session_key is not None
            assert await session.aexists(other.session_key)
            await session.adelete(other.session_key)
            assert not await session.aexists(other.session_key)
    finally:
        store.close()


@pytest.mark.anyio
async def test_async_store_outage_answers_503(config: SessionConfig) -> None:
    down = RedisStore.from_url(DOWN_URL, prefix="down", timeout=0.5, retries=0)
    async_down = AsyncRedisStore.from_url(DOWN_URL, prefix="down", timeout=0.5, retries=0)
    try:
        with _sessionary(config, down, async_down):
            client = AsyncClient()
            assert (await asend(client, "GET", "/untouched", "A" * 43)).status_code == 200
            failed = await asend(client, "GET", "/async/read", "A" * 43)
            assert failed.status_code == 503
            assert cookie_of(failed) is None
            assert (await asend(client, "POST", "/async/write?a=1")).status_code == 503
    finally:
        down.close()
        await async_down.aclose()


@pytest.mark.anyio
async def test_async_client_force_login(async_engine: None, user: User) -> None:
    client = AsyncClient()
    await client.aforce_login(user)
    assert (await client.get("/async/whoami", secure=True)).json() == {"user": user.username}


# --------------------------------------------------------------------------- sharing
async def _asgi(app: Any, method: str, url: str, token: str | None = None) -> Any:
    """One request to a raw ASGI app: (status, Set-Cookie values)."""
    path, _, query = url.partition("?")
    headers = [(b"cookie", f"{COOKIE}={token}".encode())] if token else []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": headers,
        "scheme": "https",
        "client": ("127.0.0.1", 1),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send_message(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send_message)
    start = sent[0]
    cookies = [v.decode() for k, v in start["headers"] if k == b"set-cookie"]
    return start["status"], cookies, b"".join(m.get("body", b"") for m in sent[1:])


def _asgi_app() -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Any, send_message: Any) -> None:
        session = scope["session"]
        if scope["path"] == "/write":
            session["from"] = "asgi"
        body = repr(sorted(session.items())).encode()
        await send_message({"type": "http.response.start", "status": 200, "headers": []})
        await send_message({"type": "http.response.body", "body": body})

    return app


@pytest.mark.anyio
async def test_sessions_are_shared_with_the_asgi_adapter(
    store_kind: str, config: SessionConfig, request: pytest.FixtureRequest, key_prefix: str
) -> None:
    store, async_store = twin_stores(store_kind, key_prefix, request)
    asgi = AsgiSessionMiddleware(_asgi_app(), store=async_store, config=config)
    try:
        with _sessionary(config, store, async_store):
            status, cookies, _ = await _asgi(asgi, "POST", "/write")
            assert status == 200
            token = cookies[0].split(";")[0].partition("=")[2]
            client = AsyncClient()
            reply = await asend(client, "POST", "/async/write?to=django", token)
            assert reply.json() == {"data": {"from": "asgi", "to": "django"}}
            assert cookie_of(reply) is None  # same session, same cookie
            sync_reply = reply_of(await asend(client, "GET", "/read", token))
            assert sync_reply.json == {"data": {"from": "asgi", "to": "django"}}
            _, _, body = await _asgi(asgi, "GET", "/read", token)
            assert body == repr([("from", "asgi"), ("to", "django")]).encode()
    finally:
        store.close()
        await async_store.aclose()
