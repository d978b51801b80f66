"""A minimal FastAPI app on sessionary: sign in, count, sign out.

Run it (from the repository root, after ``pip install -e ".[cli]" fastapi``)::

    uvicorn examples.fastapi_app:app --port 8000

``SESSIONARY_STORE`` selects the store (``memory`` by default, or a ``redis://`` URL) and
``SESSION_SECRET`` the signing secret (a random one is generated, with a warning, if unset;
sessions then end when the process restarts). The cookie is ``__Host-session; Secure``, which
browsers accept from ``http://localhost``.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sessionary import SessionConfig
from sessionary.integrations.asgi import SessionMiddleware
from sessionary.integrations.fastapi import CurrentUser, Session
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore


def _store() -> AsyncSessionStore:
    url = os.environ.get("SESSIONARY_STORE", "memory")
    return AsyncMemoryStore() if url == "memory" else AsyncRedisStore.from_url(url)


def _secret() -> str:
    secret = os.environ.get("SESSION_SECRET")
    if secret:
        return secret
    print("SESSION_SECRET is not set: using a random secret for this run", file=sys.stderr)
    return secrets.token_urlsafe(32)


def create_app() -> FastAPI:
    """Build the example application."""
    store = _store()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await store.aclose()

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(
        SessionMiddleware, store=store, config=SessionConfig(secret_keys=[_secret()])
    )

    @app.post("/login")
    async def login(user: str, session: Session) -> dict[str, str | None]:
        session.login(user)  # a real app checks a password first
        return {"user": session.user_id}

    @app.post("/count")
    async def count(user: CurrentUser, session: Session) -> dict[str, int]:
        session["count"] = session.get("count", 0) + 1
        return {"count": session["count"]}

    @app.get("/me")
    async def me(user: CurrentUser, session: Session) -> dict[str, object]:
        return {"user": user, "count": session.get("count", 0)}

    @app.post("/logout")
    async def logout(session: Session) -> dict[str, bool]:
        session.logout()
        return {"ok": True}

    return app


app = create_app()
