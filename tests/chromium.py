"""Headless Chromium for end-to-end tests: the distribution's browser, driven by Selenium.

The browser and its driver come from the system (Debian's ``chromium`` and
``chromium-driver``; ``.ci/run`` installs them): nothing is downloaded. Without them the
tests skip, or fail under ``SESSIONARY_REQUIRE_SERVICES=1`` (:func:`tests.services.unavailable`).
Screenshots go to ``$SESSIONARY_ARTIFACTS`` (default ``artifacts/`` at the repository root)
under ``browser/``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.services import unavailable

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)
PHONE_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@dataclass(frozen=True)
class Chromium:
    """Where the browser and its driver are installed."""

    browser: str
    driver: str

    def open(self, width: int, height: int, *, user_agent: str | None = None) -> Any:
        """A new headless browser (its own profile: its own cookie jar) of this window size."""
        from selenium import webdriver  # noqa: PLC0415 - the dev extra, only for these tests
        from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

        options = webdriver.ChromeOptions()
        options.binary_location = self.browser
        for argument in (
            "--headless=new",
            "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
            "--disable-dev-shm-usage",
            "--disable-gpu",
            f"--window-size={width},{height}",
        ):
            options.add_argument(argument)
        if user_agent is not None:
            options.add_argument(f"--user-agent={user_agent}")
        return webdriver.Chrome(service=Service(self.driver), options=options)


def find_chromium() -> Chromium:
    """The system's Chromium and chromedriver, or skip (fail under REQUIRE_SERVICES)."""
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver = next((found for name in DRIVERS if (found := shutil.which(name))), None)
    if browser is None or driver is None:
        unavailable(
            "no system Chromium with chromedriver (apt-get install chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401, PLC0415
    except ImportError:
        unavailable("selenium is not installed (the dev extra)")
    return Chromium(browser, driver)


def artifacts_dir() -> Path:
    """Where this run keeps its browser screenshots (created)."""
    base = Path(os.environ.get("SESSIONARY_ARTIFACTS", ROOT / "artifacts"))
    path = base / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path
