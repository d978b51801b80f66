"""The device label a login records: a browser ``User-Agent`` parsed down to a few words.

A browser's ``User-Agent`` is 100-150 bytes (``Mozilla/5.0 (Windows NT 10.0; Win64; x64)
AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36``). Stored whole in
the session record, it makes the device field longer than Redis keeps in a hash's compact
encoding (``hash-max-listpack-value``, 64 bytes by default): the whole record then takes
about three times the memory. What a "Your devices" page shows, and what the client binding
compares (docs/security.md R81), is the browser, its major version and the system:
``Chrome 120 on Windows``. A short agent (at most :data:`MAX_LABEL_LENGTH` characters) is
kept as it is; anything else that is not recognised keeps its first characters. Characters
that JSON would escape or encode in more than one byte are shown as ``?``.
"""

from __future__ import annotations

import re

__all__ = ["MAX_LABEL_LENGTH", "compact_user_agent"]

MAX_LABEL_LENGTH = 31
"""With the keyed client hash, the device field stays within 64 bytes."""

# One byte each in JSON: anything else (non-ASCII, quotes, controls) is shown as "?".
_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]')
# First match wins: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"\bOPR/(\d+)")),
    ("Samsung", re.compile(r"\bSamsungBrowser/(\d+)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"\bVersion/(\d+)[.\d]* (?:Mobile/\w+ )?Safari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"\bAndroid\b")),
    ("iOS", re.compile(r"\b(?:iPhone|iPad|iPod)\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b")),
)


def compact_user_agent(user_agent: str) -> str:
    """The label stored for ``user_agent``: itself if short, else browser, version, system.

    At most :data:`MAX_LABEL_LENGTH` printable ASCII characters; deterministic, so a later
    request's agent compares with the recorded one by the same function.
    """
    if len(user_agent) <= MAX_LABEL_LENGTH:
        return _UNSAFE.sub("?", user_agent)
    browser = next(
        (f"{name} {found[1]}" for name, rx in _BROWSERS if (found := rx.search(user_agent))),
        None,
    )
    system = next((name for name, rx in _SYSTEMS if rx.search(user_agent)), None)
    if browser is None:
        return _UNSAFE.sub("?", user_agent[:MAX_LABEL_LENGTH])
    label = browser if system is None else f"{browser} on {system}"
    return _UNSAFE.sub("?", label[:MAX_LABEL_LENGTH])
