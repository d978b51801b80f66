"""``sessionary demo --store sqlite:///demo.db --workers 4``: shared sessions with no server.

Four uvicorn worker processes share one SQLite file: increments spread over every worker
lose nothing, and a restarted demo (same file, same secret) still knows the session.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from sessionary.demo.app import DEMO_PASSWORD
from tests.integration.demo_forms import post_form
from tests.integration.test_demo import _wait_until_serving
from tests.services import free_port

WORKERS = 4


@contextmanager
def demo(database: Path, secret: Path, workers: int) -> Iterator[str]:
    """A demo serving sessions from ``database``; its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "sessionary.cli", "demo", "--store", f"sqlite:///{database}"]
    command += ["--workers", str(workers), "--port", str(port), "--secret-file", str(secret)]
    command += ["--insecure-cookie", "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_until_serving(base, process, time.monotonic() + 60)
        yield base
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert re.search(r"Traceback", output) is None, output


def test_four_workers_share_one_sqlite_file_and_a_restart_keeps_the_session(
    tmp_path: Path,
) -> None:
    database, secret = tmp_path / "demo.db", tmp_path / "secret"
    with demo(database, secret, WORKERS) as base:
        with httpx2.Client(base_url=base) as browser:  # the demo's forms carry a CSRF token
            login = post_form(
                browser,
                "/login",
                {"username": "ada", "password": DEMO_PASSWORD},
                headers={"Origin": base},
            )
        assert login.status_code == 303
        cookie = {"sessionary-demo": login.cookies["sessionary-demo"]}
        pids: set[int] = set()
        count = 0
        deadline = time.monotonic() + 60
        while (len(pids) < WORKERS or count < 20) and time.monotonic() < deadline:
            # A fresh connection each time, so the kernel may hand it to any worker.
            with httpx2.Client(base_url=base, cookies=cookie) as browser:
                bumped = post_form(browser, "/increment", headers={"Origin": base})
            assert bumped.status_code == 303
            count += 1
            state = httpx2.get(f"{base}/api/session", cookies=cookie).json()
            assert (state["user"], state["count"]) == ("ada", count)  # 0 lost updates
            pids.add(state["pid"])
        assert len(pids) == WORKERS, f"only worker(s) {pids} answered"
    with demo(database, secret, 1) as base:
        state = httpx2.get(f"{base}/api/session", cookies=cookie).json()
        assert (state["user"], state["count"]) == ("ada", count)  # the restart kept it
