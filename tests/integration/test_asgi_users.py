"""Users through the ASGI middleware: device lists, revocation, limits and the lock (Starlette)."""

from __future__ import annotations

from functools import partial

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionary import AsyncSessionManager, ConfigurationError, LimitPolicy
from sessionary.integrations.asgi import SessionMiddleware, get_manager, get_session
from sessionary.stores import AsyncMemoryStore
from sessionary.testing import session_config

BASE = "https://testserver"


async def login(request: Request) -> JSONResponse:
    get_session(request).login(request.query_params["user"])
    return JSONResponse({"ok": True})


async def devices(request: Request) -> JSONResponse:
    session = get_session(request)
    assert session.user_id is not None
    listed = await get_manager(request).list_user_sessions(session.user_id, current=session)
    return JSONResponse([{"ua": d.user_agent, "current": d.current, "ref": d.ref} for d in listed])


async def logout_others(request: Request) -> JSONResponse:
    session = get_session(request)
    assert session.user_id is not None
    ended = await get_manager(request).revoke_user(session.user_id, keep_current=session)
    return JSONResponse({"ended": ended})


async def whoami(request: Request) -> JSONResponse:
    session = get_session(request)
    return JSONResponse({"user": session.user_id, "why": session.end_reason})


async def slow_increment(request: Request) -> JSONResponse:
    session = get_session(request)
    value = session.get("n", 0)
    await anyio.sleep(0.01)
    session["n"] = value + 1
    return JSONResponse({"n": session["n"]})


def make_app(**options: object) -> Starlette:
    app = Starlette(
        routes=[
            Route("/login", login),
            Route("/devices", devices),
            Route("/logout-others", logout_others, methods=["POST"]),
            Route("/whoami", whoami),
            Route("/increment", slow_increment, methods=["POST"]),
        ]
    )
    config = session_config(max_sessions_per_user=options.pop("max_sessions", None))
    if "limit" in options:
        config = session_config(
            max_sessions_per_user=2,
            session_limit=options.pop("limit"),
        )
    app.add_middleware(
        SessionMiddleware,
        store=AsyncMemoryStore(),
        config=config,
        **options,  # type: ignore[arg-type]
    )
    return app


def test_devices_page_and_log_out_other_devices() -> None:
    app = make_app()
    laptop = TestClient(app, base_url=BASE, headers={"User-Agent": "Laptop"})
    phone = TestClient(app, base_url=BASE, headers={"User-Agent": "Phone"})
    laptop.get("/login?user=alice")
    phone.cookies = {}
    phone.get("/login?user=alice")
    listed = laptop.get("/devices").json()
    assert [(d["ua"], d["current"]) for d in listed] == [("Laptop", True), ("Phone", False)]

    assert laptop.post("/logout-others").json() == {"ended": 1}
    assert laptop.get("/whoami").json() == {"user": "alice", "why": None}
    assert phone.get("/whoami").json() == {"user": None, "why": "revoked"}


def test_a_login_beyond_the_limit_is_refused_with_403() -> None:
    app = make_app(max_sessions=1)
    first = TestClient(app, base_url=BASE)
    second = TestClient(app, base_url=BASE)
    assert first.get("/login?user=alice").status_code == 200
    refused = second.get("/login?user=alice")
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers


def test_evict_oldest_tells_the_evicted_browser() -> None:
    app = make_app(limit=LimitPolicy.EVICT_OLDEST)
    browsers = [TestClient(app, base_url=BASE) for _ in range(3)]
    for browser in browsers:
        assert browser.get("/login?user=alice").status_code == 200
    assert browsers[0].get("/whoami").json() == {"user": None, "why": "evicted"}
    assert browsers[2].get("/whoami").json() == {"user": "alice", "why": None}


def test_locked_posts_serialise_read_modify_write() -> None:
    app = make_app(lock=lambda scope: scope.get("method") == "POST")
    with TestClient(app, base_url=BASE) as client:
        client.get("/login?user=alice")
        cookie = client.cookies["__Host-session"]
        headers = {"Cookie": f"__Host-session={cookie}"}

        def post() -> None:
            assert client.post("/increment", headers=headers).status_code == 200

        with anyio.from_thread.start_blocking_portal() as portal:
            futures = [portal.start_task_soon(anyio.to_thread.run_sync, post) for _ in range(20)]
            for future in futures:
                future.result()
        assert client.post("/increment", headers=headers).json() == {"n": 21}


def test_a_busy_lock_answers_409() -> None:
    manager = AsyncSessionManager(AsyncMemoryStore(), session_config(), lock_wait=0)
    app = Starlette(routes=[Route("/login", login), Route("/whoami", whoami)])
    app.add_middleware(SessionMiddleware, manager=manager, lock=lambda scope: True)
    with TestClient(app, base_url=BASE) as client:
        client.get("/login?user=alice")
        cookie = client.cookies["__Host-session"]
        held = client.portal.call(partial(manager.open, [f"__Host-session={cookie}"], lock=True))
        assert held.lock_token is not None
        assert client.get("/whoami").status_code == 409
        client.portal.call(manager.discard, held)
        assert client.get("/whoami").json() == {"user": "alice", "why": None}


def test_get_manager_needs_the_middleware() -> None:
    with pytest.raises(ConfigurationError):
        get_manager({"type": "http"})
