"""The expiry arithmetic every store follows (``sessionary.sansio.expiry``), at its edges."""

from __future__ import annotations

import pytest

from sessionary.sansio.expiry import cookie_max_age_s, touch_due, ttl_ms

NOW = 1_750_000_000_000


@pytest.mark.parametrize(("left_ms", "ttl"), [(-5, 1), (0, 1), (1, 1), (2, 2), (90_000, 90_000)])
def test_the_store_ttl_is_what_is_left_and_at_least_a_millisecond(left_ms: int, ttl: int) -> None:
    """``PEXPIRE`` needs a positive time; a session with time left keeps exactly that."""
    assert ttl_ms(now=NOW, accessed=NOW, idle=left_ms, deadline=NOW + 10**9) == ttl
    assert ttl_ms(now=NOW, accessed=NOW - 10**6, idle=10**9, deadline=NOW + left_ms) == ttl


@pytest.mark.parametrize(
    ("left_ms", "max_age"), [(-1000, 0), (0, 0), (999, 0), (1000, 1), (61_999, 61)]
)
def test_the_cookie_max_age_is_whole_seconds_left_never_negative(
    left_ms: int, max_age: int
) -> None:
    assert cookie_max_age_s(now=NOW, deadline=NOW + left_ms, cap_s=10**6) == max_age
    assert cookie_max_age_s(now=NOW, deadline=NOW + 10**9, cap_s=42) == 42


@pytest.mark.parametrize(("since", "due"), [(59_999, False), (60_000, True), (60_001, True)])
def test_a_touch_is_due_once_the_interval_has_passed(since: int, due: bool) -> None:
    assert touch_due(now=NOW, accessed=NOW - since, touch_after=60_000) is due
