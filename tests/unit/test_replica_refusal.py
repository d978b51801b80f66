"""When a replica's answer may stand (``backends/redis/_replicas.py``), without I/O."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionary.backends.redis._replicas import (
    OffsetFloor,
    ReplicaReadStats,
    primary_offset,
    replica_refusal,
    wants_replicas,
)
from sessionary.backends.redis._urls import parse_redis_url
from sessionary.exceptions import ConfigurationError

CONNECTED = [b"slave", b"127.0.0.1", 6379, b"connected", 120]


@pytest.mark.parametrize(
    ("role", "floor", "refusal"),
    [
        (CONNECTED, 120, None),
        (CONNECTED, 0, None),
        (CONNECTED, 121, "behind"),
        ([b"slave", b"127.0.0.1", 6379, b"sync", 120], 0, "link down"),
        ([b"slave", b"127.0.0.1", 6379, b"connected", -1], 0, "offset unknown"),
        ([b"master", 500, []], 0, "not a replica"),
        (ConnectionError("gone"), 0, "error"),
        (None, 0, "not a replica"),
    ],
)
def test_a_replica_answers_only_when_connected_and_not_behind(
    role: object, floor: int, refusal: str | None
) -> None:
    assert replica_refusal(role, floor) == refusal


def test_the_offset_of_a_primary_s_role() -> None:
    assert primary_offset([b"master", 4242, [[b"127.0.0.1", b"6380", b"4242"]]]) == 4242
    assert primary_offset(CONNECTED) is None


def test_the_floor_of_a_key_only_rises_on_its_primary() -> None:
    floor = OffsetFloor()
    assert floor.get("s1", "a") == 0
    floor.raise_to("s1", "a", 100)
    floor.raise_to("s1", "a", 90)
    assert floor.get("s1", "a") == 100
    assert floor.get("s2", "a") == 0  # another session's writes do not hold this one back
    assert replica_refusal(CONNECTED, floor.get("s2", "a")) is None


def test_a_key_whose_primary_changed_or_whose_offset_is_unknown_is_refused() -> None:
    floor = OffsetFloor()
    floor.raise_to("s1", "a", 100)
    assert replica_refusal([*CONNECTED[:4], 10**12], floor.get("s1", "b")) == "behind"
    floor.raise_to("s1", "b", None)  # written on b at an unknown offset
    assert replica_refusal([*CONNECTED[:4], 10**12], floor.get("s1", "b")) == "behind"
    floor.raise_to("s1", "b", 7)  # the next write there gives one
    assert floor.get("s1", "b") == 7


def test_an_evicted_key_leaves_its_offset_to_its_primary() -> None:
    floor = OffsetFloor(size=2)
    floor.raise_to("s1", "a", 100)
    floor.raise_to("s2", "a", 50)
    floor.raise_to("s3", "b", 10)  # s1 goes: a's floor for keys it no longer names is 100
    assert (floor.get("s1", "a"), floor.get("s2", "a"), floor.get("s9", "a")) == (100, 50, 100)
    assert floor.get("s9", "b") == 0


def test_threads_raising_the_floor_leave_the_highest_offset() -> None:
    floor = OffsetFloor()

    def climb(base: int) -> None:
        for step in range(500):
            floor.raise_to("s", "p", base + step)

    threads = [threading.Thread(target=climb, args=(n * 1000,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert floor.get("s", "p") == 7499


def test_fallbacks_are_counted_by_reason() -> None:
    stats = ReplicaReadStats()
    stats.fell_back("behind")
    stats.fell_back("behind")
    stats.fell_back("error")
    assert (stats.fallbacks, stats.primary) == ({"behind": 2, "error": 1}, 3)


@pytest.mark.parametrize("value", [True, "true", "1", "yes", "ON"])
def test_the_option_says_yes(value: object) -> None:
    assert wants_replicas(value) is True


@pytest.mark.parametrize("value", [False, "false", "0", "no", "off", ""])
def test_the_option_says_no(value: object) -> None:
    assert wants_replicas(value) is False


@pytest.mark.parametrize("value", ["maybe", 1, None])
def test_the_option_refuses_anything_else(value: object) -> None:
    with pytest.raises(ConfigurationError, match="read_from_replicas must be true or false"):
        wants_replicas(value)


_NAMES = st.sampled_from(["socket_timeout", "client_name", "ssl_cert_reqs", "protocol"])
_VALUES = st.text(alphabet="abcdefghij0123456789.", min_size=1, max_size=8)


@given(
    before=st.lists(st.tuples(_NAMES, _VALUES), max_size=3),
    after=st.lists(st.tuples(_NAMES, _VALUES), max_size=3),
    wanted=st.booleans(),
)
def test_the_url_option_is_taken_out_and_the_others_kept(
    before: list[tuple[str, str]], after: list[tuple[str, str]], wanted: bool
) -> None:
    pairs = [*before, ("read_from_replicas", "true" if wanted else "false"), *after]
    query = "&".join(f"{name}={value}" for name, value in pairs)
    target = parse_redis_url(f"redis+cluster://127.0.0.1:7000?{query}")
    assert target.read_from_replicas is wanted
    kept = "&".join(f"{name}={value}" for name, value in [*before, *after])
    assert target.url == "redis://127.0.0.1:7000" + (f"?{kept}" if kept else "")
    sentinel = parse_redis_url(f"redis+sentinel://127.0.0.1:26379/svc/2?{query}")
    assert (sentinel.read_from_replicas, sentinel.service, sentinel.db) == (wanted, "svc", 2)


def test_a_standalone_url_refuses_the_option() -> None:
    with pytest.raises(ConfigurationError, match="read_from_replicas needs"):
        parse_redis_url("redis://127.0.0.1:6379/0?read_from_replicas=true")
    assert not parse_redis_url(
        "redis://127.0.0.1:6379/0?read_from_replicas=false"
    ).read_from_replicas
