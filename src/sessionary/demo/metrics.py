"""The demo's ``/metrics`` endpoint: sessionary's Prometheus exporter, when installed.

With ``prometheus_client`` available (extra ``prometheus``), the demo counts its session
operations and events in a registry of its own and serves them in the Prometheus text
format at ``GET /metrics`` (never touching the session). Without it, the route is absent and
the demo logs events as usual. With several worker processes (``--workers N``) the command
runs them in ``prometheus_client``'s multiprocess mode (:func:`shared_metrics`): every worker
writes its figures to a shared directory and ``/metrics`` sums them, whichever worker answers.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sessionary.observability import LoggingObserver, Observer, ObserverGroup

__all__ = [
    "Figures",
    "demo_observer",
    "prometheus_available",
    "shared_metrics",
    "with_metrics",
]

Figures = Callable[[], dict[str, dict[str, float]]]
"""The counters the admin view charts: per chart title, a value per label."""
_CHARTS = {  # sample name: chart title, the labels naming a bar, a prefix of the bar's name
    "sessionary_store_operations_total": ("Store round trips", ("operation", "outcome"), ""),
    "sessionary_load_hits_total": ("Loads", (), "hit"),
    "sessionary_load_misses_total": ("Loads", ("reason",), "miss: "),
    "sessionary_events_total": ("Lifecycle events", ("event",), ""),
}
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""The variable ``prometheus_client`` reads, at import, to share figures between processes."""


def prometheus_available() -> bool:
    """Whether ``prometheus_client`` can be imported."""
    return importlib.util.find_spec("prometheus_client") is not None


def _no_figures() -> dict[str, dict[str, float]]:
    return {}


def _figures(registry: Any) -> Figures:
    """Read the exporter's counters from ``registry`` (summed over workers when shared)."""

    def read() -> dict[str, dict[str, float]]:
        charts: dict[str, dict[str, float]] = {}
        for family in registry.collect():
            for sample in family.samples:
                chart = _CHARTS.get(sample.name)
                if chart is None:
                    continue
                title, labels, prefix = chart
                label = prefix + " ".join(sample.labels.get(name, "") for name in labels)
                values = charts.setdefault(title, {})
                values[label] = values.get(label, 0.0) + sample.value
        return charts

    return read


def demo_observer() -> tuple[Observer, list[Route], Figures]:
    """The demo's observer (logging, plus Prometheus when available), routes and figures."""
    if not prometheus_available():
        return LoggingObserver(), [], _no_figures
    from prometheus_client import (  # noqa: PLC0415 - optional extra
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        generate_latest,
    )

    from sessionary.metrics.prometheus import PrometheusObserver  # noqa: PLC0415

    registry = CollectorRegistry()
    exporter = PrometheusObserver(registry)
    served = registry
    if os.environ.get(MULTIPROCESS_DIR):
        from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

        served = CollectorRegistry()
        MultiProcessCollector(served)  # type: ignore[no-untyped-call]  # every worker's, summed

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(served), media_type=CONTENT_TYPE_LATEST)

    observer = ObserverGroup([LoggingObserver(), exporter])
    return observer, [Route("/metrics", metrics)], _figures(served)


def with_metrics(app: Starlette) -> tuple[Observer, Figures]:
    """Add ``GET /metrics`` to ``app`` when available.

    Returns the observer for its middleware and the figures for the admin view's charts.
    """
    observer, routes, figures = demo_observer()
    app.router.routes.extend(routes)
    return observer, figures


@contextmanager
def shared_metrics(environ: MutableMapping[str, str]) -> Iterator[None]:
    """Worker processes started inside share their metrics (a directory of their own).

    Sets ``PROMETHEUS_MULTIPROC_DIR`` for the workers (inherited) and removes the directory
    afterwards; a directory the operator configured is used and left alone.
    """
    if not prometheus_available() or environ.get(MULTIPROCESS_DIR):
        yield
        return
    directory = tempfile.mkdtemp(prefix="sessionary-demo-metrics-")
    environ[MULTIPROCESS_DIR] = directory
    try:
        yield
    finally:
        environ.pop(MULTIPROCESS_DIR, None)
        shutil.rmtree(directory, ignore_errors=True)
