"""The OpenTelemetry observer, with the SDK's in-memory span exporter and metric reader."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from sessionary import SessionManager
from sessionary.metrics.otel import OpenTelemetryObserver
from sessionary.observability import CACHE_OPERATION
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.stores import MemoryStore
from sessionary.testing import session_config


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.observer = OpenTelemetryObserver(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


def test_request_cycles_become_spans_and_metrics(telemetry: Telemetry) -> None:
    config = session_config()
    manager = SessionManager(MemoryStore(), config, observer=telemetry.observer)
    cycle = manager.open([])
    cycle.session["a"] = 1
    cookie = manager.commit(cycle).set_cookie
    assert cookie is not None
    name_value = cookie.split(";", 1)[0]
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("GET /") as request_span:
        loaded = manager.open([name_value])
        loaded.session.logout()
        manager.commit(loaded)
    spans = {span.name: span for span in telemetry.spans.get_finished_spans()}
    assert {"sessionary.create", "sessionary.load", "sessionary.destroy", "GET /"} <= set(spans)
    load = spans["sessionary.load"]
    assert load.parent is not None
    assert load.parent.span_id == request_span.get_span_context().span_id
    assert load.attributes is not None
    assert load.attributes["sessionary.outcome"] == "found"
    assert load.start_time is not None
    assert load.end_time is not None
    assert load.end_time >= load.start_time
    events = [event.name for event in spans["GET /"].events]
    assert events == ["sessionary.destroyed"]
    durations = telemetry.points("sessionary.store.operation.duration")
    assert {p.attributes["sessionary.operation"] for p in durations} == {
        "create",
        "load",
        "destroy",
    }
    counted = {
        p.attributes["sessionary.event"]: p.value
        for p in telemetry.points("sessionary.session.events")
    }
    assert counted == {"created": 1, "destroyed": 1}


def test_errors_mark_the_span(telemetry: Telemetry) -> None:
    telemetry.observer.operation("update", 0.002, "StoreTimeoutError")
    telemetry.observer.operation("load", 0.001, "touched")
    spans = {span.name: span for span in telemetry.spans.get_finished_spans()}
    failed = spans["sessionary.update"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "StoreTimeoutError"
    assert "sessionary.touch" in spans
    errors = telemetry.points("sessionary.store.errors")
    assert [(p.attributes["error.type"], p.value) for p in errors] == [("StoreTimeoutError", 1)]


def test_the_observer_never_raises(telemetry: Telemetry, caplog: pytest.LogCaptureFixture) -> None:
    broken = SessionEvent(EventName.CREATED, 1, detail=None)  # type: ignore[arg-type]
    tracer = telemetry.tracer_provider.get_tracer("test")
    with caplog.at_level(logging.ERROR, logger="sessionary"):
        telemetry.observer.operation("load", "slow", "found")  # type: ignore[arg-type]
        with tracer.start_as_current_span("request"):
            telemetry.observer.event(broken)  # fails too, logged no more
        telemetry.observer.event(SessionEvent(EventName.CREATED, 1))  # no current span: fine
    assert len([r for r in caplog.records if "OpenTelemetry observer failed" in r.message]) == 1
    assert telemetry.observer._failed


def test_the_local_cache_is_counted_without_spans_or_durations(telemetry: Telemetry) -> None:
    for outcome in ("hit", "hit", "miss", "flush_disconnect"):
        telemetry.observer.operation(CACHE_OPERATION, 0.0, outcome)
    assert telemetry.spans.get_finished_spans() == ()
    assert telemetry.points("sessionary.store.operation.duration") == []
    counted = {
        p.attributes["sessionary.outcome"]: p.value
        for p in telemetry.points("sessionary.store.operations")
        if p.attributes["sessionary.operation"] == CACHE_OPERATION
    }
    assert counted == {"hit": 2, "miss": 1, "flush_disconnect": 1}


def test_the_local_cache_staleness_and_bypass_time_are_recorded(telemetry: Telemetry) -> None:
    for seconds, outcome in [(0.0004, "hit"), (0.003, "hit"), (0.25, "bypass"),
                             (0.5, "recovered")]:  # fmt: skip
        telemetry.observer.operation(CACHE_OPERATION, seconds, outcome)
    (staleness,) = telemetry.points("sessionary.cache.staleness")
    assert staleness.count == 2
    assert staleness.sum == pytest.approx(0.0034)
    (bypassed,) = telemetry.points("sessionary.cache.bypass")
    assert bypassed.value == pytest.approx(0.75)
    assert telemetry.points("sessionary.store.operation.duration") == []
