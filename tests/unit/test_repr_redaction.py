"""No ``repr()`` or ``str()`` of a public type shows a session ID, a token or a key (R79).

Error trackers that capture local variables record ``repr()`` of whatever a frame holds: an
update about to become a ``Set-Cookie``, a sealed cookie, a key ring. This test walks every
class exported by ``sessionary``, ``sessionary.stores``, ``sessionary.sansio.*`` and
``sessionary.integrations.*``: a class whose ``repr``/``str`` is ``object``'s shows no state;
every other one is either built here from a real request with known secret values, whose
``repr`` and ``str`` must not contain them, or listed as holding none (with the reason).
A new export fails the walk until it is classified.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import importlib
import inspect
import pkgutil
import secrets
from collections.abc import Iterator
from typing import Any, Protocol

import pytest

import sessionary
import sessionary.integrations
import sessionary.sansio
from sessionary import (
    AsyncLegacyMigration,
    AsyncSessionManager,
    LegacyMigration,
    SessionConfig,
    SessionManager,
)
from sessionary.backends.legacy import AsyncStarletteCookieSource, StarletteCookieSource
from sessionary.integrations._csrf import CsrfContext
from sessionary.sansio.at_rest import AtRest
from sessionary.sansio.cookies import read_cookie
from sessionary.sansio.core import SessionCore
from sessionary.sansio.csrf import CsrfFailure, CsrfGuard
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.gate import Open, Refuse, RequestInfo
from sessionary.sansio.headers import header_changes
from sessionary.sansio.ids import mint_token
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.migration import Converted, LegacySession
from sessionary.sansio.ops import (
    Create,
    Destroy,
    DestroyResult,
    Discard,
    DiscardResult,
    Load,
    LoadResult,
    Operation,
    Update,
)
from sessionary.sansio.sealed import SealedPayload, Sealer
from sessionary.sansio.settle import Answer
from sessionary.stores import (
    AsyncCachingStore,
    AsyncDelegatingStore,
    AsyncMemoryStore,
    AsyncPostgresStore,
    AsyncRedisEventStream,
    AsyncRedisStore,
    AsyncSQLiteStore,
    CachingStore,
    CookieStore,
    DelegatingStore,
    MemoryStore,
    PostgresStore,
    RedisEventStream,
    RedisStore,
    SQLiteStore,
)
from sessionary.stores.memory import MemoryEngine
from sessionary.testing import FakeClock

KEY = secrets.token_urlsafe(32)
"""The configured secret (text, as most applications pass it)."""
PASSWORD = "s3cr3t-" + secrets.token_hex(8)
"""A Redis password in a URL."""
VALUE = "tok-" + secrets.token_hex(16)
"""An application token stored in the session."""

# Classes holding nothing secret, and why. Exceptions, enums and protocols are skipped.
HOLD_NOTHING: dict[str, str] = {
    "CopyReport": "counts by reason and key names (never a value or an ID)",
    "DjangoCacheSource": "a cache alias",
    "PickleTrust": "the application's statement about who writes a legacy cache",
    "DjangoDbSource": "a cookie name (its repr leaves the old secrets out)",
    "AsyncDjangoDbSource": "the DjangoDbSource it wraps",
    "CookieOptions": "cookie name and attributes",
    "CsrfOptions": "header and field names, origins",
    "UserSession": "a ref (a hash of a storage key), times, user agent, keyed address hash",
    "DeviceInfo": "user agent and keyed address hash",
    "ReplicaWait": "replica counts",
    "CommitResult": "a status and field names",
    "ExpiredSession": "a storage key (a keyed hash, never an ID) and a user",
    "Discard": "a storage key (a keyed hash, never an ID)",
    "DestroyResult": "a flag",
    "DiscardResult": "a flag",
    "PinResult": "a time",
    "ServerMode": "nothing",
    "FlaskSession": "it is Session (a dict): its repr is Session's, checked as such",
    "QuartSession": "FlaskSession for Quart: its repr is Session's, checked as such",
    "PendingFlaskSession": "a FlaskSession that holds nothing (a lazy mount's placeholder)",
    "TrackedDict": "Session's base: its repr shows names only (Session is checked)",
    "RaceVerdict": "flags and field names",
    "SealedMode": "its revocation store, which shows itself (checked as CookieStore)",
    "RequestState": "its repr shows the time and tenant only (checked: test_request_state)",
    "ServerRecord": "its repr shows the key generation only (checked: test_request_state)",
    "ReadEpoch": "a user's index tag (not secret)",
    "ReadCookieState": "index tags (hashes of a user ID and of a random session ID) and a time",
    "PinCookie": "an index tag (the hash of a random session ID) and times",
    "CookieState": "a floor and an epoch (times)",
    "Lifecycle": "flags, user and auth time",
    "TenantResolver": "a mapping or a callable, shown as its kind",
    "CapturingObserver": "events (checked here through SessionEvent)",
    "FakeClock": "a time",
    "NeedForm": "a form field name and a size",
    "GateOptions": "a TypedDict of adapter options (tenants, CSRF options, callables)",
    "WebSocketGateOptions": "a TypedDict of adapter options (and allowed origins)",
    "Settlement": "flags and the handler's error (exception messages never name an ID)",
}


def public_classes() -> Iterator[tuple[str, type]]:
    modules: list[Any] = [sessionary, importlib.import_module("sessionary.stores")]
    for package in (sessionary.sansio, sessionary.integrations):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            modules.append(importlib.import_module(info.name))
    seen: set[type] = set()
    for module in modules:
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if not inspect.isclass(obj) or obj in seen:
                continue
            seen.add(obj)
            if issubclass(obj, BaseException | enum.Enum) or Protocol in obj.__mro__[1:]:
                continue
            yield f"{module.__name__}.{name}", obj


def shows_no_state(cls: type) -> bool:
    """``repr``/``str`` are ``object``'s: the class name and an address, never its state."""
    methods = inspect.getattr_static(cls, "__repr__"), inspect.getattr_static(cls, "__str__")
    return methods == (object.__repr__, object.__str__)


def forms(secret: str | bytes) -> list[str]:
    """The ways a secret could appear in a repr."""
    if isinstance(secret, str):
        return [secret]
    return [
        repr(secret)[2:-1],
        secret.hex(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
    ]


class Request:
    """One application with known secrets, and the objects its requests produce."""

    def __init__(self) -> None:
        self.clock = FakeClock(1_750_000_000)
        self.config = SessionConfig(secret_keys=[KEY], clock=self.clock)
        self.core = SessionCore(self.config)
        self.engine = MemoryEngine()
        self.ops: list[Operation] = []
        self.results: list[object] = []

    def drive(self, cycle: SessionCycle) -> None:
        op = cycle.next_op()
        while op is not None:
            self.ops.append(op)
            if isinstance(op, Load):
                result: Any = self.engine.load(op)
            elif isinstance(op, Create):
                result = self.engine.create(op)
            elif isinstance(op, Update):
                result = self.engine.update(op)
            elif isinstance(op, Discard):
                result = DiscardResult(self.engine.discard(op))
            else:
                assert isinstance(op, Destroy)
                result = DestroyResult(self.engine.destroy(op))
            self.results.append(result)
            cycle.send(result)
            op = cycle.next_op()

    def cycle(self, cookie: str | None = None, core: SessionCore | None = None) -> SessionCycle:
        core = core or self.core
        headers = [f"{self.config.cookie.name}={cookie}"] if cookie else []
        cycle = core.begin(headers, client="198.51.100.1")
        self.drive(cycle)
        return cycle

    def commit(self, cycle: SessionCycle) -> ResponseUpdate:
        cycle.finish()
        self.drive(cycle)
        return cycle.response()


def build_all() -> tuple[dict[type, list[object]], list[str | bytes]]:
    """Instances of every secret-holding type, and every secret they were made with."""
    r = Request()
    built: dict[type, list[object]] = {}

    def add(obj: object) -> None:
        built.setdefault(type(obj), []).append(obj)

    first = r.cycle()
    first.session["token"] = VALUE
    first.session.login("ada")
    created = r.commit(first)
    session_id = first.issued_id
    assert session_id is not None
    add(created)
    add(header_changes(created, None))
    add(first)
    add(first.session)
    add(mint_token())
    add(read_cookie([f"{r.config.cookie.name}={session_id}"], r.config.cookie.name, 128))

    again = r.cycle(session_id)
    guard = CsrfGuard(r.core.keyring)
    token = guard.token(again)
    add(guard)
    add(CsrfContext(guard, again))
    cookie = f"{r.config.cookie.name}={session_id}"
    info = RequestInfo("POST", "https", "h", {"cookie": cookie}, cookies=[cookie], tokens=[token])
    add(info)
    add(info.with_form(token))
    add(Open(check_token=True, token=token))
    failed = CsrfGuard.failure_event(CsrfFailure.BAD_TOKEN, now_ms=1, method="POST", client="c")
    add(Refuse(403, b"Forbidden", failed))
    add(Answer(created, 500))
    add(again.session)
    again.session["token"] = VALUE + "-2"
    add(again.session.delta())
    again.session.rotate()
    rotated = r.commit(again)
    add(rotated)
    add(header_changes(rotated, "Accept"))
    for event in again.drain_events() + first.drain_events():
        add(event)
    for op in r.ops:
        add(op)
        binding = getattr(op, "binding", None)
        if binding is not None:
            add(binding)
    for result in r.results:
        add(result)
        if isinstance(result, LoadResult) and result.record is not None:
            add(result.record)
            add(result.record.meta)
    destroy = r.cycle(
        rotated.set_cookie.split(";")[0].split("=", 1)[1] if rotated.set_cookie else ""
    )
    destroy.session.logout()
    add(r.commit(destroy))
    add(r.ops[-1])
    assert isinstance(r.ops[-1], Destroy)

    header_config = SessionConfig(secret_keys=[KEY], transport="header")
    header_core = SessionCore(header_config)
    issued = r.cycle(core=header_core)
    issued.session["a"] = 1
    header_update = r.commit(issued)
    add(header_update)
    add(header_changes(header_update, None))
    header_id = issued.issued_id
    assert header_id is not None

    sealed_core = SessionCore(r.config, mode=CookieStore())
    sealed = r.cycle(core=sealed_core)
    sealed.session["token"] = VALUE
    sealed_update = r.commit(sealed)
    assert sealed_update.set_cookie is not None
    sealed_cookie = sealed_update.set_cookie.split(";")[0].split("=", 1)[1]
    add(sealed)
    add(sealed_update)
    add(header_changes(sealed_update, None))
    csrf_binding = secrets.token_bytes(16)
    add(SealedPayload(1, 2, 3, csrf_binding, {"token": VALUE.encode()}, "ada"))

    ring = r.core.keyring
    add(ring)
    add(KeyRing([KEY.encode()]))
    add(Sealer(ring.subkeys("cookie-seal")))
    add(AtRest(ring))
    add(r.core)
    add(r.config)
    add(MemoryStore())
    add(CookieStore(revocation=MemoryStore()))
    url = f"redis://user:{PASSWORD}@127.0.0.1:1/0"
    redis_store, async_redis_store = RedisStore.from_url(url), AsyncRedisStore.from_url(url)
    add(redis_store)
    add(async_redis_store)
    add(RedisEventStream(redis_store.client))
    add(AsyncRedisEventStream(async_redis_store.client))
    sql_url = f"postgresql://user:{PASSWORD}@127.0.0.1:1/db?sslmode=disable"
    add(PostgresStore.from_url(sql_url))
    add(AsyncPostgresStore.from_url(sql_url))
    add(SQLiteStore.from_url("sqlite:///unused-by-this-test.db"))
    add(AsyncSQLiteStore.from_url("sqlite:///unused-by-this-test.db"))
    add(SessionManager(MemoryStore(), r.config))
    add(AsyncMemoryStore())
    add(DelegatingStore(redis_store))
    add(AsyncDelegatingStore(async_redis_store))
    add(CachingStore(redis_store))
    add(AsyncCachingStore(async_redis_store))
    add(AsyncSessionManager(AsyncMemoryStore(), r.config))
    add(LegacySession(VALUE, {"token": VALUE}, 1))
    add(Converted({"token": VALUE.encode()}, ("dropped",), 3))
    until = dt.datetime.now(dt.timezone.utc)
    add(AsyncLegacyMigration(AsyncStarletteCookieSource(KEY), until=until))
    add(LegacyMigration(StarletteCookieSource(KEY), until=until))
    from sessionary.integrations.django.legacy_sql import DjangoSqlSource  # noqa: PLC0415

    add(DjangoSqlSource(sql_url, [KEY]))  # the database URL and the old secret, never shown

    keys: list[str | bytes] = [KEY, KEY.encode(), *ring.subkeys("cookie-seal")]
    keys += ring.subkeys("csrf") + ring.subkeys("at-rest")
    found_secrets: list[str | bytes] = [
        session_id,
        header_id,
        sealed_cookie,
        token,
        VALUE,
        PASSWORD,
        csrf_binding,
        *keys,
    ]
    return built, found_secrets


BUILT, SECRETS = build_all()


def test_every_public_class_is_classified() -> None:
    unclassified = [
        path
        for path, cls in public_classes()
        if not shows_no_state(cls) and cls not in BUILT and cls.__name__ not in HOLD_NOTHING
    ]
    assert unclassified == []


CHECKED: list[type] = sorted(BUILT, key=lambda c: c.__qualname__)


@pytest.mark.parametrize("cls", CHECKED, ids=lambda c: c.__name__)
def test_no_repr_or_str_shows_an_id_a_token_or_a_key(cls: type) -> None:
    for obj in BUILT[cls]:
        for text in (repr(obj), str(obj)):
            leaked = [f for secret in SECRETS for f in forms(secret) if f in text]
            assert leaked == [], f"{cls.__name__}: {text}"


def test_the_walk_sees_the_types_that_carry_ids() -> None:
    """The types known to carry an ID or a sealed cookie are among those checked."""
    names = {cls.__name__ for cls in BUILT}
    expected = {"ResponseUpdate", "HeaderChanges", "SessionToken", "CookieRead", "SessionCycle"}
    assert expected <= names
    assert any(cls.__name__ == "SessionEvent" for cls in BUILT)


def test_request_state_and_record_reprs_show_no_id() -> None:
    r = Request()
    cycle = r.cycle()
    cycle.session["token"] = VALUE
    update = r.commit(cycle)
    assert update.set_cookie is not None
    session_id = update.set_cookie.split(";")[0].split("=", 1)[1]
    loaded = r.cycle(session_id)
    state = loaded._state
    record = loaded._flow._record  # type: ignore[attr-defined]
    for text in (repr(state), repr(record), str(state), str(record)):
        assert session_id not in text
        assert VALUE not in text
