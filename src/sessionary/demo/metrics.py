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
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sessionary.observability import LoggingObserver, Observer, ObserverGroup

__all__ = ["demo_observer", "prometheus_available", "shared_metrics", "with_metrics"]

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""The variable ``prometheus_client`` reads, at import, to share figures between processes."""


def prometheus_available() -> bool:
    """Whether ``prometheus_client`` can be imported."""
    return importlib.util.find_spec("prometheus_client") is not None


def demo_observer() -> tuple[Observer, list[Route]]:
    """The demo's observer (logging, plus Prometheus when available) and its routes."""
    if not prometheus_available():
        return LoggingObserver(), []
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

    return ObserverGroup([LoggingObserver(), exporter]), [Route("/metrics", metrics)]


def with_metrics(app: Starlette) -> Observer:
    """Add ``GET /metrics`` to ``app`` when available; the observer for its middleware."""
    observer, routes = demo_observer()
    app.router.routes.extend(routes)
    return observer


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
