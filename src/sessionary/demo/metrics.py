"""The demo's ``/metrics`` endpoint: sessionary's Prometheus exporter, when installed.

With ``prometheus_client`` available (extra ``prometheus``), the demo counts its session
operations and events in a registry of its own and serves them in the Prometheus text
format at ``GET /metrics`` (never touching the session). Without it, the route is absent and
the demo logs events as usual. Each worker process has its own registry.
"""

from __future__ import annotations

import importlib.util

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sessionary.observability import LoggingObserver, Observer, ObserverGroup

__all__ = ["demo_observer", "prometheus_available", "with_metrics"]


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

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return ObserverGroup([LoggingObserver(), exporter]), [Route("/metrics", metrics)]


def with_metrics(app: Starlette) -> Observer:
    """Add ``GET /metrics`` to ``app`` when available; the observer for its middleware."""
    observer, routes = demo_observer()
    app.router.routes.extend(routes)
    return observer
