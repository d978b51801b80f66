"""One request's session state, shared by the cycle and its storage mode's flow.

The cycle (:mod:`sessionary.sansio.cycle`) owns the phases; the storage mode's flow
(:mod:`sessionary.sansio.server_flow`, :mod:`sessionary.sansio.sealed_flow`) decides the
operations; both read and write this state, and :func:`sessionary.sansio.response.plan_response`
turns it into headers. Nothing here performs I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sessionary.config import StoreDownPolicy
from sessionary.sansio.events import EventName, SessionEvent

if TYPE_CHECKING:
    from sessionary.sansio.context import CoreContext
    from sessionary.sansio.ids import SessionToken
    from sessionary.sansio.session import Session

__all__ = ["RequestState"]

# Events about a presented ID that did not give a session carry the client address (R26).
_CLIENT_EVENTS = frozenset(
    {
        EventName.INVALID_ID,
        EventName.DUPLICATE_COOKIE,
        EventName.EXPIRED_IDLE,
        EventName.EXPIRED_ABSOLUTE,
    }
)


@dataclass(slots=True, eq=False, repr=False)
class RequestState:
    """What one request knows about its session so far."""

    core: CoreContext
    now: int
    client: str | None = None
    user_agent: str | None = None
    tenant: str = ""
    store_down: StoreDownPolicy = StoreDownPolicy.FAIL_CLOSED
    token: SessionToken | None = None
    """The ID the client presented (its fingerprint names the session in events)."""
    session: Session | None = None
    set_cookie: tuple[SessionToken, int] | None = None
    """The ID (or sealed cookie) the response hands out, with its absolute deadline."""
    clear_cookie: bool = False
    """The response tells the client to forget its ID."""
    private: bool = False
    """A CSRF token was issued: the response must not be kept by a shared cache."""
    lock_token: bytes | None = None
    """The fenced lock token the shell holds for this request (fed by the shell)."""
    events: list[SessionEvent] = field(default_factory=list)
    recorded: list[SessionEvent] = field(default_factory=list)
    """Those of :attr:`events` the store already wrote with the change that produced them."""

    def __repr__(self) -> str:
        return f"RequestState(now={self.now}, tenant={self.tenant!r})"

    def event(self, name: EventName, user: str | None = None, **detail: Any) -> None:
        """Record a lifecycle event, naming the session by its keyed fingerprint only."""
        self.events.append(self.new_event(name, self.token, user, detail))

    def new_event(
        self,
        name: EventName,
        token: SessionToken | None,
        user: str | None,
        detail: dict[str, Any],
    ) -> SessionEvent:
        """A lifecycle event about the session ``token`` names (recorded by nobody yet)."""
        core = self.core
        fingerprint = core.keyring.fingerprint(token.selector) if token is not None else None
        if self.client is not None and name in _CLIENT_EVENTS:
            detail["client"] = self.client  # for brute-force detection and rate limits (R26)
        return SessionEvent(name, self.now, fingerprint, user, detail)

    def changed(self, events: list[SessionEvent], *, recorded: bool) -> None:
        """Record the events of a change that took effect (``recorded``: the store wrote them)."""
        self.events.extend(events)
        if recorded:
            self.recorded.extend(events)
