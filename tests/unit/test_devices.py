"""The device label a login records (sansio/devices.py) and the device field it goes into."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionary.sansio.devices import MAX_LABEL_LENGTH, compact_user_agent
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.users import MAX_USER_AGENT_LENGTH, DeviceInfo, decode_device, encode_device

LISTPACK_VALUE = 64  # Redis's default hash-max-listpack-value

BROWSERS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        "Chrome 120 on Windows",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        "Edge 120 on Windows",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        "Safari 17 on iOS",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        "Safari 17 on macOS",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.6099.144 Mobile Safari/537.36",
        "Chrome 120 on Android",
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Firefox 121 on Linux",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
        "Opera 106 on Windows",
    ),
]


@pytest.mark.parametrize(("agent", "label"), BROWSERS)
def test_a_browser_agent_is_recorded_as_browser_version_and_system(agent: str, label: str) -> None:
    assert compact_user_agent(agent) == label


def test_a_short_agent_is_kept_and_an_unknown_long_one_cut() -> None:
    assert compact_user_agent("curl/8.5.0") == "curl/8.5.0"
    assert compact_user_agent("x" * MAX_LABEL_LENGTH) == "x" * MAX_LABEL_LENGTH
    unknown = "python-httpx/0.27.0 (an unusually long agent string)"
    assert compact_user_agent(unknown) == unknown[:MAX_LABEL_LENGTH]
    assert compact_user_agent('caf\u00e9 "agent"') == "caf? ?agent?"


@given(st.text(max_size=400))
def test_the_label_is_short_and_deterministic(agent: str) -> None:
    label = compact_user_agent(agent)
    assert len(label) <= MAX_LABEL_LENGTH
    assert label.isascii()
    assert label.isprintable()
    assert '"' not in label
    assert "\\" not in label
    assert compact_user_agent(agent) == label


@given(st.text(max_size=400))
def test_the_device_field_fits_the_compact_hash_encoding(agent: str) -> None:
    """A login's device field (agent label and keyed client hash) stays within 64 bytes."""
    client_hash = KeyRing([b"k" * 32]).fingerprint("client:203.0.113.7")
    encoded = encode_device(DeviceInfo(user_agent=agent, client_hash=client_hash))
    assert len(encoded) <= LISTPACK_VALUE
    decoded = decode_device(encoded)
    assert decoded.client_hash == client_hash
    assert decoded.user_agent == (compact_user_agent(agent) if agent else None)


@pytest.mark.parametrize(("agent", "_label"), BROWSERS)
def test_a_record_of_an_earlier_release_still_decodes_whole(agent: str, _label: str) -> None:
    """Before the label, the whole agent (up to 256 characters) was recorded."""
    old = b'{"ua":"' + agent.encode() + b'"}'
    assert decode_device(old).user_agent == agent[:MAX_USER_AGENT_LENGTH]
