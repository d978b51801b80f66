"""Posting the demo's forms the way its pages do: with the CSRF token the page carries.

The demo mounts its middleware with ``csrf=True``: every form of its pages carries the
session's token (a pre-session token before sign-in), and a post without it is refused 403.
"""

from __future__ import annotations

import re
from typing import Any

import httpx2
from starlette.testclient import TestClient

from sessionary.sansio.csrf import CSRF_FIELD

_TOKEN = re.compile(rf'name={CSRF_FIELD} value="([^"]+)"')


def page_token(html: str) -> str:
    """The CSRF token of the first form of a demo page."""
    found = _TOKEN.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def post_form(
    client: httpx2.Client | TestClient, path: str, data: dict[str, str] | None = None, **kwargs: Any
) -> httpx2.Response:
    """GET ``/`` for the current token (the client keeps its cookies), then post the form."""
    token = page_token(client.get("/").text)
    return client.post(path, data={**(data or {}), CSRF_FIELD: token}, **kwargs)


class FormClient(TestClient):
    """A TestClient whose ``post`` sends the token of the current page, as a browser would."""

    def post(self, url: Any, **kwargs: Any) -> httpx2.Response:
        """Post with the CSRF token of ``GET /``."""
        data = kwargs.pop("data", None)
        return post_form(super(), url, data, **kwargs)  # type: ignore[arg-type]
