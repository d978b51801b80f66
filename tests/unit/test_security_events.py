"""R26: every invalid, unknown or expired ID is reported with a keyed fingerprint of the ID
and the client address, for brute-force detection and rate limiting."""

from __future__ import annotations

import re

from sessionary.sansio.events import EventName
from tests.unit.test_cycle import Harness, write
from tests.unit.test_sealed_cycle import NAME, Browser


def test_unknown_and_expired_ids_carry_fingerprint_and_client() -> None:
    h = Harness()  # its requests come from 198.51.100.1
    cycle, _ = h.request(headers=[f"__Host-session={'A' * 42}E"])
    (unknown,) = cycle.drain_events()
    assert unknown.name is EventName.INVALID_ID
    assert unknown.detail == {"reason": "unknown", "client": "198.51.100.1"}
    assert unknown.fingerprint is not None
    assert re.fullmatch(r"[0-9a-f]{16}", unknown.fingerprint)
    h.request(write(a=1))
    h.clock.advance(h.config.idle_timeout_ms // 1000)  # at the limit (the TTL is a GC)
    cycle, _ = h.request()
    (expired,) = cycle.drain_events()
    assert expired.name is EventName.EXPIRED_IDLE
    assert expired.detail["client"] == "198.51.100.1"
    assert expired.fingerprint is not None
    assert h.cookie is None or expired.fingerprint not in h.cookie


def test_sealed_cookie_expiry_carries_the_client_too() -> None:
    browser = Browser()
    browser.request(write(a=1))
    browser.clock.advance(browser.config.idle_timeout_ms // 1000 + 1)
    cycle = browser.core.begin([f"{NAME}={browser.cookie}"], client="203.0.113.5")
    (expired,) = cycle.drain_events()
    assert expired.name is EventName.EXPIRED_IDLE
    assert expired.detail == {"client": "203.0.113.5"}
