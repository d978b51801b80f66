"""Conformance driver: a Flask app using ``flask.session`` through the Sessionary extension."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from flask import Flask, abort, request, session

from sessionary.integrations.flask import FlaskSession, Sessionary, csrf_token
from sessionary.sansio.session import Session
from tests.conformance.driver import FAILED_STATUS, AppSpec, Driver, own_headers
from tests.conformance.drivers.wsgi import (
    WerkzeugDriver,
    standard_view,
    sync_store,
)


def _flask_session() -> Session:
    """``flask.session`` itself (the proxy users write to), checked to be sessionary's."""
    assert isinstance(session._get_current_object(), FlaskSession)  # type: ignore[attr-defined]
    return cast(Session, session)


def _flask_app(extension: Sessionary) -> Flask:
    app = Flask(__name__)

    @app.route("/json")
    def as_json() -> dict[str, Any]:
        return dict(session)  # Flask answers a returned dict as JSON

    @app.route("/<name>", methods=["GET", "POST"])
    def standard(name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        path = f"/{name}"
        query = dict(request.args)
        result = standard_view(path, query, _flask_session, csrf_token)
        if result is None:
            abort(404)
        return result, FAILED_STATUS.get(path, 200), own_headers(query)

    extension.init_app(app)
    return app


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as Flask views."""
    options = spec.options(lambda request: request.path)
    extension = Sessionary(store=sync_store(spec), config=spec.config, **options)
    try:
        yield WerkzeugDriver("flask", _flask_app(extension))
    finally:
        extension.close()
