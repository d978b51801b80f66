"""Observers and the lazily imported store names."""

from __future__ import annotations

import importlib
import logging

import pytest

import sessionary.stores
from sessionary import LoggingObserver, NullObserver, ObserverGroup
from sessionary.observability import notify
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.testing import CapturingObserver, FakeClock, capture_events


def event(name: EventName) -> SessionEvent:
    return SessionEvent(name, 1, "fp", "user", {"k": "v"})


def test_logging_observer_levels(caplog: pytest.LogCaptureFixture) -> None:
    observer = LoggingObserver()
    with caplog.at_level(logging.DEBUG, logger="sessionary"):
        observer.event(event(EventName.DUPLICATE_COOKIE))
        observer.event(event(EventName.INVALID_ID))
        observer.event(event(EventName.CREATED))
        observer.operation("load", 0.001, "found")
    levels = [(r.name, r.levelno) for r in caplog.records]
    assert levels == [
        ("sessionary.events", logging.WARNING),
        ("sessionary.events", logging.INFO),
        ("sessionary.events", logging.DEBUG),
        ("sessionary", logging.DEBUG),
    ]
    assert "fp=fp" in caplog.records[0].getMessage()


def test_logging_observer_is_quiet_when_disabled(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="sessionary"):
        LoggingObserver().event(event(EventName.CREATED))
        LoggingObserver().operation("load", 0.1, "found")
    assert caplog.records == []


class Exploding:
    def event(self, event: SessionEvent) -> None:
        raise RuntimeError("observer bug")

    def operation(self, name: str, seconds: float, outcome: str) -> None:
        raise RuntimeError("observer bug")


def test_a_failing_observer_never_breaks_the_request(caplog: pytest.LogCaptureFixture) -> None:
    captured = CapturingObserver()
    group = ObserverGroup([Exploding(), captured, NullObserver()])
    with caplog.at_level(logging.ERROR, logger="sessionary"):
        group.event(event(EventName.CREATED))
        group.operation("load", 0.1, "found")
        notify(Exploding(), event(EventName.ROTATED))
    assert captured.names() == [EventName.CREATED]
    assert captured.operations == [("load", 0.1, "found")]
    assert len([r for r in caplog.records if "observer" in r.getMessage()]) == 3


def test_capturing_observer_helpers() -> None:
    observer = capture_events()
    observer.event(event(EventName.CREATED))
    observer.event(event(EventName.DESTROYED))
    assert [e.name for e in observer.of(EventName.DESTROYED)] == [EventName.DESTROYED]
    observer.clear()
    assert observer.events == []
    assert observer.operations == []


def test_fake_clock() -> None:
    clock = FakeClock(100)
    clock.advance(2.5)
    assert clock() == 102.5
    clock.set(7)
    assert clock() == 7.0
    assert FakeClock()() > 1_700_000_000


def test_lazy_store_names() -> None:
    assert sessionary.stores.RedisStore.__name__ == "RedisStore"
    missing = "NoSuchStore"  # unknown to type checkers too (the package's stub)
    with pytest.raises(AttributeError, match=missing):
        getattr(sessionary.stores, missing)


def test_redis_store_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake_import(name: str, package: str | None = None) -> object:
        if name == "sessionary.backends.redis._async.store":  # the store's home, found lazily
            raise ModuleNotFoundError("No module named 'redis'", name="redis")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(ImportError, match=r"sessionary\[redis\]"):
        sessionary.stores.AsyncRedisStore  # noqa: B018
