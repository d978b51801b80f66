"""Encryption at rest (opt-in): sealed values, authenticated metadata, forged records (R42)."""

from __future__ import annotations

import pytest

from sessionary.sansio.at_rest import META_FIELD
from sessionary.sansio.events import EventName
from sessionary.sansio.ops import Create, Update
from sessionary.stores.memory import MemoryEngine
from sessionary.testing import session_config
from tests.unit.test_cycle import Harness, write


def sealed_harness(engine: MemoryEngine | None = None) -> Harness:
    h = Harness(engine=engine)
    h.config = session_config(clock=h.clock, encrypt_at_rest=True)
    h.core = type(h.core)(h.config)
    return h


def records(engine: MemoryEngine) -> dict[str, object]:
    return dict(engine._records)


def test_values_are_sealed_in_the_store_and_round_trip() -> None:
    h = sealed_harness()
    h.request(write(cart=[1, 2], name="ada-lovelace"))
    (create,) = [op for op in h.ops if isinstance(op, Create)]
    assert set(create.attributes) == {"cart", "name", META_FIELD}
    assert all(b"ada-lovelace" not in v for v in create.attributes.values())
    seen: dict[str, object] = {}
    h.request(seen.update)
    assert seen == {"cart": [1, 2], "name": "ada-lovelace"}  # the meta field stays hidden


def test_nested_updates_compare_and_set_against_the_sealed_bytes() -> None:
    h = sealed_harness()
    h.request(write(cart=[1]))
    h.request(lambda s: s["cart"].append(2))
    update = [op for op in h.ops if isinstance(op, Update)][-1]
    assert set(update.expected) == {"cart"}
    assert update.expected["cart"] != b"\x01[1]"  # the sealed bytes, not the plaintext
    seen: dict[str, object] = {}
    h.request(seen.update)
    assert seen == {"cart": [1, 2]}


def test_login_reseals_the_metadata_and_logout_works() -> None:
    h = sealed_harness()
    h.request(write(a=1))
    h.request(lambda s: s.login("ada"))
    users: list[object] = []
    h.request(lambda s: users.append(s.user_id))
    assert users == ["ada"]
    h.request(lambda s: s.logout())
    h.request(lambda s: users.append(s.user_id))
    assert users == ["ada", None]


def forged_outcome(h: Harness) -> tuple[bool, list[tuple[EventName, object]]]:
    cycle, update = h.request(dict)
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    events = [(e.name, e.detail.get("reason")) for e in cycle.drain_events()]
    return cycle.session.is_new, events


@pytest.mark.parametrize("tamper", ["user", "deadline", "swap", "value", "drop-meta", "plain"])
def test_a_forged_record_loads_as_anonymous(tamper: str) -> None:
    engine = MemoryEngine()
    h = sealed_harness(engine)
    h.request(write(a=1, b=2))
    h.request(lambda s: s.login("mallory"))
    (record,) = records(engine).values()
    if tamper == "user":
        record.user = "admin"  # type: ignore[attr-defined]
    elif tamper == "deadline":
        record.deadline += 3_600_000  # type: ignore[attr-defined]
    elif tamper == "swap":
        attrs = record.attributes  # type: ignore[attr-defined]
        record.attributes = {**attrs, "a": attrs["b"], "b": attrs["a"]}  # type: ignore[attr-defined]
    elif tamper == "value":
        box = bytearray(record.attributes["a"])  # type: ignore[attr-defined]
        box[-1] ^= 1
        record.attributes = {**record.attributes, "a": bytes(box)}  # type: ignore[attr-defined]
    elif tamper == "drop-meta":
        record.attributes = {  # type: ignore[attr-defined]
            k: v
            for k, v in record.attributes.items()  # type: ignore[attr-defined]
            if k != META_FIELD
        }
    else:
        record.attributes = {**record.attributes, "c": b"\x01true"}  # type: ignore[attr-defined]
    record.meta = None  # type: ignore[attr-defined]
    assert forged_outcome(h) == (True, [(EventName.INVALID_ID, "unauthenticated record")])


def test_values_cannot_move_between_sessions() -> None:
    engine = MemoryEngine()
    alice, mallory = sealed_harness(engine), sealed_harness(engine)
    mallory.config = alice.config
    mallory.core = alice.core
    alice.request(write(role="admin"))
    mallory.request(write(role="guest"))
    alice_record, mallory_record = records(engine).values()
    mallory_record.attributes = {  # type: ignore[attr-defined]
        **mallory_record.attributes,  # type: ignore[attr-defined]
        "role": alice_record.attributes["role"],  # type: ignore[attr-defined]
    }
    assert forged_outcome(mallory)[0] is True


def test_off_by_default() -> None:
    h = Harness()
    h.request(write(a=1))
    (create,) = [op for op in h.ops if isinstance(op, Create)]
    assert create.attributes == {"a": b"\x01" + b"1"}
    assert h.core.at_rest is None
