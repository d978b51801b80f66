"""A minimal Quart app on sessionary: sign in, count, sign out.

Run it (from the repository root, after ``pip install -e ".[quart,redis]"``)::

    quart --app examples/quart_app.py run

``SESSIONARY_STORE`` picks the store (``memory`` or ``redis://…``), ``SESSION_SECRET`` the
secret. ``quart.session`` is sessionary's session, as ``flask.session`` is with the Flask
extension; Quart's ``SESSION_COOKIE_*`` settings are honoured.
"""

from __future__ import annotations

from quart import Quart, abort, request, session

from examples._common import secret, store_url
from sessionary.integrations.quart import Sessionary
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore


def create_app() -> Quart:
    """Build the example application."""
    app = Quart(__name__)
    app.config["SECRET_KEY"] = secret()
    url = store_url()
    store = AsyncMemoryStore() if url == "memory" else AsyncRedisStore.from_url(url)
    Sessionary(app, store=store)  # closes the store when the app stops serving

    @app.post("/login")
    async def login() -> dict[str, str | None]:
        session.login(request.args["user"])  # type: ignore[attr-defined]  # check a password first
        return {"user": session.user_id}  # type: ignore[attr-defined]

    @app.post("/count")
    async def count() -> dict[str, int]:
        if session.user_id is None:  # type: ignore[attr-defined]
            abort(401)
        session["count"] = session.get("count", 0) + 1
        return {"count": session["count"]}

    @app.get("/me")
    async def me() -> dict[str, object]:
        return {"user": session.user_id, "count": session.get("count", 0)}  # type: ignore[attr-defined]

    @app.post("/logout")
    async def logout() -> dict[str, bool]:
        session.logout()  # type: ignore[attr-defined]
        return {"ok": True}

    return app


app = create_app()
