"""contrib/kubernetes/: every manifest is valid for Kubernetes and the pieces fit together.

Core resources are checked against the Kubernetes OpenAPI schemas shipped in the
``kubernetes-validate`` package (offline, strict: unknown fields are errors); the Prometheus
Operator's ServiceMonitor (a custom resource) by its references. Nothing is applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sessionary.demo.app import create_app
from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "contrib" / "kubernetes").glob("*.yaml"))
CUSTOM = {"monitoring.coreos.com/v1"}


def _resources() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [r for r in _resources() if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


@pytest.mark.parametrize(
    "resource",
    [r for r in _resources() if r["apiVersion"] not in CUSTOM],
    ids=lambda r: f"{r['kind']}/{r['metadata']['name']}",
)
def test_core_resources_match_the_kubernetes_schema(resource: dict[str, Any]) -> None:
    try:
        import kubernetes_validate  # noqa: PLC0415 - the dev extra
        from kubernetes_validate.utils import latest_version  # noqa: PLC0415
    except ImportError:
        unavailable("kubernetes-validate is not installed (the dev extra)")
    kubernetes_validate.validate(resource, latest_version(), strict=True)


def test_the_pieces_fit_together() -> None:
    deployment = _one("Deployment", "sessionary-demo")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = _one("Service", "sessionary-demo")
    assert service["spec"]["selector"].items() <= labels.items()
    container = pod["spec"]["containers"][0]
    ports = {port["name"] for port in container["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= ports
    for policy in (_one("PodDisruptionBudget", "sessionary-demo"),):
        assert policy["spec"]["selector"]["matchLabels"].items() <= labels.items()
    network = _one("NetworkPolicy", "sessionary-demo")
    assert network["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    monitor = _one("ServiceMonitor", "sessionary-demo")
    service_labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
    service_ports = {port["name"] for port in service["spec"]["ports"]}
    assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= service_ports
    # the secret the pods mount, and the Redis name they use, exist
    secret = _one("Secret", "sessionary-demo")
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["session-secret"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert any("--store=redis://redis:" in arg for arg in container["args"])
    assert _one("Service", "redis")["spec"]["type"] == "ExternalName"


def test_the_probes_and_the_scrape_ask_for_routes_the_demo_serves() -> None:
    container = _one("Deployment", "sessionary-demo")["spec"]["template"]["spec"]["containers"][0]
    paths = {container[probe]["httpGet"]["path"] for probe in ("readinessProbe", "livenessProbe")}
    paths |= {e["path"] for e in _one("ServiceMonitor", "sessionary-demo")["spec"]["endpoints"]}
    routes = {getattr(route, "path", None) for route in create_app().routes}
    assert paths <= routes
