"""The exporter set-ups docs/observability.md shows, for Starlette and Flask."""

from __future__ import annotations

from flask import Flask, session
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from sessionary.integrations.asgi import SessionMiddleware, get_session
from sessionary.integrations.flask import Sessionary
from sessionary.metrics.prometheus import PrometheusObserver
from sessionary.observability import LoggingObserver, ObserverGroup
from sessionary.stores import AsyncMemoryStore, MemoryStore
from sessionary.testing import session_config


def test_starlette_mounts_the_registry() -> None:
    metrics = PrometheusObserver(CollectorRegistry())

    async def bump(request: Request) -> JSONResponse:
        session = get_session(request)
        session["n"] = session.get("n", 0) + 1
        return JSONResponse({"n": session["n"]})

    app = Starlette(routes=[Route("/", bump)])
    app.mount("/metrics", metrics.asgi_app())
    app.add_middleware(
        SessionMiddleware,
        store=AsyncMemoryStore(),
        config=session_config(),
        observer=ObserverGroup([LoggingObserver(), metrics]),
    )
    with TestClient(app, base_url="https://testserver") as client:
        assert [client.get("/").json()["n"] for _ in range(3)] == [1, 2, 3]
        text = client.get("/metrics/").text
    assert 'sessionary_store_operations_total{operation="update",outcome="ok"} 2.0' in text
    assert "sessionary_load_hits_total 3.0" in text  # the scrape carried the cookie too


def test_flask_takes_an_observer_and_serves_the_registry() -> None:
    metrics = PrometheusObserver(CollectorRegistry())
    app = Flask(__name__)
    Sessionary(app, store=MemoryStore(), config=session_config(), observer=metrics)

    @app.post("/")
    def bump() -> dict[str, int]:
        session["n"] = session.get("n", 0) + 1
        return {"n": session["n"]}

    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": metrics.wsgi_app()})  # type: ignore[method-assign]
    client = app.test_client()
    assert [client.post("/", base_url="https://localhost").json for _ in range(2)] == [
        {"n": 1},
        {"n": 2},
    ]
    text = client.get("/metrics").text
    assert 'sessionary_events_total{event="created"} 1.0' in text
    assert 'sessionary_touches_total{result="skipped"} 1.0' in text
