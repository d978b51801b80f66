"""``sessionary demo``: the app through Starlette's TestClient, the CLI through click's runner,
and the real thing (uvicorn, two worker processes, Redis) as a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import redis
from click.testing import CliRunner
from starlette.testclient import TestClient

from sessionary.cli import main
from sessionary.cli.commands import cli
from sessionary.cli.demo import _read_or_create_secret
from sessionary.demo.app import DEMO_PASSWORD, create_app, create_app_from_environ
from sessionary.demo.settings import DemoSettings, redacted_url
from sessionary.exceptions import ConfigurationError
from tests.integration.demo_forms import FormClient, page_token, post_form
from tests.services import free_port

BASE = "https://localhost:8000"
COOKIE = "__Host-sessionary-demo"


@pytest.fixture(params=["memory", "redis"])
def settings(request: pytest.FixtureRequest, key_prefix: str) -> DemoSettings:
    if request.param == "memory":
        return DemoSettings()
    request.getfixturevalue("redis_admin")  # deletes this test's keys afterwards
    return DemoSettings(store=request.getfixturevalue("redis_url"), prefix=key_prefix)


@pytest.fixture
def client(settings: DemoSettings) -> Iterator[TestClient]:
    with FormClient(create_app(settings), base_url=BASE, follow_redirects=False) as test_client:
        yield test_client


def sign_in(client: TestClient, user: str = "ada") -> httpx2.Response:
    return client.post("/login", data={"username": user, "password": DEMO_PASSWORD})


def test_anonymous_visitors_get_the_login_form_and_no_session(
    client: TestClient, settings: DemoSettings
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Sign in" in page.text
    assert f"worker process <strong>{os.getpid()}</strong>" in page.text
    # The form's CSRF token rides on a pre-session ID: a cookie, but nothing stored.
    assert client.cookies[COOKIE].startswith("p.")
    assert page_token(page.text)
    assert client.get("/api/session").json() == {"user": None, "pid": os.getpid()}
    if settings.uses_redis:
        admin = redis.Redis.from_url(settings.store)
        assert list(admin.scan_iter(match=f"{settings.prefix}:*")) == []
        admin.close()


def test_forms_without_the_csrf_token_are_refused(client: TestClient) -> None:
    sign_in(client)
    refused = TestClient.post(client, "/increment")  # no token: a forged form
    assert refused.status_code == 403
    wrong = TestClient.post(client, "/increment", data={"csrf_token": "x" * 86})
    assert wrong.status_code == 403
    assert client.get("/api/session").json()["count"] == 0
    assert client.post("/increment").status_code == 303  # the page's token


def test_an_expired_session_says_why(settings: DemoSettings) -> None:
    # Real short timeouts: the record outlives its idle deadline (never served) so the
    # returning browser learns why it was signed out, on memory and on Redis.
    quick = DemoSettings(store=settings.store, prefix=settings.prefix, idle_timeout=1)
    with FormClient(create_app(quick), base_url=BASE, follow_redirects=False) as client:
        sign_in(client)
        assert "Hello, ada" in client.get("/").text
        time.sleep(1.3)
        page = client.get("/")
    assert "Your session expired after a period of inactivity." in page.text
    assert "Hello, ada" not in page.text


def test_login_counter_and_logout(client: TestClient) -> None:
    signed_in = sign_in(client)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/"
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert all(part in cookie for part in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"))
    first_id = client.cookies[COOKIE]

    for _ in range(3):
        assert client.post("/increment").status_code == 303
    page = client.get("/")
    assert "Hello, ada" in page.text
    assert "<p class=count>3</p>" in page.text
    assert client.get("/api/session").json() == {"user": "ada", "count": 3, "pid": os.getpid()}

    # Signing in again (e.g. as another user) rotates the ID; the old one stops working.
    sign_in(client, "grace")
    second_id = client.cookies[COOKIE]
    assert second_id != first_id
    client.cookies.clear()
    stale = client.get("/api/session", headers={"Cookie": f"{COOKIE}={first_id}"})
    assert stale.json()["user"] is None
    client.cookies.set(COOKIE, second_id)
    assert client.get("/api/session").json()["user"] == "grace"

    logged_out = client.post("/logout")
    assert logged_out.status_code == 303
    assert "Max-Age=0" in logged_out.headers["set-cookie"]
    assert client.get("/api/session").json()["user"] is None


def test_wrong_password_or_bad_name_sets_no_cookie(client: TestClient) -> None:
    wrong = client.post("/login", data={"username": "ada", "password": "nope"})
    assert wrong.status_code == 401
    assert "Wrong password" in wrong.text
    assert "set-cookie" not in wrong.headers
    for name in ("", " ", "x" * 65, "tab\there"):
        bad = client.post("/login", data={"username": name, "password": DEMO_PASSWORD})
        assert bad.status_code == 401, name
        assert "set-cookie" not in bad.headers


def test_a_wrong_password_keeps_the_user_name_and_logout_says_so(client: TestClient) -> None:
    wrong = client.post("/login", data={"username": "ada <&>", "password": "nope"})
    assert 'value="ada &lt;&amp;&gt;"' in wrong.text
    sign_in(client)
    logged_out = client.post("/logout")
    assert logged_out.headers["location"] == "/?signed-out"
    assert "You are signed out." in client.get(logged_out.headers["location"]).text


def test_signed_in_pages_are_not_kept_by_the_browser_cache(client: TestClient) -> None:
    assert "cache-control" not in client.get("/healthz").headers  # no session used
    assert client.get("/").headers["cache-control"] == "no-store"  # the form's CSRF token
    sign_in(client)
    for path in ("/", "/devices", "/api/session"):
        page = client.get(path)
        assert page.headers["cache-control"] == "no-store", path  # Back after a logout
    assert client.get("/favicon.svg").headers["cache-control"] == "public, max-age=86400"


def test_every_page_is_for_phones_too_and_closes_its_connection(client: TestClient) -> None:
    page = client.get("/")
    assert '<meta name=viewport content="width=device-width, initial-scale=1">' in page.text
    assert "<link rel=icon type=image/svg+xml href=/favicon.svg>" in page.text
    assert page.headers["connection"] == "close"  # each reload may reach another worker
    for path in ("/favicon.svg", "/favicon.ico"):
        icon = client.get(path)
        assert (icon.status_code, icon.headers["content-type"]) == (200, "image/svg+xml")
        assert icon.text.startswith("<svg")


def test_unknown_pages_and_methods_get_styled_pages(client: TestClient) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "<h1>404</h1>" in missing.text
    assert "<style>" in missing.text
    wrong = client.get("/logout")
    assert wrong.status_code == 405
    assert "<h1>405</h1>" in wrong.text
    assert "POST" in wrong.headers["allow"]


def test_the_page_names_the_workers_of_the_last_increments(client: TestClient) -> None:
    sign_in(client)
    assert "served by worker processes: <strong>none yet</strong>" in client.get("/").text
    for _ in range(7):
        client.post("/increment")
    page = client.get("/").text
    pid = os.getpid()
    assert f"served by worker processes: <strong>{', '.join([str(pid)] * 5)}</strong>" in page


def _ids(page: str) -> tuple[str, str]:
    found = re.search(r"<code class=id-now>(\w+)</code>.*<code class=id-before>(\w+)</code>", page)
    assert found is not None
    return found.group(2), found.group(1)


def test_the_page_shows_the_session_id_rotate(client: TestClient) -> None:
    sign_in(client)
    before, first = _ids(client.get("/").text)
    assert re.fullmatch(r"[0-9a-f]{8}", before)  # the pre-session ID of the sign-in form
    assert re.fullmatch(r"[0-9a-f]{8}", first)
    assert before != first  # signing in gave a new ID
    assert client.cookies[COOKIE] not in client.get("/").text  # a keyed fingerprint only
    old_cookie = client.cookies[COOKIE]
    assert client.post("/rotate").status_code == 303
    assert client.cookies[COOKIE] != old_cookie
    before, second = _ids(client.get("/").text)
    assert (before, second != first) == (first, True)
    client.cookies.clear()
    stale = client.get("/api/session", headers={"Cookie": f"{COOKIE}={old_cookie}"})
    assert stale.json()["user"] is None  # the old ID stopped working


def test_user_names_are_escaped(client: TestClient) -> None:
    sign_in(client, "<script>alert(1)</script>")
    page = client.get("/")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_anonymous_increment_writes_nothing(client: TestClient) -> None:
    response = client.post("/increment")
    assert response.status_code == 303
    assert "set-cookie" not in response.headers


def test_cross_origin_posts_are_refused(client: TestClient) -> None:
    sign_in(client)
    evil = client.post("/increment", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    fetched = client.post("/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert fetched.status_code == 403
    same = client.post("/increment", headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 303
    assert client.get("/api/session").json()["count"] == 1


def test_healthz_never_touches_the_session(client: TestClient) -> None:
    sign_in(client)
    health = client.get("/healthz")
    assert health.json()["status"] == "ok"
    assert "set-cookie" not in health.headers


def test_insecure_cookie_mode_drops_secure_and_the_host_prefix() -> None:
    with FormClient(
        create_app(DemoSettings(insecure_cookie=True)),
        base_url="http://localhost:8000",
        follow_redirects=False,
    ) as client:
        cookie = sign_in(client).headers["set-cookie"]
        assert cookie.startswith("sessionary-demo=")
        assert "Secure" not in cookie
        assert client.get("/api/session").json()["user"] == "ada"


def test_settings_travel_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    original = DemoSettings(store="redis://h:1/0", prefix="p", insecure_cookie=True)
    environ: dict[str, str] = {}
    original.export(environ)
    assert DemoSettings.from_environ(environ) == original
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SESSIONARY_DEMO_STORE", "memory")
    app = create_app_from_environ()
    with FormClient(app, base_url="http://localhost", follow_redirects=False) as client:
        assert sign_in(client).headers["set-cookie"].startswith("sessionary-demo=")


def test_settings_refuse_unknown_stores_and_redact_passwords() -> None:
    with pytest.raises(ConfigurationError, match="unsupported store 'http://u:\\*\\*\\*@h"):
        DemoSettings(store="http://u:pw@h:1")
    assert redacted_url("redis://:hunter2@h:6379/0") == "redis://:***@h:6379/0"
    assert redacted_url("redis://h/0") == "redis://h/0"


# ------------------------------------------------------------------------------- the CLI
def test_cli_help_and_version() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output
    result = runner.invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0
    assert "--workers" in result.output
    assert "--store" in result.output
    assert runner.invoke(cli, ["--version"]).output.startswith("sessionary, version")


def test_cli_refuses_several_workers_on_the_memory_store() -> None:
    result = CliRunner().invoke(cli, ["demo", "--workers", "2"])
    assert result.exit_code == 2
    assert "would not share sessions" in result.output


def test_cli_refuses_unknown_store_urls() -> None:
    result = CliRunner().invoke(cli, ["demo", "--store", "mysql://localhost"])
    assert result.exit_code == 2
    assert "unsupported store" in result.output


def test_cli_fails_fast_when_redis_is_unreachable() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = CliRunner().invoke(cli, ["demo", "--store", url])
    assert result.exit_code == 1
    assert f"cannot use Redis at {url}" in result.output
    assert "Traceback" not in result.output


def test_cli_secret_file_is_created_private_and_weak_ones_are_refused(tmp_path: Path) -> None:
    weak = tmp_path / "weak"
    weak.write_text("password123password123password123\n")
    result = CliRunner().invoke(cli, ["demo", "--secret-file", str(weak)])
    assert result.exit_code == 2
    assert "placeholder" in result.output

    created = tmp_path / "dir" / "secret"
    secret = _read_or_create_secret(created)
    assert created.stat().st_mode & 0o777 == 0o600
    assert _read_or_create_secret(created) == secret


def test_main_runs_the_click_group(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "sessionary demo" in capsys.readouterr().out


# ---------------------------------------------------- the real thing: uvicorn, 2 processes
def _wait_until_serving(base: str, process: subprocess.Popen[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"the demo exited early ({process.returncode}):\n{output}")
        try:
            if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.1)
    pytest.fail("the demo did not start serving in time")


def test_two_worker_processes_share_the_session_through_redis(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "sessionary.cli", "demo", "--store", redis_url]
    command += ["--workers", "2", "--port", str(port), "--prefix", key_prefix]
    command += ["--insecure-cookie", "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_until_serving(base, process, time.monotonic() + 30)
        # The demo closes every connection: either worker may take each request.
        browser = httpx2.Client(base_url=base, headers={"Origin": base})
        login = post_form(browser, "/login", {"username": "ada", "password": DEMO_PASSWORD})
        assert login.status_code == 303
        pids: set[int] = set()
        deadline = time.monotonic() + 20
        count = 0
        while (len(pids) < 2 or count < 10) and time.monotonic() < deadline:
            bumped = post_form(browser, "/increment")
            assert bumped.status_code == 303
            count += 1
            state = browser.get("/api/session").json()
            assert state["user"] == "ada"
            assert state["count"] == count
            pids.add(state["pid"])
        browser.close()
        assert len(pids) == 2, f"only worker(s) {pids} answered"
        assert any(redis_admin.scan_iter(match=f"{key_prefix}:s:*"))
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert "sessionary demo" in output
    assert re.search(r"Traceback", output) is None, output
