"""examples/django_app works as its ``manage.py`` docstring says.

The example has its own settings module and Django's settings can be configured once per
process, so each check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
MANAGE = ROOT / "examples" / "django_app" / "manage.py"
SECRET = "k3P9vQz1Lr8xWm2Tq7Yb4Nc6Hd0Jf5Gs_aZeRuIoVy"

FLOW = """
import asyncio, json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "examples.django_app.settings"
import django
django.setup()
from django.test import AsyncClient, Client

steps = []
client = Client()

def call(method, url):
    response = getattr(client, method)(url, secure=True)
    cookie = response.cookies.get("__Host-session")
    if cookie is not None and not cookie.value:  # Max-Age=0: a browser forgets it
        del client.cookies["__Host-session"]
    steps.append([response.status_code, json.loads(response.content),
                  None if cookie is None else bool(cookie.value)])

call("post", "/count")
call("get", "/me")
call("post", "/login?user=ada")
call("post", "/count")
call("post", "/count")
call("get", "/me")

async def over_asgi():
    async_client = AsyncClient()
    async_client.cookies = client.cookies
    response = await async_client.post("/count", secure=True)
    steps.append([response.status_code, json.loads(response.content), None])

asyncio.run(over_asgi())
call("post", "/logout")
call("get", "/me")
print(json.dumps(steps))
"""


def run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


EXPECTED = [
    [401, {"error": "sign in first"}, None],
    [200, {"user": None, "count": 0}, None],  # anonymous: no cookie, nothing stored
    [200, {"user": "ada"}, True],  # login: a cookie
    [200, {"count": 1}, None],
    [200, {"count": 2}, None],
    [200, {"user": "ada", "count": 2}, None],
    [200, {"count": 3}, None],  # the same session through Django's ASGI handler
    [200, {"ok": True}, False],  # logout: the cookie is cleared
    [200, {"user": None, "count": 0}, None],
]


def test_django_example_flow_on_the_memory_store() -> None:
    result = run(FLOW, {"SESSIONARY_STORE": "memory", "SESSION_SECRET": SECRET})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == EXPECTED


def test_django_example_flow_on_redis(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    env = {"SESSIONARY_STORE": redis_url, "SESSIONARY_PREFIX": key_prefix}
    result = run(FLOW, {**env, "SESSION_SECRET": SECRET})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == EXPECTED
    assert list(redis_admin.scan_iter(match=f"{key_prefix}:*")) == []  # logged out


def test_django_example_without_a_secret_warns_and_runs() -> None:
    env = {key: value for key, value in os.environ.items() if key != "SESSION_SECRET"}
    result = subprocess.run(
        [sys.executable, str(MANAGE), "check"],
        cwd=ROOT.parent,  # the command works from any directory
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "SESSION_SECRET is not set" in result.stderr


@pytest.mark.parametrize("command", [["clearsessions"]])
def test_django_example_management_commands(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, str(MANAGE), *command],
        cwd=ROOT,
        env={**os.environ, "SESSION_SECRET": SECRET, "SESSIONARY_STORE": "memory"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
