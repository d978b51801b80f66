"""A record whose value does not decode is corrupt as a whole: anonymous, deleted, reported.

These records are *authentic* (their MAC is right: the core signed them), so what is tested
is the decode step alone — a bug, a downgrade to a codec that cannot read a newer value, or a
value written by an older version. Never a signed-in session with a field silently missing.
"""

from __future__ import annotations

import pickle

import pytest

from sessionary.sansio.events import EventName
from sessionary.sansio.record_auth import record_seal
from sessionary.stores.memory import MemoryEngine
from tests.unit.test_cycle import Harness, write


def reseal(h: Harness, engine: MemoryEngine, name: str, value: bytes) -> None:
    """Put ``value`` under ``name`` in the one stored record, with a correct MAC."""
    ((key, record),) = engine._records.items()
    record.attributes = {**record.attributes, name: value}
    record.seal = record_seal(
        h.core.record_keys[0],
        key,
        version=record.version,
        digest=record.digest,
        created=record.created,
        idle=record.idle,
        deadline=record.deadline,
        user=record.user,
        auth_time=record.auth_time,
        user_key=record.user_key,
        device=record.device,
        attributes=record.attributes,
    )
    record.meta = None


@pytest.mark.parametrize(
    "value",
    [
        b"\x01NaN",
        b"\x011e999",
        b'\x01{"truncated": [1, 2',
        b"\x7f" + b"unknown envelope",
        pickle.dumps({"role": "admin"}),
        b"",
    ],
    ids=["nan", "1e999", "truncated", "envelope", "pickle", "empty"],
)
def test_an_undecodable_value_makes_the_record_corrupt(value: bytes) -> None:
    h = Harness()
    h.request(lambda s: s.login("alice"))
    h.request(write(cart=[1]))
    reseal(h, h.engine, "bad", value)
    seen: dict[str, object] = {}
    cycle, update = h.request(seen.update)
    assert (cycle.session.is_new, cycle.session.user_id, seen) == (True, None, {})
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    (alert,) = [e for e in cycle.drain_events() if e.name is EventName.CORRUPT_RECORD]
    assert alert.detail["reason"] == "undecodable value"
    assert len(h.engine) == 0


def test_a_correctly_sealed_record_still_loads() -> None:
    h = Harness()
    h.request(write(cart=[1]))
    reseal(h, h.engine, "extra", b"\x01true")
    seen: dict[str, object] = {}
    h.request(seen.update)
    assert seen == {"cart": [1], "extra": True}
