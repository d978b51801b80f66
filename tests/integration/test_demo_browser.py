"""``sessionary demo`` in a real browser: headless Chromium against a real demo process.

Two worker processes on Redis, the secure ``__Host-`` cookie on ``http://localhost`` (a
secure context for the browser), two browsers with their own cookie jars (a laptop at
1280 px, a phone at 390 px). Each step leaves a screenshot in ``artifacts/browser/``
(:mod:`tests.chromium`). Skipped without a system Chromium, failed instead under
``SESSIONARY_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis

from tests.chromium import PHONE_AGENT, Chromium, artifacts_dir, find_chromium
from tests.integration.test_demo_serve import BANNER, START_TIMEOUT_S, Demo

COOKIE = "__Host-sessionary-demo"
LAPTOP = (1280, 900)
PHONE = (390, 844)
PAGE_TIMEOUT_S = 15
MAX_INCREMENTS = 24  # enough for both workers to answer (each +1 is two fresh connections)


@pytest.fixture(scope="module")
def chromium() -> Chromium:
    return find_chromium()


@pytest.fixture
def demo(redis_url: str, redis_admin: redis.Redis, key_prefix: str) -> Iterator[str]:
    """A two-worker demo on Redis; its base URL on ``localhost``."""
    process = Demo(
        "--store", redis_url, "--workers", "2", "--prefix", key_prefix, "--port", "0",
        insecure_cookie=False,
    )  # fmt: skip
    try:
        port = int(process.wait_for(BANNER).group(1))
        base = f"http://localhost:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(f"{base}/healthz"):  # the banner comes once bound, before listening
            assert time.monotonic() < deadline, "the demo did not start serving in time"
            time.sleep(0.1)
        yield base
    finally:
        process.stop()
    assert "Traceback" not in process.output, process.output


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=1).status_code == 200
    except httpx2.TransportError:
        return False


@contextmanager
def cross_site_page(target: str) -> Iterator[str]:
    """Another site (``127.0.0.1``, not ``localhost``) whose page posts a form to ``target``."""
    page = (
        f"<!doctype html><form id=f method=post action={target}>"
        "<input name=x value=1></form><script>document.getElementById('f').submit()</script>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _left(page: Any) -> bool:
    """Whether the document ``page`` (its ``html`` element) was replaced by the next one.

    Selenium's ``staleness_of`` expects a stale-element error; Chromium sometimes reports
    the navigated-away node as "Node with given id does not belong to the document"
    instead, which means the same.
    """
    from selenium.common.exceptions import (  # noqa: PLC0415
        StaleElementReferenceException,
        WebDriverException,
    )

    try:
        page.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


class Screen:
    """One browser window: its actions and its screenshots."""

    def __init__(self, driver: Any, name: str, shots: Path) -> None:
        self.driver = driver
        self.name = name
        self.shots = shots

    def go(self, url: str) -> None:
        self.driver.get(url)

    @property
    def text(self) -> str:
        """The page's visible text, once it is loaded."""
        self.loaded()
        return str(self.driver.execute_script("return document.body.innerText"))

    def shot(self, step: str) -> None:
        self.driver.save_screenshot(str(self.shots / f"{self.name}-{step}.png"))

    def fill(self, **fields: str) -> None:
        for name, value in fields.items():
            box = self.driver.find_element("name", name)
            box.clear()
            box.send_keys(value)

    def press(self, label: str, within: Any = None) -> None:
        """Click the button (inside element ``within``, if given); wait for the next page."""
        from selenium.webdriver.support.wait import WebDriverWait  # noqa: PLC0415

        page = self.driver.find_element("tag name", "html")
        scope = self.driver if within is None else within
        scope.find_element("xpath", f".//button[normalize-space()='{label}']").click()
        WebDriverWait(self.driver, PAGE_TIMEOUT_S).until(lambda _: _left(page))
        self.loaded()

    def wait_for(self, condition: Any) -> None:
        """Wait (at most ``PAGE_TIMEOUT_S``) until ``condition(driver)`` holds.

        An element the page's script replaces between the condition's lookup and its read
        (the admin page redraws its events table every few seconds) is looked up again.
        """
        from selenium.common.exceptions import StaleElementReferenceException  # noqa: PLC0415
        from selenium.webdriver.support.wait import WebDriverWait  # noqa: PLC0415

        WebDriverWait(
            self.driver, PAGE_TIMEOUT_S, ignored_exceptions=(StaleElementReferenceException,)
        ).until(condition)

    def loaded(self) -> None:
        """Wait until the current document has finished loading."""
        from selenium.webdriver.support.wait import WebDriverWait  # noqa: PLC0415

        WebDriverWait(self.driver, PAGE_TIMEOUT_S).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete"
        )

    def sign_in(self, user: str, password: str = "demo") -> None:
        self.fill(username=user, password=password)
        self.press("Sign in")

    def code(self, name: str) -> str:
        return str(self.driver.find_element("css selector", f"code.{name}").text)

    def cookie(self) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.driver.get_cookie(COOKIE)
        return found

    def worker(self) -> int:
        footer = self.driver.find_element("css selector", "p.muted strong").text
        return int(footer)

    def fits(self) -> bool:
        """Nothing wider than the window: no sideways scrolling."""
        width: int = self.driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        return width <= 0


@pytest.fixture
def screens(chromium: Chromium) -> Iterator[tuple[Screen, Screen]]:
    shots = artifacts_dir()
    laptop = chromium.open(*LAPTOP)
    try:
        phone = chromium.open(*PHONE, user_agent=PHONE_AGENT)
        try:
            yield Screen(laptop, "laptop-1280", shots), Screen(phone, "phone-390", shots)
        finally:
            phone.quit()
    finally:
        laptop.quit()


def test_the_demo_in_two_browsers(demo: str, screens: tuple[Screen, Screen]) -> None:
    laptop, phone = screens

    # Sign in: no cookie before; a wrong password keeps the name; then the counter page.
    laptop.go(demo)
    assert "Sign in with any user name" in laptop.text
    assert laptop.cookie()["value"].startswith("p.")  # type: ignore[index]  # pre-session
    laptop.shot("01-sign-in")
    laptop.sign_in("carol", password="wrong")
    assert "Wrong password" in laptop.text
    assert laptop.driver.find_element("name", "username").get_attribute("value") == "carol"
    laptop.shot("02-wrong-password")
    laptop.fill(password="demo")
    laptop.press("Sign in")
    assert "Hello, carol" in laptop.text
    cookie = laptop.cookie()
    assert cookie is not None
    assert cookie["secure"]
    assert cookie["httpOnly"]

    # The session ID's fingerprint: sign-in replaced the form's pre-session ID; a new ID on
    # demand, the old one named.
    first = laptop.code("id-now")
    assert laptop.code("id-before") not in ("none", first)
    laptop.press("New session ID")
    assert laptop.code("id-before") == first
    assert laptop.code("id-now") not in ("none", first)
    assert laptop.cookie()["value"] != cookie["value"]  # type: ignore[index]

    # +1 until both worker processes served the page: the count goes on across them.
    workers = set()
    for count in range(1, MAX_INCREMENTS + 1):
        laptop.press("+1")
        assert laptop.driver.find_element("css selector", "p.count").text == str(count)
        workers.add(laptop.worker())
        if len(workers) == 2 and count >= 3:
            break
    assert len(workers) == 2, f"only worker {workers} served {count} reloads"
    assert "served by worker processes" in laptop.text
    laptop.shot("03-counter-two-workers")

    # The phone: a long unbroken name fits its screen; then carol on her phone.
    phone.go(demo)
    phone.sign_in("w" * 64)
    assert phone.fits()
    phone.shot("01-long-name")
    phone.press("Log out")
    assert "You are signed out." in phone.text
    phone.sign_in("carol")
    phone.go(f"{demo}/devices")
    assert "2 signed-in session(s)" in phone.text
    rows = phone.driver.find_elements("css selector", "table.devices tbody tr")
    assert "on iOS" in rows[0].text  # this device first, with a readable name
    assert "this device" in rows[0].text
    assert "on Linux" in rows[1].text
    assert phone.fits()
    phone.shot("02-devices")

    # Log out every other device, after ticking the confirmation.
    phone.driver.find_element("name", "confirm").click()
    phone.press("Log out all other devices")
    assert "Every other device is signed out" in phone.text
    assert "1 signed-in session(s)" in phone.text
    phone.shot("03-other-devices-signed-out")

    # The laptop learns why on its next page; Back after that shows no cached signed-in page.
    laptop.go(demo)
    assert "You were signed out from another device." in laptop.text
    laptop.shot("04-signed-out-from-another-device")

    # A form on another site posting to the demo is refused; the counter does not move.
    laptop.sign_in("carol")
    laptop.press("+1")
    with cross_site_page(f"{demo}/increment") as evil:
        laptop.go(evil)
        assert "Cross-origin request refused" in laptop.text
        laptop.shot("05-cross-site-post-refused")
    laptop.go(demo)
    assert laptop.driver.find_element("css selector", "p.count").text == "1"

    # Logout clears the session ID from the browser's jar (the sign-in form that follows
    # holds only a pre-session ID for its CSRF token), and Back brings no signed-in page back.
    laptop.go(f"{demo}/devices")
    assert "Your devices, carol" in laptop.text
    laptop.go(demo)
    session_id = laptop.cookie()["value"]  # type: ignore[index]
    laptop.press("Log out")
    assert "You are signed out." in laptop.text
    after = laptop.cookie()
    assert after is None or (after["value"] != session_id and after["value"].startswith("p."))
    laptop.driver.back()
    assert "Hello, carol" not in laptop.text
    laptop.shot("06-logged-out")

    # The admin view, behind the demo admin's password: carol's live session (her phone),
    # the lifecycle events and the metrics; ending her sessions signs the phone out.
    phone.go(f"{demo}/admin")
    assert "The admin view is for the demo admin" in phone.text  # carol is no admin
    laptop.sign_in("admin", password="demo")
    assert "Wrong password (it is 'admin')" in laptop.text
    laptop.sign_in("admin", password="admin")
    laptop.go(f"{demo}/admin")
    users = laptop.driver.find_elements("css selector", "table.users tbody tr")
    carol = next(row for row in users if row.text.startswith("carol"))
    assert "on iOS" in carol.text
    events = laptop.driver.find_element("css selector", "table.events").text
    assert "revoked" in events  # the devices page ended the laptop's session earlier
    assert "Lifecycle events" in laptop.text  # a chart of the exporter's counters
    laptop.shot("07-admin")
    # Events as they happen: carol takes a new session ID on her phone; the admin page
    # shows the rotation without being reloaded (it fetches its events every few seconds).
    page = laptop.driver.find_element("tag name", "html")
    newest = "table.events tbody tr:first-child"
    assert "rotated" not in laptop.driver.find_element("css selector", newest).text
    phone.go(demo)
    phone.press("New session ID")
    laptop.wait_for(lambda driver: "rotated" in driver.find_element("css selector", newest).text)
    assert page == laptop.driver.find_element("tag name", "html")  # the same document
    laptop.press("End all sessions", within=carol)
    assert "Every session of carol is ended" in laptop.text
    phone.go(demo)
    assert "You were signed out" in phone.text
    phone.sign_in("admin", password="admin")
    phone.go(f"{demo}/admin")
    assert phone.fits()
    phone.shot("04-admin")
