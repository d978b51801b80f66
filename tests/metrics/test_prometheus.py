"""The Prometheus observer, fed by real request cycles of the manager on a memory store."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from sessionary import SessionConfig, SessionManager
from sessionary.exceptions import StoreConflictError, StoreUnavailableError
from sessionary.metrics._outcomes import MAX_ERROR_TYPES
from sessionary.metrics.prometheus import PrometheusObserver
from sessionary.observability import LoggingObserver, ObserverGroup
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.ops import CommitStatus, LoadStatus
from sessionary.stores import CachingStore, MemoryStore, RedisStore
from sessionary.stores.base import SessionStore
from sessionary.testing import FakeClock, session_config
from tests.scripted_stores import SyncFailingStore

PREFIX = "sessionary"


class Browser:
    """Keeps the cookie between requests."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self.cookie: str | None = None

    def request(self, write: dict[str, object] | None = None, *, logout: bool = False) -> None:
        name = self.manager.config.cookie.name
        cycle = self.manager.open([f"{name}={self.cookie}"] if self.cookie else [])
        if write:
            cycle.session.update(write)
        if logout:
            cycle.session.logout()
        update = self.manager.commit(cycle)
        if update.set_cookie is not None:
            self.cookie = update.set_cookie.split(";", 1)[0].split("=", 1)[1] or None


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> PrometheusObserver:
    return PrometheusObserver(registry)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_750_000_000.0)


@pytest.fixture
def config(clock: FakeClock) -> SessionConfig:
    return session_config(clock=clock, idle_timeout=600, touch_interval=60)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    sample = registry.get_sample_value(f"{PREFIX}_{name}", labels)
    return 0.0 if sample is None else sample


def manager_for(
    store: SessionStore, config: SessionConfig, metrics: PrometheusObserver
) -> SessionManager:
    return SessionManager(store, config, observer=metrics)


def test_a_session_lifecycle_moves_every_family(
    registry: CollectorRegistry,
    metrics: PrometheusObserver,
    config: SessionConfig,
    clock: FakeClock,
) -> None:
    manager = manager_for(MemoryStore(), config, metrics)
    browser = Browser(manager)
    browser.request()  # no cookie, nothing written: no store call
    assert value(registry, "store_operations_total", operation="load", outcome="found") == 0

    browser.request({"cart": [1]})  # create
    browser.request()  # load: found, touch not due (skipped)
    clock.advance(120)
    browser.request()  # load: found and touched
    stale = browser.cookie
    browser.request(logout=True)  # load (skipped) + destroy
    replay = Browser(manager)
    replay.cookie = stale
    replay.request()  # load: missing
    replay.cookie = "not-a-session-id"
    replay.request()  # malformed: no store call, an invalid_id event

    assert value(registry, "store_operations_total", operation="create", outcome="ok") == 1
    assert value(registry, "store_operations_total", operation="load", outcome="found") == 2
    assert value(registry, "store_operations_total", operation="touch", outcome="touched") == 1
    assert value(registry, "store_operations_total", operation="load", outcome="missing") == 1
    assert value(registry, "store_operations_total", operation="destroy", outcome="deleted") == 1
    assert value(registry, "load_hits_total") == 3
    assert value(registry, "load_misses_total", reason="missing") == 1
    assert value(registry, "touches_total", result="touched") == 1
    assert value(registry, "touches_total", result="skipped") == 2
    assert value(registry, "events_total", event="created") == 1
    assert value(registry, "events_total", event="destroyed") == 1
    assert value(registry, "events_total", event="invalid_id") == 2
    assert value(registry, "store_operation_duration_seconds_count", operation="load") == 3
    assert value(registry, "store_operation_duration_seconds_count", operation="touch") == 1
    assert value(registry, "store_operation_duration_seconds_sum", operation="create") > 0


def test_expiry_is_a_miss_with_its_reason(
    registry: CollectorRegistry,
    metrics: PrometheusObserver,
    config: SessionConfig,
    clock: FakeClock,
) -> None:
    # A record outlives its TTL only when the idle timeout was shortened since it was written.
    store = MemoryStore()
    browser = Browser(manager_for(store, config, metrics))
    browser.request({"a": 1})
    shorter = session_config(clock=clock, secret_keys=config.secret_keys, idle_timeout=300)
    browser.manager = manager_for(store, shorter, metrics)
    clock.advance(301)
    browser.request()
    assert value(registry, "load_misses_total", reason="expired_idle") == 1
    assert value(registry, "events_total", event="expired_idle") == 1
    assert value(registry, "load_hits_total") == 0


def test_conflicts_by_resolution_and_store_errors_by_type(
    registry: CollectorRegistry, metrics: PrometheusObserver, config: SessionConfig
) -> None:
    store = MemoryStore()
    manager = manager_for(store, config, metrics)
    browser = Browser(manager)
    browser.request({"n": 0})
    cookies = [f"{config.cookie.name}={browser.cookie}"]
    first, second = manager.open(cookies), manager.open(cookies)
    for cycle in (first, second):
        cycle.session["n"] = cycle.session["n"] + 1
    manager.commit(first)
    manager.commit(second)  # last writer wins, reported
    assert value(registry, "conflicts_total", resolution="last_writer_wins") == 1
    assert value(registry, "events_total", event="conflict") == 1

    strict = session_config(conflict_policy="raise")
    strict_manager = manager_for(MemoryStore(), strict, metrics)
    writer = Browser(strict_manager)
    writer.request({"n": 0})
    cookies = [f"{strict.cookie.name}={writer.cookie}"]
    first, second = strict_manager.open(cookies), strict_manager.open(cookies)
    for cycle in (first, second):
        cycle.session["n"] = cycle.session["n"] + 1
    strict_manager.commit(first)
    with pytest.raises(StoreConflictError):
        strict_manager.commit(second)  # refused under the raise policy
    assert value(registry, "conflicts_total", resolution="refused") == 1
    # The store answered the second commit STALE (the core then found the conflict).
    assert value(registry, "store_operations_total", operation="update", outcome="stale") == 2

    failing = SyncFailingStore()
    failing_manager = manager_for(failing, strict, metrics)
    failing.fail_commit = True
    with pytest.raises(StoreUnavailableError):
        Browser(failing_manager).request({"x": 1})
    assert (
        value(registry, "store_errors_total", operation="create", error="StoreUnavailableError")
        == 1
    )
    assert value(registry, "store_operations_total", operation="create", outcome="error") == 1


def test_store_down_responses_and_future_event_names(
    registry: CollectorRegistry, metrics: PrometheusObserver
) -> None:
    for name in (EventName.FAIL_CLOSED, EventName.FAIL_CLOSED, EventName.FAIL_OPEN_READONLY):
        metrics.event(SessionEvent(name, 1))
    assert value(registry, "unavailable_responses_total", response="fail_closed") == 2
    assert value(registry, "unavailable_responses_total", response="fail_open_readonly") == 1
    # Every EventName is a label value, with no per-event code in the observer.
    for name in EventName:
        metrics.event(SessionEvent(name, 1, "fingerprint", "user-42"))
        assert value(registry, "events_total", event=name.value) >= 1
    exposed = "".join(
        f"{sample.labels}" for family in registry.collect() for sample in family.samples
    )
    assert "user-42" not in exposed
    assert "fingerprint" not in exposed


def test_label_cardinality_stays_bounded(
    registry: CollectorRegistry, metrics: PrometheusObserver
) -> None:
    for index in range(MAX_ERROR_TYPES + 10):
        metrics.operation("load", 0.001, f"Error{index}")
    metrics.operation("load", 0.001, "not an identifier: 10.0.0.1")
    errors = [
        sample.labels["error"]
        for family in registry.collect()
        for sample in family.samples
        if sample.name == f"{PREFIX}_store_errors_total"
    ]
    assert len(set(errors)) == MAX_ERROR_TYPES + 1
    assert value(registry, "store_errors_total", operation="load", error="other") == 11


def test_the_observer_never_raises(
    metrics: PrometheusObserver, caplog: pytest.LogCaptureFixture
) -> None:
    broken = SessionEvent(EventName.CONFLICT, 1, detail=None)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="sessionary"):
        metrics.operation("load", "slow", "found")  # type: ignore[arg-type]
        metrics.event(broken)
    assert len([r for r in caplog.records if "Prometheus observer failed" in r.message]) == 1


def test_it_combines_with_the_logging_observer(
    registry: CollectorRegistry,
    metrics: PrometheusObserver,
    config: SessionConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    observer = ObserverGroup([LoggingObserver(), metrics])
    browser = Browser(SessionManager(MemoryStore(), config, observer=observer))
    with caplog.at_level(logging.DEBUG, logger="sessionary"):
        browser.request({"a": 1})
    assert value(registry, "events_total", event="created") == 1
    assert any("session created" in r.getMessage() for r in caplog.records)


def test_exposition_apps_serve_the_registry(
    registry: CollectorRegistry, metrics: PrometheusObserver
) -> None:
    metrics.operation("load", 0.0002, "found")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""}
    statuses: list[str] = []
    body = b"".join(metrics.wsgi_app()(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"]
    assert b"sessionary_load_hits_total 1.0" in body
    assert callable(metrics.asgi_app())
    assert "CollectorRegistry" in repr(metrics)


def test_every_load_status_is_a_hit_or_a_miss_never_an_error(
    registry: CollectorRegistry, metrics: PrometheusObserver
) -> None:
    for status in LoadStatus:
        metrics.operation("load", 0.001, status.value)
    for commit in CommitStatus:
        metrics.operation("update", 0.001, commit.value)
    misses = len(LoadStatus) - 1
    assert value(registry, "load_hits_total") == 1
    assert (
        sum(value(registry, "load_misses_total", reason=status.value) for status in LoadStatus)
        == misses
    )
    errors = [
        sample
        for family in registry.collect()
        for sample in family.samples
        if sample.name == f"{PREFIX}_store_errors_total"
    ]
    assert errors == []


def test_the_local_cache_staleness_and_bypass_time_are_recorded(
    metrics: PrometheusObserver, registry: CollectorRegistry
) -> None:
    for seconds, outcome in [(0.0004, "hit"), (0.003, "hit"), (0.0, "bypass"),
                             (0.25, "bypass"), (0.5, "recovered"), (0.0, "miss")]:  # fmt: skip
        metrics.operation("cache", seconds, outcome)
    assert value(registry, "cache_staleness_seconds_count") == 2
    assert value(registry, "cache_staleness_seconds_sum") == pytest.approx(0.0034)
    assert value(registry, "cache_staleness_seconds_bucket", le="0.0005") == 1
    assert value(registry, "cache_staleness_seconds_bucket", le="0.005") == 2
    assert value(registry, "cache_bypass_seconds_total") == pytest.approx(0.75)
    assert value(registry, "store_operations_total", operation="cache", outcome="recovered") == 1
    assert value(registry, "store_operation_duration_seconds_count", operation="cache") == 0


@pytest.mark.redis
def test_the_local_cache_reports_hits_and_misses_not_errors(
    metrics: PrometheusObserver,
    registry: CollectorRegistry,
    redis_url: str,
    redis_admin: object,  # deletes this test's keys afterwards
    key_prefix: str,
) -> None:

    store = CachingStore(
        RedisStore.from_url(redis_url, prefix=key_prefix), staleness_ms=50, observer=metrics
    )
    browser = Browser(SessionManager(store, session_config()))
    try:
        browser.request({"a": 1})
        for _ in range(50):
            browser.request()
            if store.stats.get("hit"):
                break

        def count(outcome: str) -> float:
            labels = {"operation": "cache", "outcome": outcome}
            return registry.get_sample_value(f"{PREFIX}_store_operations_total", labels) or 0.0

        assert count("hit") == store.stats["hit"] >= 1
        assert count("miss") + count("bypass") >= 1
        errors = registry.get_sample_value(
            f"{PREFIX}_store_operations_total", {"operation": "cache", "outcome": "error"}
        )
        assert errors is None
        # Counts, not round trips: no duration is recorded for them.
        timed = registry.get_sample_value(
            f"{PREFIX}_store_operation_duration_seconds_count", {"operation": "cache"}
        )
        assert timed is None
    finally:
        store.close()
