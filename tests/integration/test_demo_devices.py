"""The demo's "Your devices" page: list, log out one device, log out all others."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2
import pytest
from starlette.testclient import TestClient

from sessionary.demo.app import DEMO_PASSWORD, create_app
from sessionary.demo.settings import DemoSettings
from sessionary.sansio.csrf import CSRF_FIELD
from tests.integration.demo_forms import page_token

BASE = "https://localhost:8000"


@pytest.fixture(params=["memory", "redis"])
def app_settings(request: pytest.FixtureRequest, key_prefix: str) -> DemoSettings:
    if request.param == "memory":
        return DemoSettings()
    request.getfixturevalue("redis_admin")
    return DemoSettings(store=request.getfixturevalue("redis_url"), prefix=key_prefix)


COOKIE = "__Host-sessionary-demo"


class Browser:
    """One browser on a shared TestClient (one event loop): its own cookie and user agent."""

    def __init__(self, client: TestClient, agent: str) -> None:
        self.client = client
        self.agent = agent
        self.cookie: str | None = None

    def send(self, method: str, path: str, **kwargs: object) -> httpx2.Response:
        self.client.cookies.clear()
        headers = {"User-Agent": self.agent}
        if self.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        response = self.client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        set_cookie = response.headers.get("set-cookie")
        if set_cookie:
            value = set_cookie.split(";", 1)[0].split("=", 1)[1]
            self.cookie = value or None
        return response

    def get(self, path: str) -> httpx2.Response:
        return self.send("GET", path)

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx2.Response:
        """Post a form with the CSRF token of this browser's current page."""
        token = page_token(self.get("/").text)
        return self.send("POST", path, data={**(data or {}), CSRF_FIELD: token})


LAPTOP = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
WORK = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def browsers(app_settings: DemoSettings) -> Iterator[list[Browser]]:
    agents = (LAPTOP, PHONE, WORK)
    with TestClient(create_app(app_settings), base_url=BASE, follow_redirects=False) as client:
        yield [Browser(client, agent) for agent in agents]


def sign_in(browser: Browser, user: str = "ada") -> None:
    response = browser.post("/login", data={"username": user, "password": DEMO_PASSWORD})
    assert response.status_code == 303


def test_devices_page_lists_and_ends_sessions(browsers: list[Browser]) -> None:
    laptop, phone, work = browsers
    for browser in browsers:
        sign_in(browser)
    page = laptop.get("/devices")
    assert page.status_code == 200
    assert "3 signed-in session(s)" in page.text
    rows = page.text.split("<tr>")[2:]  # after the header row: this device first
    assert "Firefox on Ubuntu" in rows[0]
    assert "this device" in rows[0]
    assert "Safari on iPhone" in page.text
    assert "Chrome on Windows" in page.text
    assert PHONE not in page.text  # readable names, not raw agents
    assert "Yes, sign out the 2 other device(s)" in page.text

    # Log out the phone only: its ref comes from the page, never its session ID.
    row = next(r for r in rows if "Safari on iPhone" in r)
    ref = re.search(r"name=ref value=([0-9a-f]+)", row)
    assert ref is not None
    assert phone.cookie is not None
    assert phone.cookie not in page.text
    ended = laptop.post("/devices/revoke", data={"ref": ref.group(1)})
    assert (ended.status_code, ended.headers["location"]) == (303, "/devices?done=one")
    assert "signed out from another device" in phone.get("/").text
    after = laptop.get("/devices?done=one").text
    assert "2 signed-in session(s)" in after
    assert "That device is signed out." in after

    # "Log out all other devices" needs its confirmation box ticked.
    unconfirmed = laptop.post("/devices/revoke-others")
    assert unconfirmed.headers["location"] == "/devices?done=unconfirmed"
    assert "Hello, ada" in work.get("/").text
    assert "tick the box to confirm" in laptop.get("/devices?done=unconfirmed").text
    done = laptop.post("/devices/revoke-others", data={"confirm": "yes"})
    assert done.headers["location"] == "/devices?done=others"
    assert "signed out from another device" in work.get("/").text
    final = laptop.get("/devices?done=others").text
    assert "1 signed-in session(s)" in final
    assert "Every other device is signed out" in final
    assert "other device(s)" not in final
    assert "Hello, ada" in laptop.get("/").text


def test_devices_page_needs_a_signed_in_user(browsers: list[Browser]) -> None:
    anonymous = browsers[0]
    assert anonymous.get("/devices").headers["location"] == "/"
    assert anonymous.post("/devices/revoke-others").status_code == 303
    assert anonymous.post("/devices/revoke", data={"ref": "0" * 16}).status_code == 303
