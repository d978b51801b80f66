r"""The Redis store's read path without Lua: a plain ``HGETALL`` judged in the client (no I/O).

A read sends ``HGETALL`` (and, when the store already knows the record's user tag, the
``GET`` of that user's epoch in the same write) and judges the reply here exactly as
:data:`~sessionary.backends.redis._layout.LOAD_SCRIPT` judges it in Redis: not a hash,
missing, another validator, a tombstone. Only what needs a write goes back to Redis, and
only then:

* the sliding touch when it is due: :data:`~sessionary.backends.redis._layout.TOUCH_SCRIPT`,
  conditional on the record still being this validator's, live and not ended (so it can
  never recreate a logged-out or rotated session), and reading the epoch on the way;
* an expired record: the load script, which deletes it and gives the verdict (once per
  session at most, like a touch refused by a change since the read).

Everything else is one round trip with no script. The core re-checks the digest, the MAC,
revocation and both clocks of whatever this returns (:mod:`sessionary.sansio.server_load`).
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Sequence
from typing import Any

from sessionary.backends.redis._layout import ENDED_FIELD, meta_from_fields
from sessionary.sansio.ops import Load, LoadResult, LoadStatus, StoredSession

__all__ = ["NOT_A_HASH", "PackedCommands", "ReadStep", "TagMemory", "judge_read", "pack_read"]

NOT_A_HASH = object()
"""What the store passes as the reply when ``HGETALL`` failed with ``WRONGTYPE``."""

_MISSING = LoadResult(LoadStatus.MISSING)
_INVALID = LoadResult(LoadStatus.INVALID)
_NOT_A_HASH = LoadResult(LoadStatus.CORRUPT, reason="not a hash")


class PackedCommands:
    """Commands already in the Redis protocol (``data``), and how many there are."""

    __slots__ = ("data", "size")

    def __init__(self, data: bytes, size: int) -> None:
        self.data = data
        self.size = size

    def __len__(self) -> int:
        """How many commands (callers count the replies as for a list of commands)."""
        return self.size


def pack_read(key: str, epoch_key: str | None) -> PackedCommands:
    """The read's commands in the Redis protocol: ``HGETALL key`` (then ``GET epoch_key``).

    Packed here in one formatting rather than by redis-py's general ``pack_commands`` (its
    per-argument encoding was the largest single cost of a read in the client). Key names
    are ASCII: the prefix is checked, storage keys and user tags are keyed hashes.
    """
    name = key.encode()
    if epoch_key is None:
        return PackedCommands(b"*2\r\n$7\r\nHGETALL\r\n$%d\r\n%b\r\n" % (len(name), name), 1)
    epoch = epoch_key.encode()
    data = b"*2\r\n$7\r\nHGETALL\r\n$%d\r\n%b\r\n*2\r\n$3\r\nGET\r\n$%d\r\n%b\r\n" % (
        len(name),
        name,
        len(epoch),
        epoch,
    )
    return PackedCommands(data, 2)


class ReadStep(enum.Enum):
    """What a read still needs after its ``HGETALL``."""

    DONE = "done"
    """The verdict stands (but for the user's epoch, which the store reads if it lacks it)."""
    TOUCH = "touch"
    """The record is live and its touch is due: run the touch script."""
    SCRIPT = "script"
    """The record is expired by the arithmetic: the load script deletes it and judges."""


def judge_read(  # noqa: PLR0911 - the verdicts
    reply: Any, op: Load, tag: str | None = None, epoch: Any = None
) -> tuple[LoadResult, ReadStep]:
    """Judge an ``HGETALL`` reply (flat list or RESP3 map) as the load script would.

    ``epoch``: the reply to the ``GET`` of user ``tag``'s epoch sent with it, used when the
    record names that user (the store reads the epoch itself for another user).
    """
    if reply is NOT_A_HASH:
        return _NOT_A_HASH, ReadStep.DONE
    if not reply:
        return _MISSING, ReadStep.DONE
    # A RESP3 map arrives as a dict (not a Mapping check: an ABC's isinstance is slow).
    pairs: Any = reply.items() if isinstance(reply, dict) else _pairs(reply)
    attributes: dict[str, bytes] = {}
    special: dict[bytes, bytes] = {}
    for name, value in pairs:
        if name[:1] == b"\xff":
            special[name] = value
        else:
            attributes[name.decode("utf-8", "surrogatepass")] = value
    meta = meta_from_fields(special)
    if meta is None:
        return _MISSING, ReadStep.DONE
    if not hmac.compare_digest(meta.digest, op.digest):
        return _INVALID, ReadStep.DONE
    ended = special.get(ENDED_FIELD)
    if ended is not None:
        return LoadResult(LoadStatus.ENDED, reason=ended.decode("ascii", "replace")), ReadStep.DONE
    now = op.now
    if now >= meta.deadline or now >= meta.accessed + min(meta.idle, op.max_idle):
        return _MISSING, ReadStep.SCRIPT
    user_epoch = int(epoch) if epoch and tag is not None and meta.user_key == tag else None
    found = LoadResult(LoadStatus.FOUND, StoredSession(attributes, meta, False, user_epoch))
    if now - meta.accessed >= op.touch_after:
        return found, ReadStep.TOUCH
    return found, ReadStep.DONE


def _pairs(flat: Sequence[bytes]) -> Any:
    it = iter(flat)
    return zip(it, it, strict=True)


class TagMemory:
    """Which user tag a session record carried when this process last saw it (no I/O).

    Knowing the tag before the read lets the store send the epoch ``GET`` in the same
    write as the ``HGETALL``: a signed-in read stays one round trip after the first one
    a process makes for that session (or from the login it handled). A wrong or stale
    entry costs one more round trip, never a wrong verdict: the epoch read is used only
    when the record names the same tag. Bounded: at ``size`` entries the oldest goes
    first. Plain dict operations, so threads may share it.
    """

    __slots__ = ("_tags", "size")

    def __init__(self, size: int = 10_000) -> None:
        self._tags: dict[str, str] = {}
        self.size = size

    def get(self, key: str) -> str | None:
        """The tag last seen for this storage key, if any."""
        return self._tags.get(key)

    def remember(self, key: str, tag: str | None) -> None:
        """Record the tag a storage key's record carries (``None``: it carries none)."""
        tags = self._tags
        if tag is None:
            tags.pop(key, None)
            return
        if tags.get(key) == tag:
            return
        tags[key] = tag
        while len(tags) > self.size:
            try:
                del tags[next(iter(tags))]
            except (KeyError, RuntimeError, StopIteration):  # another thread got there first
                break
