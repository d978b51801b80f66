"""A minimal aiohttp app on sessionary: sign in, count, sign out.

Run it (from the repository root, after ``pip install -e ".[aiohttp,redis]"``)::

    python examples/aiohttp_app.py         # serves http://localhost:8002

``SESSIONARY_STORE`` picks the store (``memory`` or ``redis://…``), ``SESSION_SECRET`` the
secret.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

if __name__ == "__main__":  # allow `python examples/aiohttp_app.py` from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples._common import secret, store_url
from sessionary import SessionConfig
from sessionary.integrations.aiohttp import get_session, setup
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore


async def login(request: web.Request) -> web.Response:
    """Sign in as ``?user=`` (a real app checks a password first)."""
    session = await get_session(request)
    session.login(request.query["user"])
    return web.json_response({"user": session.user_id})


async def count(request: web.Request) -> web.Response:
    """Add one to the signed-in user's counter."""
    session = await get_session(request)
    if session.user_id is None:
        raise web.HTTPUnauthorized
    session["count"] = session.get("count", 0) + 1
    return web.json_response({"count": session["count"]})


async def me(request: web.Request) -> web.Response:
    """Who is signed in, and their count."""
    session = await get_session(request)
    return web.json_response({"user": session.user_id, "count": session.get("count", 0)})


async def logout(request: web.Request) -> web.Response:
    """End the session."""
    (await get_session(request)).logout()
    return web.json_response({"ok": True})


def create_app() -> web.Application:
    """Build the example application."""
    url = store_url()
    store = AsyncMemoryStore() if url == "memory" else AsyncRedisStore.from_url(url)
    app = web.Application()
    app.router.add_post("/login", login)
    app.router.add_post("/count", count)
    app.router.add_get("/me", me)
    app.router.add_post("/logout", logout)
    setup(app, store=store, config=SessionConfig(secret_keys=[secret()]))
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8002)
