"""What a response must carry for its session: planned from the cycle's outcome.

:class:`ResponseUpdate` is the one value every adapter translates into its framework's
response (most through :func:`sessionary.sansio.headers.header_changes`);
:func:`plan_response` decides it from what the request did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sessionary.sansio.cookies import render_clear_cookie, render_set_cookie
from sessionary.sansio.expiry import cookie_max_age_s

if TYPE_CHECKING:
    from sessionary.sansio.core import SessionCore
    from sessionary.sansio.request import RequestState

__all__ = ["NOTHING", "ResponseUpdate", "plan_response"]


@dataclass(slots=True)
class ResponseUpdate:
    """What the response must carry. Adapters translate this into their framework.

    Most adapters call :func:`sessionary.sansio.headers.header_changes` (or
    :meth:`headers`) rather than reading the fields one by one.
    """

    set_cookie: str | None = None
    """A full ``Set-Cookie`` header value, or ``None``."""
    vary_cookie: bool = False
    """Add :attr:`vary_name` to ``Vary`` (the response depends on the session)."""
    no_store: bool = False
    """Set ``Cache-Control: no-store`` (the response sets or clears the ID, R15)."""
    vary_name: str = "Cookie"
    """The request header the response depends on: ``Cookie``, or the token header."""
    token_header: tuple[str, str] | None = None
    """Header transport only: ``(name, new ID)`` to send, or ``(name, "")`` to forget it."""

    def __repr__(self) -> str:
        # Never the ID or the sealed cookie (R79): error trackers record the repr of locals.
        cookie = "<hidden>" if self.set_cookie is not None else None
        token = None if self.token_header is None else (self.token_header[0], "<hidden>")
        return (
            f"ResponseUpdate(set_cookie={cookie}, vary_cookie={self.vary_cookie}, "
            f"no_store={self.no_store}, vary_name={self.vary_name!r}, token_header={token!r})"
        )

    def headers(self) -> list[tuple[str, str]]:
        """The headers to add, for adapters that merge ``Vary`` themselves."""
        out: list[tuple[str, str]] = []
        if self.set_cookie is not None:
            out.append(("Set-Cookie", self.set_cookie))
        if self.token_header is not None:
            out.append(self.token_header)
        if self.no_store:
            out.append(("Cache-Control", "no-store"))
        if self.vary_cookie:
            out.append(("Vary", self.vary_name))
        return out


NOTHING = ResponseUpdate()
"""The response does not depend on the session at all."""


def plan_response(state: RequestState) -> ResponseUpdate:
    """The headers for what the request did: a new ID, a cleared one, or only ``Vary``."""
    core = state.core
    config = core.config
    if state.set_cookie is not None:
        token, deadline = state.set_cookie
        if core.header_mode:
            return _header_update(core, token.value)
        max_age = (
            cookie_max_age_s(now=state.now, deadline=deadline, cap_s=config.max_cookie_age_s)
            if config.cookie.persistent
            else None
        )
        cookie = render_set_cookie(config.cookie, token.value, max_age)
        return ResponseUpdate(cookie, vary_cookie=True, no_store=True)
    if state.clear_cookie:
        if core.header_mode:
            return _header_update(core, "")
        return ResponseUpdate(render_clear_cookie(config.cookie), vary_cookie=True, no_store=True)
    session = state.session
    private = state.private  # a CSRF token was issued: never kept by a shared cache
    if private or (session is not None and session.accessed):
        vary = core.vary
        return replace(vary, no_store=True) if private else vary
    return NOTHING


def _header_update(core: SessionCore, value: str) -> ResponseUpdate:
    config = core.config
    return ResponseUpdate(
        vary_cookie=True,
        no_store=True,
        vary_name=config.token_header,
        token_header=(config.response_token_header, value),
    )
