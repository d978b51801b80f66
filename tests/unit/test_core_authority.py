"""The core, not the store, is the authority: it re-checks every record a store returns.

Every built-in store checks the validator digest and the expiry itself, so a test that goes
through one of them cannot tell whether the core's own check (``SessionCycle._verify``) works:
disable the core's check and such a test still passes. Here the store is a double that
answers ``FOUND`` with whatever record the test hands it, as a faulty custom store would, and
the core alone must refuse what it should refuse (R4, R34, R35, R37).

Records are built by :func:`stored_record` only, so a change of the record format is one edit.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from sessionary.config import SessionConfig
from sessionary.sansio.core import SessionCore
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import mint_token
from sessionary.sansio.ops import Discard, Load, LoadResult, LoadStatus, RecordMeta, StoredSession
from sessionary.sansio.record_auth import record_seal
from sessionary.sansio.update import ResponseUpdate
from sessionary.testing import FakeClock, session_config

IDLE_MS = 600_000
ABSOLUTE_MS = 3_600_000
START_MS = 1_750_000_000_000


def stored_record(
    load: Load,
    *,
    record_key: bytes,
    accessed: int,
    deadline: int,
    idle: int = IDLE_MS,
    digest: bytes | None = None,
    values: dict[str, bytes] | None = None,
    user: str | None = None,
    auth_time: int | None = None,
    user_key: str | None = None,
    stamp: int | None = None,
    user_epoch: int | None = None,
) -> StoredSession:
    """A record as a store would return it for ``load``, with the digest it asked for unless
    ``digest`` says otherwise, sealed with ``record_key`` as the core would have written it
    (so only what a test changes on purpose is wrong). The one place these tests build
    records."""
    attributes = dict(values or {"a": b"\x02" + b"1"})
    created = min(accessed, deadline - ABSOLUTE_MS)
    digest = load.digest if digest is None else digest
    seal = record_seal(
        record_key,
        load.key,
        version=1,
        digest=digest,
        created=created,
        idle=idle,
        deadline=deadline,
        user=user,
        auth_time=auth_time,
        user_key=user_key,
        device=None,
        attributes=attributes,
    )
    meta = RecordMeta(
        created=created,
        accessed=accessed,
        idle=idle,
        deadline=deadline,
        digest=digest,
        user=user,
        auth_time=auth_time,
        user_key=user_key,
        stamp=stamp,
        seal=seal,
    )
    return StoredSession(attributes=attributes, meta=meta, user_epoch=user_epoch)


class Double:
    """A store double: answers the core's one ``Load`` with the record it is given."""

    def __init__(self, clock: FakeClock, config: SessionConfig | None = None) -> None:
        self.clock = clock
        self.config = config or session_config(
            idle_timeout=IDLE_MS // 1000, absolute_timeout=ABSOLUTE_MS // 1000, clock=clock
        )
        self.core = SessionCore(self.config)
        self.cookie = mint_token().value

    def at(self, ms: int) -> None:
        """Set the fake clock to ``ms`` (half a millisecond in, so float rounding cannot
        move the core's integer milliseconds)."""
        self.clock.set((ms + 0.5) / 1000)

    def record(self, load: Load, **fields: Any) -> StoredSession:
        """:func:`stored_record` for ``load``, sealed under the key generation it probes."""
        selector = self.cookie[:21].encode("ascii")
        ring = self.core.keyring
        (generation,) = [
            g
            for g in range(len(self.core.record_keys))
            if ring.storage_key(selector, g) == load.key
        ]
        return stored_record(load, record_key=self.core.record_keys[generation], **fields)

    def begin(self) -> tuple[SessionCycle, Load]:
        cycle = self.core.begin([f"{self.config.cookie.name}={self.cookie}"])
        load = cycle.next_op()
        assert isinstance(load, Load)
        return cycle, load

    def answer(self, cycle: SessionCycle, record: StoredSession) -> ResponseUpdate:
        cycle.send(LoadResult(LoadStatus.FOUND, record))
        assert cycle.next_op() is None  # one load, nothing else asked of the store
        cycle.finish()
        assert cycle.next_op() is None  # a read-only request writes nothing
        return cycle.response()


def double() -> Double:
    return Double(FakeClock(START_MS / 1000))


def admitted(cycle: SessionCycle) -> bool:
    session = cycle.session
    return not session.is_new and session.get("a") == 1


# ------------------------------------------------------------------ validator digest (R4)


def test_a_record_with_the_asked_digest_is_admitted() -> None:
    """The positive control of the tests below: the double's records are otherwise valid."""
    store = double()
    cycle, load = store.begin()
    update = store.answer(cycle, store.record(load, accessed=load.now, deadline=load.now + 1))
    assert admitted(cycle)
    assert update.set_cookie is None
    assert cycle.drain_events() == []


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param(lambda d: bytes([d[0] ^ 1]) + d[1:], id="one-bit-flipped"),
        pytest.param(lambda d: d[:-1], id="truncated"),
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: d + b"\x00", id="extended"),
        pytest.param(lambda d: bytes(len(d)), id="zeros"),
    ],
)
def test_a_record_whose_digest_differs_is_refused_by_the_core(wrong: object) -> None:
    """A store that returns FOUND for a record whose digest is not the presented one (a
    custom store that forgot the check) gives no session: stale or forged IDs stay out."""
    assert callable(wrong)
    store = double()
    cycle, load = store.begin()
    record = store.record(
        load, accessed=load.now, deadline=load.now + ABSOLUTE_MS, digest=wrong(load.digest)
    )
    update = store.answer(cycle, record)
    assert cycle.session.is_new
    assert dict(cycle.session) == {}
    assert cycle.loaded_id is None
    events = cycle.drain_events()
    assert [(e.name, e.detail.get("reason")) for e in events] == [
        (EventName.INVALID_ID, "validator mismatch")
    ]
    # A stale ID racing a rotation: the cookie is left alone (the newer one is not clobbered).
    assert update.set_cookie is None


def test_a_record_with_another_ids_digest_is_refused() -> None:
    """The digest of another session's validator (a store that looked up the wrong record)."""
    store = double()
    cycle, load = store.begin()
    other = double()
    other.core = store.core  # same keys, another ID
    _, other_load = other.begin()
    assert other_load.digest != load.digest
    record = store.record(
        load, accessed=load.now, deadline=load.now + ABSOLUTE_MS, digest=other_load.digest
    )
    store.answer(cycle, record)
    assert cycle.session.is_new
    assert [e.name for e in cycle.drain_events()] == [EventName.INVALID_ID]


def test_a_write_after_a_refused_digest_never_adopts_the_presented_id() -> None:
    store = double()
    cycle, load = store.begin()
    record = store.record(load, accessed=load.now, deadline=load.now + ABSOLUTE_MS, digest=b"x")
    cycle.send(LoadResult(LoadStatus.FOUND, record))
    cycle.session["b"] = 2
    cycle.finish()
    create = cycle.next_op()
    assert type(create).__name__ == "Create"
    assert getattr(create, "key", None) != load.key  # a fresh ID, not the presented one


# ------------------------------------------------------------------ expiry (R34, R35, R37)

Verdict = tuple[bool, EventName | None]
FOUND: Verdict = (True, None)
IDLE: Verdict = (False, EventName.EXPIRED_IDLE)
ABSOLUTE: Verdict = (False, EventName.EXPIRED_ABSOLUTE)


def verdict_at(now: int, *, accessed: int, deadline: int, idle: int = IDLE_MS) -> Verdict:
    """What the core decides, at ``now``, about a record the store returned as FOUND."""
    store = double()
    store.at(now)
    cycle, load = store.begin()
    assert load.now == now == cycle.now
    update = store.answer(
        cycle, store.record(load, accessed=accessed, deadline=deadline, idle=idle, user="ada")
    )
    events = cycle.drain_events()
    if admitted(cycle):
        assert events == []
        assert update.set_cookie is None
        return FOUND
    assert cycle.session.is_new
    assert dict(cycle.session) == {}
    (event,) = events
    assert event.user == "ada"
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie  # an expired session's cookie is cleared
    assert (update.vary_cookie, update.no_store) == (True, True)  # R15, on clearing too
    reason = {
        EventName.EXPIRED_IDLE: "expired_idle",
        EventName.EXPIRED_ABSOLUTE: "expired_absolute",
    }
    assert cycle.session.end_reason == reason[event.name]
    return False, event.name


DEADLINE = START_MS + ABSOLUTE_MS


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (DEADLINE - 1, FOUND),
        (DEADLINE, ABSOLUTE),
        (DEADLINE + 1, ABSOLUTE),
    ],
    ids=["1ms-before", "at", "1ms-after"],
)
def test_the_core_ends_a_session_at_its_absolute_deadline(now: int, expected: Verdict) -> None:
    """Active a moment ago (idle far away), yet the absolute deadline ends it, to the ms."""
    assert verdict_at(now, accessed=now - 1000, deadline=DEADLINE) == expected


ACCESSED = START_MS + 1000


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ACCESSED + IDLE_MS - 1, FOUND),
        (ACCESSED + IDLE_MS, IDLE),
        (ACCESSED + IDLE_MS + 1, IDLE),
    ],
    ids=["1ms-before", "at", "1ms-after"],
)
def test_the_core_ends_a_session_at_its_idle_timeout(now: int, expected: Verdict) -> None:
    assert verdict_at(now, accessed=ACCESSED, deadline=ACCESSED + 10 * IDLE_MS) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ACCESSED + IDLE_MS - 1, FOUND),
        (ACCESSED + IDLE_MS, IDLE),
    ],
    ids=["1ms-before", "at"],
)
def test_a_record_idle_timeout_above_the_configured_one_is_capped(
    now: int, expected: Verdict
) -> None:
    """A record claiming a longer idle timeout than the configuration (written under an older
    configuration, or by a faulty store) expires at the configured one."""
    record_idle = 2 * IDLE_MS
    verdict = verdict_at(now, accessed=ACCESSED, deadline=ACCESSED + 10 * IDLE_MS, idle=record_idle)
    assert verdict == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ACCESSED + IDLE_MS // 2 - 1, FOUND),
        (ACCESSED + IDLE_MS // 2, IDLE),
    ],
    ids=["1ms-before", "at"],
)
def test_a_record_idle_timeout_below_the_configured_one_is_honoured(
    now: int, expected: Verdict
) -> None:
    record_idle = IDLE_MS // 2
    verdict = verdict_at(now, accessed=ACCESSED, deadline=ACCESSED + 10 * IDLE_MS, idle=record_idle)
    assert verdict == expected


def test_when_both_timeouts_have_passed_the_absolute_one_is_reported() -> None:
    now = ACCESSED + IDLE_MS
    assert verdict_at(now, accessed=ACCESSED, deadline=now) == ABSOLUTE


# ------------------------------------------------------------------ what else the core decides


@pytest.mark.parametrize(
    "status",
    [LoadStatus.MISSING, LoadStatus.INVALID, LoadStatus.EXPIRED_IDLE, LoadStatus.EXPIRED_ABSOLUTE],
)
def test_a_record_the_store_did_not_call_found_is_never_admitted(status: LoadStatus) -> None:
    """A store that attaches a (valid) record to a refusal is not believed on the record."""
    store = double()
    cycle, load = store.begin()
    record = store.record(load, accessed=load.now, deadline=load.now + ABSOLUTE_MS)
    cycle.send(LoadResult(status, record))
    assert cycle.next_op() is None
    assert cycle.session.is_new
    assert dict(cycle.session) == {}


@pytest.mark.parametrize(
    ("reason", "event"), [("evicted", EventName.EVICTED), ("x", EventName.REVOKED)]
)
def test_an_ended_session_is_reported_as_evicted_or_revoked(reason: str, event: EventName) -> None:
    store = double()
    cycle, _ = store.begin()
    cycle.send(LoadResult(LoadStatus.ENDED, reason=reason))
    assert cycle.session.is_new
    assert cycle.session.end_reason == reason
    assert [e.name for e in cycle.drain_events()] == [event]


def test_each_key_of_the_ring_is_asked_once_for_an_unknown_id() -> None:
    keys = [secrets.token_bytes(32) for _ in range(3)]
    store = Double(FakeClock(START_MS / 1000), session_config(secret_keys=keys))
    cycle, load = store.begin()
    loads = [load]
    cycle.send(LoadResult(LoadStatus.MISSING))
    while (op := cycle.next_op()) is not None:
        assert isinstance(op, Load)
        loads.append(op)
        cycle.send(LoadResult(LoadStatus.MISSING))
    selector = store.cookie[:21].encode("ascii")
    keyring = store.core.keyring
    assert [op.key for op in loads] == [keyring.storage_key(selector, g) for g in range(3)]
    assert cycle.session.is_new


def test_a_record_found_under_an_older_key_of_the_ring_is_admitted() -> None:
    keys = [secrets.token_bytes(32) for _ in range(3)]
    store = Double(FakeClock(START_MS / 1000), session_config(secret_keys=keys))
    cycle, older = store.begin()
    for _ in range(2):  # not under the newest key, nor the next one
        cycle.send(LoadResult(LoadStatus.MISSING))
        op = cycle.next_op()
        assert isinstance(op, Load)
        older = op
    assert older.key == store.core.keyring.storage_key(store.cookie[:21].encode("ascii"), 2)
    record = store.record(older, accessed=older.now, deadline=older.now + ABSOLUTE_MS)
    cycle.send(LoadResult(LoadStatus.FOUND, record))
    assert admitted(cycle)


def test_the_loaded_session_carries_the_records_user_and_auth_time() -> None:
    """``require_recent_auth`` (R39) judges the record's ``auth_time``: the core passes it on."""
    store = double()
    cycle, load = store.begin()
    record = store.record(
        load,
        accessed=load.now,
        deadline=load.now + ABSOLUTE_MS,
        user="ada",
        auth_time=load.now - 1234,
    )
    cycle.send(LoadResult(LoadStatus.FOUND, record))
    auth_time = cycle.session.auth_time
    assert auth_time is not None
    assert (cycle.session.user_id, round(auth_time.timestamp() * 1000)) == ("ada", load.now - 1234)


@pytest.mark.parametrize(("extra", "admit"), [(0, True), (1, False)], ids=["at-limit", "over"])
def test_a_record_over_max_size_is_refused_by_the_core(extra: int, admit: bool) -> None:
    """R51, to the byte: names and values together up to ``max_size`` are admitted."""
    clock = FakeClock(START_MS / 1000)
    store = Double(clock, session_config(clock=clock, max_size=100))
    cycle, load = store.begin()
    pad = b"x" * (100 - 1 - 2 - 3 - 1 - 2 + extra)
    values = {"a": b"\x021", "pad": b'\x02"' + pad + b'"'}  # a JSON string
    assert sum(map(len, values)) + sum(map(len, values.values())) == 100 + extra
    record = store.record(load, accessed=load.now, deadline=load.now + ABSOLUTE_MS, values=values)
    cycle.send(LoadResult(LoadStatus.FOUND, record))
    assert (not cycle.session.is_new) is admit
    events = [(e.name, e.detail.get("reason")) for e in cycle.drain_events()]
    assert events == ([] if admit else [(EventName.INVALID_ID, "oversize record")])


@pytest.mark.parametrize(("ahead", "reported"), [(5000, False), (5001, True)])
def test_a_clock_skew_beyond_the_tolerance_is_reported_to_the_ms(
    ahead: int, reported: bool
) -> None:
    store = double()  # the default tolerance: 5 s
    cycle, load = store.begin()
    record = store.record(load, accessed=load.now + ahead, deadline=load.now + ABSOLUTE_MS)
    cycle.send(LoadResult(LoadStatus.FOUND, record))
    assert admitted(cycle)
    skew = [e for e in cycle.drain_events() if e.name is EventName.CLOCK_SKEW]
    assert bool(skew) is reported


@pytest.mark.parametrize(
    ("user_key", "epoch_offset", "revoked"),
    [("u:ada", -1, False), ("u:ada", 0, True), ("u:ada", 1, True), (None, 1, False)],
    ids=["epoch-before-login", "epoch-at-login", "epoch-after-login", "not-indexed"],
)
def test_a_record_its_users_epoch_revoked_is_refused_by_the_core(
    user_key: str | None, epoch_offset: int, revoked: bool
) -> None:
    """``revoke_user`` (log out everywhere): the store hands over the user's epoch with the
    record; a session stamped at or before it is over, whatever the store's verdict."""
    store = double()
    cycle, load = store.begin()
    stamp = load.now - 60_000
    record = store.record(
        load,
        accessed=load.now,
        deadline=load.now + ABSOLUTE_MS,
        user="ada",
        user_key=user_key,
        stamp=stamp,
        user_epoch=stamp + epoch_offset,
    )
    update = store.answer(cycle, record)
    events = [(e.name, e.user, e.detail.get("reason")) for e in cycle.drain_events()]
    if not revoked:
        assert admitted(cycle)
        assert events == []
        return
    assert cycle.session.is_new
    assert cycle.session.end_reason == "revoked"
    assert events == [(EventName.REVOKED, "ada", "user epoch")]
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie


def test_a_validator_mismatch_under_any_key_is_reported_as_such() -> None:
    """A mismatch under the newest key, then nothing under the older ones: still a mismatch
    (a stale ID racing a rotation), not an unknown ID."""
    keys = [secrets.token_bytes(32) for _ in range(3)]
    store = Double(FakeClock(START_MS / 1000), session_config(secret_keys=keys))
    cycle, _ = store.begin()
    for status in (LoadStatus.INVALID, LoadStatus.MISSING, LoadStatus.MISSING):
        cycle.send(LoadResult(status))
    assert cycle.next_op() is None
    reasons = [e.detail.get("reason") for e in cycle.drain_events()]
    assert reasons == ["validator mismatch"]


def test_the_load_carries_the_configured_idle_timeout_and_touch_interval() -> None:
    store = double()
    _, load = store.begin()
    config = store.config
    assert (load.max_idle, load.touch_after, load.now) == (
        config.idle_timeout_ms,
        config.touch_interval_ms,
        START_MS,
    )


def test_a_corrupt_record_without_a_reason_is_discarded_and_reported() -> None:
    store = double()
    cycle, load = store.begin()
    cycle.send(LoadResult(LoadStatus.CORRUPT))
    discard = cycle.next_op()
    assert isinstance(discard, Discard)
    assert discard.key == load.key
    reasons = [(e.name, e.detail.get("reason")) for e in cycle.drain_events()]
    assert reasons == [(EventName.CORRUPT_RECORD, "not a session record")]


@pytest.mark.parametrize(
    ("reason", "event", "detail"),
    [
        ("expired_idle", EventName.EXPIRED_IDLE, None),
        ("expired_absolute", EventName.EXPIRED_ABSOLUTE, None),
        (None, EventName.REVOKED, "ended"),
    ],
)
def test_an_ended_session_reports_why_it_ended(
    reason: str | None, event: EventName, detail: str | None
) -> None:
    """The store's tombstone says why: an expiry the sweeper saw, or an end without reason."""
    store = double()
    cycle, _ = store.begin()
    cycle.send(LoadResult(LoadStatus.ENDED, reason=reason))
    assert cycle.session.is_new
    assert [(e.name, e.detail.get("reason")) for e in cycle.drain_events()] == [(event, detail)]
    cycle.finish()
    update = cycle.response()
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
