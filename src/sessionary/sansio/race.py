"""A write that lost the race to another: what it may still do (a pure decision).

Every write is conditional on the record version the request read (:class:`~sessionary.
sansio.ops.Update`); a stale one gets the record as it is now and asks :func:`judge_race`:

* the other request rotated the ID for the *same* user (``rotate()``, ``elevate()``): this
  write joins that rotation — it goes to the rotated record, whose new cookie the other
  response carries (50 concurrent rotations keep every write and issue one cookie);
* the other request signed the session in (or out) as someone else, or this write is itself
  a login that lost to another login: it must fail visibly, never "ok" while signed out;
* otherwise the writes merge: disjoint fields never conflict, and a field this request both
  read and wrote conflicts when its stored bytes moved (the conflict policy decides).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sessionary.sansio.keys import KeyRing
from sessionary.sansio.ops import StoredSession

__all__ = ["RaceVerdict", "judge_race"]


@dataclass(frozen=True, slots=True)
class RaceVerdict:
    """What a stale write may do."""

    lost: bool
    """The session changed hands (a login, another user): the write must fail visibly."""
    joined: bool
    """The ID was rotated for the same user: write to the rotated record, keep its ID."""
    conflicts: tuple[str, ...]
    """Fields this request read and wrote whose stored bytes moved meanwhile."""


def judge_race(
    *,
    read: StoredSession,
    current: StoredSession,
    digest: bytes,
    expected: Mapping[str, bytes | None],
    login: bool,
) -> RaceVerdict:
    """Judge a write that read ``read`` (validator ``digest``) but found ``current``.

    ``expected``: the fields the request read and wrote (``None`` where it saw them absent);
    ``login``: the write signs the session in (or re-authenticates it).
    """
    rotated = not KeyRing.digests_equal(current.meta.digest, digest)
    if rotated and (login or current.meta.user != read.meta.user):
        return RaceVerdict(lost=True, joined=False, conflicts=())
    seen = read.attributes  # compare-and-set against the bytes this request read
    now = current.attributes
    conflicts = tuple(
        name
        for name, value in expected.items()
        if now.get(name) != (None if value is None else seen.get(name))
    )
    return RaceVerdict(lost=False, joined=rotated, conflicts=conflicts)
