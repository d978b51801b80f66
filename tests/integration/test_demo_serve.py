"""``sessionary demo`` as a user runs it: a real process, its banner, its port, its Redis.

* The banner is printed once the socket is bound, with the port actually bound (``--port 0``),
  and a taken port is one clear error line and a non-zero exit, without the banner.
* On Redis, the demo keeps its sessions under the library's default key prefix and publishes
  its lifecycle events to the Redis stream, so the operator commands find both with no
  ``--prefix``. On a private Redis: the default prefix is shared by every default user.
"""

from __future__ import annotations

import json
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

import httpx2
import pytest
from click.testing import CliRunner

from sessionary.cli.commands import cli
from sessionary.demo.app import DEMO_PASSWORD
from tests.integration.demo_forms import post_form
from tests.services import DEFAULT_HOST

BANNER = re.compile(r"sessionary demo on http://localhost:(\d+)")
START_TIMEOUT_S = 60  # a loaded 2-core machine imports uvicorn and Starlette slowly


class Demo:
    """A ``sessionary demo`` process; its merged stdout/stderr read line by line."""

    def __init__(self, *args: str, insecure_cookie: bool = True) -> None:
        command = [sys.executable, "-m", "sessionary.cli", "demo", *args]
        command += ["--insecure-cookie"] if insecure_cookie else []
        command += ["--log-level", "warning"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """The first output line matching ``pattern`` (fails if the process ends first)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"the demo exited ({self.process.wait()}):\n{self.output}")
            self.lines.append(line)
            found = pattern.search(line)
            if found:
                return found
        pytest.fail(f"no line matching {pattern.pattern!r} in time:\n{self.output}")

    def finish(self) -> int:
        """Wait for the process to end by itself; its exit code."""
        code = self.process.wait(timeout=START_TIMEOUT_S)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=15)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextmanager
def serving(*args: str) -> Iterator[tuple[Demo, str]]:
    """A demo started on a port the kernel picks; the base URL its banner names."""
    demo = Demo(*args, "--port", "0")
    try:
        port = int(demo.wait_for(BANNER).group(1))
        yield demo, f"http://127.0.0.1:{port}"
    finally:
        demo.stop()


def test_the_banner_comes_once_bound_and_names_the_bound_port() -> None:
    with serving() as (_, base):
        # The banner is printed after the bind: the server answers on the port it names
        # (uvicorn may still be starting, so retry briefly).
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                assert httpx2.get(f"{base}/healthz", timeout=2).json()["status"] == "ok"
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "nothing answers on the announced port"
                time.sleep(0.1)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_taken_port_is_one_clear_error_and_no_banner(
    workers: int, request: pytest.FixtureRequest
) -> None:
    args = []
    if workers > 1:
        args = ["--store", request.getfixturevalue("redis_url"), "--workers", str(workers)]
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as held:
        held.bind((DEFAULT_HOST, 0))
        held.listen()
        port = held.getsockname()[1]
        demo = Demo(*args, "--host", DEFAULT_HOST, "--port", str(port))
        try:
            code = demo.finish()
        finally:
            demo.stop()
    output = demo.output
    assert code != 0, output
    assert "sessionary demo on" not in output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: cannot listen on {DEFAULT_HOST}:{port}: the port is already in use"
    ], output


# ------------------------------------------------ the operator commands on the demo's Redis
def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_operator_commands_find_the_demo_sessions_and_events_without_a_prefix(
    private_redis: str,
) -> None:
    with serving("--store", private_redis) as (_, base), httpx2.Client(base_url=base) as browser:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                browser.get("/healthz", timeout=2)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "the demo does not answer"
                time.sleep(0.1)
        signed_in = post_form(
            browser,
            "/login",
            {"username": "ada", "password": DEMO_PASSWORD},
            headers={"Origin": base, "User-Agent": "demo-test-browser"},
        )
        assert signed_in.status_code == 303

        listed = json.loads(
            _run("sessions", "list", "--user", "ada", "--store", private_redis, "--json")
        )
        assert [device["user_agent"] for device in listed] == ["demo-test-browser"]

        figures = json.loads(_run("stats", private_redis, "--json"))
        assert figures["live_sessions"] == 1
        assert figures["top_users"] == [{"user": "ada", "sessions": 1}]

        tail = _run("events", "tail", "--store", private_redis, "--no-follow", "--duration", "5")
        assert re.search(r"created\s.*user=ada", tail), tail
