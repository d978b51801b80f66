"""The ASGI adapter's translations: scope → :class:`RequestInfo`, answers → messages.

Kept apart from :mod:`sessionary.integrations.asgi` (the middleware and its helpers for
applications): reading the scope and the form, and the :class:`Exchange` that wraps
``send`` to settle the session as the response starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from functools import partial
from typing import Any

from sessionary._async.manager import AsyncSessionManager
from sessionary.integrations._csrf import form_token
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.gate import Gate, NeedForm, Refuse, RequestInfo
from sessionary.sansio.headers import merge_raw_headers
from sessionary.sansio.response import ResponseUpdate

__all__ = [
    "MANAGER_SCOPE_KEY",
    "TENANT_SCOPE_KEY",
    "Exchange",
    "read_form",
    "refuse",
    "scope_info",
    "send_error",
    "with_strict_transport",
]

MANAGER_SCOPE_KEY = "sessionary.manager"
TENANT_SCOPE_KEY = "sessionary.tenant"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def scope_info(scope: Scope, token_header: str | None) -> RequestInfo:
    """The request as the gate sees it: one pass over the raw headers.

    Only what every request needs is decoded here (cookies, tokens, host, user agent,
    content type); other headers (``Origin``, ``Referer``...) are looked up in the raw list
    when the gate asks for them, which a safe request never does.
    """
    cookies: list[str] = []
    tokens: list[str] = []
    host = agent = content_type = None
    token_name = token_header.encode("latin-1") if token_header is not None else None
    raw = scope["headers"]
    for name, value in raw:
        if name == b"cookie":
            cookies.append(value.decode("latin-1"))
        elif name == b"host":
            if host is None:
                host = value.decode("latin-1")
        elif name == b"user-agent":
            if agent is None:
                agent = value.decode("latin-1")
        elif name == b"content-type":
            if content_type is None:
                content_type = value.decode("latin-1")
        elif name == token_name:
            tokens.append(value.decode("latin-1"))
    client = scope.get("client")
    websocket = scope["type"] == "websocket"
    return RequestInfo(
        scope.get("method", "GET"),
        scope.get("scheme", "ws" if websocket else "http"),
        host,
        partial(_raw_header, raw),
        client[0] if client else None,
        cookies,
        tokens,
        agent,
        content_type,
        websocket,
        scope.get("path", "/"),
    )


def _raw_header(raw: Iterable[tuple[bytes, bytes]], name: str) -> str | None:
    """The first value of header ``name`` (lower case) in ASGI's raw header list."""
    key = name.encode("latin-1")
    for raw_name, value in raw:
        if raw_name == key:
            return value.decode("latin-1")
    return None


async def read_form(
    info: RequestInfo, receive: Receive, need: NeedForm
) -> tuple[RequestInfo, Receive]:
    """Buffer a URL-encoded body (at most ``need.limit`` bytes) for its token field.

    Returns the request with the field, and a ``receive`` that replays the body to the app.
    """
    messages: list[Message] = []
    size = 0
    more = True
    while more:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > need.limit:
            return info.with_form(None), _replay(messages, receive)
        more = bool(message.get("more_body", False))
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
    return info.with_form(form_token(body, need.field)), _replay(messages, receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


async def send_error(
    send: Send, status: int, body: bytes, update: ResponseUpdate | None = None
) -> None:
    """A plain-text error response (``no-store``), with the session's headers if any."""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if update is not None:
        headers = merge_raw_headers(headers, update)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def refuse(refusal: Refuse, receive: Receive, send: Send) -> None:
    """Answer a refused request; a WebSocket handshake is closed (1008) instead."""
    if refusal.close_code is not None:
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": refusal.close_code})
        return
    await send_error(send, refusal.status, refusal.body)


def with_strict_transport(send: Send, value: str) -> Send:
    """``send``, adding ``Strict-Transport-Security: value`` to a response that has none."""
    raw = value.encode("latin-1")

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            if all(name.lower() != b"strict-transport-security" for name, _ in headers):
                headers.append((b"strict-transport-security", raw))
                message["headers"] = headers
        await send(message)

    return sending


class Exchange:
    """One connection: settles the session as the response starts, or as the app fails."""

    __slots__ = (
        "cycle",
        "gate",
        "manager",
        "raw_send",
        "replaced",
        "settled",
        "start",
        "websocket",
    )

    def __init__(
        self,
        manager: AsyncSessionManager,
        gate: Gate,
        cycle: SessionCycle,
        send: Send,
        websocket: bool,
    ) -> None:
        self.manager = manager
        self.gate = gate
        self.cycle = cycle
        self.raw_send = send
        self.websocket = websocket
        self.start = "websocket.accept" if websocket else "http.response.start"
        self.settled = False  # the commit was made (or tried): the session's fate is decided
        self.replaced = False  # the application's response was replaced by an error response

    async def send(self, message: Message) -> None:
        """The ``send`` the application gets: commits before the response starts."""
        if message["type"] == self.start and not self.settled:
            self.settled = True
            status = 200 if self.websocket else int(message.get("status", 200))
            answer = await self.manager.settle(self.cycle, self.gate, status=status)
            if answer.cause is not None and self.websocket:
                raise answer.cause
            if answer.status is not None:
                self.replaced = True
                await send_error(self.raw_send, answer.status, answer.body, answer.update)
                return
            if answer.update is not None:
                message["headers"] = merge_raw_headers(message.get("headers", ()), answer.update)
        if not self.replaced:
            await self.raw_send(message)

    async def answered(self, error: Exception) -> bool:
        """The app raised before its response started; ``True`` once answered here (503)."""
        self.settled = True
        answer = await self.manager.settle(self.cycle, self.gate, error=error)
        if self.websocket:
            return False
        if answer.status is not None:
            await send_error(self.raw_send, answer.status, answer.body, answer.update)
        return not answer.reraise
