"""A minimal plain-WSGI app on sessionary (any WSGI framework works the same way).

Run it (from the repository root)::

    python examples/wsgi_app.py            # serves http://localhost:8001 with wsgiref

``SESSIONARY_STORE`` picks the store (``memory`` or ``redis://…``), ``SESSION_SECRET`` the
secret. ``GET /`` shows the counter, ``POST /count`` adds one, ``POST /logout`` ends it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

if __name__ == "__main__":  # allow `python examples/wsgi_app.py` from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples._common import secret, store_url
from sessionary import SessionConfig
from sessionary.integrations.wsgi import SessionMiddleware, StartResponse, get_session
from sessionary.stores import MemoryStore, RedisStore


def counter(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """``GET /``: the count; ``POST /count``: +1; ``POST /logout``: end the session."""
    session = get_session(environ)
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if method == "POST" and path == "/count":
        session["count"] = session.get("count", 0) + 1
    elif method == "POST" and path == "/logout":
        session.logout()
    body = json.dumps({"count": session.get("count", 0)}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def create_app() -> SessionMiddleware:
    """The counter wrapped in sessionary's WSGI middleware."""
    url = store_url()
    store = MemoryStore() if url == "memory" else RedisStore.from_url(url)
    return SessionMiddleware(counter, store=store, config=SessionConfig(secret_keys=[secret()]))


if __name__ == "__main__":
    with make_server("127.0.0.1", 8001, create_app()) as server:
        print("Serving on http://localhost:8001 (Ctrl+C to stop)")
        server.serve_forever()
