"""Merging a ResponseUpdate into raw (ASGI) headers: the fast path agrees with the general one."""

from __future__ import annotations

import pytest

from sessionary.sansio.cycle import ResponseUpdate
from sessionary.sansio.headers import merge_headers, merge_raw_headers


def _raw(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("Content-Type", "text/plain")],
        [("Vary", "Accept-Encoding")],
        [("Vary", "cookie")],
        [("Vary", "*"), ("Content-Length", "2")],
        [("Vary", "Accept"), ("Vary", "Origin")],
        [("Cache-Control", "max-age=60")],
    ],
)
@pytest.mark.parametrize(
    "update",
    [
        ResponseUpdate(),
        ResponseUpdate(vary_cookie=True),
        ResponseUpdate(vary_cookie=True, vary_name="X-Session"),
        ResponseUpdate(set_cookie="s=1; Path=/", vary_cookie=True, no_store=True),
        ResponseUpdate(set_cookie="s=; Max-Age=0", no_store=True),
        ResponseUpdate(vary_cookie=True, vary_name="X-Session", token_header=("X-Session", "t")),
        ResponseUpdate(vary_cookie=True, cache_control="no-store"),
        ResponseUpdate(vary_cookie=True, vary_name="X-Session", cache_control="private"),
        ResponseUpdate(cache_control="no-store"),
    ],
)
def test_raw_merge_matches_the_string_merge(
    headers: list[tuple[str, str]], update: ResponseUpdate
) -> None:
    raw = merge_raw_headers(_raw(headers), update)
    nothing = update.cache_control is None and not update.vary_cookie
    if update.set_cookie is None and not update.no_store and nothing:
        assert raw == _raw(headers)  # nothing to do: the headers pass through untouched
    else:
        assert raw == _raw(merge_headers(headers, update))


def test_read_response_gets_vary_cookie_appended() -> None:
    headers = [(b"content-type", b"text/plain")]
    merged = merge_raw_headers(headers, ResponseUpdate(vary_cookie=True))
    assert merged == [(b"content-type", b"text/plain"), (b"vary", b"Cookie")]
    assert headers == [(b"content-type", b"text/plain")]  # the input is not modified


@pytest.mark.parametrize("merge", ["raw", "strings"])
def test_a_signed_in_default_never_replaces_the_applications_cache_control(merge: str) -> None:
    update = ResponseUpdate(vary_cookie=True, cache_control="no-store")

    def merged(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if merge == "strings":
            return merge_headers(headers, update)
        return [(k.decode(), v.decode()) for k, v in merge_raw_headers(_raw(headers), update)]

    assert ("cache-control", "no-store") in [(k.lower(), v) for k, v in merged([])]
    own = merged([("Cache-Control", "private, max-age=60")])
    assert [v for k, v in own if k.lower() == "cache-control"] == ["private, max-age=60"]
    # R15's replacement still wins over the application's policy
    fresh = merge_headers([("Cache-Control", "public")], ResponseUpdate(no_store=True))
    assert fresh == [("Cache-Control", "no-store")]


# ------------------------------------------------------------------ ResponseUpdate.headers()


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (ResponseUpdate(), []),
        (ResponseUpdate(vary_cookie=True), [("Vary", "Cookie")]),
        (
            ResponseUpdate(set_cookie="s=1; Path=/", vary_cookie=True, no_store=True),
            [("Set-Cookie", "s=1; Path=/"), ("Cache-Control", "no-store"), ("Vary", "Cookie")],
        ),
        # R15's no-store wins over a signed-in session's default policy
        (
            ResponseUpdate(no_store=True, cache_control="private"),
            [("Cache-Control", "no-store")],
        ),
        (ResponseUpdate(cache_control="private"), [("Cache-Control", "private")]),
        (
            ResponseUpdate(
                vary_cookie=True, vary_name="X-Session", token_header=("X-Session", "t")
            ),
            [("X-Session", "t"), ("Vary", "X-Session")],
        ),
        (ResponseUpdate(token_header=("X-Session", "")), [("X-Session", "")]),
    ],
)
def test_headers_lists_exactly_what_the_update_asks_for(
    update: ResponseUpdate, expected: list[tuple[str, str]]
) -> None:
    assert update.headers() == expected


def test_an_updates_repr_shows_its_flags_and_hides_the_cookie_and_the_token() -> None:
    update = ResponseUpdate(
        set_cookie="s=SECRETID; Path=/",
        vary_cookie=True,
        no_store=True,
        cache_control="private",
        vary_name="X-Session",
        token_header=("X-Session", "SECRETID"),
    )
    assert repr(update) == (
        "ResponseUpdate(set_cookie=<hidden>, vary_cookie=True, no_store=True, "
        "cache_control='private', vary_name='X-Session', "
        "token_header=('X-Session', '<hidden>'))"
    )
    assert repr(ResponseUpdate()) == (
        "ResponseUpdate(set_cookie=None, vary_cookie=False, no_store=False, "
        "cache_control=None, vary_name='Cookie', token_header=None)"
    )
