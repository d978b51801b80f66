"""The demo's admin view: live sessions per user, ending them, events and metrics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from sessionary.demo.admin import ADMIN_PASSWORD, ADMIN_USER
from sessionary.demo.app import create_app
from sessionary.demo.metrics import prometheus_available
from sessionary.demo.settings import DemoSettings
from tests.integration.test_demo_devices import (
    BASE,
    LAPTOP,
    PHONE,
    WORK,
    Browser,
    app_settings,  # noqa: F401 - the fixture: memory and Redis
    sign_in,
)


@pytest.fixture
def browsers(app_settings: DemoSettings) -> Iterator[list[Browser]]:  # noqa: F811
    with TestClient(create_app(app_settings), base_url=BASE, follow_redirects=False) as client:
        yield [Browser(client, agent) for agent in (LAPTOP, PHONE, WORK)]


def sign_in_as_admin(browser: Browser) -> None:
    data = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    assert browser.post("/login", data=data).status_code == 303


def test_the_admin_lists_live_sessions_per_user_and_ends_them(browsers: list[Browser]) -> None:
    laptop, phone, admin = browsers
    sign_in(laptop, "ada")
    sign_in(phone, "ada")
    sign_in_as_admin(admin)
    page = admin.get("/admin")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    users = page.text.split("<table class=users>")[1].split("</table>")[0]
    rows = users.split("<tr>")[2:]  # after the header row: the most recent user first
    assert ">admin</td>" in rows[0]
    assert "End all sessions" not in rows[0]  # not the admin's own
    ada = next(row for row in rows if ">ada</td>" in row)
    assert "<td>2 live</td>" in ada
    assert "Firefox 133 on Linux" in ada
    assert "Safari 17 on iOS" in ada
    assert laptop.cookie is not None
    assert laptop.cookie not in page.text  # the page names sessions, never their IDs
    assert "<code>created</code>" in page.text  # the lifecycle events
    if prometheus_available():
        assert "<figcaption>Lifecycle events</figcaption>" in page.text

    ended = admin.post("/admin/revoke", data={"user": "ada"})
    assert (ended.status_code, ended.headers["location"]) == (303, "/admin?ended=ada")
    for device in (laptop, phone):
        assert "You were signed out" in device.get("/").text
    after = admin.get("/admin?ended=ada").text
    assert "Every session of ada is ended" in after
    assert ">ada</td>" not in after.split("<table class=users>")[1].split("</table>")[0]
    assert "<code>revoked</code>" in admin.get("/admin/live").text
    assert "Hello, admin" in admin.get("/").text  # the admin's own session is not ended


def test_the_admin_view_needs_the_admin_password(browsers: list[Browser]) -> None:
    anonymous, user, admin = browsers
    assert anonymous.get("/admin").status_code == 403
    assert anonymous.get("/admin/live").status_code == 403
    wrong = user.post("/login", data={"username": ADMIN_USER, "password": "demo"})
    assert wrong.status_code == 401
    assert "Wrong password" in wrong.text
    sign_in(user, "ada")
    assert user.get("/admin").status_code == 403
    assert user.post("/admin/revoke", data={"user": "ada"}).status_code == 403
    assert "Hello, ada" in user.get("/").text
    sign_in_as_admin(admin)
    assert admin.post("/admin/revoke", data={"user": ADMIN_USER}).headers["location"] == "/admin"
    assert "Hello, admin" in admin.get("/").text
