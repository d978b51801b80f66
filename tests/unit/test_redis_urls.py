"""Store URLs → Redis topologies (pure parsing)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionary import ConfigurationError
from sessionary.backends.redis._urls import RedisTarget, parse_redis_url


def test_standalone_urls_pass_through() -> None:
    for url in ("redis://localhost:6379/0", "rediss://u:p@h:6380/2", "unix:///tmp/r.sock?db=1"):
        assert parse_redis_url(url) == RedisTarget("standalone", url=url)


def test_cluster_urls() -> None:
    assert parse_redis_url("redis+cluster://h:7000") == RedisTarget("cluster", url="redis://h:7000")
    tls = parse_redis_url("rediss+cluster://u:p@h:7000")
    assert tls == RedisTarget("cluster", url="rediss://u:p@h:7000", tls=True)


def test_sentinel_urls() -> None:
    target = parse_redis_url("redis+sentinel://u:p%40ss@s1:26379,s2:26380,s3/mymaster/3")
    assert target == RedisTarget(
        "sentinel",
        sentinels=(("s1", 26379), ("s2", 26380), ("s3", 26379)),
        service="mymaster",
        db=3,
        username="u",
        password="p@ss",
    )
    assert parse_redis_url("rediss+sentinel://s1/main").tls
    assert parse_redis_url("redis+sentinel://:secret@s1/main").password == "secret"


@pytest.mark.parametrize(
    "url",
    [
        "localhost:6379",
        "http://h",
        "unix+cluster:///x",
        "redis+mesh://h",
        "redis+sentinel://s1",
        "redis+sentinel://s1/a/b/c",
        "redis+sentinel://s1/main/x",
        "redis+sentinel://s1:99999/main",
        "redis+sentinel://:1/main",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid Redis URL"):
        parse_redis_url(url)


def test_errors_never_echo_credentials() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_redis_url("redis+sentinel://user:hunter2@s1/a/b/c")
    assert "hunter2" not in str(info.value)


@given(st.text(max_size=80))
def test_any_string_parses_or_raises_a_configuration_error(url: str) -> None:
    try:
        target = parse_redis_url(url)
    except ConfigurationError:
        return
    assert target.kind in ("standalone", "cluster", "sentinel")
