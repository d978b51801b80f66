"""Reading the session ID from a request header (R16, R17, R20, R22)."""

from __future__ import annotations

import pytest

from sessionary import ConfigurationError
from sessionary.sansio.cookies import CookieReadStatus
from sessionary.sansio.core import SessionCore
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import mint_token
from sessionary.sansio.ops import CommitResult, CommitStatus, Load
from sessionary.sansio.transport import read_header_token
from sessionary.testing import session_config

TOKEN = mint_token().value
OTHER = mint_token().value


def read(values: list[str], *, authorization: bool = False) -> tuple[CookieReadStatus, str]:
    result = read_header_token(values, authorization=authorization, max_length=128)
    return result.status, result.value


def test_plain_header_values() -> None:
    assert read([]) == (CookieReadStatus.ABSENT, "")
    assert read([""]) == (CookieReadStatus.ABSENT, "")
    assert read([f"  {TOKEN} "]) == (CookieReadStatus.PRESENT, TOKEN)
    assert read([TOKEN, TOKEN]) == (CookieReadStatus.PRESENT, TOKEN)


def test_differing_values_conflict_and_neither_wins() -> None:
    assert read([TOKEN, OTHER])[0] is CookieReadStatus.CONFLICT
    assert read([TOKEN, "x" * 200])[0] is CookieReadStatus.CONFLICT


def test_oversize_values_are_rejected_before_parsing() -> None:
    assert read(["x" * 129])[0] is CookieReadStatus.OVERSIZE
    assert read(["Session " + "x" * 10_000], authorization=True)[0] is CookieReadStatus.OVERSIZE


def test_authorization_scheme() -> None:
    assert read([f"Session {TOKEN}"], authorization=True) == (CookieReadStatus.PRESENT, TOKEN)
    assert read([f"session   {TOKEN}"], authorization=True) == (CookieReadStatus.PRESENT, TOKEN)
    # Other schemes belong to someone else: ignored, not an error.
    assert read(["Bearer abc.def"], authorization=True)[0] is CookieReadStatus.ABSENT
    assert read([TOKEN], authorization=True)[0] is CookieReadStatus.ABSENT
    assert read(["Session"], authorization=True)[0] is CookieReadStatus.ABSENT
    both = read(["Bearer abc", f"Session {TOKEN}"], authorization=True)
    assert both == (CookieReadStatus.PRESENT, TOKEN)


# A JWT of the usual size: three base64url parts, 340 characters in all.
JWT = ".".join(["eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", "e" * 250, "s" * 52])


def test_other_authorization_schemes_are_ignored_whatever_their_length() -> None:
    assert len(JWT) == 340
    for value in (f"Bearer {JWT}", "Basic " + "x" * 5000, "Sessionx " + "y" * 500, "  Bearer  z"):
        assert read([value], authorization=True) == (CookieReadStatus.ABSENT, "")
    with_ours = read([f"Bearer {JWT}", f"Session {TOKEN}"], authorization=True)
    assert with_ours == (CookieReadStatus.PRESENT, TOKEN)
    # Our own scheme is still capped: an oversize Session credential is refused unparsed.
    assert read(["Session " + "x" * 300], authorization=True)[0] is CookieReadStatus.OVERSIZE
    assert read([f"\tsession\t{TOKEN}"], authorization=True) == (CookieReadStatus.PRESENT, TOKEN)


def authorization_core() -> SessionCore:
    return SessionCore(session_config(transport="header", token_header="Authorization"))


def test_a_bearer_token_through_the_core_gives_no_event_and_no_response_header() -> None:
    cycle = authorization_core().begin([], token_headers=[f"Bearer {JWT}"])
    assert cycle.next_op() is None
    cycle.finish()
    assert cycle.drain_events() == []
    assert cycle.response().token_header is None
    # Our own scheme with a malformed ID is still reported and forgotten.
    bad = authorization_core().begin([], token_headers=["Session not-a-valid-id"])
    bad.finish()
    assert [(e.name, e.detail["reason"]) for e in bad.drain_events()] == [
        (EventName.INVALID_ID, "malformed")
    ]
    assert bad.response().token_header == ("X-Session-Token", "")


# Arbitrary and hostile header values: tests/unit/test_fuzz_security.py.


def header_core(**overrides: object) -> SessionCore:
    return SessionCore(session_config(transport="header", **overrides))


def test_header_mode_ignores_cookies_and_reads_the_header() -> None:
    core = header_core()
    assert core.request_header == "x-session-token"
    cookie_only = core.begin([f"__Host-session={TOKEN}"])
    assert cookie_only.next_op() is None  # the cookie is not this mount's transport
    cycle = core.begin([f"__Host-session={OTHER}"], token_headers=[TOKEN])
    assert isinstance(cycle.next_op(), Load)


def test_cookie_mode_ignores_the_header() -> None:
    core = SessionCore(session_config())
    assert core.request_header is None
    assert core.begin([], token_headers=[TOKEN]).next_op() is None


def test_new_ids_travel_in_the_response_header() -> None:
    core = header_core(response_token_header="X-New-Session")
    cycle = core.begin([])
    cycle.session["a"] = 1
    cycle.finish()
    op = cycle.next_op()
    assert op is not None
    cycle.send(CommitResult(CommitStatus.OK))
    update = cycle.response()
    assert update.set_cookie is None
    assert update.token_header is not None
    name, value = update.token_header
    assert name == "X-New-Session"
    assert len(value) == 43
    assert ("Vary", "X-Session-Token") in update.headers()
    assert ("Cache-Control", "no-store") in update.headers()


def test_an_invalid_header_id_is_answered_with_an_empty_token() -> None:
    cycle = header_core().begin([], token_headers=["not-a-valid-id"])
    cycle.finish()
    assert cycle.response().token_header == ("X-Session-Token", "")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"transport": "url"}, "transport must be"),
        ({"token_header": "X Session"}, "token_header must be"),
        ({"token_header": ""}, "token_header must be"),
        ({"response_token_header": "Set-Cookie"}, "cannot be"),
        ({"token_header": "cookie"}, "cannot be"),
    ],
    ids=["transport", "space", "empty", "set-cookie", "cookie"],
)
def test_transport_configuration_is_validated(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        session_config(**overrides)  # a random key: only the transport option is wrong
