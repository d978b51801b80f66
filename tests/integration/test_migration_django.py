"""Live migration from Django's ``db`` and ``cached_db`` session backends.

The rows are written by Django's own ``SessionStore`` classes, signed with the old
``SECRET_KEY``, in the same test; sessionary (Redis store) meets their ``sessionid`` cookie.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async

from tests.conformance.drivers.django import configure_django

configure_django()

from django.contrib.sessions.backends.cache import SessionStore as CacheStore  # noqa: E402
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbStore  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore as DbStore  # noqa: E402
from django.contrib.sessions.models import Session as SessionRow  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from sessionary import (  # noqa: E402
    AsyncLegacyMigration,
    AsyncSessionManager,
    EventName,
    LegacyMigration,
    SessionManager,
)
from sessionary.exceptions import ConfigurationError, MigrationError  # noqa: E402
from sessionary.integrations.django.legacy import (  # noqa: E402
    AsyncDjangoDbSource,
    DjangoDbSource,
)
from sessionary.integrations.django.legacy_cache import KEY_PREFIX as CACHE_PREFIX  # noqa: E402
from sessionary.integrations.django.legacy_cache import DjangoCacheSource  # noqa: E402
from sessionary.sansio.core import SessionCore  # noqa: E402
from sessionary.sansio.migration import PickleTrust  # noqa: E402
from sessionary.stores import AsyncRedisStore, RedisStore  # noqa: E402
from sessionary.testing import CapturingObserver, session_config  # noqa: E402

OLD_SECRET = "django-insecure-the-old-secret-key-of-the-project-0123456789"


def later() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)


def by_user(data: Any) -> Any:
    return data.get("_auth_user_id")


@pytest.fixture(autouse=True)
def session_table() -> Iterator[None]:
    """Django's session table for this test only (the other Django tests make their own)."""
    created = SessionRow._meta.db_table not in connection.introspection.table_names()
    if created:
        with connection.schema_editor() as editor:
            editor.create_model(SessionRow)
    yield
    SessionRow.objects.all().delete()
    if created:
        with connection.schema_editor() as editor:
            editor.delete_model(SessionRow)


def django_session(store_class: type[DbStore], data: dict[str, object]) -> str:
    """A session saved by Django's own store, signed with the old secret; its key."""
    with override_settings(SECRET_KEY=OLD_SECRET):
        session = store_class()
        session.update(data)
        session.set_expiry(600)
        session.save()
    assert session.session_key is not None
    return session.session_key


@pytest.fixture
def sync_store(redis_url: str, key_prefix: str, redis_admin: redis.Redis) -> Iterator[RedisStore]:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    yield store
    store.close()


@pytest.fixture
async def async_store(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> AsyncIterator[AsyncRedisStore]:
    store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    yield store
    await store.aclose()


def test_a_django_db_session_migrates_with_the_sync_manager(sync_store: RedisStore) -> None:
    key = django_session(DbStore, {"_auth_user_id": "3", "basket": {"apples": 2}})
    observer = CapturingObserver()
    migration = LegacyMigration(DjangoDbSource([OLD_SECRET]), until=later(), user_id=by_user)
    manager = SessionManager(sync_store, session_config(), observer=observer, legacy=migration)
    cycle = manager.open([f"sessionid={key}"])
    seen = dict(cycle.session)
    user = cycle.session.user_id
    update = manager.commit(cycle)
    assert update.set_cookie is not None
    assert 0 < int(update.set_cookie.split("Max-Age=")[1].split(";")[0]) <= 600
    assert user == "3"
    assert seen == {"_auth_user_id": "3", "basket": {"apples": 2}}
    assert not SessionRow.objects.filter(session_key=key).exists()  # the old key is dead
    assert [e.detail["outcome"] for e in observer.of(EventName.MIGRATED)] == ["created"]


def test_a_row_signed_with_another_secret_is_reported_and_not_migrated(
    sync_store: RedisStore,
) -> None:
    key = django_session(DbStore, {"_auth_user_id": "3"})
    observer = CapturingObserver()
    source = DjangoDbSource(["not-the-old-secret"])
    manager = SessionManager(
        sync_store,
        session_config(),
        observer=observer,
        legacy=LegacyMigration(source, until=later(), user_id=by_user),
    )
    cycle = manager.open([f"sessionid={key}"])
    assert cycle.session.user_id is None
    manager.commit(cycle)
    assert SessionRow.objects.filter(session_key=key).exists()
    [event] = observer.of(EventName.MIGRATED)
    assert event.detail == {
        "source": "django-db",
        "outcome": "unreadable",
        "reason": "MigrationError",
    }


@pytest.mark.anyio
async def test_a_django_cached_db_session_migrates_with_the_async_manager(
    async_store: AsyncRedisStore,
) -> None:
    key = await sync_to_async(django_session)(CachedDbStore, {"_auth_user_id": "8", "lang": "fr"})
    cache = caches["default"]
    assert cache.get("django.contrib.sessions.cached_db" + key) is not None
    source = AsyncDjangoDbSource(DjangoDbSource([OLD_SECRET], cache_alias="default"))
    migration = AsyncLegacyMigration(source, until=later(), user_id=by_user)
    manager = AsyncSessionManager(async_store, session_config(), legacy=migration)
    cycle = await manager.open([f"sessionid={key}"])
    assert (dict(cycle.session), cycle.session.user_id) == (
        {"_auth_user_id": "8", "lang": "fr"},
        "8",
    )
    assert (await manager.commit(cycle)).set_cookie is not None
    assert not await SessionRow.objects.filter(session_key=key).aexists()
    assert cache.get("django.contrib.sessions.cached_db" + key) is None


def test_through_the_django_middleware_the_user_stays_signed_in(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    key = django_session(DbStore, {"_auth_user_id": "11", "lang": "de"})
    migration = LegacyMigration(DjangoDbSource([OLD_SECRET]), until=later(), user_id=by_user)
    options = {"STORE_URL": redis_url, "PREFIX": key_prefix, "LEGACY": migration}
    with override_settings(SESSIONARY=options, ALLOWED_HOSTS=["testserver"]):
        client = Client()
        response = client.get("/json", secure=True, headers={"cookie": f"sessionid={key}"})
        assert response.status_code == 200
        assert response.json() == {"_auth_user_id": "11", "lang": "de"}
        issued = response.cookies["__Host-session"].value
        assert issued  # the migrated session's ID, handed out by sessionary's middleware
        again = Client().get("/json", secure=True, headers={"cookie": f"__Host-session={issued}"})
        assert again.json() == {"_auth_user_id": "11", "lang": "de"}
    assert not SessionRow.objects.filter(session_key=key).exists()


def test_django_rows_copy_in_bulk_and_the_copy_is_what_the_user_gets(
    sync_store: RedisStore, redis_admin: redis.Redis, key_prefix: str
) -> None:
    keys = [django_session(DbStore, {"_auth_user_id": str(n)}) for n in range(7)]
    with override_settings(SECRET_KEY="another-key-entirely"):
        stranger = DbStore()
        stranger["_auth_user_id"] = "x"
        stranger.save()  # signed with a secret the source does not know
    config = session_config()
    migration = LegacyMigration(DjangoDbSource([OLD_SECRET]), until=later(), user_id=by_user)
    report = migration.copy(SessionCore(config), sync_store, batch=3)
    assert (report.migrated, report.failed) == (
        7,
        {"django session: signed with another secret or corrupt": 1},
    )
    assert migration.copy(SessionCore(config), sync_store).skipped == {"already migrated": 7}
    manager = SessionManager(sync_store, config, legacy=migration)
    cycle = manager.open([f"sessionid={keys[4]}"])
    assert cycle.session.user_id == "4"
    manager.commit(cycle)
    sessions = [
        k for k in redis_admin.scan_iter(match=f"{key_prefix}:s:*") if not k.endswith(b":lk")
    ]
    assert len(sessions) == 7


TRUST = PickleTrust("the in-process cache of this test: nothing else can write it")


def test_django_cache_sessions_are_read_only_with_an_explicit_trust(sync_store: RedisStore) -> None:
    with override_settings(SECRET_KEY=OLD_SECRET):
        old = CacheStore()
        old.update({"_auth_user_id": "21", "seen": [1]})
        old.save()
    key = old.session_key
    assert key is not None
    with pytest.raises(ConfigurationError, match="pickled"):
        DjangoCacheSource()  # off by default
    with pytest.raises(MigrationError):
        PickleTrust("ok")  # a statement says who writes it and why no one else can
    observer = CapturingObserver()
    migration = LegacyMigration(DjangoCacheSource(trust=TRUST), until=later(), user_id=by_user)
    manager = SessionManager(sync_store, session_config(), observer=observer, legacy=migration)
    cycle = manager.open([f"sessionid={key}"])
    assert (dict(cycle.session), cycle.session.user_id) == (
        {"_auth_user_id": "21", "seen": [1]},
        "21",
    )
    manager.commit(cycle)
    assert caches["default"].get(CACHE_PREFIX + key) is None  # the old key is dead


def test_trust_is_refused_for_a_redis_cache_reached_without_a_password() -> None:
    redis_cache = "django.core.cache.backends.redis.RedisCache"
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    open_redis = {"default": local, "old": {"BACKEND": redis_cache, "LOCATION": "redis://h:6379/0"}}
    with override_settings(CACHES=open_redis), pytest.raises(ConfigurationError, match="password"):
        DjangoCacheSource(trust=TRUST, cache_alias="old")
    closed = {"BACKEND": redis_cache, "LOCATION": "redis://:secret@h:6379/0"}
    with override_settings(CACHES={"default": local, "old": closed}):
        DjangoCacheSource(trust=TRUST, cache_alias="old")  # authenticated: the trust holds


def run_migrate(*args: str) -> Any:
    from click.testing import CliRunner  # noqa: PLC0415

    from sessionary.cli.commands import cli  # noqa: PLC0415

    secret = "Zk8wQ3rT6yUi9oPa2sDf5gHj7kLz0xCv4bNm1qWe"
    return CliRunner().invoke(cli, ["migrate", *args], env={"SESSION_SECRET": secret})


def test_the_migrate_command_copies_django_rows_with_the_projects_settings(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    """``--from django-db SETTINGS``: the old keys come from the project's settings (here
    already set up, as in a management shell: the module named is not imported again)."""
    for n in range(5):
        django_session(DbStore, {"_auth_user_id": str(n)})
    args = ["--from", "django-db", "tests.conformance.drivers.django", "--to", redis_url]
    args += ["--prefix", key_prefix, "--user-key", "_auth_user_id", "--json"]
    with override_settings(SECRET_KEY="another-key-entirely", SECRET_KEY_FALLBACKS=[OLD_SECRET]):
        first = run_migrate(*args)
        again = run_migrate(*args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["migrated"], report["failed"], report["skipped"]) == (5, {}, {})
    assert json.loads(again.stdout)["skipped"] == {"already migrated": 5}
    with override_settings(SECRET_KEY="another-key-entirely", SECRET_KEY_FALLBACKS=[]):
        unknown = json.loads(run_migrate(*args).stdout)
    assert unknown["failed"] == {"django session: signed with another secret or corrupt": 5}


def test_the_migrate_command_refuses_django_cache_sessions(redis_url: str) -> None:
    refused = run_migrate("--from", "django-cache", "default", "--to", redis_url)
    assert refused.exit_code == 2
    assert "read-through only" in refused.output
