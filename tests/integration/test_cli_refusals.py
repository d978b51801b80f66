"""``bench`` and ``stats`` when Redis refuses what they need (ACL users): clear errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from click.testing import CliRunner

from sessionary.cli.commands import cli
from tests.services import DEFAULT_HOST, RedisServer, redis_server_binary


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer(redis_server_binary("a Redis with restricted users")) as started:
        admin = redis.Redis(host=DEFAULT_HOST, port=started.port)
        admin.acl_setuser("noscript", enabled=True, passwords=["+pw"], keys=["*"],
                          commands=["+@all", "-@scripting"])  # fmt: skip
        admin.acl_setuser("noinfo", enabled=True, passwords=["+pw"], keys=["*"],
                          commands=["+@all", "-info"])  # fmt: skip
        admin.close()
        yield started


def url(server: RedisServer, user: str) -> str:
    return f"redis://{user}:pw@{DEFAULT_HOST}:{server.port}/0"


def test_bench_without_scripting_rights(server: RedisServer) -> None:
    result = CliRunner().invoke(cli, ["bench", url(server, "noscript"), "-n", "10"])
    assert result.exit_code == 1
    assert "cannot benchmark redis://noscript:***@" in result.output
    assert "Redis refused warm-up" in result.output
    assert "pw@" not in result.output
    assert "Traceback" not in result.output


def test_bench_without_info_rights_still_cleans_up(server: RedisServer) -> None:
    result = CliRunner().invoke(
        cli, ["bench", url(server, "noinfo"), "-n", "10", "--sessions", "5"]
    )
    assert result.exit_code == 1
    assert "Redis refused INFO commandstats" in result.output
    admin = redis.Redis(host=DEFAULT_HOST, port=server.port)
    try:
        assert not list(admin.scan_iter(match="sessionary-bench-*"))
    finally:
        admin.close()


def test_stats_without_info_rights(server: RedisServer) -> None:
    result = CliRunner().invoke(cli, ["stats", url(server, "noinfo")])
    assert result.exit_code == 1
    assert "cannot read the stats of redis://noinfo:***@" in result.output
    assert "Redis refused the stats queries" in result.output
    assert "Traceback" not in result.output
