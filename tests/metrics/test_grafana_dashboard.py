"""The Grafana dashboard queries only metrics that really exist.

``sessionary_*`` names are checked against what :class:`PrometheusObserver` exposes after
being fed every kind of operation and event; ``redis_*`` names against the list of
redis_exporter metrics below.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sessionary.metrics.prometheus import PrometheusObserver
from sessionary.sansio.events import EventName, SessionEvent

DASHBOARD = Path(__file__).parents[2] / "contrib" / "grafana" / "sessionary.json"

REDIS_EXPORTER_METRICS = frozenset(
    {
        # oliver006/redis_exporter: INFO fields (exporter.go metric maps) and per-command
        # and per-db families; names as exposed with the default "redis" namespace.
        "redis_up",
        "redis_uptime_in_seconds",
        "redis_instance_info",
        "redis_connected_clients",
        "redis_blocked_clients",
        "redis_memory_used_bytes",
        "redis_memory_used_rss_bytes",
        "redis_memory_used_peak_bytes",
        "redis_memory_max_bytes",
        "redis_mem_fragmentation_ratio",
        "redis_commands_processed_total",
        "redis_commands_total",
        "redis_commands_duration_seconds_total",
        "redis_connections_received_total",
        "redis_rejected_connections_total",
        "redis_evicted_keys_total",
        "redis_expired_keys_total",
        "redis_keyspace_hits_total",
        "redis_keyspace_misses_total",
        "redis_db_keys",
        "redis_db_keys_expiring",
        "redis_net_input_bytes_total",
        "redis_net_output_bytes_total",
        "redis_cpu_sys_seconds_total",
        "redis_cpu_user_seconds_total",
    }
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"\b((?:sessionary|redis)_[A-Za-z0-9_:]*)")
_LABELS = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)|\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def expressions() -> list[str]:
    return [
        target["expr"]
        for panel in panels(dashboard()["panels"])
        for target in panel.get("targets", [])
    ]


def metric_names(expr: str) -> set[str]:
    return set(_NAME.findall(_STRING.sub('""', expr)))


def label_names(expr: str) -> set[str]:
    names: set[str] = set()
    for grouping, matchers in _LABELS.findall(_STRING.sub('""', expr)):
        names.update(n.strip() for n in grouping.split(",") if n.strip())
        names.update(_MATCHER.findall(matchers))
    return names


def exposed() -> tuple[set[str], set[str]]:
    """Sample names and label names the exporter exposes once every path was taken."""
    registry = CollectorRegistry()
    observer = PrometheusObserver(registry)
    for name, outcome in [
        ("load", "found"),
        ("load", "touched"),
        ("load", "missing"),
        ("load", "invalid"),
        ("create", "ok"),
        ("update", "conflict"),
        ("update", "gone"),
        ("update", "StoreTimeoutError"),
        ("destroy", "deleted"),
        ("cache", "hit"),
        ("cache", "bypass"),
        ("cache", "flush_disconnect"),
    ]:
        observer.operation(name, 0.001, outcome)
    for event in EventName:
        observer.event(SessionEvent(event, 1, detail={"applied": "ok"}))
    samples = [sample for family in registry.collect() for sample in family.samples]
    return {s.name for s in samples}, {label for s in samples for label in s.labels}


def test_the_dashboard_is_well_formed() -> None:
    data = dashboard()
    assert data["title"] == "sessionary"
    ids = [panel["id"] for panel in panels(data["panels"])]
    assert len(ids) == len(set(ids))
    for panel in panels(data["panels"]):
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert all(t["expr"].strip() for t in panel["targets"])
    assert len(expressions()) >= 20


def test_every_sessionary_metric_is_exposed_by_the_exporter() -> None:
    names, labels = exposed()
    used = {name for expr in expressions() for name in metric_names(expr)}
    sessionary = {name for name in used if name.startswith("sessionary_")}
    assert sessionary, "the dashboard shows no sessionary metric"
    assert sessionary <= names, sorted(sessionary - names)
    # Every family of the exporter appears on the dashboard.
    families = {
        re.sub(r"_(bucket|count|sum|total|created)$", "", name)
        for name in names
        if not name.endswith("_created")
    }
    shown = {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in sessionary}
    assert families <= shown, sorted(families - shown)
    for expr in expressions():
        if metric_names(expr) & sessionary:
            assert label_names(expr) <= labels | {"le"}, expr


def test_every_redis_metric_is_a_redis_exporter_metric() -> None:
    used = {name for expr in expressions() for name in metric_names(expr)}
    redis = {name for name in used if name.startswith("redis_")}
    assert {"redis_memory_used_bytes", "redis_evicted_keys_total"} <= redis
    assert redis <= REDIS_EXPORTER_METRICS, sorted(redis - REDIS_EXPORTER_METRICS)


@pytest.mark.parametrize(
    ("expr", "names", "labels"),
    [
        (
            'sum by (le, operation) (rate(sessionary_x_bucket{operation=~"load|redis_y"}[5m]))',
            {"sessionary_x_bucket"},
            {"le", "operation"},
        ),
        ("count by (maxmemory_policy) (redis_instance_info)", {"redis_instance_info"}, set()),
    ],
)
def test_the_extractors(expr: str, names: set[str], labels: set[str]) -> None:
    assert metric_names(expr) == names
    assert label_names(expr) >= labels
