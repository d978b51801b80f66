"""Conformance driver: a Flask app using ``flask.session`` through the Sessionary extension."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, abort, request, session

from sessionary.integrations.flask import FlaskSession, Sessionary, csrf_token
from sessionary.sansio.session import Session
from tests.conformance.driver import AppSpec, Driver
from tests.conformance.drivers.wsgi import WerkzeugDriver, standard_view, sync_store


def _sessionary_session() -> Session:
    current = session._get_current_object()  # type: ignore[attr-defined]
    assert isinstance(current, FlaskSession)
    return current.session


def _flask_app(extension: Sessionary) -> Flask:
    app = Flask(__name__)

    @app.route("/<name>", methods=["GET", "POST"])
    def standard(name: str) -> dict[str, Any]:
        result = standard_view(f"/{name}", dict(request.args), _sessionary_session, csrf_token)
        if result is None:
            abort(404)
        return result

    extension.init_app(app)
    return app


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as Flask views."""
    extension = Sessionary(store=sync_store(spec), config=spec.config, csrf=spec.csrf)
    try:
        yield WerkzeugDriver("flask", _flask_app(extension))
    finally:
        extension.close()
