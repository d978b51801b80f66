"""OpenTelemetry observer: a span per store round trip, metrics, and span events.

Install the extra (``pip install 'sessionary[otel]'``, the API only; configure the SDK and
exporters as usual in the application) and hand the observer to the adapter::

    from sessionary.metrics.otel import OpenTelemetryObserver

    app.add_middleware(SessionMiddleware, store=store, config=config,
                       observer=OpenTelemetryObserver())

* Spans ``sessionary.load``/``touch``/``create``/``update``/``destroy`` (kind ``CLIENT``),
  timed after the fact with the measured start and end, children of the request's span
  when a tracing middleware made one current. Attribute ``sessionary.outcome``; an error
  sets the span status to ``ERROR`` and ``error.type``.
* Lifecycle events become span events ``sessionary.<event>`` on the current span.
* Metrics: histogram ``sessionary.store.operation.duration`` (s) by ``sessionary.operation``,
  and counters ``sessionary.store.operations`` (``sessionary.operation``,
  ``sessionary.outcome``), ``sessionary.store.errors`` (``error.type``) and
  ``sessionary.session.events`` (``sessionary.event``); for the local cache
  (docs/cache.md), histogram ``sessionary.cache.staleness`` (s) of its hits and counter
  ``sessionary.cache.bypass`` (s) of the time it was bypassed.

Attributes never carry session IDs, fingerprints or user IDs. It never raises.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from sessionary import __version__
from sessionary.metrics._outcomes import ERROR_OUTCOME, ErrorNames, is_error, operation_label
from sessionary.observability import CACHE_OPERATION
from sessionary.sansio.events import EventName, SessionEvent

__all__ = ["OpenTelemetryObserver"]

_logger = logging.getLogger("sessionary")
_SCOPE = "sessionary"


class OpenTelemetryObserver:
    """Reports sessionary's store operations and events through the OpenTelemetry API.

    ``tracer_provider`` / ``meter_provider`` default to the global providers.
    """

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider)
        self._duration = meter.create_histogram(
            "sessionary.store.operation.duration",
            unit="s",
            description="Duration of store round trips.",
        )
        self._operations = meter.create_counter(
            "sessionary.store.operations", description="Store round trips by outcome."
        )
        self._errors = meter.create_counter(
            "sessionary.store.errors", description="Failed store round trips by error type."
        )
        self._events = meter.create_counter(
            "sessionary.session.events", description="Session lifecycle events."
        )
        self._staleness = meter.create_histogram(
            "sessionary.cache.staleness",
            unit="s",
            description="Local cache hits by the age of the invalidation stream's confirmation.",
        )
        self._bypassed = meter.create_counter(
            "sessionary.cache.bypass",
            unit="s",
            description="Time the local cache was bypassed (stream not confirmed in time).",
        )
        self._error_names = ErrorNames()
        self._failed = False

    def operation(self, name: str, seconds: float, outcome: str) -> None:
        """Record one store round trip as a span and in the metrics."""
        try:
            self._operation(name, seconds, outcome)
        except Exception:  # an observer must never break a request
            self._report_failure()

    def event(self, event: SessionEvent) -> None:
        """Add the event to the current span and count it."""
        try:
            label = event.name.value if isinstance(event.name, EventName) else "other"
            self._events.add(1, {"sessionary.event": label})
            span = trace.get_current_span()
            if span.is_recording():
                reason = event.detail.get("reason")
                attributes = {"sessionary.reason": reason} if isinstance(reason, str) else {}
                span.add_event(f"sessionary.{label}", attributes)
        except Exception:  # an observer must never break a request
            self._report_failure()

    def _operation(self, name: str, seconds: float, outcome: str) -> None:
        operation = operation_label(name, outcome)
        failed = is_error(outcome)
        result = ERROR_OUTCOME if failed else outcome
        if name == CACHE_OPERATION:  # the local cache's counts: no round trip, no span
            self._operations.add(
                1, {"sessionary.operation": operation, "sessionary.outcome": result}
            )
            if outcome == "hit":
                self._staleness.record(seconds)
            elif seconds > 0:  # bypass, recovered: the time bypassed since the last report
                self._bypassed.add(seconds)
            return
        self._duration.record(seconds, {"sessionary.operation": operation})
        self._operations.add(1, {"sessionary.operation": operation, "sessionary.outcome": result})
        end = time.time_ns()
        span = self._tracer.start_span(
            f"sessionary.{operation}",
            kind=SpanKind.CLIENT,
            start_time=end - int(seconds * 1e9),
            attributes={"sessionary.outcome": result},
        )
        if failed:
            error = self._error_names.label(outcome)
            self._errors.add(1, {"sessionary.operation": operation, "error.type": error})
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end)

    def _report_failure(self) -> None:
        if not self._failed:
            self._failed = True
            _logger.exception("sessionary: the OpenTelemetry observer failed (logged once)")
