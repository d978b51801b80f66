"""Prometheus exporter: an :class:`~sessionary.observability.Observer` that keeps metrics.

Install the extra (``pip install 'sessionary[prometheus]'``), create one observer per
registry and hand it to the adapter; expose the registry the usual ``prometheus_client`` way::

    from sessionary.metrics.prometheus import PrometheusObserver
    from sessionary.observability import LoggingObserver, ObserverGroup

    metrics = PrometheusObserver()                      # the default registry
    observer = ObserverGroup([LoggingObserver(), metrics])  # keep the security log too
    app.add_middleware(SessionMiddleware, store=store, config=config, observer=observer)
    app.mount("/metrics", metrics.asgi_app())

Metrics (``namespace`` defaults to ``sessionary``; no label ever holds an ID or a user):

* ``store_operation_duration_seconds{operation}`` — histogram of store round trips
* ``store_operations_total{operation, outcome}`` — store round trips by outcome
* ``store_errors_total{operation, error}`` — failed round trips by exception type
* ``load_hits_total`` / ``load_misses_total{reason}`` — loads that found a live session / not
* ``touches_total{result}`` — found sessions whose expiry was extended (``touched``) or left
  alone by the touch throttle (``skipped``)
* ``events_total{event}`` — lifecycle events
* ``conflicts_total{resolution}`` — commits that found fields changed underneath
  (``last_writer_wins`` or ``refused``)
* ``unavailable_responses_total{response}`` — answers while the store was down
  (``fail_closed`` or ``fail_open_readonly``)
* ``cache_staleness_seconds`` — histogram, the local cache (docs/cache.md): per load
  answered from memory, the age of the invalidation stream's last confirmation (how late a
  change made elsewhere could be seen; never above the ``staleness_ms`` bound)
* ``cache_bypass_seconds_total`` — time the local cache spent bypassed (its invalidation
  stream not confirmed within the bound), as the bypassed loads report it

The local cache's events are counted in ``store_operations_total`` under the operation
``cache`` (outcomes: ``sessionary.observability.CACHE_OUTCOMES``), with no duration.
``operation`` is ``load`` (read only), ``touch`` (a load that also extended the idle
expiry: the throttled touch was due), ``create``, ``update`` (commits) or ``destroy``.
``outcome`` is the result status, or ``error``. ``event`` is an
:class:`~sessionary.sansio.events.EventName` value, so events added later are counted with
no change here. ``error`` is the exception type name (at most 32 distinct, then ``other``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, make_asgi_app
from prometheus_client import make_wsgi_app as _make_wsgi_app

from sessionary.metrics._outcomes import (
    ERROR_OUTCOME,
    LOAD_HITS,
    LOAD_MISSES,
    ErrorNames,
    is_error,
    operation_label,
)
from sessionary.observability import CACHE_OPERATION, TOUCHED_OUTCOME
from sessionary.sansio.events import EventName, SessionEvent

__all__ = ["DEFAULT_BUCKETS", "STALENESS_BUCKETS", "PrometheusObserver"]

_logger = logging.getLogger("sessionary")

DEFAULT_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
"""Latency buckets in seconds: a Redis round trip is ~0.1-1 ms; the client gives up near 2 s."""
STALENESS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)
"""Buckets of the local cache's staleness in seconds (its default bound is 5 ms)."""

_RESOLUTIONS = {"ok": "last_writer_wins", "conflict": "refused"}
_UNAVAILABLE = {
    EventName.FAIL_CLOSED: "fail_closed",
    EventName.FAIL_OPEN_READONLY: "fail_open_readonly",
}


class PrometheusObserver:
    """Counts sessionary's store operations and lifecycle events as Prometheus metrics.

    ``registry``: where the metrics are registered (default: ``prometheus_client``'s global
    registry); one observer per registry — share it between the apps of a process.
    It never raises: a failure inside is logged once and the request goes on.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        namespace: str = "sessionary",
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        self.registry = REGISTRY if registry is None else registry
        common: dict[str, Any] = {"namespace": namespace, "registry": self.registry}
        self._duration = Histogram(
            "store_operation_duration_seconds",
            "Duration of store round trips (load, touch, create, update, destroy).",
            ["operation"],
            buckets=tuple(buckets),
            **common,
        )
        self._operations = Counter(
            "store_operations", "Store round trips by outcome.", ["operation", "outcome"], **common
        )
        self._errors = Counter(
            "store_errors",
            "Failed store round trips by error type.",
            ["operation", "error"],
            **common,
        )
        self._hits = Counter("load_hits", "Loads that found a live session.", **common)
        self._misses = Counter(
            "load_misses",
            "Loads that found no usable session (missing, invalid, expired_idle/absolute).",
            ["reason"],
            **common,
        )
        self._touches = Counter(
            "touches",
            "Found sessions whose idle expiry was extended (touched) or left alone by the "
            "touch throttle (skipped).",
            ["result"],
            **common,
        )
        self._events = Counter("events", "Session lifecycle events.", ["event"], **common)
        self._conflicts = Counter(
            "conflicts",
            "Commits that found fields they read and wrote changed underneath.",
            ["resolution"],
            **common,
        )
        self._unavailable = Counter(
            "unavailable_responses",
            "Requests answered while the store was unavailable (fail_closed: refused with "
            "503; fail_open_readonly: served an anonymous read-only view).",
            ["response"],
            **common,
        )
        self._staleness = Histogram(
            "cache_staleness_seconds",
            "Local cache hits by the age of the invalidation stream's last confirmation.",
            buckets=STALENESS_BUCKETS,
            **common,
        )
        self._bypassed = Counter(
            "cache_bypass_seconds",
            "Time the local cache was bypassed (invalidation stream not confirmed in time).",
            **common,
        )
        self._error_names = ErrorNames()
        self._timers: dict[str, Callable[[float], None]] = {}
        self._counted: dict[tuple[str, str], Callable[[], None]] = {}
        self._failed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(registry={self.registry!r})"

    # ------------------------------------------------------------------ Observer
    def operation(self, name: str, seconds: float, outcome: str) -> None:
        """Record one store round trip."""
        try:
            self._operation(name, seconds, outcome)
        except Exception:  # an observer must never break a request
            self._report_failure()

    def event(self, event: SessionEvent) -> None:
        """Count one lifecycle event."""
        try:
            self._event(event)
        except Exception:  # an observer must never break a request
            self._report_failure()

    # ------------------------------------------------------------------ exposition
    def asgi_app(self) -> Any:
        """An ASGI app serving this registry in the Prometheus text format (mount at /metrics)."""
        return make_asgi_app(self.registry)

    def wsgi_app(self) -> Any:
        """A WSGI app serving this registry in the Prometheus text format."""
        return _make_wsgi_app(self.registry)

    # ------------------------------------------------------------------ internals
    def _operation(self, name: str, seconds: float, outcome: str) -> None:
        operation = operation_label(name, outcome)
        if name == CACHE_OPERATION:  # the local cache's counts: no round trip to time
            self._operations.labels(operation, outcome).inc()
            if outcome == "hit":
                self._staleness.observe(seconds)
            elif seconds > 0:  # bypass, recovered: the time bypassed since the last report
                self._bypassed.inc(seconds)
            return
        observe = self._timers.get(operation)
        if observe is None:
            observe = self._timers[operation] = self._duration.labels(operation).observe
        observe(seconds)
        key = (operation, outcome)
        count = self._counted.get(key)
        if count is None:
            count = self._counted[key] = self._counter_for(name, operation, outcome)
        count()

    def _counter_for(self, name: str, operation: str, outcome: str) -> Callable[[], None]:
        """The increments one (operation, outcome) pair causes, resolved once."""
        if is_error(outcome):
            total = self._operations.labels(operation, ERROR_OUTCOME)
            error = self._errors.labels(operation, self._error_names.label(outcome))

            def count_error() -> None:
                total.inc()
                error.inc()

            return count_error
        steps = [self._operations.labels(operation, outcome).inc]
        if name == "load" and outcome in LOAD_HITS:
            touched = "touched" if outcome == TOUCHED_OUTCOME else "skipped"
            steps += [self._hits.inc, self._touches.labels(touched).inc]
        elif name == "load" and outcome in LOAD_MISSES:
            steps.append(self._misses.labels(outcome).inc)

        def count() -> None:
            for step in steps:
                step()

        return count

    def _event(self, event: SessionEvent) -> None:
        name = event.name
        label = name.value if isinstance(name, EventName) else "other"
        self._events.labels(label).inc()
        if name is EventName.CONFLICT:
            applied = str(event.detail.get("applied", ""))
            self._conflicts.labels(_RESOLUTIONS.get(applied, "other")).inc()
        elif name in _UNAVAILABLE:
            self._unavailable.labels(_UNAVAILABLE[name]).inc()

    def _report_failure(self) -> None:
        if not self._failed:
            self._failed = True
            _logger.exception("sessionary: the Prometheus observer failed (logged once)")
