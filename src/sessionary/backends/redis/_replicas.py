"""Reads from replicas: when a replica's answer may stand (no I/O).

A store built with ``read_from_replicas=True`` (Sentinel or Cluster) reads a session hash
from a replica, with the replica's ``ROLE`` sent first in the same write: ``ROLE`` reports
the replication offset the replica has *processed*, and since offsets only grow, the
``HGETALL`` answered right after it sees at least that much of the primary's stream.

The answer stands only when the replica says it is a replica, connected to its primary, at
an offset no lower than the **floor** this process holds for that key: the primary's offset
right after this process's latest write of the key (every write the store sends carries
``ROLE`` in its round trip, see ``_async/store.py``). Anything else (an error, another
role, a broken link, an offset behind the floor or unknown) sends the read to the primary,
counted in :class:`ReplicaReadStats`; so does a replica's "not found" (the store's
``_judged_from_replica``). So a request that wrote, here, sees its write on the
next request; what other processes wrote is covered by ``WAIT`` on their writes
(docs/redis.md, "Reads from replicas").
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from sessionary.exceptions import ConfigurationError

__all__ = [
    "SENTINEL_PRIMARY",
    "OffsetFloor",
    "ReplicaReadStats",
    "primary_offset",
    "replica_refusal",
    "wants_replicas",
]

SENTINEL_PRIMARY = "primary"
"""The floor's name for a Sentinel service's one primary (a Cluster names each primary)."""

UNREACHABLE = 2**63
"""A floor no replica reaches."""
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off", ""})


def wants_replicas(value: object) -> bool:
    """``read_from_replicas`` as given to ``from_url()`` or in a URL's query string."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _ON | _OFF:
        return value.strip().lower() in _ON
    msg = f"read_from_replicas must be true or false, not {value!r}"
    raise ConfigurationError(msg)


def _text(value: Any) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def primary_offset(role: Any) -> int | None:
    """The replication offset in a primary's ``ROLE`` reply (``None``: not a primary's)."""
    if isinstance(role, Sequence) and len(role) >= 2 and _text(role[0]) == "master":
        return int(role[1])
    return None


def replica_refusal(role: Any, floor: int) -> str | None:
    """Why a replica's answer, read after this ``ROLE`` reply, may not stand (``None``: it may).

    A replica's ``ROLE`` is ``[slave, host, port, state, offset]``; its offset is ``-1``
    until the first sync ends.
    """
    if isinstance(role, BaseException):
        return "error"
    if not isinstance(role, Sequence) or len(role) < 5 or _text(role[0]) != "slave":
        return "not a replica"
    if _text(role[3]) != "connected":
        return "link down"
    offset = int(role[4])
    if offset < 0:
        return "offset unknown"
    if offset < floor:
        return "behind"
    return None


class OffsetFloor:
    """Per key, the primary and its offset right after this process's latest write there.

    A read of a key holds a replica of that key's primary to this offset: the key's own
    writes, not every write the process made, so a busy process's writes to other sessions
    do not send this session's reads to the primary. Bounded: at ``size`` keys the oldest
    entry goes, its offset folded into its primary's floor for every key it no longer
    names (safe: a higher floor only sends more reads to the primary). A key whose primary
    changed since its last write here (a failover, a slot moved) is refused until a write
    there gives a new offset. Under a lock: two threads raising it at once leave the higher
    value.
    """

    __slots__ = ("_floors", "_lock", "_spilled", "size")

    def __init__(self, size: int = 100_000) -> None:
        self._floors: dict[str, tuple[str, int]] = {}
        self._spilled: dict[str, int] = {}
        self._lock = threading.Lock()
        self.size = size

    def get(self, key: str, primary: str) -> int:
        """The offset a replica of ``primary`` must have reached to answer for ``key``."""
        entry = self._floors.get(key)
        if entry is None:
            return self._spilled.get(primary, 0)
        written_on, offset = entry
        return offset if written_on == primary else UNREACHABLE

    def raise_to(self, key: str, primary: str, offset: int | None) -> None:
        """Note ``primary``'s offset after a write of ``key``.

        ``None``: the offset is unknown, and no replica answers for ``key`` until the next
        write there gives one.
        """
        with self._lock:
            floors = self._floors
            entry = floors.pop(key, None)
            if offset is None:
                offset = UNREACHABLE
            elif entry is not None and entry[0] == primary and entry[1] != UNREACHABLE:
                offset = max(offset, entry[1])
            floors[key] = (primary, offset)
            while len(floors) > self.size:
                oldest = next(iter(floors))
                written_on, spilled = floors.pop(oldest)
                if spilled != UNREACHABLE:
                    self._spilled[written_on] = max(spilled, self._spilled.get(written_on, 0))


class ReplicaReadStats:
    """How many reads a replica answered, and why the others went to the primary."""

    __slots__ = ("fallbacks", "replica")

    def __init__(self) -> None:
        self.replica = 0
        """Reads answered by a replica."""
        self.fallbacks: dict[str, int] = {}
        """Reads sent to the primary instead, by reason (``behind``, ``link down``...)."""

    def fell_back(self, reason: str) -> None:
        """Count one read sent to the primary."""
        self.fallbacks[reason] = self.fallbacks.get(reason, 0) + 1

    @property
    def primary(self) -> int:
        """Reads sent to the primary instead of a replica, all reasons."""
        return sum(self.fallbacks.values())
