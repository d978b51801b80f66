"""What the core reports and answers after a store's outcome: refusals, events, headers.

The cycle is driven against the pure memory engine (``tests.unit.test_cycle.Harness``), so
these tests see exactly what the core decides from each result: the session-limit refusals
of a create and of an update, the user and the session named in ``destroyed``,
``rotated`` and ``evicted`` events, the deadline a rotation keeps and a
re-authentication restarts, and the encrypted-at-rest fields of an update.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sessionary.exceptions import (
    SessionClosedError,
    SessionLimitError,
    SessionTooLargeError,
    StoreConflictError,
)
from sessionary.sansio import ops
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.ops import Create, Destroy, Discard, Load, Update
from sessionary.sansio.session import Session
from sessionary.stores.memory import MemoryEngine
from sessionary.testing import session_config
from tests.unit.test_cycle import Harness, write

HOUR_S = 3600


def harness(engine: MemoryEngine | None = None, **overrides: object) -> Harness:
    h = Harness(engine=engine)
    h.config = session_config(clock=h.clock, **overrides)
    h.core = type(h.core)(h.config)
    return h


def events(cycle: SessionCycle, name: EventName) -> list[SessionEvent]:
    return [e for e in cycle.drain_events() if e.name is name]


def max_age(set_cookie: str | None) -> int:
    assert set_cookie is not None
    (value,) = [a.split("=", 1)[1] for a in set_cookie.split("; ") if a.startswith("Max-Age=")]
    return int(value)


def commit_refused(h: Harness, handler: Callable[[Session], object]) -> SessionCycle:
    """A request whose commit raises ``SessionLimitError``; its cycle, for its events."""
    cycle = h.core.begin([f"{h.config.cookie.name}={h.cookie}"] if h.cookie else [])
    h.drive(cycle)
    handler(cycle.session)
    cycle.finish()
    with pytest.raises(SessionLimitError) as info:
        h.drive(cycle)
    assert info.value.limit == 2
    assert cycle.response().set_cookie is None  # nothing was written: no new ID
    return cycle


# ------------------------------------------------------------------ session limits


def signed_in_twice(engine: MemoryEngine, **overrides: object) -> None:
    for _ in range(2):
        harness(engine, **overrides).request(lambda s: s.login("ada"))


def test_a_login_beyond_the_limit_is_refused_on_create() -> None:
    engine = MemoryEngine()
    signed_in_twice(engine, max_sessions_per_user=2)
    third = harness(engine, max_sessions_per_user=2)
    cycle = commit_refused(third, lambda s: s.login("ada"))
    assert [op for op in third.ops if isinstance(op, Create)]
    refused = events(cycle, EventName.COMMIT_REFUSED)
    assert [e.detail for e in refused] == [{"reason": "session limit"}]


def test_a_login_beyond_the_limit_is_refused_on_update() -> None:
    engine = MemoryEngine()
    signed_in_twice(engine, max_sessions_per_user=2)
    third = harness(engine, max_sessions_per_user=2)
    third.request(write(cart=[1]))  # an anonymous session first: the login is an update
    cycle = commit_refused(third, lambda s: s.login("ada"))
    assert isinstance(third.ops[-1], Update)
    refused = events(cycle, EventName.COMMIT_REFUSED)
    assert [e.detail for e in refused] == [{"reason": "session limit"}]
    seen: dict[str, object] = {}
    third.request(seen.update)
    assert seen == {"cart": [1]}  # the anonymous session is untouched


@pytest.mark.parametrize("first", ["create", "update"])
def test_an_eviction_names_the_user_and_the_evicted_session(first: str) -> None:
    engine = MemoryEngine()
    oldest = harness(engine, max_sessions_per_user=1, session_limit="evict_oldest")
    oldest.request(lambda s: s.login("ada"))
    (old,) = [op for op in oldest.ops if isinstance(op, Create)]
    newest = harness(engine, max_sessions_per_user=1, session_limit="evict_oldest")
    if first == "update":
        newest.request(write(a=1))
    cycle, update = newest.request(lambda s: s.login("ada"))
    assert update.set_cookie is not None
    (evicted,) = events(cycle, EventName.EVICTED)
    assert evicted.user == "ada"
    assert evicted.detail == {"ref": newest.core.keyring.session_ref(old.key)}


# ------------------------------------------------------------------ destroyed and rotated


def test_a_logout_reports_the_user_it_ended() -> None:
    h = harness()
    h.request(lambda s: s.login("ada"))
    cycle, update = h.request(lambda s: s.logout())
    assert isinstance(h.ops[-1], Destroy)
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    (destroyed,) = events(cycle, EventName.DESTROYED)
    assert destroyed.user == "ada"
    assert destroyed.detail == {}
    assert destroyed.at == cycle.now  # the request's time, from the core's clock


def test_a_late_logout_ends_the_session_and_says_so() -> None:
    h = harness()
    h.request(lambda s: s.login("ada"))
    cycle = h.core.begin([f"{h.config.cookie.name}={h.cookie}"])
    h.drive(cycle)
    cycle.finish()
    h.drive(cycle)
    assert cycle.response().set_cookie is None
    with pytest.raises(SessionClosedError):
        cycle.session.logout()  # the headers are out: only the stored session can end
    op = cycle.late_op()
    assert isinstance(op, Destroy)
    h.drive(cycle)
    (destroyed,) = events(cycle, EventName.DESTROYED)
    assert (destroyed.user, destroyed.detail) == ("ada", {"late": True})
    _, after = h.request(write(a=1))
    assert [type(op) for op in h.ops[-2:]] == [Load, Create]  # the old ID named nothing
    assert after.set_cookie is not None


def test_a_rotation_reports_the_user_and_keeps_the_deadline() -> None:
    h = harness(absolute_timeout=2 * HOUR_S, idle_timeout=HOUR_S)
    _, login = h.request(lambda s: s.login("ada"))
    assert max_age(login.set_cookie) == 2 * HOUR_S
    before = h.cookie
    h.clock.advance(600)
    cycle, update = h.request(lambda s: s.rotate())
    assert h.cookie != before
    assert max_age(update.set_cookie) == 2 * HOUR_S - 600  # the deadline does not move
    (rotated,) = events(cycle, EventName.ROTATED)
    assert (rotated.user, rotated.detail) == ("ada", {})


def test_a_reauthentication_restarts_the_deadline() -> None:
    h = harness(absolute_timeout=2 * HOUR_S, idle_timeout=2 * HOUR_S)
    h.request(lambda s: s.login("ada"))
    h.clock.advance(600)
    cycle, update = h.request(lambda s: s.reauthenticate())
    (op,) = [op for op in h.ops[-2:] if isinstance(op, Update)]
    assert op.deadline == cycle.now + 2 * HOUR_S * 1000
    assert max_age(update.set_cookie) == 2 * HOUR_S
    (rotated,) = events(cycle, EventName.ROTATED)
    assert rotated.user == "ada"
    h.clock.advance(2 * HOUR_S - 600 + 1)  # past the first deadline, before the new one
    seen: list[object] = []
    h.request(lambda s: seen.append(s.user_id))
    assert seen == ["ada"]


# ------------------------------------------------------------------ encryption at rest


def test_an_update_sends_sealed_values_bound_to_the_records_key() -> None:
    """The update's attributes are the sealed values of the delta, sealed for its own record
    (a value sealed under another record's key would not open: it is bound to the key)."""
    h = harness(encrypt_at_rest=True)
    h.request(write(a=1))
    h.request(write(b="secret-value"))
    update = h.ops[-1]
    assert isinstance(update, Update)
    assert set(update.attributes) == {"b"}
    at_rest = h.core.at_rest
    assert at_rest is not None
    opened = at_rest.open(update.key, update.attributes)
    assert opened == {"b": h.core.codec.encode("secret-value")}
    assert b"secret-value" not in update.attributes["b"]


# ------------------------------------------------------------------ what every write carries


def test_a_session_of_exactly_max_size_is_written_one_byte_more_is_not() -> None:
    """R51 on the write side, to the byte: names and encoded values together."""
    h = harness(max_size=100)
    h.request(write(pad="x" * 94))  # "pad" + a tag byte and a 96-byte JSON string = 100
    (create,) = [op for op in h.ops if isinstance(op, Create)]
    assert sum(map(len, create.attributes)) + sum(map(len, create.attributes.values())) == 100
    with pytest.raises(SessionTooLargeError):
        h.request(write(pad="x" * 95))
    h.request(write(pad="y" * 94))  # an update of exactly the limit
    assert isinstance(h.ops[-1], Update)


def test_every_operation_carries_the_cores_linger_and_the_held_lock() -> None:
    """The store keeps an expired record ``expiry_notice`` longer (to say why it ended) and
    refuses a commit whose lock was lost: both only if each operation carries them."""
    h = harness(expiry_notice=1234)
    h.request(write(a=1))
    cycle = h.core.begin([f"{h.config.cookie.name}={h.cookie}"])
    h.drive(cycle)
    cycle.hold_lock("lock-key", b"token")
    cycle.session["a"] = 2
    cycle.finish()
    update = cycle.next_op()
    assert isinstance(update, Update)
    assert update.lock_token == b"token"
    create, load = h.ops
    assert isinstance(create, Create)
    assert isinstance(load, Load)
    assert (load.linger, create.linger, update.linger) == (1_234_000,) * 3


def test_a_pre_session_cookie_lives_as_long_as_a_session() -> None:
    """A CSRF token issued to a visitor without a session sets the pre-session cookie it is
    bound to, for the absolute timeout (no store record)."""
    h = harness(absolute_timeout=2 * HOUR_S, idle_timeout=HOUR_S)
    cycle = h.core.begin([])
    assert cycle.csrf_binding() is not None
    cycle.finish()
    assert cycle.next_op() is None  # no store call
    assert max_age(cycle.response().set_cookie) == 2 * HOUR_S


# ------------------------------------------------------------------ stale answers


class Stale(Harness):
    """The engine, except that updates are answered STALE ``times`` times, with the record
    as loaded (or ``current`` when set) as the record "found now"."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times
        self.current: ops.StoredSession | None = None

    def run(self, op: ops.Operation) -> ops.Result:
        if isinstance(op, Update) and self.times > 0:
            self.times -= 1
            self.ops.append(op)
            return ops.CommitResult(ops.CommitStatus.STALE, current=self.current)
        result = super().run(op)
        if isinstance(result, ops.LoadResult) and self.current is None:
            self.current = result.record
        return result


@pytest.mark.parametrize(("stale", "gives_up"), [(100, False), (101, True)])
def test_an_update_gives_up_after_a_hundred_merges(stale: int, gives_up: bool) -> None:
    h = Stale(0)
    h.request(write(a=1))
    h.times = stale
    if gives_up:
        with pytest.raises(StoreConflictError):
            h.request(write(a=2))
        return
    h.request(write(a=2))
    assert sum(isinstance(op, Update) for op in h.ops) == stale + 1
    seen: dict[str, object] = {}
    h.request(seen.update)
    assert seen == {"a": 2}


def test_a_stale_answer_with_a_forged_record_is_discarded_as_corrupt() -> None:
    h = Stale(0)
    h.request(lambda s: s.login("ada"))
    h.request()  # loads it: the record the double will forge
    assert h.current is not None
    meta = h.current.meta._replace(user="mallory")  # its MAC no longer matches
    h.current = h.current._replace(meta=meta)
    h.times = 1
    cycle, update = h.request(write(a=1))
    assert isinstance(h.ops[-1], Discard)
    events = [(e.name, e.detail.get("reason")) for e in cycle.drain_events()]
    assert events == [(EventName.CORRUPT_RECORD, "unauthenticated record")]
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
