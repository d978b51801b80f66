"""examples/fastapi_app.py works as its docstring says."""

from __future__ import annotations

import pytest
from examples import fastapi_app
from starlette.testclient import TestClient


def test_fastapi_example_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSIONARY_STORE", "memory")
    with TestClient(fastapi_app.create_app(), base_url="https://testserver") as client:
        assert client.get("/me").status_code == 401
        assert client.post("/login?user=ada").json() == {"user": "ada"}
        assert client.post("/count").json() == {"count": 1}
        assert client.post("/count").json() == {"count": 2}
        assert client.get("/me").json() == {"user": "ada", "count": 2}
        assert client.post("/logout").json() == {"ok": True}
        assert client.get("/me").status_code == 401


def test_fastapi_example_on_redis(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    monkeypatch.setenv("SESSIONARY_STORE", redis_url)
    monkeypatch.setenv("SESSION_SECRET", "k3P9vQz1Lr8xWm2Tq7Yb4Nc6Hd0Jf5Gs_aZeRuIoVy")
    with TestClient(fastapi_app.create_app(), base_url="https://testserver") as client:
        client.post("/login?user=grace")
        assert client.post("/count").json() == {"count": 1}
        client.post("/logout")
