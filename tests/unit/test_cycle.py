"""The sans-IO cycle, driven synchronously against the pure memory engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from sessionary.config import CookieOptions, SessionConfig
from sessionary.exceptions import (
    SessionClosedError,
    SessionStateError,
    SessionTooLargeError,
    StoreError,
    StoreUnavailableError,
)
from sessionary.sansio.core import SessionCore
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import mint_token
from sessionary.sansio.ops import (
    CommitResult,
    CommitStatus,
    Create,
    Destroy,
    DestroyResult,
    Discard,
    DiscardResult,
    Load,
    LoadResult,
    LoadStatus,
    Operation,
    Result,
    Update,
)
from sessionary.sansio.session import Session
from sessionary.stores.memory import MemoryEngine
from sessionary.testing import FakeClock, session_config

Handler = Callable[[Session], object]


class Harness:
    """A browser, a store and the driver loop of the cycle's docstring."""

    def __init__(self, config: SessionConfig | None = None, engine: MemoryEngine | None = None):
        self.clock = FakeClock(1_750_000_000)
        self.config = config or session_config(clock=self.clock)
        self.core = SessionCore(self.config)
        self.engine = engine if engine is not None else MemoryEngine()
        self.ops: list[Operation] = []
        self.cookie: str | None = None

    def run(self, op: Operation) -> Result:
        self.ops.append(op)
        if isinstance(op, Load):
            return self.engine.load(op)
        if isinstance(op, Create):
            return self.engine.create(op)
        if isinstance(op, Update):
            return self.engine.update(op)
        if isinstance(op, Discard):
            return DiscardResult(self.engine.discard(op))
        assert isinstance(op, Destroy)
        return DestroyResult(self.engine.destroy(op))

    def drive(self, cycle: SessionCycle) -> None:
        op = cycle.next_op()
        while op is not None:
            cycle.send(self.run(op))
            op = cycle.next_op()

    def request(
        self, handler: Handler | None = None, headers: list[str] | None = None
    ) -> tuple[SessionCycle, ResponseUpdate]:
        if headers is None:
            headers = [f"{self.config.cookie.name}={self.cookie}"] if self.cookie else []
        cycle = self.core.begin(headers, client="198.51.100.1")
        self.drive(cycle)
        if handler is not None:
            handler(cycle.session)
        cycle.finish()
        self.drive(cycle)
        update = cycle.response()
        if update.set_cookie is not None:
            value = update.set_cookie.split(";", 1)[0].split("=", 1)[1]
            self.cookie = value or None
        return cycle, update


def write(**values: object) -> Handler:
    return lambda session: session.update(values)


def test_no_cookie_no_store_call_no_header() -> None:
    h = Harness()
    cycle, update = h.request(lambda s: s.get("x"))
    assert h.ops == []
    assert update == ResponseUpdate(vary_cookie=True)
    assert cycle.drain_events() == []
    _, untouched = h.request()
    assert untouched == ResponseUpdate()


@pytest.mark.parametrize(
    ("value", "event"),
    [
        ("short", EventName.INVALID_ID),
        ("A" * 200, EventName.INVALID_ID),
        ("A" * 42 + "B", EventName.INVALID_ID),
    ],
)
def test_malformed_cookies_make_no_store_call(value: str, event: EventName) -> None:
    h = Harness()
    cycle, update = h.request(headers=[f"__Host-session={value}"])
    assert h.ops == []
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    (seen,) = cycle.drain_events()
    assert seen.name is event
    assert seen.detail["client"] == "198.51.100.1"


def test_conflicting_duplicates_make_no_store_call() -> None:
    h = Harness()
    a, b = "A" * 42 + "E", "B" * 42 + "E"
    cycle, update = h.request(headers=[f"__Host-session={a}; __Host-session={b}"])
    assert h.ops == []
    assert update.no_store
    assert [e.name for e in cycle.drain_events()] == [EventName.DUPLICATE_COOKIE]


def test_unknown_id_is_never_adopted() -> None:
    h = Harness()
    planted = "A" * 42 + "E"
    cycle, update = h.request(write(x=1), headers=[f"__Host-session={planted}"])
    assert [type(op) for op in h.ops] == [Load, Create]
    assert update.set_cookie is not None
    assert planted not in update.set_cookie
    assert cycle.drain_events()[0].detail["reason"] == "unknown"


def test_read_only_requests_never_write() -> None:
    h = Harness()
    h.request(write(a=1))
    h.ops.clear()
    for _ in range(3):
        _, update = h.request(lambda s: s["a"])
        assert update.set_cookie is None
    assert all(isinstance(op, Load) for op in h.ops)
    assert len(h.ops) == 3


def test_a_write_is_one_load_and_one_update() -> None:
    h = Harness()
    h.request(write(a=1))
    h.ops.clear()
    h.request(write(a=2))
    assert [type(op) for op in h.ops] == [Load, Update]


def test_login_rotates_in_place_and_the_old_id_dies() -> None:
    h = Harness()
    h.request(write(a=1))
    old = h.cookie
    assert old is not None
    cycle, update = h.request(lambda s: s.login("alice"))
    assert update.set_cookie is not None
    new = h.cookie
    assert new is not None
    assert new != old
    assert new[:21] == old[:21]  # same selector, same record
    assert [e.name for e in cycle.drain_events()] == [EventName.ROTATED]
    stale_cycle, stale = h.request(headers=[f"__Host-session={old}"])
    assert stale_cycle.session.user_id is None
    assert stale.set_cookie is None  # a stale ID is not clobbered (the browser has the new one)
    h.cookie = new
    fresh, _ = h.request()
    assert fresh.session.user_id == "alice"
    assert fresh.session["a"] == 1


def test_a_signed_in_sessions_response_asks_caches_not_to_store_it() -> None:
    h = Harness()
    h.request(write(a=1))
    _, anonymous = h.request(lambda s: s["a"])
    assert anonymous == ResponseUpdate(vary_cookie=True)  # an anonymous page stays cacheable
    h.request(lambda s: s.login("carol"))
    _, page = h.request(lambda s: s.user_id)
    assert page == ResponseUpdate(vary_cookie=True, cache_control="no-store")
    _, untouched = h.request()
    assert untouched == ResponseUpdate()  # the response does not depend on the session
    off = Harness(session_config(clock=FakeClock(1_750_000_000), signed_in_cache_control=None))
    off.request(lambda s: s.login("carol"))
    assert off.request(lambda s: s.user_id)[1] == ResponseUpdate(vary_cookie=True)


@pytest.mark.parametrize("change", [Session.elevate, Session.reauthenticate])
def test_elevate_and_reauthenticate_issue_a_new_id_and_the_old_one_dies(
    change: Callable[[Session], None],
) -> None:
    """R6: after ``elevate()`` or ``reauthenticate()`` the old ID gives no session."""
    h = Harness()
    h.request(lambda s: s.login("alice"))
    h.request(write(a=1))
    old = h.cookie
    cycle, update = h.request(change)
    assert update.set_cookie is not None
    assert [e.name for e in cycle.drain_events()] == [EventName.ROTATED]
    new = h.cookie
    assert new is not None
    assert new != old
    assert len(h.engine) == 1  # rotated in place: no record is left for the old ID
    stale, _ = h.request(headers=[f"__Host-session={old}"])
    assert (stale.session.is_new, stale.session.user_id) == (True, None)
    fresh, _ = h.request()
    assert (fresh.session.user_id, fresh.session["a"]) == ("alice", 1)


def test_only_reauthentication_extends_the_absolute_deadline() -> None:
    """R6/R39: ``elevate()`` keeps the deadline; ``reauthenticate()`` restarts it."""
    clock = FakeClock(1_750_000_000)
    h = Harness(session_config(idle_timeout=3000, absolute_timeout=3600, clock=clock))
    h.request(lambda s: s.login("alice"))
    clock.advance(2400)
    _, elevated = h.request(Session.elevate)
    assert elevated.set_cookie is not None
    assert "Max-Age=1200;" in elevated.set_cookie  # the deadline did not move
    clock.advance(1000)
    cycle, reauthenticated = h.request(Session.reauthenticate)
    assert reauthenticated.set_cookie is not None
    assert "Max-Age=3600;" in reauthenticated.set_cookie
    auth_time = cycle.session.auth_time
    assert auth_time is not None
    assert auth_time.timestamp() == clock()
    clock.advance(1000)  # past the first deadline, within the new one
    assert h.request()[0].session.user_id == "alice"


def test_reauthenticate_needs_a_signed_in_session() -> None:
    h = Harness()
    with pytest.raises(SessionStateError, match="login"):
        h.request(Session.reauthenticate)
    assert h.cookie is None


def test_login_on_a_new_session_creates_it_with_the_user() -> None:
    h = Harness()
    cycle, update = h.request(lambda s: s.login("bob"))
    assert update.set_cookie is not None
    events = cycle.drain_events()
    assert [(e.name, e.user) for e in events] == [(EventName.CREATED, "bob")]
    again, _ = h.request()
    assert again.session.user_id == "bob"


def test_logout_destroys_and_clears() -> None:
    h = Harness()
    h.request(lambda s: s.login("carol"))
    old = h.cookie
    cycle, update = h.request(lambda s: s.logout())
    assert isinstance(h.ops[-1], Destroy)
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    assert [e.name for e in cycle.drain_events()] == [EventName.DESTROYED]
    assert len(h.engine) == 0
    replay, _ = h.request(headers=[f"__Host-session={old}"])
    assert replay.session.user_id is None


def test_writing_after_logout_creates_a_fresh_session() -> None:
    h = Harness()
    h.request(lambda s: s.login("dan"))
    old = h.cookie

    def logout_with_flash(session: Session) -> None:
        session.logout()
        session["flash"] = "bye"

    _, update = h.request(logout_with_flash)
    assert [type(op) for op in h.ops[-2:]] == [Destroy, Create]
    assert update.set_cookie is not None
    assert "Max-Age=0" not in update.set_cookie
    assert h.cookie not in (None, old)
    assert len(h.engine) == 1


def test_idle_expiry() -> None:
    h = Harness(session_config(idle_timeout=600, absolute_timeout=3600))
    h.config = session_config(idle_timeout=600, absolute_timeout=3600, clock=h.clock)
    h.core = SessionCore(h.config)
    h.request(write(a=1))
    h.clock.advance(600)
    cycle, update = h.request(lambda s: s.get("a"))
    assert cycle.session.get("a") is None
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    assert [e.name for e in cycle.drain_events()] == [EventName.EXPIRED_IDLE]


def test_a_clock_stepped_back_never_moves_session_time_back() -> None:
    """R38: once this node has judged at a time, it never judges a session at an earlier one."""
    clock = FakeClock(1_750_000_000)
    h = Harness(session_config(idle_timeout=600, absolute_timeout=3600, clock=clock))
    h.request(write(a=1))
    alice = h.cookie
    clock.advance(600)  # alice idled out; another visitor's request sees the time
    h.cookie = None
    h.request()
    clock.advance(-3600)  # an NTP step or a resumed VM sets the wall clock back an hour
    assert h.core.now_ms() == ((1_750_000_000 + 600) * 1000)
    h.cookie = alice
    cycle, _ = h.request(lambda s: s.get("a"))
    assert cycle.session.is_new
    assert [e.name for e in cycle.drain_events()] == [EventName.EXPIRED_IDLE]
    clock.advance(3600 + 10)  # the wall clock passes the floor again: it is used as is
    assert h.core.now_ms() == ((1_750_000_000 + 610) * 1000)


def test_a_node_lagging_beyond_the_skew_tolerance_is_reported() -> None:
    """R38: a node lagging more than ``clock_skew_tolerance`` behind another is reported."""
    ahead = Harness()
    behind_clock = FakeClock(1_750_000_000 - 3)  # within the 5 s tolerance
    lagging_clock = FakeClock(1_750_000_000 - 3600)  # an hour behind
    ahead.request(write(a=1))
    for clock, reported in ((behind_clock, False), (lagging_clock, True)):
        node = Harness(replace(ahead.config, clock=clock), engine=ahead.engine)
        node.cookie = ahead.cookie
        cycle, _ = node.request(lambda s: s.get("a"))
        assert cycle.session["a"] == 1
        skew = [e for e in cycle.drain_events() if e.name is EventName.CLOCK_SKEW]
        assert bool(skew) is reported
    assert skew[0].detail == {"behind_ms": 3600 * 1000}
    assert skew[0].fingerprint is not None  # names the session, never its ID


def test_absolute_expiry_despite_activity() -> None:
    clock = FakeClock(1_750_000_000)
    h = Harness(session_config(idle_timeout=600, absolute_timeout=3600, clock=clock))
    h.clock = clock
    h.request(write(a=1))
    for _ in range(6):
        clock.advance(590)
        cycle, _ = h.request()
        assert cycle.session.is_new is False
    clock.advance(60)
    cycle, _ = h.request()
    assert cycle.session.is_new
    assert [e.name for e in cycle.drain_events()] == [EventName.EXPIRED_ABSOLUTE]


def test_cookie_max_age_never_passes_the_absolute_deadline() -> None:
    clock = FakeClock(1_750_000_000)
    h = Harness(session_config(absolute_timeout=3600, idle_timeout=1800, clock=clock))
    h.clock = clock
    _, created = h.request(write(a=1))
    assert created.set_cookie is not None
    assert "Max-Age=3600;" in created.set_cookie
    clock.advance(1000)
    _, rotated = h.request(lambda s: s.rotate())
    assert rotated.set_cookie is not None
    assert "Max-Age=2600;" in rotated.set_cookie


def test_cookie_max_age_is_capped_at_400_days() -> None:
    clock = FakeClock(1_750_000_000)
    h = Harness(session_config(absolute_timeout=500 * 86400, idle_timeout=600, clock=clock))
    _, update = h.request(write(a=1))
    assert update.set_cookie is not None
    assert f"Max-Age={400 * 86400};" in update.set_cookie


def test_browser_session_cookies_have_no_max_age() -> None:
    h = Harness(session_config(cookie=CookieOptions(persistent=False)))
    _, update = h.request(write(a=1))
    assert update.set_cookie is not None
    assert "Max-Age" not in update.set_cookie


def test_too_large_on_commit_leaves_the_store_unchanged() -> None:
    h = Harness(session_config(max_size=100))
    h.request(write(a="x" * 10))
    created = h.ops[-1]
    assert isinstance(created, Create)
    before = h.engine.load(
        Load(key=created.key, digest=created.digest, now=0, max_idle=10**9, touch_after=10**9)
    )
    with pytest.raises(SessionTooLargeError):
        h.request(write(b="y" * 200))
    after = h.engine.load(
        Load(key=created.key, digest=created.digest, now=0, max_idle=10**9, touch_after=10**9)
    )
    assert before.record is not None
    assert after.record is not None
    assert dict(after.record.attributes) == dict(before.record.attributes)


def test_an_oversized_record_loads_as_anonymous() -> None:
    engine = MemoryEngine()
    big = Harness(session_config(max_size=10_000), engine=engine)
    big.request(write(a="x" * 5000))
    small = Harness(
        session_config(secret_keys=big.config.secret_keys, max_size=1000), engine=engine
    )
    small.cookie = big.cookie
    cycle, update = small.request()
    assert cycle.session.is_new
    assert update.set_cookie is not None
    assert cycle.drain_events()[0].detail["reason"] == "oversize record"


def test_sessions_survive_a_key_rotation() -> None:
    engine = MemoryEngine()
    old_keys = session_config()
    before = Harness(old_keys, engine=engine)
    before.request(write(a=1))
    rotated = session_config(secret_keys=[session_config().secret_keys[0], *old_keys.secret_keys])
    after = Harness(rotated, engine=engine)
    after.cookie = before.cookie
    cycle, _ = after.request(write(b=2))
    assert [type(op) for op in after.ops] == [Load, Load, Update]  # found under generation 1
    assert dict(cycle.session) == {"a": 1, "b": 2}
    _, update = after.request(lambda s: s.rotate())
    assert update.set_cookie is not None
    again, _ = after.request()
    assert dict(again.session) == {"a": 1, "b": 2}


class ScriptedStore:
    """Returns canned results, to reach outcomes a real race would produce."""

    def __init__(self, *results: Result) -> None:
        self.results = list(results)

    def __call__(self, op: Operation) -> Result:
        return self.results.pop(0)


def scripted(h: Harness, *results: Result) -> None:
    h.run = ScriptedStore(*results)  # type: ignore[method-assign]


def loaded_session(h: Harness) -> None:
    """Create a real session first, then script what the store says next."""
    h.request(write(n=1))


def test_a_concurrently_destroyed_session_is_not_resurrected() -> None:
    h = Harness()
    loaded_session(h)
    real = h.engine
    load = real.load
    scripted(h, LoadResult(LoadStatus.FOUND, None), CommitResult(CommitStatus.GONE))
    h.run = lambda op: load(op) if isinstance(op, Load) else CommitResult(CommitStatus.GONE)  # type: ignore[method-assign]
    cycle, update = h.request(write(n=2))
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    assert cycle.drain_events()[-1].detail == {"reason": "gone"}


def test_create_retries_on_a_taken_key_then_gives_up() -> None:
    h = Harness()
    exists = CommitResult(CommitStatus.EXISTS)
    h.run = ScriptedStore(exists, CommitResult(CommitStatus.OK))  # type: ignore[method-assign]
    _, update = h.request(write(a=1))
    assert update.set_cookie is not None
    h.run = ScriptedStore(exists, exists, exists)  # type: ignore[method-assign]
    h.cookie = None
    with pytest.raises(StoreError, match="fresh session key"):
        h.request(write(a=1))


def test_a_store_failure_while_loading_is_deferred() -> None:
    h = Harness()
    loaded_session(h)
    cycle = h.core.begin([f"__Host-session={h.cookie}"])
    assert isinstance(cycle.next_op(), Load)
    cycle.fail(StoreUnavailableError("down"))
    assert cycle.next_op() is None
    assert cycle.session.unavailable
    cycle.finish()
    assert cycle.next_op() is None
    assert cycle.response() == ResponseUpdate()


def test_misuse_of_the_state_machine_is_reported() -> None:
    h = Harness()
    loaded_session(h)
    cycle = h.core.begin([f"__Host-session={h.cookie}"])
    with pytest.raises(SessionStateError, match="not loaded"):
        _ = cycle.session
    with pytest.raises(SessionStateError, match="finish"):
        cycle.finish()
    with pytest.raises(SessionStateError, match="response"):
        cycle.response()
    h.drive(cycle)
    with pytest.raises(SessionStateError, match="no operation"):
        cycle.send(DestroyResult(True))
    cycle.finish()
    with pytest.raises(SessionStateError, match="finish"):
        cycle.finish()
    with pytest.raises(StoreUnavailableError):
        cycle.fail(StoreUnavailableError("late"))


def test_events_carry_a_fingerprint_never_the_id() -> None:
    h = Harness()
    cycle, _ = h.request(write(a=1))
    (created,) = cycle.drain_events()
    assert h.cookie is not None
    assert created.fingerprint is not None
    assert h.cookie not in repr(created)
    assert created.fingerprint not in h.cookie
    assert cycle.drain_events() == []


def test_response_headers_helper() -> None:
    update = ResponseUpdate("a=b", vary_cookie=True, no_store=True)
    assert update.headers() == [
        ("Set-Cookie", "a=b"),
        ("Cache-Control", "no-store"),
        ("Vary", "Cookie"),
    ]
    assert ResponseUpdate().headers() == []


def test_a_cycle_without_an_id_adopts_the_session_handed_out_before_it_began() -> None:
    """An adapter gave the handler a new session first; the cycle commits that one."""
    h = Harness()
    early = Session(h.core.codec, now=h.core.now_ms())
    early["cart"] = [1]
    cycle = h.core.begin([], client="198.51.100.1")
    cycle.adopt(early)
    assert cycle.session is early
    cycle.finish()
    h.drive(cycle)
    assert [type(op) for op in h.ops] == [Create]
    update = cycle.response()
    assert update.set_cookie is not None
    h.cookie = update.set_cookie.split(";", 1)[0].split("=", 1)[1]
    loaded, _ = h.request()
    assert loaded.session["cart"] == [1]


def test_only_a_cycle_without_an_id_adopts_and_only_a_new_session() -> None:
    h = Harness()
    h.request(write(x=1))
    with_id = h.core.begin([f"__Host-session={h.cookie}"])
    h.drive(with_id)
    with pytest.raises(SessionStateError, match="adopt"):
        with_id.adopt(Session(h.core.codec))  # the loaded session stays
    pending = h.core.begin([f"__Host-session={h.cookie}"])  # its load not driven yet
    with pytest.raises(SessionStateError, match="adopt"):
        pending.adopt(Session(h.core.codec))
    fresh = h.core.begin([])
    for other in (
        Session(h.core.codec, is_new=False),
        Session(h.core.codec, error=StoreUnavailableError("down")),
    ):
        with pytest.raises(SessionStateError, match="adopt"):
            fresh.adopt(other)
    invalid = h.core.begin(["__Host-session=short"])  # to be cleared: not a blank request
    with pytest.raises(SessionStateError, match="adopt"):
        invalid.adopt(Session(h.core.codec))


def test_a_held_lock_is_handed_back_once_for_release() -> None:
    """The shell releases the lock it took exactly once; later commits no longer carry it."""
    h = Harness()
    cycle = h.core.begin([])
    assert (cycle.lock_key, cycle.lock_token) == (None, None)
    assert cycle.release_lock() is None
    cycle.hold_lock("lock-key", b"token")
    assert (cycle.lock_key, cycle.lock_token) == ("lock-key", b"token")
    assert cycle.release_lock() == ("lock-key", b"token")
    assert cycle.lock_token is None
    assert cycle.release_lock() is None  # handed back once
    cycle.session["a"] = 1
    cycle.finish()
    create = cycle.next_op()
    assert isinstance(create, Create)
    h.drive(cycle)
    assert cycle.lock_token is None


def test_hand_out_sends_the_loaded_sessions_id_until_its_deadline() -> None:
    """A session reached without its ID (a migration) is handed out by the response: its ID,
    for the time its absolute deadline leaves; nothing when no live session was loaded."""
    h = Harness()
    h.request(write(a=1))
    cookie = h.cookie
    h.clock.advance(60)
    cycle = h.core.begin([f"__Host-session={cookie}"])
    cycle.hand_out()  # the load is not driven yet: nothing to hand out
    h.drive(cycle)
    assert cycle.session["a"] == 1
    cycle.hand_out()
    cycle.finish()
    h.drive(cycle)
    update = cycle.response()
    assert update.set_cookie is not None
    assert update.set_cookie.startswith(f"__Host-session={cookie};")
    assert f"Max-Age={h.config.absolute_timeout_ms // 1000 - 60};" in update.set_cookie + ";"
    assert cycle.issued_id == cookie
    assert not cycle.ended
    late = h.core.begin([f"__Host-session={cookie}"])
    h.drive(late)
    late.finish()
    h.drive(late)
    late.hand_out()  # after the commit: too late to hand anything out
    assert late.issued_id is None
    assert late.response().set_cookie is None
    for headers in ([], [f"__Host-session={mint_token().value}"]):
        nothing = h.core.begin(headers)
        h.drive(nothing)
        nothing.hand_out()  # no ID, or an ID naming no session
        nothing.finish()
        h.drive(nothing)
        assert nothing.issued_id is None
        set_cookie = nothing.response().set_cookie
        assert set_cookie is None or "Max-Age=0" in set_cookie


def test_a_logout_during_the_commit_waits_for_the_commit_to_end() -> None:
    """``late_op`` offers the late logout's destroy only once the response phase is done."""
    h = Harness()
    h.request(write(a=1))
    cycle = h.core.begin([f"__Host-session={h.cookie}"])
    h.drive(cycle)
    cycle.session["a"] = 2
    cycle.finish()
    assert isinstance(cycle.next_op(), Update)
    with pytest.raises(SessionClosedError):
        cycle.session.logout()
    assert cycle.late_op() is None  # the commit is still under way
    h.drive(cycle)
    assert isinstance(cycle.late_op(), Destroy)


def test_a_fresh_cycle_adopts_only_before_its_commit() -> None:
    h = Harness()
    cycle = h.core.begin([])
    cycle.finish()
    with pytest.raises(SessionStateError, match="adopt"):
        cycle.adopt(Session(h.core.codec))
