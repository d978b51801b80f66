"""Commits racing other requests of the same session: merged, joined, or refused visibly.

Each test opens a request (its session loaded), lets another request of the same session
run to the end, then finishes the first one: what a slow request sees when a faster one
committed meanwhile. The store answers the slow commit STALE (with the record as it is now)
and the core decides.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from sessionary.exceptions import SessionRotatedError, StoreConflictError
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import SELECTOR_CHARS, mint_token, parse_token
from sessionary.sansio.ops import Update
from sessionary.sansio.session import Session
from sessionary.testing import session_config
from tests.unit.test_cycle import Harness, write


class Race:
    """Two browsers' worth of requests on one session (one cookie, one store)."""

    def __init__(self, h: Harness) -> None:
        self.h = h

    def open(self) -> SessionCycle:
        h = self.h
        cycle = h.core.begin([f"{h.config.cookie.name}={h.cookie}"], client="198.51.100.1")
        h.drive(cycle)
        return cycle

    def close(
        self, cycle: SessionCycle, handler: Callable[[Session], object]
    ) -> tuple[ResponseUpdate, list[EventName]]:
        handler(cycle.session)
        cycle.finish()
        self.h.drive(cycle)
        return cycle.response(), [e.name for e in cycle.drain_events()]

    def stored(self) -> dict[str, object]:
        seen: dict[str, object] = {}
        self.h.request(seen.update)
        return seen


def race(**config: object) -> Race:
    h = Harness(session_config(**config) if config else None)
    h.request(write(n=1))
    return Race(h)


def test_disjoint_writers_are_merged() -> None:
    r = race()
    slow = r.open()
    r.h.request(write(y=1))
    update, events = r.close(slow, write(x=1))
    assert update.set_cookie is None
    assert events == []
    assert r.stored() == {"n": 1, "x": 1, "y": 1}
    stale = [op for op in r.h.ops if isinstance(op, Update)][-2:]
    assert [op.expect_version for op in stale] == [1, 2]  # refused at 1, merged at 2


def test_a_field_read_and_written_by_both_is_last_writer_wins_and_reported() -> None:
    r = race()
    slow = r.open()
    r.h.request(lambda s: s.__setitem__("n", s["n"] + 10))
    _, events = r.close(slow, lambda s: s.__setitem__("n", s["n"] + 1))
    assert events == [EventName.CONFLICT]
    assert r.stored() == {"n": 2}


def test_a_field_read_and_written_by_both_is_refused_under_the_raise_policy() -> None:
    r = race(conflict_policy="raise")
    slow = r.open()
    r.h.request(lambda s: s.__setitem__("n", s["n"] + 10))
    with pytest.raises(StoreConflictError) as info:
        r.close(slow, lambda s: s.__setitem__("n", s["n"] + 1))
    assert info.value.fields == ("n",)
    assert r.stored() == {"n": 11}


def test_a_write_racing_a_rotation_of_the_same_user_joins_it() -> None:
    r = race()
    r.h.request(lambda s: s.login("ada"))
    slow = r.open()
    old_cookie = r.h.cookie
    _, rotated = r.h.request(lambda s: s.rotate())
    assert rotated.set_cookie is not None  # the fast request's response carries the new ID
    update, events = r.close(slow, write(cart=[1]))
    assert update.set_cookie is None  # no second rotation: the winner's cookie stands
    assert events == [EventName.ROTATION_JOINED]
    assert r.h.cookie != old_cookie
    assert r.stored() == {"n": 1, "cart": [1]}  # carried over to the rotated record


def test_concurrent_rotations_keep_every_write_and_issue_one_cookie() -> None:
    r = race()
    slow = [r.open() for _ in range(5)]
    winners = 0
    for i, cycle in enumerate(slow):

        def rotate_and_write(s: Session, i: int = i) -> None:
            s.rotate()
            s[f"k{i}"] = i

        update, _ = r.close(cycle, rotate_and_write)
        winners += update.set_cookie is not None
    assert winners == 1
    r.h.cookie = None  # the browser keeps the winner's cookie: find it in the store instead
    (record,) = r.h.engine._records.values()
    assert set(record.attributes) == {"n", "k0", "k1", "k2", "k3", "k4"}


def test_a_login_that_lost_to_another_login_fails_visibly() -> None:
    r = race()
    slow = r.open()
    r.h.request(lambda s: s.login("ada"))
    with pytest.raises(SessionRotatedError):
        r.close(slow, lambda s: s.login("ada"))


def test_a_write_of_an_anonymous_view_is_not_carried_into_a_signed_in_session() -> None:
    r = race()
    slow = r.open()
    r.h.request(lambda s: s.login("ada"))
    with pytest.raises(SessionRotatedError):
        r.close(slow, write(planted="x"))
    assert "planted" not in r.stored()


def test_a_write_racing_a_logout_is_dropped_and_clears_the_cookie() -> None:
    r = race()
    slow = r.open()
    r.h.request(lambda s: s.logout())
    update, events = r.close(slow, write(x=1))
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    assert events == [EventName.COMMIT_REFUSED]
    assert len(r.h.engine) == 0  # never resurrected


def test_an_unknown_id_and_a_dead_validator_get_the_same_answer() -> None:
    # With a two-key ring: both ask each generation once and leave the cookie alone, so a
    # copy of an old ID does not reveal whether its session still lives.
    old_key, new_key = secrets.token_bytes(32), secrets.token_bytes(32)
    h = Harness(session_config(secret_keys=[new_key, old_key]))
    h.request(write(n=1))
    assert h.cookie is not None
    live = parse_token(h.cookie)
    assert live is not None
    dead_validator = live.value[:SELECTOR_CHARS] + mint_token().value[SELECTOR_CHARS:]
    answers = []
    for value in (mint_token().value, dead_validator):
        h.ops.clear()
        cycle, update = h.request(lambda s: None, headers=[f"__Host-session={value}"])
        events = [(e.name, e.detail.get("client")) for e in cycle.drain_events()]
        answers.append((update, [type(op).__name__ for op in h.ops], events))
    assert answers[0] == answers[1]
    update, ops, _ = answers[0]
    assert update == ResponseUpdate()  # no Set-Cookie either way
    assert ops == ["Load", "Load"]
