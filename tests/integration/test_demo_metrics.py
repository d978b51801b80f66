"""The demo's Prometheus endpoint: requests move the metrics, a scrape shows them.

Through Starlette's TestClient (memory and Redis stores) and once for real: ``sessionary
demo`` under uvicorn in a subprocess, scraped over HTTP.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

import sessionary.demo.metrics
from sessionary.demo.app import DEMO_PASSWORD, create_app
from sessionary.demo.metrics import MULTIPROCESS_DIR, shared_metrics
from sessionary.demo.settings import DemoSettings
from tests.integration.demo_forms import FormClient, post_form
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://localhost:8000"
COOKIE = "__Host-sessionary-demo"
FAMILIES = {
    "sessionary_store_operation_duration_seconds",
    "sessionary_store_operations",
    "sessionary_load_hits",
    "sessionary_load_misses",
    "sessionary_touches",
    "sessionary_events",
}


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(params=["memory", "redis"])
def client(request: pytest.FixtureRequest, key_prefix: str) -> Iterator[TestClient]:
    settings = DemoSettings()
    if request.param == "redis":
        request.getfixturevalue("redis_admin")  # deletes this test's keys afterwards
        settings = DemoSettings(store=request.getfixturevalue("redis_url"), prefix=key_prefix)
    with FormClient(create_app(settings), base_url=BASE, follow_redirects=False) as test_client:
        yield test_client


def browse(client: TestClient) -> None:
    """Log in, count three times, present a bad and a stale cookie, log out."""
    assert (
        client.post("/login", data={"username": "ada", "password": DEMO_PASSWORD}).status_code
        == 303
    )
    for _ in range(3):
        assert client.post("/increment").status_code == 303
    assert client.get("/api/session").json()["count"] == 3
    good = client.cookies[COOKIE]
    client.cookies.clear()
    assert (
        client.get("/api/session", headers={"Cookie": f"{COOKIE}=garbage"}).json()["user"] is None
    )
    client.cookies.set(COOKIE, good)
    assert client.post("/logout").status_code == 303
    client.cookies.clear()
    stale = client.get("/api/session", headers={"Cookie": f"{COOKIE}={good}"})
    assert stale.json()["user"] is None


def test_metrics_move_with_the_requests(client: TestClient) -> None:
    before = scrape(client.get("/metrics").text)
    assert sample(before, "sessionary_load_hits_total") == 0
    browse(client)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "set-cookie" not in response.headers
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert names >= FAMILIES
    after = scrape(response.text)
    assert sample(after, "sessionary_events_total", event="created") == 1
    assert sample(after, "sessionary_events_total", event="rotated") == 0  # a new session
    assert sample(after, "sessionary_events_total", event="destroyed") == 1
    assert sample(after, "sessionary_events_total", event="invalid_id") == 2  # garbage + stale
    assert sample(after, "sessionary_store_operations_total", operation="create", outcome="ok") == 1
    assert sample(after, "sessionary_store_operations_total", operation="update", outcome="ok") == 3
    assert sample(after, "sessionary_load_misses_total", reason="missing") == 1  # the stale one
    hits = sample(after, "sessionary_load_hits_total")
    # three increments, one read, the logout; each post also loads the page its token came from
    assert hits == 3 * 2 + 1 + 2
    touched = sample(after, "sessionary_touches_total", result="touched")
    skipped = sample(after, "sessionary_touches_total", result="skipped")
    assert touched + skipped == hits
    loads = sum(
        sample(after, "sessionary_store_operation_duration_seconds_count", operation=name)
        for name in ("load", "touch")
    )
    assert loads == hits + 1  # and the stale ID's miss
    assert sample(after, "sessionary_store_operation_duration_seconds_sum", operation="update") > 0


def test_without_prometheus_client_there_is_no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessionary.demo.metrics, "prometheus_available", lambda: False)
    with FormClient(create_app(), base_url=BASE, follow_redirects=False) as client:
        assert client.get("/metrics").status_code == 404
        assert (
            client.post("/login", data={"username": "a", "password": DEMO_PASSWORD}).status_code
            == 303
        )


def test_the_served_demo_exposes_metrics_over_http() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "sessionary.cli", "demo", "--port", str(port)]
    command += ["--insecure-cookie", "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the demo exited early"
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "the demo did not start serving in time"
                time.sleep(0.1)
        with httpx2.Client(base_url=base, headers={"Origin": base}) as http:
            login = post_form(http, "/login", {"username": "ada", "password": DEMO_PASSWORD})
            assert login.status_code == 303
            assert post_form(http, "/increment").status_code == 303
            assert http.get("/api/session").json()["count"] == 1
            bad = httpx2.get(f"{base}/api/session", cookies={"sessionary-demo": "garbage"})
            assert bad.json()["user"] is None
            assert post_form(http, "/logout").status_code == 303
            samples = scrape(http.get("/metrics").text)
        assert sample(samples, "sessionary_events_total", event="created") == 1
        assert sample(samples, "sessionary_events_total", event="destroyed") == 1
        assert sample(samples, "sessionary_events_total", event="invalid_id") == 1
        # the increment, the read, the logout; each post loads the page of its token first
        assert sample(samples, "sessionary_load_hits_total") == 2 + 1 + 2
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert "/metrics" in output
    assert "Traceback" not in output


def _extra_requirements(extra: str) -> set[str]:
    """Every distribution an extra of pyproject.toml installs (self-references followed)."""
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found: set[str] = set()
    for requirement in table["optional-dependencies"][extra]:
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
        if name == table["name"]:
            inner = requirement[requirement.index("[") + 1 : requirement.index("]")]
            for other in inner.split(","):
                found |= _extra_requirements(other.strip())
        else:
            found.add(name.lower().replace("-", "_"))
    return found


def test_the_readme_demo_command_installs_what_metrics_need() -> None:
    """The README's one-line demo command gives a demo whose /metrics works."""
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "sessionary demo" in line)
    (extras,) = re.findall(r'pip install -e "\.\[([a-z,]+)\]"', command)
    installed = set().union(*(_extra_requirements(extra) for extra in extras.split(",")))
    assert "prometheus_client" in installed, f"{command!r} installs no prometheus_client"


def test_two_workers_serve_the_same_figures(
    redis_url: str, redis_admin: object, key_prefix: str
) -> None:
    """With ``--workers 2``, ``/metrics`` sums both workers: every scrape, whichever worker
    answers it, reports the same totals."""
    from tests.integration.test_demo_serve import serving  # noqa: PLC0415

    with serving("--store", redis_url, "--workers", "2", "--prefix", key_prefix) as (_, base):
        deadline = time.monotonic() + 30
        while not _answers(f"{base}/healthz"):  # the banner comes once bound, before listening
            assert time.monotonic() < deadline, "the demo did not start serving in time"
            time.sleep(0.1)
        browser = httpx2.Client(base_url=base, headers={"Origin": base})
        post_form(browser, "/login", {"username": "ada", "password": DEMO_PASSWORD})
        for _ in range(6):  # the demo closes every connection: either worker may serve it
            post_form(browser, "/increment")
        browser.close()
        workers: set[int] = set()
        totals: set[tuple[float, float]] = set()
        deadline = time.monotonic() + 20
        while (len(workers) < 2 or len(totals) == 0) and time.monotonic() < deadline:
            workers.add(httpx2.get(f"{base}/healthz").json()["pid"])
            samples = scrape(httpx2.get(f"{base}/metrics").text)
            totals.add(
                (
                    sample(samples, "sessionary_events_total", event="created"),
                    sample(samples, "sessionary_load_hits_total"),
                )
            )
        assert len(workers) == 2, f"only worker {workers} answered"
        # one login, six increments each loading its page then posting: every scrape the same
        assert totals == {(1.0, 12.0)}


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=1).status_code == 200
    except httpx2.TransportError:
        return False


def test_shared_metrics_gives_the_workers_a_directory_and_removes_it() -> None:
    environ: dict[str, str] = {}
    with shared_metrics(environ):
        directory = Path(environ[MULTIPROCESS_DIR])
        assert directory.is_dir()
    assert MULTIPROCESS_DIR not in environ
    assert not directory.exists()
    operator = {MULTIPROCESS_DIR: "/var/run/prometheus"}  # the operator's own: left alone
    with shared_metrics(operator):
        assert operator == {MULTIPROCESS_DIR: "/var/run/prometheus"}
    assert operator == {MULTIPROCESS_DIR: "/var/run/prometheus"}
