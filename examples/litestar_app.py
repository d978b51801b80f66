"""A minimal Litestar app on sessionary: sign in, count, sign out.

Run it (from the repository root, after ``pip install -e ".[litestar,redis]" uvicorn``)::

    uvicorn examples.litestar_app:app --port 8000

``SESSIONARY_STORE`` picks the store (``memory`` or ``redis://…``), ``SESSION_SECRET`` the
secret. The plugin gives every handler parameter named ``session`` the typed session and
closes the store on shutdown; ``request.session`` is the same object.
"""

from __future__ import annotations

from litestar import Litestar, get, post
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromQuery

from examples._common import secret, store_url
from sessionary import SessionConfig
from sessionary.integrations.litestar import Session, SessionaryConfig, SessionaryPlugin
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore


@post("/login", status_code=200)
async def login(user: FromQuery[str], session: Session) -> dict[str, str | None]:
    """Sign in as ``?user=`` (the session ID rotates)."""
    session.login(user)  # a real app checks a password first
    return {"user": session.user_id}


@post("/count", status_code=200)
async def count(session: Session) -> dict[str, int]:
    """Add one to the signed-in user's counter (401 when nobody is signed in)."""
    if session.user_id is None:
        raise NotAuthorizedException
    session["count"] = session.get("count", 0) + 1
    return {"count": session["count"]}


@get("/me")
async def me(session: Session) -> dict[str, object]:
    """Who is signed in, and their counter."""
    return {"user": session.user_id, "count": session.get("count", 0)}


@post("/logout", status_code=200)
async def logout(session: Session) -> dict[str, bool]:
    """End the session (the record is deleted and the cookie cleared)."""
    session.logout()
    return {"ok": True}


def create_app() -> Litestar:
    """Build the example application."""
    url = store_url()
    store = AsyncMemoryStore() if url == "memory" else AsyncRedisStore.from_url(url)
    config = SessionaryConfig(store=store, config=SessionConfig(secret_keys=[secret()]))
    return Litestar([login, count, me, logout], plugins=[SessionaryPlugin(config)])


app = create_app()
