"""The WSGI adapter's exchange: settling in ``start_response``, answering in the body.

Kept apart from :mod:`sessionary.integrations.wsgi` (the middleware: a translation of the
environ for the gate) and shared with nothing else: WSGI's own protocol details.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from types import TracebackType
from typing import Any

from sessionary._sync.manager import SessionManager
from sessionary.exceptions import SessionStateError
from sessionary.integrations._csrf import form_token
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.gate import Gate, NeedForm, Open, RequestInfo
from sessionary.sansio.headers import merge_headers
from sessionary.sansio.session import Session
from sessionary.sansio.settle import Answer

__all__ = [
    "Body",
    "Exchange",
    "LazyLoad",
    "StartResponse",
    "error_headers",
    "read_form",
    "status_line",
    "with_strict_transport",
]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]


def read_form(environ: dict[str, Any], info: RequestInfo, need: NeedForm) -> RequestInfo:
    """The request with its form's token field; the body is put back in ``wsgi.input``."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return info.with_form(None)
    if not 0 < length <= need.limit:
        return info.with_form(None)
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return info.with_form(form_token(body, need.field))


def status_line(status: int) -> str:
    """``"403 Forbidden"``."""
    return f"{status} {HTTPStatus(status).phrase}"


def error_headers(body: bytes) -> list[tuple[str, str]]:
    """The headers of a plain-text error answer."""
    return [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]


def with_strict_transport(start: StartResponse, value: str) -> StartResponse:
    """``start``, adding ``Strict-Transport-Security: value`` to a response that has none."""

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if all(name.lower() != "strict-transport-security" for name, _ in headers):
            headers = [*headers, ("Strict-Transport-Security", value)]
        return start(status, headers, exc_info)

    return start_response


class Exchange:
    """One request: settles on ``start_response`` and swaps in an error response if needed.

    ``cycle`` is ``None`` for a lazy mount until the application asks for the session
    (:class:`LazyLoad`); a response that starts before then passes through untouched.
    """

    def __init__(
        self, manager: SessionManager, gate: Gate, cycle: SessionCycle | None, start: StartResponse
    ) -> None:
        self.manager = manager
        self.gate = gate
        self.cycle = cycle
        self.start = start
        self.settled = False
        """The commit was made (or tried): the session's fate for this request is decided."""
        self.error_body: bytes | None = None
        self.reraise = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if self.settled:  # an error handler restarting the response: headers already merged
            return self.start(status, headers, exc_info)
        self.settled = True
        if self.cycle is None:  # a lazy mount whose session was never asked for
            return self.start(status, headers, exc_info)
        try:
            code = int(status[:3])
        except ValueError:
            code = 500  # not a status line: whatever the server makes of it, it is no success
        answer = self.manager.settle(self.cycle, self.gate, status=code)
        if answer.status is not None:
            return self.replace(answer)
        update = answer.update
        return self.start(status, merge_headers(headers, update) if update else headers, exc_info)

    def replace(self, answer: Answer) -> Callable[[bytes], object]:
        assert answer.status is not None
        self.error_body = answer.body
        headers = error_headers(answer.body)
        if answer.update is not None:
            headers = merge_headers(headers, answer.update)
        return self.start(status_line(answer.status), headers)

    def answered(self, error: Exception) -> bool:
        """The application raised before its response started; ``True`` once answered here."""
        self.settled = True
        if self.cycle is None:
            return False
        answer = self.manager.settle(self.cycle, self.gate, error=error)
        if answer.status is None:
            return False
        self.replace(answer)
        self.reraise = answer.reraise
        return True


class Body:
    """The app's body, replaced by the error body if the commit failed (even lazily).

    ``raise_after``: the application's error, raised once the 500 that carries the session's
    cookie was sent (the server logs it). ``close()`` ends the exchange: a ``logout()`` made
    while the body streamed ends the session then.
    """

    def __init__(
        self, body: Iterable[bytes], exchange: Exchange, raise_after: Exception | None = None
    ) -> None:
        self.body = body
        self.exchange = exchange
        self.raise_after = raise_after

    def __iter__(self) -> Iterator[bytes]:
        exchange = self.exchange
        if exchange.error_body is not None:
            yield exchange.error_body
            if self.raise_after is not None:
                raise self.raise_after
            return
        try:
            for chunk in self.body:
                if exchange.error_body is not None:  # start_response was called lazily
                    yield exchange.error_body
                    return
                yield chunk
        except Exception as exc:
            if exchange.settled or not exchange.answered(exc):
                raise  # a generator that raised before start_response: as at call time
            yield exchange.error_body or b""
            if exchange.reraise:
                raise

    def close(self) -> None:
        """Close the app's body (PEP 3333), then end the exchange."""
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            cycle = self.exchange.cycle
            if cycle is not None:
                self.exchange.manager.after_response(cycle)


LATE_LOAD = "the response has started: ask for a lazily loaded session before start_response"


class LazyLoad:
    """A lazy mount's session before the application asks for it (kept in the environ).

    :meth:`load` opens it (one round trip) the first time, puts the session in its place in
    the environ and gives the exchange its cycle; a request whose application never asks
    makes no store call. The gate admitted the request already: no token to check, no lock.
    """

    __slots__ = ("environ", "exchange", "info", "key", "opened")

    def __init__(
        self,
        exchange: Exchange,
        info: RequestInfo,
        opened: Open,
        environ: dict[str, Any],
        key: str,
    ) -> None:
        self.exchange = exchange
        self.info = info
        self.opened = opened
        self.environ = environ
        self.key = key

    def cycle(self) -> SessionCycle:
        """The request's cycle, opened now if it was not yet."""
        exchange = self.exchange
        cycle = exchange.cycle
        if cycle is None:
            if exchange.settled:
                raise SessionStateError(LATE_LOAD)
            cycle = exchange.cycle = exchange.manager.open_admitted(self.info, self.opened)
            self.environ[self.key] = cycle.session
        return cycle

    def load(self) -> Session:
        """The request's session, loaded now if it was not yet (at most one round trip)."""
        return self.cycle().session
