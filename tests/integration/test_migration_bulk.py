"""The bulk copy (``LegacyMigration.copy``, ``sessionary migrate``) against real Redis.

Legacy records are written by Flask-Session 0.8 itself: through its interface for the small
runs, through its own serializer (``MsgSpecSerializer``, what its Redis interface stores)
for the 100 000-session run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import flask
import pytest
import redis
import redis.asyncio
from click.testing import CliRunner
from flask_session import Session as FlaskSession
from flask_session.base import MsgSpecSerializer

from sessionary import AsyncLegacyMigration, AsyncSessionManager, EventName, LegacyMigration
from sessionary.backends.legacy import AsyncFlaskSessionSource, FlaskSessionSource
from sessionary.cli.commands import cli
from sessionary.config import SessionConfig
from sessionary.sansio.core import SessionCore
from sessionary.stores import AsyncRedisStore, RedisStore
from sessionary.testing import CapturingObserver
from tests.concurrency import copy_racing_visits

SECRET = secrets.token_urlsafe(32)
LIFETIME_S = 3600


def later() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)


def by_user(data: Any) -> Any:
    return data.get("_user_id")


def flask_app(url: str, prefix: str) -> tuple[flask.Flask, redis.Redis]:
    app = flask.Flask(__name__)
    client = redis.Redis.from_url(url)
    app.config.update(
        SECRET_KEY="old",
        SESSION_TYPE="redis",
        SESSION_REDIS=client,
        SESSION_KEY_PREFIX=prefix,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(seconds=LIFETIME_S),
    )
    FlaskSession(app)

    @app.post("/login/<user>")
    def login(user: str) -> str:
        flask.session.update({"_user_id": user, "cart": [user]})
        return "ok"

    return app, client


def write_sessions(url: str, prefix: str, count: int) -> dict[str, str]:
    """``count`` users signed in through a Flask-Session app: ``{user: old cookie}``."""
    app, client = flask_app(url, prefix)
    cookies = {}
    for n in range(count):
        browser = app.test_client()
        assert browser.post(f"/login/u{n}").status_code == 200
        cookie = browser.get_cookie("session")
        assert cookie is not None
        cookies[f"u{n}"] = cookie.value
    client.close()
    return cookies


def session_keys(admin: redis.Redis, key_prefix: str) -> int:
    return sum(1 for k in admin.scan_iter(match=f"{key_prefix}:s:*") if not k.endswith(b":lk"))


@pytest.fixture
def config() -> SessionConfig:
    return SessionConfig(secret_keys=[SECRET])


@pytest.fixture
def store(redis_url: str, key_prefix: str, redis_admin: redis.Redis) -> Iterator[RedisStore]:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    yield store
    store.close()


def test_bulk_copy_is_idempotent_and_says_why_it_skipped_or_failed(
    redis_url: str,
    key_prefix: str,
    redis_admin: redis.Redis,
    store: RedisStore,
    config: SessionConfig,
) -> None:
    prefix = f"{key_prefix}:fs:"
    cookies = write_sessions(redis_url, prefix, 30)
    redis_admin.set(prefix + "corrupt0000", b"\xc1 not msgpack", ex=60)
    redis_admin.set(prefix + "pickled0000", pickle.dumps({"_user_id": "p"}), ex=60)
    legacy = redis.Redis.from_url(redis_url)
    migration = LegacyMigration(
        FlaskSessionSource(legacy, prefix=prefix), until=later(), user_id=by_user
    )
    core = SessionCore(config)
    failed = {"flask-session: the record is neither msgpack nor JSON": 1, "pickled record": 1}

    dry = migration.copy(core, store, dry_run=True)
    assert (dry.migrated, dry.failed, dry.skipped) == (30, failed, {})
    assert session_keys(redis_admin, key_prefix) == 0  # a dry run writes nothing

    first = migration.copy(core, store, batch=7)
    assert (first.migrated, first.failed, first.skipped) == (30, failed, {})
    assert session_keys(redis_admin, key_prefix) == 30
    again = migration.copy(core, store)
    assert (again.migrated, again.skipped) == (0, {"already migrated": 30})
    assert session_keys(redis_admin, key_prefix) == 30

    # a user comes back with the old cookie: served the copy, once; the old record dies
    observer = CapturingObserver()
    from sessionary import SessionManager  # noqa: PLC0415

    manager = SessionManager(store, config, observer=observer, legacy=migration)
    cycle = manager.open([f"session={cookies['u3']}"])
    assert (dict(cycle.session), cycle.session.user_id) == (
        {"_user_id": "u3", "cart": ["u3"]},
        "u3",
    )
    update = manager.commit(cycle)
    assert update.set_cookie is not None
    assert int(update.set_cookie.split("Max-Age=")[1].split(";")[0]) <= LIFETIME_S
    assert [e.detail["outcome"] for e in observer.of(EventName.MIGRATED)] == ["joined"]
    assert session_keys(redis_admin, key_prefix) == 30
    assert not redis_admin.exists(prefix + cookies["u3"])
    legacy.close()


@pytest.fixture
async def async_store(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> AsyncIterator[AsyncRedisStore]:
    store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    yield store
    await store.aclose()


@pytest.mark.anyio
async def test_requests_during_a_bulk_copy_are_served_once_and_never_duplicated(
    redis_url: str,
    key_prefix: str,
    redis_admin: redis.Redis,
    async_store: AsyncRedisStore,
    config: SessionConfig,
) -> None:
    prefix = f"{key_prefix}:fs:"
    cookies = write_sessions(redis_url, prefix, 40)
    legacy = redis.asyncio.Redis.from_url(redis_url)
    migration = AsyncLegacyMigration(
        AsyncFlaskSessionSource(legacy, prefix=prefix), until=later(), user_id=by_user
    )
    manager = AsyncSessionManager(async_store, config, legacy=migration)
    headers = {user: f"session={cookie}" for user, cookie in cookies.items()}
    served = await copy_racing_visits(migration, manager, async_store, headers, batch=5)
    assert served == {user: user for user in cookies}  # every request served its own user
    assert session_keys(redis_admin, key_prefix) == 40  # one session per old session
    assert list(redis_admin.scan_iter(match=f"{prefix}*")) == []  # all came back
    await legacy.aclose()


def run_cli(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["migrate", *args, "--json"], env={"SESSION_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_the_migrate_command_copies_reports_and_resumes(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis, store: RedisStore
) -> None:
    prefix = f"{key_prefix}:fs:"
    cookies = write_sessions(redis_url, prefix, 12)
    args: tuple[str, ...] = ("--from", "flask-session", redis_url, "--to", redis_url)
    args += ("--prefix", key_prefix, "--legacy-prefix", prefix, "--user-key", "_user_id")
    dry = run_cli(*args, "--dry-run")
    assert (dry["dry_run"], dry["migrated"], dry["seen"]) == (True, 12, 12)
    assert session_keys(redis_admin, key_prefix) == 0
    done = run_cli(*args)
    assert (done["migrated"], done["failed"], done["skipped"]) == (12, {}, {})
    assert run_cli(*args)["skipped"] == {"already migrated": 12}

    # the copies are what the application's read-through serves: same secret, same IDs
    config = SessionConfig(secret_keys=[SECRET])
    legacy = redis.Redis.from_url(redis_url)
    migration = LegacyMigration(
        FlaskSessionSource(legacy, prefix=prefix), until=later(), user_id=by_user
    )
    from sessionary import SessionManager  # noqa: PLC0415

    manager = SessionManager(store, config, legacy=migration)
    cycle = manager.open([f"session={cookies['u5']}"])
    assert cycle.session.user_id == "u5"
    manager.commit(cycle)
    assert session_keys(redis_admin, key_prefix) == 12
    legacy.close()


HUNDRED_THOUSAND = 100_000


@pytest.mark.slow
def test_a_hundred_thousand_sessions_copy_in_one_run(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    """Timed for docs/migration.md: ``pytest ... -k hundred_thousand -s`` prints the report."""
    count = int(os.environ.get("SESSIONARY_MIGRATE_COUNT", HUNDRED_THOUSAND))
    prefix = f"{key_prefix}:fs:"
    app = flask.Flask(__name__)
    serializer = MsgSpecSerializer(app, "msgpack")
    pipe = redis_admin.pipeline(transaction=False)
    for n in range(count):
        record = {"_user_id": f"u{n}", "_permanent": True, "cart": [n, n + 1]}
        pipe.set(f"{prefix}sid{n:012d}", serializer.encode(record), ex=LIFETIME_S)
        if n % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    args = ("--from", "flask-session", redis_url, "--to", redis_url, "--prefix", key_prefix)
    started = time.perf_counter()
    figures = run_cli(*args, "--legacy-prefix", prefix, "--user-key", "_user_id", "--batch", "1000")
    elapsed = time.perf_counter() - started
    assert (figures["migrated"], figures["failed"]) == (count, {})
    assert session_keys(redis_admin, key_prefix) == count
    with capsys.disabled():
        print(f"\nmigrated {count} sessions in {elapsed:.1f} s: {json.dumps(figures)}")


def test_threads_racing_with_one_old_cookie_make_one_session_with_the_sync_manager(
    redis_url: str,
    key_prefix: str,
    redis_admin: redis.Redis,
    store: RedisStore,
    config: SessionConfig,
) -> None:
    from sessionary import SessionManager  # noqa: PLC0415
    from tests.concurrency import sync_gather  # noqa: PLC0415

    prefix = f"{key_prefix}:fs:"
    old = write_sessions(redis_url, prefix, 1)["u0"]
    legacy = redis.Redis.from_url(redis_url)
    migration = LegacyMigration(
        FlaskSessionSource(legacy, prefix=prefix), until=later(), user_id=by_user
    )
    manager = SessionManager(store, config, legacy=migration)

    def visit() -> tuple[str | None, str | None]:
        cycle = manager.open([f"session={old}"])
        user = cycle.session.user_id
        update = manager.commit(cycle)
        return user, update.set_cookie

    results = sync_gather([visit] * 16)
    assert {user for user, _ in results} == {"u0"}
    cookies = {cookie.split(";")[0] for _, cookie in results if cookie is not None}
    assert len(cookies) == 1
    assert session_keys(redis_admin, key_prefix) == 1
    legacy.close()
