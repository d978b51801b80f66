"""The demo's outer ASGI layers: refuse cross-origin posts, close every connection.

``SameOriginMiddleware`` refuses unsafe cross-origin requests before the session is even
loaded (on top of the ``SameSite=Lax`` cookie). ``CloseConnections`` adds
``Connection: close`` to every response: a browser otherwise keeps one connection to one
worker process, and "another worker serves the same session" would never be seen.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse

__all__ = ["CloseConnections", "SameOriginMiddleware"]

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _cross_origin(request: Request) -> bool:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc != request.headers.get("host", "")


class SameOriginMiddleware:
    """Refuses unsafe cross-origin requests (``Origin`` / ``Sec-Fetch-Site``) with 403."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Answer 403 to an unsafe cross-origin request, pass everything else on."""
        if scope["type"] == "http" and scope["method"] in _UNSAFE_METHODS:
            request = Request(scope)
            if _cross_origin(request):
                response = PlainTextResponse("Cross-origin request refused", status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class CloseConnections:
    """Adds ``Connection: close`` to every HTTP response (uvicorn then closes it)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass the request on; mark the response's connection to be closed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def closing(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)
