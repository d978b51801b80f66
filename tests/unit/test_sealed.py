"""Sealed boxes and the sealed-cookie payload: round trips, tampering, and fuzzing (R53-R58)."""

from __future__ import annotations

import contextlib
import hmac
import secrets

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionary.exceptions import ConfigurationError, DecodeError
from sessionary.sansio.sealed import (
    LEGACY_VERSION,
    OPENABLE_VERSIONS,
    SEALED_VERSION,
    SealedPayload,
    Sealer,
    aad,
    b64_decode,
    b64_encode,
    decode_payload,
    encode_payload,
    is_current,
    session_id,
)

K1, K2 = secrets.token_bytes(32), secrets.token_bytes(32)
AAD = aad("cookie", "__Host-session", "session", "")


def payload(**overrides: object) -> SealedPayload:
    fields: dict[str, object] = {
        "iat": 1_000,
        "exp": 2_000,
        "last_seen": 1_500,
        "csrf": b"c" * 16,
        "attributes": {"cart": b"\x01[1,2]", "ü": b""},
        "user": "ada",
        "auth_time": 1_200,
    }
    fields.update(overrides)
    return SealedPayload(**fields)  # type: ignore[arg-type]


def test_seal_and_open_round_trip_with_version_byte_and_random_nonce() -> None:
    sealer = Sealer([K1])
    box = sealer.seal(b"hello", AAD)
    assert box[0] == SEALED_VERSION == 0x02
    assert len(box) == 1 + 24 + 5 + 16
    assert sealer.seal(b"hello", AAD) != box  # random 192-bit nonce
    assert sealer.open(box, AAD) == (b"hello", 0)
    assert is_current(box)
    assert b"hello" not in box


def legacy_box(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """A box as version 0x01 sealed it: AES-256-GCM under the ring key, 96-bit nonce."""
    nonce = secrets.token_bytes(12)
    return bytes([LEGACY_VERSION]) + nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def test_boxes_use_a_subkey_per_box_and_bind_the_version_into_the_aad() -> None:
    sealer = Sealer([K1])
    box = sealer.seal(b"hello", AAD)
    nonce, body = box[1:25], box[25:]
    subkey = hmac.digest(K1, b"sessionary/box/v2" + nonce[:12], "sha256")
    assert AESGCM(subkey).decrypt(nonce[12:], body, bytes([0x02]) + AAD) == b"hello"
    with pytest.raises(InvalidTag):
        AESGCM(K1).decrypt(nonce[12:], body, bytes([0x02]) + AAD)  # not the ring key itself
    # The same construction without the version byte in the AAD is refused.
    unbound = bytes([0x02]) + nonce + AESGCM(subkey).encrypt(nonce[12:], b"hello", AAD)
    assert sealer.open(unbound, AAD) is None
    # A version-2 box read as version 1 (or any other version) is refused.
    assert all(sealer.open(bytes([v]) + box[1:], AAD) is None for v in range(256) if v != 2)


def test_legacy_version_1_boxes_still_open_and_are_reported_for_resealing() -> None:
    ring = Sealer([K1, K2])
    assert {0x01, 0x02} == OPENABLE_VERSIONS
    old = legacy_box(K2, b"old", AAD)
    assert ring.open(old, AAD) == (b"old", 1)
    assert ring.open(legacy_box(K1, b"new key", AAD), AAD) == (b"new key", 0)
    assert not is_current(old)
    assert ring.open(old, aad("cookie", "other", "session", "")) is None  # AAD still binds
    assert ring.open(old[:-1], AAD) is None
    assert Sealer([K1]).open(old, AAD) is None  # retired key


def test_key_ring_seals_with_the_newest_and_opens_with_any() -> None:
    old = Sealer([K2]).seal(b"x", AAD)
    ring = Sealer([K1, K2])
    assert ring.open(old, AAD) == (b"x", 1)  # older key: the caller re-seals
    assert ring.open(ring.seal(b"x", AAD), AAD) == (b"x", 0)
    assert Sealer([K1]).open(old, AAD) is None  # retired key: rejected


def test_aad_binds_the_box_and_joins_without_ambiguity() -> None:
    sealer = Sealer([K1])
    box = sealer.seal(b"x", aad("cookie", "a", "session", "t1"))
    assert sealer.open(box, aad("cookie", "a", "session", "t2")) is None
    assert sealer.open(box, aad("cookie", "b", "session", "t1")) is None
    assert aad("a", "b:c") != aad("a:b", "c")
    assert aad("ab", "c") != aad("a", "bc")


def test_every_single_byte_change_truncation_and_extension_fail_alike() -> None:
    sealer = Sealer([K1])
    box = sealer.seal(b"payload", AAD)
    variants = [box[:i] + bytes([box[i] ^ 1]) + box[i + 1 :] for i in range(len(box))]
    variants += [box[:i] for i in range(len(box))]
    variants += [box + b"\x00", box + box, bytes([0x03]) + box[1:], bytes([0x00]) + box[1:]]
    variants += [bytes([0x01]) + box[1:], b""]
    assert all(sealer.open(v, AAD) is None for v in variants)


def test_sealer_rejects_bad_keys_and_hides_them() -> None:
    with pytest.raises(ConfigurationError):
        Sealer([])
    with pytest.raises(ConfigurationError):
        Sealer([b"short"])
    assert K1.hex() not in repr(Sealer([K1]))


def test_payload_round_trip_and_layout() -> None:
    for p in (payload(), payload(user=None, auth_time=None, attributes={})):
        assert decode_payload(encode_payload(p)) == p
    assert b"cart" in encode_payload(payload())  # no compression before encryption (R57)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x08" + b"\x00" * 40,  # unknown flag
        encode_payload(payload())[:-1],  # truncated
        encode_payload(payload()) + b"\x00",  # trailing byte
        encode_payload(payload(user=None, auth_time=None, attributes={}))[:-2]
        + b"\x00\x02"
        + b"\x00\x01a\x00\x00\x00\x00" * 2,  # the same attribute twice
        encode_payload(payload(user="ab")).replace(b"ab", b"\xff\xfe"),  # invalid UTF-8
    ],
)
def test_malformed_payloads_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_payload(data)


def test_strict_base64url() -> None:
    assert b64_decode(b64_encode(b"\x00\xff\x10")) == b"\x00\xff\x10"
    assert b64_decode("") == b""
    for bad in ("A", "AB=", "AB C", "AB+/", "AB\n", "ABC\u00e9", "AB"[:1] + "Z"):
        assert b64_decode(bad) is None
    assert b64_decode("AB") is None  # "AB" sets unused low bits: not canonical
    assert b64_decode("AA") == b"\x00"


names = st.text(max_size=20)
values = st.binary(max_size=64)


@settings(max_examples=200, deadline=None)
@given(
    iat=st.integers(0, 2**64 - 1),
    exp=st.integers(0, 2**64 - 1),
    seen=st.integers(0, 2**64 - 1),
    csrf=st.binary(min_size=16, max_size=16),
    attributes=st.dictionaries(names, values, max_size=8),
    user=st.none() | st.text(max_size=40),
    auth_time=st.none() | st.integers(0, 2**64 - 1),
    stamp=st.none() | st.integers(0, 2**64 - 1),
    sid=st.none() | st.binary(min_size=16, max_size=16),
    pin=st.integers(0, 2**64 - 1),
)
def test_payload_round_trips(
    iat: int,
    exp: int,
    seen: int,
    csrf: bytes,
    attributes: dict[str, bytes],
    user: str | None,
    auth_time: int | None,
    stamp: int | None,
    sid: bytes | None,
    pin: int,
) -> None:
    p = SealedPayload(iat, exp, seen, csrf, attributes, user, auth_time, stamp, sid)
    if sid is not None:
        p.pin = pin  # a pin travels with a session ID only
    assert decode_payload(encode_payload(p)) == p
    assert session_id(p) == (sid if sid is not None else session_id(p))
    assert len(session_id(p)) == 16
    sealer = Sealer([K1])
    opened = sealer.open(b64_decode(b64_encode(sealer.seal(encode_payload(p), AAD))) or b"", AAD)
    assert opened is not None
    assert decode_payload(opened[0]) == p


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_payload(data)
    assert Sealer([K1]).open(data, AAD) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_breaks_base64(text: str) -> None:
    data = b64_decode(text)
    assert data is None or b64_encode(data) == text


def test_a_payload_without_a_session_id_gets_one_derived_from_its_contents() -> None:
    legacy = payload()
    assert legacy.sid is None
    assert decode_payload(encode_payload(legacy)).pin == 0
    assert session_id(legacy) == session_id(payload())  # every copy: the same session
    assert session_id(legacy) != session_id(payload(csrf=b"d" * 16))
    with pytest.raises(ValueError, match="16 bytes"):
        encode_payload(payload(sid=b"short"))
