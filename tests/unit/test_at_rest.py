"""Encryption at rest (opt-in): sealed values in the store; the record MAC keeps them whole."""

from __future__ import annotations

from sessionary.sansio.events import EventName
from sessionary.sansio.ops import Create, Update
from sessionary.stores.memory import MemoryEngine
from sessionary.testing import session_config
from tests.unit.test_cycle import Harness, write
from tests.unit.test_cycle_races import Race


def sealed_harness(engine: MemoryEngine | None = None) -> Harness:
    h = Harness(engine=engine)
    h.config = session_config(clock=h.clock, encrypt_at_rest=True)
    h.core = type(h.core)(h.config)
    return h


def test_values_are_sealed_in_the_store_and_round_trip() -> None:
    h = sealed_harness()
    h.request(write(cart=[1, 2], name="ada-lovelace"))
    (create,) = [op for op in h.ops if isinstance(op, Create)]
    assert set(create.attributes) == {"cart", "name"}  # no hidden field among the attributes
    assert all(b"ada-lovelace" not in v for v in create.attributes.values())
    seen: dict[str, object] = {}
    h.request(seen.update)
    assert seen == {"cart": [1, 2], "name": "ada-lovelace"}


def test_nested_updates_are_sealed_and_merged() -> None:
    h = sealed_harness()
    h.request(write(cart=[1]))
    h.request(lambda s: s["cart"].append(2))
    update = [op for op in h.ops if isinstance(op, Update)][-1]
    assert set(update.attributes) == {"cart"}
    assert b"[1,2]" not in update.attributes["cart"]  # the sealed bytes, not the plaintext
    seen: dict[str, object] = {}
    h.request(seen.update)
    assert seen == {"cart": [1, 2]}


def test_login_and_logout_work_sealed() -> None:
    h = sealed_harness()
    h.request(write(a=1))
    h.request(lambda s: s.login("ada"))
    users: list[object] = []
    h.request(lambda s: users.append(s.user_id))
    assert users == ["ada"]
    h.request(lambda s: s.logout())
    h.request(lambda s: users.append(s.user_id))
    assert users == ["ada", None]


def test_off_by_default() -> None:
    h = Harness()
    h.request(write(a=1))
    (create,) = [op for op in h.ops if isinstance(op, Create)]
    assert create.attributes == {"a": b"\x01" + b"1"}
    assert h.core.at_rest is None


def test_compare_and_set_judges_sealed_fields_by_what_was_read() -> None:
    """A slow request that read and wrote ``n``: no conflict when the other request wrote
    another field, a conflict when it rewrote ``n`` (sealed bytes differ at every write)."""
    for other, conflict in ((write(y=1), False), (write(n=5), True)):
        r = Race(sealed_harness())
        r.h.request(write(n=1))
        slow = r.open()
        r.h.request(other)
        _, events = r.close(slow, lambda s: s.__setitem__("n", s["n"] + 1))
        assert events == ([EventName.CONFLICT] if conflict else [])
        assert r.stored()["n"] == 2  # last writer wins either way
