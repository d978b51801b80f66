"""What a response must carry for its session: planned from the cycle's outcome.

:class:`ResponseUpdate` is the one value every adapter translates into its framework's
response (most through :func:`sessionary.sansio.headers.header_changes`);
:func:`plan_response` decides it from what the request did.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sessionary.sansio.cookies import render_clear_cookie, render_set_cookie
from sessionary.sansio.expiry import cookie_max_age_s
from sessionary.sansio.update import ResponseUpdate

if TYPE_CHECKING:
    from sessionary.sansio.context import CoreContext
    from sessionary.sansio.request import RequestState

__all__ = ["NOTHING", "ResponseUpdate", "plan_response"]


NOTHING = ResponseUpdate()
"""The response does not depend on the session at all."""


def plan_response(state: RequestState) -> ResponseUpdate:
    """The headers for what the request did: a new ID, a cleared one, or only ``Vary``.

    A response that used a signed-in session also gets ``Cache-Control`` (``no-store`` by
    default, ``SessionConfig.signed_in_cache_control``) unless the application set its own.
    """
    if state.set_cookie is None and not state.clear_cookie:
        return _depending_update(state)  # the common case: no new ID, none cleared
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
    if core.header_mode:
        return _header_update(core, "")
    return ResponseUpdate(render_clear_cookie(config.cookie), vary_cookie=True, no_store=True)


def _depending_update(state: RequestState) -> ResponseUpdate:
    """No new ID: ``Vary`` where the session was used, and what a cache may keep."""
    core = state.core
    if state.private:  # a CSRF token was issued: never kept by a shared cache
        return replace(core.vary, no_store=True)
    session = state.session
    if session is not None and session.accessed:
        # A signed-in page must not come back from a cache after a logout (Back button).
        return core.signed_in_vary if session.signed_in else core.vary
    return NOTHING


def _header_update(core: CoreContext, value: str) -> ResponseUpdate:
    config = core.config
    return ResponseUpdate(
        vary_cookie=True,
        no_store=True,
        vary_name=config.token_header,
        token_header=(config.response_token_header, value),
    )
