"""The demo's "Your devices" page: list, log out one device, log out all others."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2
import pytest
from starlette.testclient import TestClient

from sessionary.demo.app import DEMO_PASSWORD, create_app
from sessionary.demo.settings import DemoSettings

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

    def post(self, path: str, **kwargs: object) -> httpx2.Response:
        return self.send("POST", path, **kwargs)


@pytest.fixture
def browsers(app_settings: DemoSettings) -> Iterator[list[Browser]]:
    agents = ("Firefox on laptop", "Safari on phone", "Chrome at work")
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
    assert "Safari on phone" in page.text
    assert "this device" in page.text
    assert "Log out all 2 other device(s)" in page.text

    # Log out the phone only: its ref comes from the page, never its session ID.
    row = next(r for r in page.text.split("<tr>") if "Safari on phone" in r)
    ref = re.search(r"name=ref value=([0-9a-f]+)", row)
    assert ref is not None
    assert phone.cookie is not None
    assert phone.cookie not in page.text
    assert laptop.post("/devices/revoke", data={"ref": ref.group(1)}).status_code == 303
    assert "signed out from another device" in phone.get("/").text
    assert "2 signed-in session(s)" in laptop.get("/devices").text

    # Log out everything else: the laptop stays, work is signed out.
    assert laptop.post("/devices/revoke-others").status_code == 303
    assert "signed out from another device" in work.get("/").text
    final = laptop.get("/devices").text
    assert "1 signed-in session(s)" in final
    assert "other device(s)" not in final
    assert "Hello, ada" in laptop.get("/").text


def test_devices_page_needs_a_signed_in_user(browsers: list[Browser]) -> None:
    anonymous = browsers[0]
    assert anonymous.get("/devices").headers["location"] == "/"
    assert anonymous.post("/devices/revoke-others").status_code == 303
    assert anonymous.post("/devices/revoke", data={"ref": "0" * 16}).status_code == 303
