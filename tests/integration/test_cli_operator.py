"""``sessionary sessions list|revoke`` and ``sessionary events tail`` against the real Redis."""

from __future__ import annotations

import json
import threading

import pytest
import redis
from click.testing import CliRunner

from sessionary import SessionManager
from sessionary.cli.commands import cli
from sessionary.stores import RedisEventStream, RedisStore
from sessionary.testing import CapturingObserver, session_config
from tests.services import free_port


@pytest.fixture
def deployment(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> tuple[SessionManager, list[str]]:
    """An application with two signed-in devices for alice and one for bob; their cookies."""
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    manager = SessionManager(
        store,
        session_config(),
        observer=CapturingObserver(),
        events=RedisEventStream(store.client, prefix=key_prefix),
    )
    cookies = []
    for user, agent in (("alice", "Laptop"), ("alice", "Phone"), ("bob", "Tablet")):
        cycle = manager.open([], user_agent=agent, client="192.0.2.1")
        cycle.session.login(user)
        update = manager.commit(cycle)
        assert update.set_cookie is not None
        cookies.append(update.set_cookie.split(";", 1)[0])
    return manager, cookies


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_sessions_list_shows_a_table_and_json(
    deployment: tuple[SessionManager, list[str]], redis_url: str, key_prefix: str
) -> None:
    code, out = run(
        "sessions", "list", "--user", "alice", "--store", redis_url, "--prefix", key_prefix
    )
    assert code == 0, out
    assert "Sessions of alice" in out
    assert "Laptop" in out
    assert "Phone" in out
    assert "Tablet" not in out
    code, out = run(
        "sessions",
        "list",
        "--user",
        "alice",
        "--json",
        "--store",
        redis_url,
        "--prefix",
        key_prefix,
    )
    assert code == 0
    assert sorted(d["user_agent"] for d in json.loads(out)) == ["Laptop", "Phone"]
    code, out = run(
        "sessions", "list", "--user", "nobody", "--store", redis_url, "--prefix", key_prefix
    )
    assert code == 0
    assert "No live sessions" in out


def test_sessions_revoke_asks_then_counts(
    deployment: tuple[SessionManager, list[str]], redis_url: str, key_prefix: str
) -> None:
    manager, cookies = deployment
    args = ("sessions", "revoke", "--user", "alice", "--store", redis_url, "--prefix", key_prefix)
    declined = CliRunner().invoke(cli, list(args), input="n\n")
    assert declined.exit_code == 1
    assert "End all 2 live session(s)" in declined.output
    code, out = run(*args, "--yes")
    assert code == 0, out
    assert "2 session(s) ended" in out
    cycle = manager.open([cookies[0]])
    assert cycle.session.user_id is None
    assert cycle.session.end_reason == "revoked"
    assert manager.open([cookies[2]]).session.user_id == "bob"
    code, out = run(
        "events",
        "tail",
        "--no-follow",
        "--type",
        "revoked",
        "--store",
        redis_url,
        "--prefix",
        key_prefix,
    )
    assert "user=alice" in out
    assert "reason=admin" in out


def test_events_tail_prints_and_filters(
    deployment: tuple[SessionManager, list[str]], redis_url: str, key_prefix: str
) -> None:
    base = ("events", "tail", "--no-follow", "--store", redis_url, "--prefix", key_prefix)
    code, out = run(*base)
    assert code == 0, out
    assert out.count("created") == 3
    code, out = run(*base, "--user", "bob")
    assert out.count("created") == 1
    assert "user=bob" in out
    code, out = run(*base, "--type", "rotated")
    assert out.strip() == ""
    code, out = run(*base, "--last", "1")
    assert out.count("created") == 1
    code, out = run(*base, "--limit", "2")
    assert out.count("created") == 2


def test_events_tail_follows_new_events(
    deployment: tuple[SessionManager, list[str]], redis_url: str, key_prefix: str
) -> None:
    manager, _ = deployment

    done = threading.Event()

    def publish() -> None:
        # Again and again until the tail has printed one: however long the command takes to
        # start following on a loaded machine, a revocation comes after it did.
        while not done.wait(0.2):
            manager.revoke_user("alice")

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        code, out = run(
            "events",
            "tail",
            "--last",
            "0",
            "--duration",
            "30",
            "--limit",
            "1",
            "--store",
            redis_url,
            "--prefix",
            key_prefix,
        )
    finally:
        done.set()
        publisher.join()
    assert code == 0
    assert out.count("revoked") == 1  # --limit 1
    assert "created" not in out  # --last 0: only what arrived while following


def test_operator_commands_fail_cleanly() -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    code, out = run("sessions", "list", "--user", "a", "--store", down)
    assert code == 1
    assert "Error: Redis at" in out
    code, out = run("sessions", "list", "--user", "a", "--store", "memory")
    assert code == 2
    assert "operator commands need" in out
    code, out = run("events", "tail", "--store", down, "--no-follow")
    assert code == 1
    code, out = run("sessions", "list", "--user", "a", "--store", "redis://h/0", "--prefix", "a b")
    assert code == 2


def test_sessions_are_listed_per_tenant(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    manager = SessionManager(store, session_config(), observer=CapturingObserver())
    cycle = manager.open([], user_agent="Tenant browser", tenant="acme")
    cycle.session.login("alice")
    manager.commit(cycle)
    base = ("sessions", "list", "--user", "alice", "--store", redis_url, "--prefix", key_prefix)
    code, out = run(*base, "--tenant", "acme")
    assert code == 0
    assert "Tenant browser" in out
    code, out = run(*base)
    assert "No live sessions" in out
    code, out = run(*base, "--tenant", "Bad Tenant!")
    assert code == 2
    store.close()


def test_the_user_epoch_expires_after_one_absolute_timeout(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    """No session stamped before a revocation outlives the absolute timeout, so neither
    does the epoch key (one key per revoked user would otherwise stay forever)."""
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    manager = SessionManager(
        store, session_config(absolute_timeout=3600), observer=CapturingObserver()
    )
    manager.revoke_user("alice")
    (epoch_key,) = redis_admin.scan_iter(match=f"{key_prefix}:u:*:ep")
    assert 3500_000 < redis_admin.pttl(epoch_key) <= 3600_000
    store.close()


def _signed_in(redis_url: str, key_prefix: str, user: str, absolute_timeout: int) -> None:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    config = session_config(absolute_timeout=absolute_timeout, idle_timeout=60)
    manager = SessionManager(store, config, observer=CapturingObserver())
    cycle = manager.open([])
    cycle.session.login(user)
    manager.commit(cycle)
    store.close()


def _operator_revoke(redis_url: str, key_prefix: str, user: str, *options: str) -> None:
    args = ["sessions", "revoke", "--user", user, "--yes", "--store", redis_url]
    code, out = run(*args, "--prefix", key_prefix, *options)
    assert code == 0, out


def _epoch_pttl(redis_admin: redis.Redis, key_prefix: str) -> int:
    (epoch_key,) = redis_admin.scan_iter(match=f"{key_prefix}:u:*:ep")
    return int(redis_admin.pttl(epoch_key))


def test_operator_revoke_lets_the_user_epoch_expire_after_the_absolute_timeout(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    """``sessionary sessions revoke`` sets the epoch key's TTL as the library's own
    ``revoke_user`` does, instead of leaving one permanent key per revoked user."""
    _signed_in(redis_url, key_prefix, "alice", absolute_timeout=3600)
    _operator_revoke(redis_url, key_prefix, "alice", "--absolute-timeout", "3600")
    assert 3500_000 < _epoch_pttl(redis_admin, key_prefix) <= 3600_000


def test_operator_revoke_defaults_to_the_library_absolute_timeout(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    default_ms = session_config().absolute_timeout_ms
    _operator_revoke(redis_url, key_prefix, "carol")  # no session, no option: the default
    assert default_ms - 100_000 < _epoch_pttl(redis_admin, key_prefix) <= default_ms


def test_operator_revoke_keeps_the_epoch_while_a_listed_session_could_live(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    """A --absolute-timeout shorter than the application's never lets the epoch expire
    before a session the revocation ended could have reached its own deadline."""
    _signed_in(redis_url, key_prefix, "dave", absolute_timeout=7200)
    _operator_revoke(redis_url, key_prefix, "dave", "--absolute-timeout", "60")
    assert 7000_000 < _epoch_pttl(redis_admin, key_prefix) <= 7200_000
