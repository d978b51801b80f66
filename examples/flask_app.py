"""A minimal Flask app on sessionary: sign in, count, sign out.

Run it (from the repository root, after ``pip install -e ".[flask,redis]"``)::

    flask --app examples/flask_app.py run

``SESSIONARY_STORE`` picks the store (``memory`` or ``redis://…``), ``SESSION_SECRET`` the
secret. Try it with curl: ``curl -c jar -b jar -X POST 'http://localhost:5000/login?user=ada'``
(browsers accept the ``Secure`` cookie from ``http://localhost``; curl does too).
"""

from __future__ import annotations

from flask import Flask, abort, request, session

from examples._common import secret, store_url
from sessionary.integrations.flask import Sessionary
from sessionary.stores import MemoryStore, RedisStore


def create_app() -> Flask:
    """Build the example application."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secret()
    url = store_url()
    store = MemoryStore() if url == "memory" else RedisStore.from_url(url)
    Sessionary(app, store=store)

    @app.post("/login")
    def login() -> dict[str, str | None]:
        session.login(request.args["user"])  # type: ignore[attr-defined]  # a real app checks a password
        return {"user": session.user_id}  # type: ignore[attr-defined]

    @app.post("/count")
    def count() -> dict[str, int]:
        if session.user_id is None:  # type: ignore[attr-defined]
            abort(401)
        session["count"] = session.get("count", 0) + 1
        return {"count": session["count"]}

    @app.get("/me")
    def me() -> dict[str, object]:
        return {"user": session.user_id, "count": session.get("count", 0)}  # type: ignore[attr-defined]

    @app.post("/logout")
    def logout() -> dict[str, bool]:
        session.logout()  # type: ignore[attr-defined]
        return {"ok": True}

    return app


app = create_app()
