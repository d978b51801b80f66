"""The request gate and the commit rules, without any framework (sansio/gate.py, settle.py).

Every adapter only translates its request into a ``RequestInfo`` and the decision into its
framework's answer; these tests are the decisions themselves.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionary.config import CookieOptions, StoreDownPolicy
from sessionary.exceptions import (
    ConfigurationError,
    LockLostError,
    LockNotAcquiredError,
    SessionLimitError,
    SessionReadOnlyError,
    SessionRotatedError,
    StoreConflictError,
    StoreTimeoutError,
    StoreUnavailableError,
)
from sessionary.sansio.core import SessionCore
from sessionary.sansio.csrf import CSRF_FIELD, CsrfFailure, CsrfOptions
from sessionary.sansio.events import EventName
from sessionary.sansio.gate import (
    POLICY_VIOLATION,
    Gate,
    NeedForm,
    Open,
    Refuse,
    RequestInfo,
)
from sessionary.sansio.settle import (
    COMMIT_ERRORS,
    REASONS,
    Answer,
    Settlement,
    delivers_id,
    error_status,
)
from sessionary.sansio.update import ResponseUpdate
from sessionary.testing import session_config
from tests.unit.test_cycle import Harness, write

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=x"
TENANTS = {"a.example.com": "a", "b.example.com": "b"}
SAFE = ("GET", "HEAD", "OPTIONS", "TRACE")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def gate(**options: Any) -> Gate:
    return Gate(SessionCore(session_config()), **options)


def post(**fields: Any) -> RequestInfo:
    headers = fields.pop("headers", {})
    return RequestInfo("POST", "https", "testserver", headers, **fields)


# ------------------------------------------------------------------------ RequestInfo
def test_headers_are_a_mapping_or_a_getter() -> None:
    mapping = RequestInfo(headers={"origin": "https://x"})
    getter = RequestInfo(headers={"origin": "https://x"}.get)
    assert mapping.header("origin") == getter.header("origin") == "https://x"
    assert mapping.header("referer") is None
    assert RequestInfo().header("origin") is None


def test_with_form_records_the_field_and_that_it_was_read() -> None:
    info = post(content_type=FORM)
    assert not info.form_read
    read = info.with_form("t")
    assert (read.form_read, read.form_token) == (True, "t")
    assert read.with_form(None).form_token is None


def test_the_repr_shows_no_cookie_token_or_header_value() -> None:
    info = RequestInfo(
        headers={"x-csrf-token": "H" * 86},
        cookies=["__Host-session=" + "C" * 43],
        tokens=["T" * 43],
        form_token="F" * 86,
    )
    text = repr(info.with_form("F" * 86))
    for secret in ("H" * 20, "C" * 20, "T" * 20, "F" * 20):
        assert secret not in text
    assert "token" not in repr(Open(check_token=True, token="S" * 86)).replace("check_token", "")


# ------------------------------------------------------------------------ plain requests
def test_strict_transport_security_is_for_https_responses_only() -> None:
    assert gate().strict_transport_for("https") is None  # off by default
    value = "max-age=63072000; includeSubDomains"
    core = SessionCore(session_config(strict_transport_security=value))
    on = Gate(core)
    assert on.strict_transport_for("https") == value
    for scheme in ("http", "ws", "wss", "HTTP"):  # never over plain HTTP (RFC 6797 7.2)
        assert on.strict_transport_for(scheme) is None


def test_no_options_opens_every_request() -> None:
    g = gate(csrf=False)
    for method in (*SAFE, *UNSAFE):
        decision = g.decide(RequestInfo(method, headers={"origin": "https://evil.example"}))
        assert decision == Open()


def test_the_default_is_the_origin_check_on_unsafe_methods() -> None:
    g = gate()
    assert g.decide(post()) == Open()  # no Origin: not a browser, passes (SameSite=Lax)
    assert g.decide(post(headers={"origin": "https://testserver"})) == Open()
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        refused = g.decide(post(headers=headers, client="203.0.113.9"))
        assert isinstance(refused, Refuse)
        assert (refused.status, refused.body, refused.close_code) == (403, b"Forbidden", None)
        assert refused.event is not None
        assert refused.event.name is EventName.CSRF_FAIL
        assert refused.event.detail["client"] == "203.0.113.9"
        assert refused.event.detail["method"] == "POST"
    assert g.decide(RequestInfo("GET", headers={"origin": "https://evil.example"})) == Open()


def test_a_samesite_none_cookie_needs_an_origin_without_a_token() -> None:
    core = SessionCore(session_config(cookie=CookieOptions(samesite="none")))
    refused = Gate(core).decide(post())
    assert isinstance(refused, Refuse)
    assert refused.event is not None
    assert refused.event.detail["reason"] == "no-origin"


# ------------------------------------------------------------------------ tenants
def test_tenants_resolve_the_host_or_refuse_400_before_anything_else() -> None:
    g = gate(tenants=TENANTS)
    assert g.decide(RequestInfo(host="a.example.com")) == Open("a")
    assert g.decide(RequestInfo(host="B.example.com:8443")) == Open("b")
    for host in ("evil.example.com", None, ""):
        refused = g.decide(RequestInfo(host=host, headers={"origin": "https://evil.example"}))
        assert refused == Refuse(400, b"Bad Request")
    socket = g.decide(RequestInfo(host="evil.example.com", websocket=True))
    assert isinstance(socket, Refuse)
    assert socket.close_code == POLICY_VIOLATION


def test_a_tenant_callable_is_validated() -> None:
    g = gate(tenants={"a.example.com": "a", "x.example.com": "bad:tenant"}.get)
    assert g.decide(RequestInfo(host="a.example.com")) == Open("a")
    assert isinstance(g.decide(RequestInfo(host="x.example.com")), Refuse)


# ------------------------------------------------------------------------ the CSRF token
def test_the_token_comes_from_the_header_then_the_form() -> None:
    g = gate(csrf=True)
    assert g.decide(post(headers={"x-csrf-token": "t"})) == Open(check_token=True, token="t")
    need = g.decide(post(content_type=f"{FORM}; charset=utf-8"))
    assert need == NeedForm(CSRF_FIELD, CsrfOptions().max_form_bytes)
    read = post(content_type=FORM).with_form("f")
    assert g.decide(read) == Open(check_token=True, token="f")
    header_wins = post(headers={"x-csrf-token": "h"}, content_type=FORM).with_form("f")
    assert g.decide(header_wins) == Open(check_token=True, token="h")
    assert g.decide(post(content_type="application/json")) == Open(check_token=True)
    assert g.decide(RequestInfo("GET", content_type=FORM)) == Open()


def test_multipart_forms_are_read_by_adapters_that_parse_them() -> None:
    assert gate(csrf=True).decide(post(content_type=MULTIPART)) == Open(check_token=True)
    need = gate(csrf=True, multipart=True).decide(post(content_type=MULTIPART))
    assert isinstance(need, NeedForm)


def test_custom_names_and_the_origin_check_first() -> None:
    options = CsrfOptions(header_name="X-Token", field_name="tok", max_form_bytes=10)
    g = gate(csrf=options)
    assert g.decide(post(headers={"x-token": "t"})) == Open(check_token=True, token="t")
    assert g.decide(post(content_type=FORM)) == NeedForm("tok", 10)
    hostile = post(headers={"x-token": "t", "origin": "https://evil.example"})
    assert isinstance(g.decide(hostile), Refuse)


def test_the_token_is_checked_against_the_loaded_session() -> None:
    h = Harness()
    g = Gate(h.core, csrf=True)
    h.request(write(a=1))
    cycle = h.core.begin([f"{h.config.cookie.name}={h.cookie}"])
    h.drive(cycle)
    assert g.csrf is not None
    token = g.csrf.token(cycle)
    info = post(headers={"x-csrf-token": token})
    opened = g.decide(info)
    assert isinstance(opened, Open)
    assert g.check(opened, cycle, info) is None
    for presented, reason in ((None, "missing-token"), ("x" * 86, "bad-token")):
        wrong = Open(check_token=True, token=presented)
        refused = g.check(wrong, cycle, info)
        assert isinstance(refused, Refuse)
        assert refused.status == 403
        assert refused.event is not None
        assert refused.event.detail["reason"] == reason
        assert token not in str(refused.event.detail)  # R75
    assert g.check(Open(), cycle, info) is None  # nothing to check


# ------------------------------------------------------------------------ WebSockets
def test_a_websocket_origin_must_be_the_host_or_listed() -> None:
    g = gate()
    for scheme, origin in (("ws", "http://testserver"), ("wss", "https://testserver")):
        ok = RequestInfo(
            scheme=scheme, host="testserver", headers={"origin": origin}, websocket=True
        )
        assert g.decide(ok) == Open()
    assert g.decide(RequestInfo(host="testserver", websocket=True)) == Open()  # not a browser
    aiohttp_style = {"origin": "https://h"}  # the handshake is an https request there
    handshake = RequestInfo(scheme="https", host="h", headers=aiohttp_style, websocket=True)
    assert g.decide(handshake) == Open()
    foreign = RequestInfo(host="testserver", headers={"origin": "https://evil"}, websocket=True)
    refused = g.decide(foreign)
    assert isinstance(refused, Refuse)
    assert (refused.status, refused.close_code) == (403, POLICY_VIOLATION)
    listed = gate(websocket_origins=["https://evil/"])
    assert listed.decide(foreign) == Open()
    own = RequestInfo(host="testserver", headers={"origin": "http://testserver"}, websocket=True)
    assert isinstance(listed.decide(own), Refuse)  # a list replaces the default


def test_the_csrf_check_does_not_apply_to_a_handshake() -> None:
    socket = RequestInfo("GET", host="h", websocket=True, content_type=FORM)
    assert gate(csrf=True).decide(socket) == Open()


# ------------------------------------------------------------------------ lock, store-down
def test_lock_is_a_bool_or_a_function_of_the_request() -> None:
    assert gate(lock=True).decide(RequestInfo()) == Open(lock=True)
    seen: list[object] = []

    def only_posts(request: object) -> bool:
        seen.append(request)
        return request == "POST /cart"

    g = gate(lock=only_posts)
    assert g.decide(RequestInfo(), "POST /cart") == Open(lock=True)
    assert g.decide(RequestInfo(), "GET /") == Open(lock=False)
    assert seen == ["POST /cart", "GET /"]
    with pytest.raises(ConfigurationError, match="lock"):
        gate(lock="yes")


def test_store_down_is_a_policy_or_a_function_of_the_request() -> None:
    readonly = StoreDownPolicy.FAIL_OPEN_READONLY
    assert gate(store_down=readonly).decide(RequestInfo()) == Open(store_down=readonly)
    assert gate(store_down="fail_closed").decide(RequestInfo()) == Open(
        store_down=StoreDownPolicy.FAIL_CLOSED
    )

    def public(request: Any) -> str | None:
        return "fail_open_readonly" if request.startswith("/public/") else None

    g = gate(store_down=public)
    assert g.decide(RequestInfo(), "/public/home") == Open(store_down=readonly)
    assert g.decide(RequestInfo(), "/account") == Open()
    for bad in ("fail_open", 42):
        with pytest.raises(ConfigurationError, match="store_down"):
            gate(store_down=bad)
    with pytest.raises(ConfigurationError, match="store_down"):
        gate(store_down=lambda request: "nope").decide(RequestInfo())


def test_a_busy_lock_is_409() -> None:
    assert gate().busy(RequestInfo()) == Refuse(409, b"Conflict")


# ------------------------------------------------------------------------ the commit rules
@pytest.mark.parametrize(
    ("error", "status"),
    [
        (StoreUnavailableError(), 503),
        (StoreTimeoutError(), 503),
        (SessionReadOnlyError(), 503),
        (SessionLimitError(1), 403),
        (StoreConflictError(), 409),
        (SessionRotatedError(), 409),
        (LockNotAcquiredError(), 409),
        (LockLostError(), 409),
    ],
)
def test_one_table_from_commit_errors_to_statuses(error: BaseException, status: int) -> None:
    assert isinstance(error, COMMIT_ERRORS)
    assert error_status(error) == status
    plan = gate().settlement(status=200, refused=False)
    answer = plan.after_error(error)
    assert (answer.status, answer.body, answer.cause) == (status, REASONS[status], error)
    assert answer.update is None  # the response's Set-Cookie is discarded


def test_an_error_that_is_no_commit_error_is_refused() -> None:
    with pytest.raises(TypeError):
        error_status(RuntimeError())


SET = ResponseUpdate("__Host-session=x; Path=/", vary_cookie=True, no_store=True)
VARY = ResponseUpdate(vary_cookie=True)


def test_a_successful_response_keeps_its_answer_and_gets_the_headers() -> None:
    plan = gate().settlement(status=200, refused=False)
    assert plan == Settlement(failed=False)
    assert plan.after(SET) == Answer(SET)


def test_a_5xx_is_a_failed_request_unless_commit_on_error() -> None:
    assert gate().settlement(status=502, refused=False).failed
    assert not gate(commit_on_error=True).settlement(status=502, refused=False).failed
    assert gate().settlement(status=502, refused=False).after(SET) == Answer(SET)


def test_a_500_after_the_handler_touched_an_unavailable_session_becomes_503() -> None:
    plan = gate(commit_on_error=True).settlement(status=500, refused=True)
    assert (plan.failed, plan.outage) == (True, True)
    assert plan.after(VARY).status == 503
    assert plan.after_error(StoreUnavailableError()).status == 503
    assert not gate().settlement(status=503, refused=True).outage  # the app's own 503 page


def test_a_handler_that_met_the_outage_is_answered_503_and_refused() -> None:
    outage = StoreUnavailableError()
    plan = gate().settlement(error=outage, refused=True)
    assert plan.refuse is outage
    assert plan.failed
    answer = plan.after(VARY)
    assert (answer.status, answer.update, answer.reraise) == (503, VARY, False)


def test_another_error_is_left_to_the_framework_unless_the_id_changed() -> None:
    plan = gate().settlement(error=RuntimeError(), refused=False)
    assert (plan.failed, plan.refuse, plan.outage) == (True, None, False)
    assert plan.after(VARY) == Answer(reraise=True)
    carried = plan.after(SET)
    assert (carried.status, carried.update, carried.reraise) == (500, SET, True)
    header = ResponseUpdate(token_header=("X-Session-Token", ""))
    assert plan.after(header).status == 500
    lost = plan.after_error(StoreConflictError())
    assert (lost.status, lost.reraise) == (None, True)
    assert not gate(commit_on_error=True).settlement(error=None, refused=False).failed


def test_delivers_id() -> None:
    assert delivers_id(SET)
    assert delivers_id(ResponseUpdate(token_header=("X", "")))
    assert not delivers_id(VARY)


def test_each_settlement_answers_exactly() -> None:
    """The whole answer of every branch: status, body, headers, whether the handler's error
    goes on, and the commit error behind a replaced response."""
    conflict = StoreConflictError()
    kept = Settlement(failed=False)
    assert kept.after(SET) == Answer(SET, None, reraise=False, cause=None)
    assert kept.after(SET).body == b""  # the application's own body is kept
    assert kept.after_error(conflict) == Answer(None, 409, reraise=False, cause=conflict)
    assert kept.after_error(conflict).body == b"Conflict"
    outage = Settlement(failed=True, outage=True, raised=True)
    assert outage.after(VARY) == Answer(VARY, 503, reraise=False, cause=None)
    assert outage.after_error(conflict) == Answer(None, 503, reraise=False, cause=conflict)
    assert outage.after_error(conflict).body == b"Service Unavailable"
    raised = Settlement(failed=True, raised=True)
    assert raised.after(VARY) == Answer(None, None, reraise=True, cause=None)
    assert raised.after(SET) == Answer(SET, 500, reraise=True, cause=None)
    assert raised.after(SET).body == b"Internal Server Error"
    assert raised.after_error(conflict) == Answer(None, None, reraise=True, cause=conflict)


# ------------------------------------------------------------------------ properties
methods = st.sampled_from((*SAFE, *UNSAFE, "PROPFIND", "get", "post"))
header_names = st.sampled_from(
    ("origin", "referer", "sec-fetch-site", "x-csrf-token", "host", "content-type")
)
header_values = st.one_of(
    st.sampled_from(
        (
            "https://testserver",
            "https://evil.example",
            "null",
            "cross-site",
            "same-site",
            "same-origin",
            "none",
            "https://user@testserver",
        )
    ),
    st.text(max_size=40),
)
requests = st.builds(
    RequestInfo,
    method=methods,
    scheme=st.sampled_from(("http", "https", "ws", "wss")),
    host=st.one_of(st.none(), st.sampled_from((*TENANTS, "testserver", "evil.example.com"))),
    headers=st.dictionaries(header_names, header_values, max_size=5),
    client=st.one_of(st.none(), st.just("198.51.100.7")),
    content_type=st.one_of(st.none(), st.sampled_from((FORM, MULTIPART, "text/plain"))),
    websocket=st.booleans(),
    form_token=st.one_of(st.none(), st.text(max_size=5)),
    form_read=st.booleans(),
)
options = st.fixed_dictionaries(
    {},
    optional={
        "csrf": st.sampled_from((None, True, False, CsrfOptions(allow_same_site=True))),
        "tenants": st.just(TENANTS),
        "lock": st.booleans(),
        "multipart": st.booleans(),
        "websocket_origins": st.just(["https://evil.example"]),
    },
)


@settings(max_examples=400, deadline=None)
@given(requests, options)
def test_every_request_gets_one_well_formed_decision(
    info: RequestInfo, opts: dict[str, Any]
) -> None:
    g = gate(**opts)
    decision = g.decide(info)
    assert decision == g.decide(info) or isinstance(decision, Refuse)  # events carry a time
    if isinstance(decision, Refuse):
        assert decision.body == REASONS[decision.status]
        assert decision.status in (400, 403)
        assert (decision.close_code is not None) == info.websocket
        if decision.event is not None:
            assert decision.event.name is EventName.CSRF_FAIL
            detail = decision.event.detail
            assert set(detail) <= {"reason", "method", "client"}
            assert detail["reason"] in {failure.value for failure in CsrfFailure}
            token = info.header("x-csrf-token")
            if token is not None and len(token) > 12:
                assert token not in repr(decision.event)  # R75: never a token value
    elif isinstance(decision, NeedForm):
        assert not info.form_read
        assert not info.websocket
        assert info.method.upper() not in SAFE
        assert g.csrf is not None
        assert g.csrf.options.require_token
    else:
        assert decision.lock == opts.get("lock", False)
        if decision.check_token:
            assert info.method.upper() not in SAFE
            assert not info.websocket
        if "tenants" in opts:
            assert decision.tenant == TENANTS[info.host or ""]
        else:
            assert decision.tenant == ""


@settings(max_examples=200, deadline=None)
@given(requests.filter(lambda info: info.method.upper() in SAFE and not info.websocket))
def test_safe_methods_are_never_refused_for_csrf(info: RequestInfo) -> None:
    for csrf in (None, True, CsrfOptions(require_origin=True)):
        decision = gate(csrf=csrf).decide(info)
        assert decision == Open()


@settings(max_examples=300, deadline=None)
@given(st.integers(100, 599), st.booleans(), st.booleans())
def test_the_failed_request_rule(status: int, commit_on_error: bool, refused: bool) -> None:
    plan = gate(commit_on_error=commit_on_error).settlement(status=status, refused=refused)
    outage = status == 500 and refused
    assert plan.outage == outage
    assert plan.failed == (outage or (status >= 500 and not commit_on_error))
    answer = plan.after(VARY)
    assert answer.status == (503 if outage else None)
    assert not answer.reraise


# ------------------------------------------------------------------------ blind opening
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE", "get"])
def test_a_safe_method_opens_blind_unless_tenants_must_be_resolved(method: str) -> None:
    assert gate().opens_blind(method)
    assert gate(csrf=True).opens_blind(method)
    assert not gate(tenants={"a.example": "a"}).opens_blind(method)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_an_unsafe_method_opens_blind_only_without_the_origin_check(method: str) -> None:
    assert not gate().opens_blind(method)
    assert not gate(csrf=True).opens_blind(method)
    assert gate(csrf=False).opens_blind(method)


@settings(max_examples=200)
@given(method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE"]), csrf=st.booleans())
def test_opening_blind_means_decide_opens_whatever_the_headers(method: str, csrf: bool) -> None:
    """The promise adapters rely on: a blind method is Open, with no token to check."""
    mount = gate(csrf=None if csrf else False)
    if not mount.opens_blind(method):
        return
    hostile = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    for headers in ({}, hostile):
        decision = mount.decide(RequestInfo(method, "https", "testserver", headers))
        assert isinstance(decision, Open)
        assert not decision.check_token
