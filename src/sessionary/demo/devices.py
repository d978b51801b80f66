"""Readable device names for the demo's "Your devices" page ("Chrome on Linux").

The ``User-Agent`` a session recorded at sign-in is parsed with ``ua-parser`` (the
``cli`` extra, with its regularly refreshed rule set ``ua-parser-builtins``). Without it, or
for an agent it does not know, the page shows the raw string, cut short.
"""

from __future__ import annotations

import functools
import importlib.util

__all__ = ["device_name"]

_APPLE_DEVICES = ("iPhone", "iPad")
_RAW_LIMIT = 48


@functools.lru_cache(maxsize=256)
def device_name(user_agent: str | None) -> str:
    """``"Chrome on Linux"``, ``"Safari on iPhone"``; the raw agent (cut) when unknown."""
    if not user_agent:
        return "Unknown browser"
    parsed = _parse(user_agent)
    if parsed is None:
        return _cut(user_agent)
    browser, system = parsed
    return f"{browser} on {system}" if system else browser


def _cut(text: str) -> str:
    return text if len(text) <= _RAW_LIMIT else text[: _RAW_LIMIT - 1] + "…"


def _parse(user_agent: str) -> tuple[str, str | None] | None:
    if importlib.util.find_spec("ua_parser") is None:
        return None
    from ua_parser import parse  # noqa: PLC0415 - optional, and slow to import

    result = parse(user_agent)
    agent = result.user_agent
    if agent is None or agent.family == "Other":
        return None
    browser = agent.family.removeprefix("Mobile ").removesuffix(" Mobile")
    device = result.device
    os = result.os
    if device is not None and device.family in _APPLE_DEVICES:
        return browser, device.family
    if os is not None and os.family != "Other":
        return browser, os.family
    return browser, None
