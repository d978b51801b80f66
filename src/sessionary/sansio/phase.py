"""The phases of a session cycle, as an explicit transition table (h11's ``_state.py`` shape).

A cycle moves REQUEST → READY (the session is handed to the handler) → RESPONSE (the
commit's operations) → DONE (the response headers are known); a logout called after the
headers were sent takes DONE back to RESPONSE for one more operation. Anything else is a
programming error in the shell, reported as :class:`~sessionary.exceptions.SessionStateError`.
"""

from __future__ import annotations

import enum

from sessionary.exceptions import SessionStateError

__all__ = ["Phase", "Step", "advance"]


class Phase(enum.Enum):
    """Where a cycle stands."""

    # Members are singletons: hashing by identity is exact, and a C-level hash keeps the
    # transition lookup (three per request) off the Enum's Python-level __hash__.
    __hash__ = object.__hash__

    REQUEST = "request"
    """Operations to read the session are pending."""
    READY = "ready"
    """The session is the handler's."""
    RESPONSE = "response"
    """The handler is done; the commit's operations are pending."""
    DONE = "done"
    """Nothing is pending; the response headers are known."""


class Step(enum.Enum):
    """What moves a cycle on."""

    __hash__ = object.__hash__  # as Phase's

    LOADED = "loaded"
    """The request phase's operations are done (or there were none)."""
    FAILED = "failed"
    """The store failed while reading: the store-down policy decided."""
    FINISHED = "finished"
    """The handler is done (``finish()``)."""
    COMMITTED = "committed"
    """The commit's operations are done (or there were none)."""
    LATE = "late"
    """A logout after the headers asks for one more operation."""


_TRANSITIONS: dict[tuple[Phase, Step], Phase] = {
    (Phase.REQUEST, Step.LOADED): Phase.READY,
    (Phase.REQUEST, Step.FAILED): Phase.READY,
    (Phase.READY, Step.FINISHED): Phase.RESPONSE,
    (Phase.RESPONSE, Step.COMMITTED): Phase.DONE,
    (Phase.DONE, Step.LATE): Phase.RESPONSE,
}

_WHY = {
    Step.LOADED: "the request phase is over",
    Step.FAILED: "the store can only fail a cycle while it reads the session",
    Step.FINISHED: "finish() must be called once, after the request phase",
    Step.COMMITTED: "nothing is being committed",
    Step.LATE: "a late operation comes only after the response",
}


def advance(phase: Phase, step: Step) -> Phase:
    """The phase after ``step``; an illegal step raises ``SessionStateError``."""
    try:
        return _TRANSITIONS[phase, step]
    except KeyError:
        msg = f"{_WHY[step]} (the cycle is in its {phase.value} phase)"
        raise SessionStateError(msg) from None
