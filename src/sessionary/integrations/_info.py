"""Framework requests → :class:`~sessionary.sansio.gate.RequestInfo`, the gate's one input.

A WSGI environ (and Django's ``request.META``, built alike under WSGI and ASGI), and the
request objects of Flask (werkzeug) and aiohttp, which share a shape: ``method``, ``scheme``,
``path`` and a case-insensitive ``headers`` mapping. The ASGI scope is read in
:mod:`sessionary.integrations._asgi` (one pass over its raw headers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sessionary.sansio.gate import RequestInfo

__all__ = ["environ_info", "environ_name", "request_info"]


def environ_name(header: str) -> str:
    """The environ key of request header ``header`` (``HTTP_X_CSRF_TOKEN``)."""
    name = header.upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name


def environ_info(
    environ: Mapping[str, Any],
    token_header: str | None,
    *,
    scheme: str | None = None,
    cookies: Sequence[str] | None = None,
    tokens: Sequence[str] | None = None,
) -> RequestInfo:
    """The request of a WSGI environ (a server joins repeated headers into one value).

    Django passes its ``request.scheme`` and the raw header lines it has under ASGI.
    """
    if cookies is None:
        cookie = environ.get("HTTP_COOKIE")
        cookies = [cookie] if cookie else []
    if tokens is None:
        token = environ.get(environ_name(token_header)) if token_header is not None else None
        tokens = [token] if token is not None else []
    return RequestInfo(
        method=environ.get("REQUEST_METHOD", "GET"),
        scheme=scheme or environ.get("wsgi.url_scheme", "http"),
        host=environ.get("HTTP_HOST"),
        headers=lambda name: environ.get(environ_name(name)),
        client=environ.get("REMOTE_ADDR"),
        cookies=cookies,
        tokens=tokens,
        user_agent=environ.get("HTTP_USER_AGENT"),
        content_type=environ.get("CONTENT_TYPE"),
        path=environ.get("PATH_INFO", "/"),
    )


def request_info(
    request: Any,
    token_header: str | None,
    values: Callable[[str], Sequence[str]],
    *,
    client: str | None,
    websocket: bool = False,
) -> RequestInfo:
    """The request of a Flask or aiohttp request; ``values(name)`` gives every header line."""
    headers = request.headers
    return RequestInfo(
        method=request.method,
        scheme=request.scheme,
        host=headers.get("Host"),
        headers=headers.get,
        client=client,
        cookies=values("Cookie"),
        tokens=values(token_header) if token_header is not None else (),
        user_agent=headers.get("User-Agent"),
        content_type=headers.get("Content-Type"),
        websocket=websocket,
        path=request.path,
    )
