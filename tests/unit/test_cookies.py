"""Cookie reading and Set-Cookie rendering (R8, R11-R15, R20-R23)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionary.config import CookieOptions
from sessionary.exceptions import SessionTooLargeError
from sessionary.sansio.cookies import (
    CookieReadStatus,
    read_cookie,
    render_clear_cookie,
    render_set_cookie,
)

NAME = "__Host-session"
V1 = "A" * 43
V2 = "B" * 43


def read(*headers: str, limit: int = 128) -> tuple[CookieReadStatus, str]:
    result = read_cookie(list(headers), NAME, limit)
    return result.status, result.value


def test_absent() -> None:
    assert read() == (CookieReadStatus.ABSENT, "")
    assert read("other=1; more=2") == (CookieReadStatus.ABSENT, "")


def test_present_with_whitespace_and_other_cookies() -> None:
    assert read(f"a=1;  {NAME}={V1} ; b=2") == (CookieReadStatus.PRESENT, V1)
    assert read(f"{NAME}=\t{V1}") == (CookieReadStatus.PRESENT, V1)


def test_exact_case_sensitive_name() -> None:
    for lookalike in ("__HOST-session", "__host-session", "__Host-Session", "x__Host-session"):
        assert read(f"{lookalike}={V1}")[0] is CookieReadStatus.ABSENT


def test_several_header_lines() -> None:
    assert read("a=1", f"b=2; {NAME}={V1}") == (CookieReadStatus.PRESENT, V1)


def test_duplicates() -> None:
    assert read(f"{NAME}={V1}; {NAME}={V1}") == (CookieReadStatus.PRESENT, V1)
    assert read(f"{NAME}={V1}", f"{NAME}={V1}")[0] is CookieReadStatus.PRESENT
    assert read(f"{NAME}={V1}; {NAME}={V2}")[0] is CookieReadStatus.CONFLICT
    assert read(f"{NAME}={V1}", f"{NAME}={V2}")[0] is CookieReadStatus.CONFLICT


def test_oversize_is_rejected_before_anything_else() -> None:
    assert read(f"{NAME}={'A' * 129}")[0] is CookieReadStatus.OVERSIZE
    assert read(f"{NAME}={'A' * 10_000}")[0] is CookieReadStatus.OVERSIZE
    assert read(f"{NAME}={V1}; {NAME}={'A' * 200}")[0] is CookieReadStatus.CONFLICT


def test_values_containing_equals_signs_are_kept_whole() -> None:
    assert read(f"{NAME}=a=b=c") == (CookieReadStatus.PRESENT, "a=b=c")
    assert read(f"{NAME}=") == (CookieReadStatus.PRESENT, "")
    assert read(f"{NAME}; x=1")[0] is CookieReadStatus.ABSENT  # no '=': not our cookie


@given(st.lists(st.text(max_size=300), max_size=4))
def test_arbitrary_headers_never_raise(headers: list[str]) -> None:
    result = read_cookie(headers, NAME, 128)
    assert result.status in CookieReadStatus
    assert len(result.value) <= 128
    assert repr(result).startswith("CookieRead(")


def attributes(header: str) -> dict[str, str]:
    _, *parts = (p.strip() for p in header.split(";"))
    return {k.lower(): v for k, _, v in (p.partition("=") for p in parts)}


def test_default_set_cookie() -> None:
    header = render_set_cookie(CookieOptions(), V1, 3600)
    assert header.startswith(f"{NAME}={V1}; ")
    assert attributes(header) == {
        "max-age": "3600",
        "path": "/",
        "secure": "",
        "httponly": "",
        "samesite": "Lax",
    }


def test_browser_session_cookie_has_no_max_age() -> None:
    assert "Max-Age" not in render_set_cookie(CookieOptions(), V1, None)


@pytest.mark.parametrize(("samesite", "rendered"), [("strict", "Strict"), ("none", "None")])
def test_samesite_variants(samesite: str, rendered: str) -> None:
    options = CookieOptions(samesite=samesite)  # type: ignore[arg-type]
    assert attributes(render_set_cookie(options, V1, 1))["samesite"] == rendered


def test_domain_and_partitioned_only_when_configured() -> None:
    options = CookieOptions(name="__Secure-s", domain="example.com", partitioned=True)
    found = attributes(render_set_cookie(options, V1, 1))
    assert found["domain"] == "example.com"
    assert "partitioned" in found
    assert "domain" not in attributes(render_set_cookie(CookieOptions(), V1, 1))


def test_negative_max_age_is_clamped() -> None:
    assert attributes(render_set_cookie(CookieOptions(), V1, -5))["max-age"] == "0"


def test_clearing_cookie_matches_name_path_and_domain() -> None:
    options = CookieOptions(name="__Secure-s", domain="example.com", path="/app")
    cleared = render_clear_cookie(options)
    assert cleared.startswith("__Secure-s=; ")
    found = attributes(cleared)
    assert found["max-age"] == "0"
    assert found["path"] == "/app"
    assert found["domain"] == "example.com"
    assert "secure" in found
    assert "httponly" in found


def test_oversized_cookies_are_refused() -> None:
    render_set_cookie(CookieOptions(), "x" * (4096 - len(NAME)), 1)
    with pytest.raises(SessionTooLargeError) as info:
        render_set_cookie(CookieOptions(), "x" * (4097 - len(NAME)), 1)
    assert (info.value.size, info.value.limit) == (4097, 4096)
