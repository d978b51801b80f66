"""Reading the session ID from a request header (R16, R17, R20, R22)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionary import ConfigurationError
from sessionary.sansio.cookies import CookieReadStatus
from sessionary.sansio.cycle import SessionCore
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


@given(st.lists(st.text(max_size=300), max_size=4), st.booleans())
def test_any_header_values_parse_without_error(values: list[str], authorization: bool) -> None:
    result = read_header_token(values, authorization=authorization, max_length=128)
    if result.status is CookieReadStatus.PRESENT:
        assert 0 < len(result.value) <= 128


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
