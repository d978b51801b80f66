"""One clock for every node: the store's time, carried forward by a monotonic clock.

Expiry is judged against ``now``. If every application node used its own wall clock, a node
ten minutes behind would keep idle sessions alive ten minutes too long, a node ahead would
end them early, and a node whose clock steps back an hour would stretch every absolute
deadline by that hour. So when the store has a clock (Redis ``TIME``, a database's
``now()``), the shell samples it from time to time and this :class:`AuthorityClock` answers
``now`` as *the last sample plus the monotonic time elapsed since*: every node agrees with
the store to within a round trip, and nothing a node's wall clock does can move a deadline.

The sample is taken by the I/O shell (see :meth:`AuthorityClock.due` and
:meth:`AuthorityClock.adopt`), so reads stay free of scripts and of extra round trips: one
``TIME`` per :data:`RESAMPLE_S` seconds per manager.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["RESAMPLE_S", "RETRY_S", "AuthorityClock"]

RESAMPLE_S = 60.0
"""How often the shell asks the store for its time again."""
RETRY_S = 5.0
"""How long after a failed sample (the store unreachable) the shell tries again."""


class AuthorityClock:
    """The store's time, in integer milliseconds, advanced by a monotonic clock."""

    __slots__ = ("_base_ms", "_mono", "_next_sample", "_sampled_at")

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._mono = monotonic
        self._base_ms: int | None = None
        self._sampled_at = 0.0
        self._next_sample = float("-inf")

    @property
    def ready(self) -> bool:
        """Whether a sample was taken (until then the node's own clock stands in)."""
        return self._base_ms is not None

    def due(self) -> bool:
        """Whether the shell should sample the store's time before the next request."""
        return self._mono() >= self._next_sample

    def defer(self) -> None:
        """A sample failed: keep the last one (or the node's clock) and retry a bit later."""
        self._next_sample = self._mono() + RETRY_S

    def begin_sample(self) -> float:
        """The monotonic time a sample is started at (pass it to :meth:`adopt`)."""
        return self._mono()

    def adopt(self, server_ms: int, started: float) -> None:
        """Take a sample: ``server_ms`` answered a request started at ``started``.

        The answer is dated at the middle of the round trip. Time never goes back: a
        sample earlier than the current reading (the store's clock was stepped back, or a
        failover to a node whose clock lags) keeps the current reading until it catches up.
        """
        finished = self._mono()
        midpoint = (started + finished) / 2
        sampled = server_ms + round((finished - midpoint) * 1000)
        if self._base_ms is not None:
            sampled = max(sampled, self.now_ms())
        self._base_ms = sampled
        self._sampled_at = finished
        self._next_sample = finished + RESAMPLE_S

    def now_ms(self) -> int:
        """The current time, in milliseconds since the epoch (call only once :attr:`ready`)."""
        base = self._base_ms
        assert base is not None
        return base + int((self._mono() - self._sampled_at) * 1000)
