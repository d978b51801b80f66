"""The local cache's LRU: bounds in entries and bytes, user eviction, loads in flight."""

from __future__ import annotations

from sessionary.backends.redis._lru import ENTRY_OVERHEAD, RecordLRU, record_size
from sessionary.sansio.ops import RecordMeta, StoredSession


def record(user_key: str | None = None, value: bytes = b"v") -> StoredSession:
    meta = RecordMeta(1, 1, 600_000, 3_600_000, b"d" * 16, user_key=user_key)
    return StoredSession({"a": value}, meta)


def test_the_least_recently_used_goes_first_beyond_max_entries() -> None:
    evicted: list[int] = []
    lru = RecordLRU(2, 10**6, on_evict=evicted.append)
    lru.put("k1", record())
    lru.put("k2", record())
    assert lru.get("k1") is not None  # k2 is now the least recently used
    lru.put("k3", record())
    assert lru.get("k2") is None
    assert lru.get("k1") is not None
    assert lru.get("k3") is not None
    assert evicted == [1]


def test_bytes_are_bounded_and_counted() -> None:
    one = record_size("k1", record(value=b"x" * 100))
    assert one == ENTRY_OVERHEAD + 2 + 1 + 100
    lru = RecordLRU(100, 2 * one)
    for n in range(1, 4):
        lru.put(f"k{n}", record(value=b"x" * 100))
    assert len(lru) == 2
    assert lru.size == 2 * one
    lru.put("big", record(value=b"x" * 3 * one))  # larger than the whole cache: not kept
    assert lru.get("big") is None
    assert len(lru) == 2


def test_a_changed_epoch_drops_every_session_of_the_user() -> None:
    lru = RecordLRU(10, 10**6)
    lru.put("a1", record("alice"))
    lru.put("a2", record("alice"))
    lru.put("b1", record("bob"))
    assert lru.invalidate_user("alice") == 2
    assert lru.get("a1") is None
    assert lru.get("a2") is None
    assert lru.get("b1") is not None
    assert lru.invalidate_user("alice") == 0


def test_an_invalidation_during_a_load_keeps_its_answer_out() -> None:
    lru = RecordLRU(10, 10**6)
    lru.begin("k")
    lru.invalidate("k")
    assert lru.end("k") is False
    lru.begin("k")  # the next load is clean again
    assert lru.end("k") is True
    lru.begin("k")
    lru.clear()
    assert lru.end("k") is False
    lru.begin("k")
    lru.invalidate_user("someone")  # an epoch change names no session: every load in flight
    assert lru.end("k") is False


def test_a_read_back_is_kept_out_by_a_change_made_here_not_by_one_from_the_server() -> None:
    lru = RecordLRU(10, 10**6)
    ticket = lru.expect("k")
    lru.invalidate("k", remote=True)  # the server's message (this write's own, say)
    lru.invalidate_user("alice", remote=True)
    assert lru.fill("k", ticket, record("alice")) is True
    assert lru.get("k") is not None
    ticket = lru.expect("k")
    lru.invalidate("k")  # this instance wrote the key again meanwhile
    assert lru.fill("k", ticket, record()) is False
    assert lru.get("k") is None
    ticket = lru.expect("k")
    lru.invalidate_user("alice")  # "log out everywhere" made here
    assert lru.fill("k", ticket, record()) is False
    ticket = lru.expect("k")
    lru.clear()
    assert lru.fill("k", ticket, record()) is False
    assert lru.get("k") is None


def test_only_the_latest_read_back_of_a_key_fills_it() -> None:
    lru = RecordLRU(10, 10**6)
    first = lru.expect("k")
    second = lru.expect("k")
    assert lru.fill("k", first, record(value=b"old")) is False
    assert lru.fill("k", second, None) is False  # nothing to cache, and the ticket is spent
    assert lru.fill("k", second, record(value=b"new")) is False
    assert lru.get("k") is None
