"""FastAPI: the session as a typed dependency (needs ``pip install 'sessionary[fastapi]'``).

Install :class:`~sessionary.integrations.asgi.SessionMiddleware` on the application, then
ask for the session in any path operation or WebSocket endpoint::

    from sessionary.integrations.fastapi import Session

    @app.post("/cart")
    async def add(item: int, session: Session) -> list[int]:
        session.setdefault("cart", []).append(item)
        return session["cart"]

With ``SessionMiddleware(..., lazy=True)`` the session of a request that presents an ID is
loaded only when a dependency asks for it, so routes without ``Session`` cost no store call.

``Session`` is ``Annotated[sessionary.Session, Depends(current_session)]``: a real
:class:`sessionary.Session` (``login``, ``logout``, ``rotate``, ``user_id``), typed for
editors and mypy, unlike Starlette's ``request.session`` (annotated as ``dict``).
:func:`require_user` is a dependency that answers 401 when nobody is signed in.

With ``SessionMiddleware(..., csrf=True)``, a parameter annotated ``CsrfToken`` receives a
masked CSRF token for the page or script to send back in ``X-CSRF-Token`` (or the
``csrf_token`` form field).
"""

from __future__ import annotations

from typing import Annotated

try:
    from fastapi import Depends, HTTPException
    from starlette.requests import HTTPConnection
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.fastapi needs FastAPI: pip install 'sessionary[fastapi]'"
    raise ImportError(msg) from exc

from sessionary.integrations.asgi import csrf_token, load_session
from sessionary.sansio.session import Session as _Session

__all__ = [
    "CsrfToken",
    "CurrentUser",
    "Session",
    "current_csrf_token",
    "current_session",
    "require_user",
]


async def current_session(connection: HTTPConnection) -> _Session:
    """The request's (or WebSocket's) session; requires ``SessionMiddleware``.

    With ``SessionMiddleware(..., lazy=True)`` this loads it (one round trip): a path
    operation that does not ask for ``Session`` makes no store call.
    """
    return await load_session(connection)


Session = Annotated[_Session, Depends(current_session)]
"""A path-operation parameter annotated ``Session`` receives the request's session."""


async def require_user(session: Session) -> str:
    """The signed-in user's ID, or 401 when the session is anonymous."""
    user = session.user_id
    if user is None:
        raise HTTPException(status_code=401, detail="Not authenticated")
    return user


CurrentUser = Annotated[str, Depends(require_user)]
"""A parameter annotated ``CurrentUser`` receives the signed-in user's ID (else 401)."""


def current_csrf_token(connection: HTTPConnection) -> str:
    """A masked CSRF token for this response (``SessionMiddleware(..., csrf=True)``)."""
    return csrf_token(connection)


CsrfToken = Annotated[str, Depends(current_csrf_token)]
"""A parameter annotated ``CsrfToken`` receives a fresh masked CSRF token."""
