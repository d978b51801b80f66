"""The demo's readable device names: parsed by ua-parser, the raw agent (cut) otherwise."""

from __future__ import annotations

import pytest

from sessionary.demo.devices import device_name


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "Chrome on Linux",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "curl"),
        (None, "Unknown browser"),
        ("", "Unknown browser"),
        ("python-httpx/0.27", "python-httpx/0.27"),
        ("x" * 200, "x" * 47 + "…"),
    ],
)
def test_device_names_are_readable(agent: str | None, name: str) -> None:
    assert device_name(agent) == name
