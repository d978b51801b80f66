"""A change carries its lifecycle events when the store writes them (``events_in_store``).

The core builds a change's events when it plans the change; a store that is its manager's
event sink and declares ``EVENTS_IN_TRANSACTION`` gets them on the operation
(``Create.events``...) and writes them with the change. Here, against the pure memory
engine: the events carried are exactly those the core emits once the change took effect,
marked as recorded (the shell does not publish them again); nothing is carried otherwise;
a destroy that deleted nothing leaves its event to the shell.
"""

from __future__ import annotations

from sessionary.sansio.core import SessionCore
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.events import ChangeEvents, EventName
from sessionary.sansio.ops import Create, Destroy, Update
from sessionary.testing import session_config
from tests.unit.test_cycle import Harness


def harness(*, in_store: bool, **overrides: object) -> Harness:
    h = Harness()
    h.config = session_config(clock=h.clock, **overrides)
    h.core = SessionCore(h.config, events_in_store=in_store)
    return h


def carried(h: Harness) -> list[ChangeEvents | None]:
    return [op.events for op in h.ops if isinstance(op, Create | Update | Destroy)]


def taken(h: Harness, cycle: SessionCycle) -> tuple[list[EventName], list[EventName]]:
    """The names of the events emitted and of those recorded by the store."""
    recorded = cycle.drain_recorded()
    return [e.name for e in cycle.drain_events()], [e.name for e in recorded]


def test_without_the_store_as_sink_nothing_is_carried_or_recorded() -> None:
    h = harness(in_store=False)
    cycle, _ = h.request(lambda s: s.login("ann"))
    assert carried(h) == [None]
    assert taken(h, cycle) == ([EventName.CREATED], [])


def test_a_login_rotation_and_logout_carry_what_they_emit() -> None:
    h = harness(in_store=True)
    cycle, _ = h.request(lambda s: s.login("ann"))
    (change,) = carried(h)
    assert change is not None
    emitted = cycle.drain_events()
    assert emitted == change.taken()
    assert cycle.drain_recorded() == emitted
    assert emitted[0].fingerprint is not None  # the new ID's fingerprint, never the ID

    h.ops.clear()
    cycle, _ = h.request(lambda s: s.rotate())
    assert taken(h, cycle) == ([EventName.ROTATED], [EventName.ROTATED])
    h.ops.clear()
    cycle, _ = h.request(lambda s: s.update({"cart": 1}))
    assert carried(h) == [ChangeEvents()]  # a plain write reports nothing
    assert taken(h, cycle) == ([], [])
    h.ops.clear()
    cycle, _ = h.request(lambda s: s.logout())
    assert taken(h, cycle) == ([EventName.DESTROYED], [EventName.DESTROYED])


def test_the_sessions_a_login_evicts_are_carried_as_a_template() -> None:
    h = harness(in_store=True, max_sessions_per_user=1, session_limit="evict_oldest")
    h.request(lambda s: s.login("ann"))
    first = h.cookie
    h.cookie = None
    h.ops.clear()
    cycle, _ = h.request(lambda s: s.login("ann"))
    assert first is not None
    (change,) = carried(h)
    assert change is not None
    assert change.evicted is not None
    emitted = cycle.drain_events()
    assert [e.name for e in emitted] == [EventName.CREATED, EventName.EVICTED]
    assert cycle.drain_recorded() == emitted
    assert "ref" in emitted[1].detail


def test_a_destroy_that_deleted_nothing_leaves_its_event_to_the_shell() -> None:
    h = harness(in_store=True)
    h.request(lambda s: s.login("ann"))
    cycle = h.core.begin([f"{h.config.cookie.name}={h.cookie}"])
    h.drive(cycle)
    h.engine._records.clear()  # gone meanwhile (another request logged out)
    cycle.session.logout()
    cycle.finish()
    h.drive(cycle)
    assert taken(h, cycle) == ([EventName.DESTROYED], [])
