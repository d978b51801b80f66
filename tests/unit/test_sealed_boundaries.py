"""The sealed cookie's exact boundaries: its expiry to the millisecond (R35, R54) and its
4096-byte cap applied before any decoding or decryption (R20).

The payloads are sealed here directly (:func:`sealed_cookie`), so the times in them are
exact and do not depend on how often a browser came back.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sessionary.sansio import sealed_flow
from sessionary.sansio.cookies import MAX_COOKIE_BYTES
from sessionary.sansio.core import SessionCore
from sessionary.sansio.events import EventName
from sessionary.sansio.modes import SealedMode
from sessionary.sansio.sealed import (
    SealedPayload,
    Sealer,
    b64_decode,
    b64_encode,
    encode_payload,
)
from sessionary.sansio.sealed_flow import cookie_aad
from sessionary.testing import FakeClock, session_config

NAME = "__Host-session"
IDLE_MS = 600_000
ABSOLUTE_MS = 3_600_000
IAT = 1_750_000_000_000
EXP = IAT + ABSOLUTE_MS


def sealed_core(clock: FakeClock) -> SessionCore:
    config = session_config(
        idle_timeout=IDLE_MS // 1000, absolute_timeout=ABSOLUTE_MS // 1000, clock=clock
    )
    return SessionCore(config, mode=SealedMode())


def sealer_of(core: SessionCore) -> Sealer:
    mode = core.mode
    assert isinstance(mode, SealedMode)
    return mode.sealer


def sealed_cookie(core: SessionCore, *, last_seen: int, exp: int = EXP) -> str:
    payload = SealedPayload(
        iat=IAT, exp=exp, last_seen=last_seen, csrf=b"c" * 16, attributes={"a": b"\x021"}
    )
    return b64_encode(sealer_of(core).seal(encode_payload(payload), cookie_aad(NAME, "")))


def opened_at(now: int, *, last_seen: int) -> EventName | None:
    """Open a cookie at ``now``: ``None`` when its session is admitted, else the event."""
    clock = FakeClock()
    clock.set((now + 0.5) / 1000)  # half a millisecond in: float rounding cannot move `now`
    core = sealed_core(clock)
    cycle = core.begin([f"{NAME}={sealed_cookie(core, last_seen=last_seen)}"])
    assert cycle.now == now
    events = [e.name for e in cycle.drain_events()]
    if not cycle.session.is_new:
        assert cycle.session.get("a") == 1
        assert events == []
        return None
    assert dict(cycle.session) == {}
    cycle.finish()
    update = cycle.response()
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    (event,) = events
    return event


@pytest.mark.parametrize(
    ("now", "expected"),
    [(EXP - 1, None), (EXP, EventName.EXPIRED_ABSOLUTE), (EXP + 1, EventName.EXPIRED_ABSOLUTE)],
    ids=["1ms-before", "at", "1ms-after"],
)
def test_a_sealed_session_ends_exactly_at_its_absolute_deadline(
    now: int, expected: EventName | None
) -> None:
    """Seen a second ago (the idle timeout far away), yet the sealed ``exp`` ends it."""
    assert opened_at(now, last_seen=now - 1000) is expected


LAST_SEEN = IAT + 1000


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (LAST_SEEN + IDLE_MS - 1, None),
        (LAST_SEEN + IDLE_MS, EventName.EXPIRED_IDLE),
        (LAST_SEEN + IDLE_MS + 1, EventName.EXPIRED_IDLE),
    ],
    ids=["1ms-before", "at", "1ms-after"],
)
def test_a_sealed_session_ends_exactly_at_its_idle_timeout(
    now: int, expected: EventName | None
) -> None:
    assert opened_at(now, last_seen=LAST_SEEN) is expected


# ------------------------------------------------------------------ R20: the cap comes first


class Spies:
    """Counts every base64 decode and every attempt to open (decrypt) a sealed box."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.decoded = 0
        self.decrypted = 0
        real_decode = b64_decode

        def decode(text: str) -> bytes | None:
            self.decoded += 1
            return real_decode(text)

        monkeypatch.setattr(sealed_flow, "b64_decode", decode)
        real_open = Sealer.open

        def open_box(sealer: Sealer, box: bytes, associated: bytes) -> tuple[bytes, int] | None:
            self.decrypted += 1
            return real_open(sealer, box, associated)

        monkeypatch.setattr(Sealer, "open", open_box)


def forged_box_text(length: int) -> str:
    """Canonical base64url of ``length`` characters for a box with the right version byte:
    without a cap, it would be decoded and decrypted."""
    text = b64_encode(bytes([0x01]) + b"\x00" * length)[:length]
    assert len(text) % 4 != 1
    assert b64_decode(text) is not None
    return text


CAP = MAX_COOKIE_BYTES - len(NAME)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(forged_box_text, id="forged-box"),
        pytest.param(lambda n: "%" * n, id="not-base64"),
    ],
)
def test_an_oversize_sealed_cookie_is_refused_before_decoding_or_decryption(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[int], str]
) -> None:
    core = sealed_core(FakeClock(IAT / 1000))
    spies = Spies(monkeypatch)
    for size in (CAP + 1, CAP + 2, 5000, 64 * 1024):
        cycle = core.begin([f"{NAME}={make(size)}"])
        assert cycle.session.is_new
        events = [(e.name, e.detail) for e in cycle.drain_events()]
        assert events == [(EventName.INVALID_ID, {"reason": "unreadable"})]
        cycle.finish()
        assert "Max-Age=0" in str(cycle.response().set_cookie)
    assert (spies.decoded, spies.decrypted) == (0, 0)


def test_a_cookie_at_the_cap_is_decoded_and_decrypted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control of the test above: the spies see the work a cookie within the cap costs."""
    core = sealed_core(FakeClock(IAT / 1000))
    spies = Spies(monkeypatch)
    value = forged_box_text(CAP - 1 if CAP % 4 == 1 else CAP)
    cycle = core.begin([f"{NAME}={value}"])
    assert cycle.session.is_new  # a forged box does not open
    assert (spies.decoded, spies.decrypted) == (1, 1)
    genuine = sealed_cookie(core, last_seen=IAT)
    cycle = core.begin([f"{NAME}={genuine}"])
    assert cycle.session.get("a") == 1
    assert (spies.decoded, spies.decrypted) == (2, 2)
