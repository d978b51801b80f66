"""What a benchmarked variant is, and the routes every variant's application serves.

Every application answers the same paths, so one driver runs every library:

=====================  ===================================================================
``GET /anonymous``     does not touch the session (workload *anonymous*: no cookie is sent;
                       *untouched*: the signed-in session's cookie is sent)
``GET /read``          reads ``count``
``POST /write``        increments ``count``
``POST /login``        logs in as ``user-42``: rotates the session ID where the library can,
                       sets ``count`` and a small ``profile``
``POST /race/write``   reads the session, waits :data:`RACE_PAUSE_S` (the handler's work), then
                       sets the key named by ``?k=`` (the race driver sends 50 at once)
``POST /race/logout``  reads, waits the same pause, then ends the session
``GET /dump``          the session's keys, comma-separated
``POST /fill``         stores ``?n=`` bytes under ``data`` (memory per session)
=====================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from benchmarks._harness import Counters

RACE_PAUSE_S = 0.002
USER = "user-42"
PROFILE = {"name": "Ada", "roles": ["reader", "writer"], "theme": "dark"}
RAW_TTL_S = 3600


@dataclass
class Variant:
    """One library (or baseline) mounted in one framework, ready to be driven."""

    name: str
    framework: str
    interface: Literal["asgi", "wsgi"]
    app: Any
    counters: Counters
    server_side: bool
    """Sessions stored on the server (the race checks apply) rather than in the cookie."""
    closers: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    baseline: bool = False
    raw: bool = False
    redis_prefix: str | None = None
    """Every Redis key of this variant matches ``<redis_prefix>:*`` (memory per session)."""

    async def close(self) -> None:
        """Release the variant's clients."""
        for closer in self.closers:
            result = closer()
            if result is not None:
                await result
