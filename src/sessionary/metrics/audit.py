"""Prometheus metrics of the audit mover (``sessionary audit run --metrics-port``).

* ``audit_lag_entries`` — entries in the stream not yet delivered to the movers' group
* ``audit_pending_entries`` — entries delivered and not yet acknowledged (in flight, or
  waiting to be inserted again after a database failure)
* ``audit_behind_entries`` — both: how many events the SQL table is missing
* ``audit_moved_total`` — entries inserted and acknowledged
* ``audit_errors_total`` — steps that failed (the batch stays pending and is retried)

``namespace`` defaults to ``sessionary``; no label holds a user or an ID.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from sessionary.audit._lag import AuditLag

__all__ = ["AuditMetrics"]


class AuditMetrics:
    """The mover's gauges and counters in one registry."""

    def __init__(
        self, registry: CollectorRegistry = REGISTRY, namespace: str = "sessionary"
    ) -> None:
        def gauge(name: str, text: str) -> Gauge:
            return Gauge(name, text, namespace=namespace, registry=registry)

        self.lag = gauge("audit_lag_entries", "Stream entries not delivered to the group yet.")
        self.pending = gauge("audit_pending_entries", "Entries delivered, not acknowledged yet.")
        self.behind = gauge("audit_behind_entries", "Events the SQL audit table is missing.")
        self.moved = Counter(
            "audit_moved",
            "Entries inserted and acknowledged.",
            namespace=namespace,
            registry=registry,
        )
        self.errors = Counter(
            "audit_errors", "Mover steps that failed.", namespace=namespace, registry=registry
        )

    def observe(self, lag: AuditLag) -> None:
        """Set the gauges from the group's position (an unknown lag leaves its gauge)."""
        self.pending.set(lag.pending)
        if lag.lag is not None:
            self.lag.set(lag.lag)
        if lag.behind is not None:
            self.behind.set(lag.behind)
