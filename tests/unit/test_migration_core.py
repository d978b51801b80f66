"""The pure half of live migration: derived IDs, conversion, the planned create, the decoders.

The decoders read bytes another library wrote (and, through it, its users): any input gives
a mapping or a :class:`~sessionary.exceptions.MigrationError`, nothing else (hypothesis).
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionary.backends.legacy.formats import (
    decode_flask_session,
    decode_starlette_cookie,
    decode_starsessions,
)
from sessionary.exceptions import MigrationError
from sessionary.sansio.core import SessionCore
from sessionary.sansio.ids import parse_token
from sessionary.sansio.migration import (
    Converted,
    LegacySession,
    convert,
    derive_token,
    plan_create,
    valid_user_id,
)
from sessionary.testing import FakeClock, session_config

FUZZ = settings(max_examples=300, deadline=None, derandomize=True)
NOW = 1_750_000_000_000


@pytest.fixture
def core() -> SessionCore:
    return SessionCore(session_config(clock=FakeClock(NOW / 1000)))


def test_the_derived_id_is_a_well_formed_id_fixed_per_source_and_legacy_id() -> None:
    key = secrets.token_bytes(32)
    token = derive_token(key, "flask-session", "abc123")
    assert parse_token(token.value) is not None
    assert derive_token(key, "flask-session", "abc123").value == token.value
    others = {
        derive_token(key, "starsessions", "abc123").value,
        derive_token(key, "flask-session", "abc124").value,
        derive_token(secrets.token_bytes(32), "flask-session", "abc123").value,
    }
    assert token.value not in others
    assert len(others) == 3


def test_conversion_names_what_the_codec_cannot_represent(core: SessionCore) -> None:
    deep: object = 1
    for _ in range(70):
        deep = [deep]
    data: dict[Any, object] = {"cart": [1, 2], "deep": deep, 3: "not a str key", "obj": object()}
    converted = convert(core, data)
    assert set(converted.attributes) == {"cart"}
    assert converted.dropped == ("3", "deep", "obj")
    assert converted.size == len("cart") + len(converted.attributes["cart"])


def test_the_planned_create_keeps_the_remaining_lifetime_never_more(core: SessionCore) -> None:
    token = derive_token(secrets.token_bytes(32), "s", "id")
    converted = Converted({"a": b"x"})
    absolute = core.config.absolute_timeout_ms
    soon = plan_create(core, token, converted, now=NOW, expires_at=NOW + 60_000, user="7")
    assert soon.deadline == NOW + 60_000
    assert soon.binding is not None
    assert soon.binding.deadline == soon.deadline  # the user index keeps it no longer
    assert soon.user == "7"
    assert soon.auth_time is None  # unknown: require_recent_auth asks again
    far = plan_create(core, token, converted, now=NOW, expires_at=NOW + 10 * absolute, user=None)
    assert far.deadline == NOW + absolute
    assert far.binding is None
    unknown = plan_create(core, token, converted, now=NOW, expires_at=None, user=None)
    assert unknown.deadline == NOW + absolute
    assert unknown.key == core.keyring.storage_key(token.selector, 0, "")
    assert (
        plan_create(core, token, converted, now=NOW, expires_at=None, user=None, tenant="t").key
        != unknown.key
    )


def test_only_what_login_accepts_is_a_user_id() -> None:
    assert valid_user_id("42") == "42"
    assert valid_user_id("") is None
    assert valid_user_id("x" * 257) is None
    assert valid_user_id("a\nb") is None


def test_legacy_sessions_never_show_their_id_or_data() -> None:
    secret = secrets.token_urlsafe(16)
    shown = repr(LegacySession(secret, {"token": secret}, 1))
    assert secret not in shown


def test_the_decoders_read_what_the_libraries_write() -> None:
    meta = {"created": 1_700_000_000.0, "lifetime": 3600, "last_access": 1.0}
    data, expires = decode_starsessions(json.dumps({"a": 1, "__metadata__": meta}).encode())
    assert (data, expires) == ({"a": 1}, 1_700_003_600_000)
    session_only = {"created": 1.0, "lifetime": 0}
    assert decode_starsessions(json.dumps({"__metadata__": session_only}).encode()) == ({}, None)
    assert decode_flask_session(msgpack.packb({"_permanent": True, "b": [1]})) == {"b": [1]}
    assert decode_flask_session(b'{"c": 2}') == {"c": 2}  # SESSION_SERIALIZATION_FORMAT=json
    assert decode_starlette_cookie(base64.b64encode(b'{"d": 3}')) == {"d": 3}


def test_a_pickled_record_is_refused_by_name() -> None:
    with pytest.raises(MigrationError) as refused:
        decode_flask_session(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.")
    assert refused.value.reason == "pickled record"


deep_json = st.integers(min_value=1, max_value=100_000).map(lambda n: b"[" * n + b"]" * n)
junk = st.one_of(st.binary(max_size=300), deep_json, st.just(b"\xdc\xff\xff" * 50))


@FUZZ
@given(junk)
def test_any_bytes_give_a_mapping_or_a_migration_error(raw: bytes) -> None:
    for decode in (
        lambda b: decode_starsessions(b)[0],
        decode_flask_session,
        decode_starlette_cookie,
        lambda b: decode_starlette_cookie(base64.b64encode(b)),
    ):
        try:
            value = decode(raw)
        except MigrationError:
            continue
        assert isinstance(value, dict)
