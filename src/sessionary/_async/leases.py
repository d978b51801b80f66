"""Waiting for a lease another request holds: the session lock and a user's login admission.

Polling with capped exponential backoff and full jitter, so waiters do not move in lockstep;
bounded in time, then a typed refusal.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable

from sessionary.exceptions import LockNotAcquiredError

__all__ = ["POLL_MAX_S", "POLL_MIN_S", "async_wait_for_lease"]

POLL_MIN_S = 0.002
"""The first pause between two attempts (doubled after each, up to :data:`POLL_MAX_S`)."""

POLL_MAX_S = 0.05
"""The longest pause between two attempts."""


async def async_wait_for_lease(
    take: Callable[[], Awaitable[bool]], wait_s: float, busy: str
) -> None:
    """Call ``take`` until it returns ``True``, for ``wait_s`` seconds at most.

    Raises :class:`~sessionary.exceptions.LockNotAcquiredError` with the message ``busy``.
    """
    deadline = time.monotonic() + wait_s
    delay = POLL_MIN_S
    while not await take():
        if time.monotonic() >= deadline:
            raise LockNotAcquiredError(busy)
        await asyncio.sleep(delay * (0.5 + secrets.randbelow(1000) / 1000))
        delay = min(delay * 2, POLL_MAX_S)
