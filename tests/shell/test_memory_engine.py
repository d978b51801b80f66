"""MemoryEngine specifics beyond the store contract: bounds, eviction, purging, threads, forks."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from sessionary.sansio.ops import CommitStatus, LoadStatus
from sessionary.stores import memory
from sessionary.stores.memory import MemoryEngine
from tests.helpers import ABSOLUTE, IDLE, T0, Ref


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        MemoryEngine(0)


def test_bounded_size_evicts_the_least_recently_used() -> None:
    engine = MemoryEngine(max_entries=3)
    refs = [Ref() for _ in range(4)]
    for ref in refs[:3]:
        engine.create(ref.create())
    engine.load(refs[0].load())  # refs[0] becomes most recently used
    engine.create(refs[3].create())
    assert len(engine) == 3
    assert engine.load(refs[1].load()).status is LoadStatus.MISSING  # evicted
    for ref in (refs[0], refs[2], refs[3]):
        assert engine.load(ref.load()).status is LoadStatus.FOUND


def test_eviction_prefers_expired_records() -> None:
    engine = MemoryEngine(max_entries=2)
    old, fresh, newest = Ref(), Ref(), Ref()
    engine.create(old.create(now=T0 - 2 * IDLE))  # long idle: its TTL has passed
    engine.create(fresh.create())
    engine.load(old.load(now=T0 - 2 * IDLE + 1))  # make the expired one "recently used"
    engine.create(newest.create())
    assert engine.load(fresh.load()).status is LoadStatus.FOUND
    assert engine.load(newest.load()).status is LoadStatus.FOUND


def test_purge_expired_drops_only_dead_records() -> None:
    engine = MemoryEngine()
    dead, alive = Ref(), Ref()
    engine.create(dead.create(now=T0 - ABSOLUTE))
    engine.create(alive.create())
    assert engine.purge_expired(T0 + 1) == 1
    assert len(engine) == 1
    assert engine.load(alive.load()).status is LoadStatus.FOUND
    engine.clear()
    assert len(engine) == 0


def test_concurrent_threads_keep_every_write() -> None:
    engine = MemoryEngine()
    ref = Ref()
    engine.create(ref.create())

    def writer(index: int) -> None:
        for step in range(50):
            version = 1
            while True:  # a writer that read an older version merges and retries (the core)
                op = ref.update({f"t{index}-{step}": b"\x011"}, expect_version=version)
                result = engine.update(op)
                if result.status is not CommitStatus.STALE:
                    assert result.status is CommitStatus.OK
                    break
                assert result.current is not None
                version = result.current.meta.version

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = engine.load(ref.load())
    assert result.record is not None
    assert len(result.record.attributes) == 8 * 50
    assert result.record.meta.version == 1 + 8 * 50


def test_loaded_snapshots_do_not_change_under_later_writes() -> None:
    engine = MemoryEngine()
    ref = Ref()
    engine.create(ref.create({"a": b"\x011"}))
    before = engine.load(ref.load()).record
    assert before is not None
    engine.update(ref.update({"a": b"\x012", "b": b"\x013"}))
    assert dict(before.attributes) == {"a": b"\x011"}  # copy-on-write


def test_use_in_a_forked_child_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    engine = MemoryEngine()
    ref = Ref()
    engine.create(ref.create())
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            with caplog.at_level(logging.WARNING, logger="sessionary"):
                engine.load(ref.load())
                engine.load(ref.load())
            warnings = [r for r in caplog.records if "forked worker" in r.getMessage()]
            os.write(write_end, str(len(warnings)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert os.read(read_end, 16) == b"1"
    os.close(read_end)
    with caplog.at_level(logging.WARNING, logger="sessionary"):
        engine.load(ref.load())
    assert not [r for r in caplog.records if "forked worker" in r.getMessage()]
    assert memory._forks >= 0


def test_a_flood_of_anonymous_sessions_never_evicts_a_signed_in_user() -> None:
    engine = MemoryEngine(max_entries=100)
    victim = Ref()
    engine.create(victim.create({"cart": b"\x011"}, user="victim", auth_time=T0))
    for _ in range(10_000):  # cookie-less requests writing anonymous sessions
        engine.create(Ref().create({"x": b"\x011"}))
    assert len(engine) == 100
    assert engine.load(victim.load()).status is LoadStatus.FOUND
