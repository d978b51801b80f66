"""Metrics observers: export sessionary's events and store timings to monitoring systems.

* :class:`sessionary.metrics.prometheus.PrometheusObserver` — Prometheus (extra ``prometheus``)
* :class:`sessionary.metrics.otel.OpenTelemetryObserver` — OpenTelemetry (extra ``otel``)

Both implement :class:`sessionary.observability.Observer`; combine one with the default
logging observer through :class:`~sessionary.observability.ObserverGroup`. The submodules
import their client library, so import them explicitly.
"""
