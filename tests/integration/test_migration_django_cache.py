"""Bulk migration from Django's ``cache`` session backend on Django's Redis cache.

The sessions are written by Django's own ``cache`` ``SessionStore`` through
``django.core.cache.backends.redis.RedisCache`` at a private ``redis-server`` that needs a
password (the pickle trust is refused for a Redis reached without one); ``sessionary
migrate --from django-cache`` then ``SCAN``s Django's keys, keeps each key's remaining
time-to-live and reads the values through Django's cache, only with ``--trust-pickle``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from tests.conformance.drivers.django import configure_django

configure_django()

from django.contrib.sessions.backends.base import VALID_KEY_CHARS  # noqa: E402
from django.contrib.sessions.backends.cache import SessionStore as CacheStore  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from sessionary import (  # noqa: E402
    AsyncLegacyMigration,
    AsyncSessionManager,
    EventName,
    LegacyMigration,
    SessionManager,
)
from sessionary.cli.commands import cli  # noqa: E402
from sessionary.config import SessionConfig  # noqa: E402
from sessionary.exceptions import ConfigurationError  # noqa: E402
from sessionary.integrations.django.legacy import AsyncDjangoDbSource  # noqa: E402
from sessionary.integrations.django.legacy_cache import KEY_PREFIX, DjangoCacheSource  # noqa: E402
from sessionary.sansio.core import SessionCore  # noqa: E402
from sessionary.sansio.migration import PickleTrust  # noqa: E402
from sessionary.stores import AsyncRedisStore, RedisStore  # noqa: E402
from sessionary.testing import CapturingObserver  # noqa: E402
from tests.concurrency import copy_racing_visits  # noqa: E402
from tests.services import RedisServer, redis_server_binary  # noqa: E402

SECRET = "Zk8wQ3rT6yUi9oPa2sDf5gHj7kLz0xCv4bNm1qWe"
PASSWORD = "the-cache-password-0123"
STATEMENT = "the private redis-server of this test: password-protected, loopback only"
TRUST = PickleTrust(STATEMENT)
LIFETIME_S = 600


def later() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)


def by_user(data: Any) -> Any:
    return data.get("_auth_user_id")


@pytest.fixture(scope="module")
def cache_server() -> Iterator[str]:
    """A password-protected ``redis-server`` for Django's cache (the old application's).

    ``SESSIONARY_TEST_PRIVATE_PORT`` pins its port, plus the xdist worker's number (a free
    one otherwise).
    """
    port = int(os.environ.get("SESSIONARY_TEST_PRIVATE_PORT", "0")) or None
    if port is not None:
        port += int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    binary = redis_server_binary("a password-protected Redis")
    with RedisServer(binary, port=port) as server:
        admin = redis.Redis.from_url(server.url)
        admin.config_set("requirepass", PASSWORD)  # after start: the readiness PING needs none
        admin.close()
        yield f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"


@pytest.fixture
def cache_admin(cache_server: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(cache_server)
    yield client
    client.flushall()
    client.close()


@contextmanager
def django_cache(url: str, key_prefix: str = "", version: int = 1) -> Iterator[None]:
    """Django set up as the old application was: ``cache`` sessions in a ``RedisCache``."""
    old = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": key_prefix,
        "VERSION": version,
    }
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    with override_settings(
        CACHES={"default": local, "sessions": old},
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        SESSION_CACHE_ALIAS="sessions",
    ):
        yield


def sign_in(users: range) -> dict[str, str]:
    """Users signed in through Django's own ``cache`` session store: ``{user: sessionid}``."""
    keys = {}
    for n in users:
        session = CacheStore()
        session.update({"_auth_user_id": str(n), "basket": {"apples": n}, "seen": [n]})
        session.set_expiry(LIFETIME_S)
        session.save()
        assert session.session_key is not None
        keys[str(n)] = session.session_key
    return keys


def session_keys(admin: redis.Redis, key_prefix: str) -> int:
    return sum(1 for k in admin.scan_iter(match=f"{key_prefix}:s:*") if not k.endswith(b":lk"))


def legacy_keys(admin: redis.Redis) -> int:
    return sum(1 for _ in admin.scan_iter(match=f"*{KEY_PREFIX}*"))


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["migrate", *args], env={"SESSION_SECRET": SECRET})


def come_back(redis_url: str, key_prefix: str, sessionid: str) -> tuple[Any, Any, Any]:
    """A request with the old cookie through the read-through (Django's cache ``sessions``):
    the observer, what it was served (data, user) and its commit's update."""
    source = DjangoCacheSource(trust=TRUST, cache_alias="sessions")
    migration = LegacyMigration(source, until=later(), user_id=by_user)
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    observer = CapturingObserver()
    config = SessionConfig(secret_keys=[SECRET])
    manager = SessionManager(store, config, observer=observer, legacy=migration)
    cycle = manager.open([f"sessionid={sessionid}"])
    seen = (dict(cycle.session), cycle.session.user_id)
    update = manager.commit(cycle)
    store.close()
    return observer, seen, update


@pytest.mark.parametrize(("cache_prefix", "version"), [("", 1), ("oldapp", 3)])
def test_the_migrate_command_copies_django_cache_sessions(
    cache_server: str,
    cache_admin: redis.Redis,
    redis_url: str,
    key_prefix: str,
    redis_admin: redis.Redis,
    cache_prefix: str,
    version: int,
) -> None:
    with django_cache(cache_server, cache_prefix, version):
        keys = sign_in(range(6))
        sessions = caches["sessions"]
        sessions.set(KEY_PREFIX + "notamapping00000000", ["a", "list"], LIFETIME_S)
        sessions.set("another.application.key", {"_auth_user_id": "x"}, LIFETIME_S)
    with django_cache(cache_server, "elsewhere", version + 1):
        sign_in(range(100, 103))  # another KEY_PREFIX and VERSION: not this cache's sessions
    raw = f"{cache_prefix}:{version}:{KEY_PREFIX}"
    assert cache_admin.exists(raw + keys["0"])  # Django's own key layout
    cache_admin.set(raw + "corrupt0000000000", b"\x80\x05not a pickle", ex=LIFETIME_S)
    args = ["--from", "django-cache", cache_server, "--to", redis_url, "--prefix", key_prefix]
    args += ["--cache-key-prefix", cache_prefix, "--cache-version", str(version)]
    args += ["--trust-pickle", STATEMENT, "--user-key", "_auth_user_id", "--json"]
    failed = {
        "django cache session: the value is not a mapping": 1,
        "django cache session: the value does not unpickle": 1,
    }

    dry = run(*args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.stdout)
    assert (report["dry_run"], report["migrated"], report["failed"]) == (True, 6, failed)
    assert session_keys(redis_admin, key_prefix) == 0  # a dry run writes nothing
    assert legacy_keys(cache_admin) == 6 + 2 + 3

    done = json.loads(run(*args).stdout)
    assert (done["migrated"], done["failed"], done["skipped"]) == (6, failed, {})
    assert session_keys(redis_admin, key_prefix) == 6
    again = json.loads(run(*args).stdout)
    assert (again["migrated"], again["skipped"]) == (0, {"already migrated": 6})
    assert session_keys(redis_admin, key_prefix) == 6
    assert legacy_keys(cache_admin) == 6 + 2 + 3  # kept for the read-through and a rollback

    # the user comes back with the old cookie: the read-through serves the copy, kills the key
    with django_cache(cache_server, cache_prefix, version):
        observer, seen, update = come_back(redis_url, key_prefix, keys["4"])
    assert seen == ({"_auth_user_id": "4", "basket": {"apples": 4}, "seen": [4]}, "4")
    assert update.set_cookie is not None
    max_age = int(update.set_cookie.split("Max-Age=")[1].split(";")[0])
    assert LIFETIME_S - 120 < max_age <= LIFETIME_S  # the remaining lifetime, kept
    assert [e.detail["outcome"] for e in observer.of(EventName.MIGRATED)] == ["joined"]
    assert not cache_admin.exists(raw + keys["4"])
    assert session_keys(redis_admin, key_prefix) == 6


class InterruptedCopyError(Exception):
    """The operator's Ctrl-C, in the middle of a copy."""


def test_an_interrupted_copy_resumes_where_it_stopped(
    cache_server: str,
    cache_admin: redis.Redis,
    redis_url: str,
    key_prefix: str,
    redis_admin: redis.Redis,
) -> None:
    with django_cache(cache_server):
        sign_in(range(20))
        source = DjangoCacheSource(trust=TRUST, cache_alias="sessions")
        migration = LegacyMigration(source, until=later(), user_id=by_user)
        store = RedisStore.from_url(redis_url, prefix=key_prefix)

        def stop_after_seven(report: Any) -> None:
            if report.migrated == 7:
                raise InterruptedCopyError

        with pytest.raises(InterruptedCopyError):
            migration.copy(
                SessionCore(SessionConfig(secret_keys=[SECRET])),
                store,
                batch=3,
                progress=stop_after_seven,
            )
        store.close()
    assert session_keys(redis_admin, key_prefix) == 7
    args = ["--from", "django-cache", cache_server, "--to", redis_url, "--prefix", key_prefix]
    rest = json.loads(run(*args, "--trust-pickle", STATEMENT, "--json").stdout)
    assert (rest["migrated"], rest["skipped"]) == (13, {"already migrated": 7})
    assert session_keys(redis_admin, key_prefix) == 20


def test_django_cache_bulk_is_refused_without_the_pickle_trust(
    cache_server: str, cache_admin: redis.Redis, redis_url: str, key_prefix: str
) -> None:
    with django_cache(cache_server):
        sign_in(range(2))
    base = ["--from", "django-cache", cache_server, "--to", redis_url, "--prefix", key_prefix]
    refused = run(*base)
    assert refused.exit_code == 2
    assert "pickled" in refused.output
    assert "--trust-pickle" in refused.output
    vague = run(*base, "--trust-pickle", "ok")
    assert vague.exit_code == 2  # a statement says who writes it and why no one else can
    open_redis = ["--from", "django-cache", redis_url, "--to", redis_url, "--prefix", key_prefix]
    no_password = run(*open_redis, "--trust-pickle", STATEMENT)
    assert no_password.exit_code == 2
    assert "without a password" in no_password.output
    memcached = run("--from", "django-cache", "memcached://127.0.0.1:11211", "--to", redis_url)
    assert memcached.exit_code == 2
    assert "cannot" in memcached.output
    assert "read-through only" in memcached.output
    assert PASSWORD not in memcached.output + refused.output + no_password.output
    assert legacy_keys(cache_admin) == 2


def test_a_cache_that_cannot_be_listed_is_refused_by_the_source_too() -> None:
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    with override_settings(CACHES={"default": local}):
        source = DjangoCacheSource(trust=TRUST)
        with pytest.raises(ConfigurationError, match="read-through only"):
            list(source.scan())


def test_a_value_that_does_not_unpickle_is_reported_by_the_read_through(
    cache_server: str, cache_admin: redis.Redis, redis_url: str, key_prefix: str
) -> None:
    key = "corrupt0" * 4
    cache_admin.set(f":1:{KEY_PREFIX}{key}", b"\x80\x05not a pickle", ex=LIFETIME_S)
    with django_cache(cache_server):
        observer, seen, _ = come_back(redis_url, key_prefix, key)
    assert seen == ({}, None)  # served anonymous, not an error
    [event] = observer.of(EventName.MIGRATED)
    assert (event.detail["outcome"], event.detail["reason"]) == ("unreadable", "MigrationError")
    assert cache_admin.exists(f":1:{KEY_PREFIX}{key}")  # kept: nothing was migrated


@pytest.fixture
async def async_store(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> AsyncIterator[AsyncRedisStore]:
    store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    yield store
    await store.aclose()


@pytest.mark.anyio
async def test_requests_during_a_django_cache_bulk_copy_are_served_once_and_never_duplicated(
    cache_server: str,
    cache_admin: redis.Redis,
    redis_admin: redis.Redis,
    key_prefix: str,
    async_store: AsyncRedisStore,
) -> None:
    with django_cache(cache_server):
        keys = sign_in(range(30))
        source = AsyncDjangoDbSource(DjangoCacheSource(trust=TRUST, cache_alias="sessions"))
        migration = AsyncLegacyMigration(source, until=later(), user_id=by_user)
        config = SessionConfig(secret_keys=[SECRET])
        manager = AsyncSessionManager(async_store, config, legacy=migration)
        headers = {user: f"sessionid={key}" for user, key in keys.items()}
        served = await copy_racing_visits(migration, manager, async_store, headers, batch=4)
    assert served == {user: user for user in keys}  # every request served its own user
    assert session_keys(redis_admin, key_prefix) == 30  # one session per old session
    assert legacy_keys(cache_admin) == 0  # every user came back: every old key is dead


def test_the_copy_reads_the_cache_in_batches_and_counts_its_commands(
    cache_server: str,
    cache_admin: redis.Redis,
    key_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The Redis work per record, load-independent (docs/migration.md): the cache and
    sessionary's store on the same private server, ``INFO commandstats`` around one run."""
    count, batch = 2000, 500
    with django_cache(cache_server):
        sessions = caches["sessions"]
        records = {
            KEY_PREFIX + get_random_string(32, VALID_KEY_CHARS): {"_auth_user_id": str(n)}
            for n in range(count)
        }
        sessions.set_many(records, LIFETIME_S)
    cache_admin.config_resetstat()
    args = ["--from", "django-cache", cache_server, "--to", cache_server, "--prefix", key_prefix]
    args += ["--trust-pickle", STATEMENT, "--user-key", "_auth_user_id", "--batch", str(batch)]
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["migrated"] == count
    stats = cache_admin.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}
    calls.pop("config|resetstat", None)
    assert calls["pttl"] == count  # one PTTL a record, pipelined by the batch
    assert 0 < calls["mget"] <= calls["scan"]  # the values: at most one MGET a SCAN page
    assert calls["scan"] <= count / 50  # pages of about `batch` keys, never one key a call
    assert "get" not in calls  # never one value at a time
    total = sum(calls.values())
    with capsys.disabled():
        print(f"\n{count} records, batch {batch}: {total} commands ({total / count:.2f} a record)")
        print(json.dumps(calls, sort_keys=True))


HUNDRED_THOUSAND = 100_000


@pytest.mark.slow
def test_a_hundred_thousand_django_cache_sessions_copy_in_one_run(
    cache_server: str,
    cache_admin: redis.Redis,
    redis_url: str,
    key_prefix: str,
    redis_admin: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Timed for docs/migration.md: ``pytest ... -k hundred_thousand -s`` prints the report.

    The sessions are written by Django's own cache (``set_many``, its serializer and key
    function) with the records Django's ``cache`` session store saves.
    """
    count = int(os.environ.get("SESSIONARY_MIGRATE_COUNT", HUNDRED_THOUSAND))
    with django_cache(cache_server):
        sessions = caches["sessions"]
        chunk: dict[str, object] = {}
        for n in range(count):
            key = KEY_PREFIX + get_random_string(32, VALID_KEY_CHARS)
            chunk[key] = {"_auth_user_id": str(n), "basket": {"apples": n}}
            if len(chunk) == 5000 or n == count - 1:
                sessions.set_many(chunk, LIFETIME_S)
                chunk = {}
    assert legacy_keys(cache_admin) == count
    args = ["--from", "django-cache", cache_server, "--to", redis_url, "--prefix", key_prefix]
    args += ["--trust-pickle", STATEMENT, "--user-key", "_auth_user_id"]
    started = time.perf_counter()
    result = run(*args, "--batch", "1000", "--json")
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["migrated"], figures["failed"]) == (count, {})
    assert session_keys(redis_admin, key_prefix) == count
    with capsys.disabled():
        print(f"\nmigrated {count} django-cache sessions in {elapsed:.1f} s: {json.dumps(figures)}")
