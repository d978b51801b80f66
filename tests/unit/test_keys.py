"""Key ring: HKDF (RFC 5869 vectors), keyed hashes, constant-time comparison (R5, R25, R56)."""

from __future__ import annotations

import hmac
import re

import pytest

from sessionary.sansio.keys import PURPOSES, KeyRing, hkdf_sha256


@pytest.mark.parametrize(
    ("ikm", "salt", "info", "length", "okm"),
    [
        (  # RFC 5869 A.1
            "0b" * 22,
            "000102030405060708090a0b0c",
            "f0f1f2f3f4f5f6f7f8f9",
            42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (  # RFC 5869 A.2
            "".join(f"{i:02x}" for i in range(0x00, 0x50)),
            "".join(f"{i:02x}" for i in range(0x60, 0xB0)),
            "".join(f"{i:02x}" for i in range(0xB0, 0x100)),
            82,
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87",
        ),
        (  # RFC 5869 A.3 (zero-length salt and info)
            "0b" * 22,
            "",
            "",
            42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ],
)
def test_hkdf_matches_rfc_5869(ikm: str, salt: str, info: str, length: int, okm: str) -> None:
    derived = hkdf_sha256(bytes.fromhex(ikm), bytes.fromhex(info), length, bytes.fromhex(salt))
    assert derived.hex() == okm


def test_hkdf_length_limit() -> None:
    with pytest.raises(ValueError, match="8160"):
        hkdf_sha256(b"k", b"i", 255 * 32 + 1)


def test_storage_keys_and_digests() -> None:
    ring = KeyRing([b"a" * 32, b"b" * 32])
    key = ring.storage_key(b"selector")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", key)
    assert key == ring.storage_key(b"selector")
    assert key != ring.storage_key(b"selector", generation=1)
    assert key != ring.storage_key(b"selectos")
    digest = ring.validator_digest(b"validator")
    assert len(digest) == 16
    assert digest != ring.validator_digest(b"validator", generation=1)
    assert KeyRing([b"c" * 32]).storage_key(b"selector") != key  # keyed, not a plain hash
    assert len(ring) == 2
    assert "generations" in repr(ring)
    assert b"a" * 32 not in repr(ring).encode()


def test_fingerprints_are_keyed_short_and_stable() -> None:
    ring = KeyRing([b"a" * 32])
    assert ring.fingerprint("id") == ring.fingerprint(b"id")
    assert re.fullmatch(r"[0-9a-f]{16}", ring.fingerprint("id"))
    assert KeyRing([b"z" * 32]).fingerprint("id") != ring.fingerprint("id")


def test_digest_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert KeyRing.digests_equal(b"x", b"x") is True
    assert KeyRing.digests_equal(b"x", b"y") is False
    assert len(calls) == 2


def test_an_empty_ring_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        KeyRing([])


def test_purpose_subkeys_are_distinct_per_purpose_and_generation() -> None:
    ring = KeyRing([b"a" * 32, b"b" * 32])
    seen: set[bytes] = set()
    for purpose, info in PURPOSES.items():
        keys = ring.subkeys(purpose)
        assert len(keys) == 2
        assert all(len(k) == 32 for k in keys)
        assert keys[0] == hkdf_sha256(b"a" * 32, info)  # HKDF-SHA256 with the purpose's info
        seen.update(keys)
    assert len(seen) == 2 * len(PURPOSES)  # no key serves two purposes or two generations
    assert len({*PURPOSES.values(), b"session-lookup", b"session-validator"}) == len(PURPOSES) + 2
    with pytest.raises(ValueError, match="unknown key purpose"):
        ring.subkeys("nope")


def test_refs_and_client_labels_survive_a_rotation_of_the_ring() -> None:
    old, new = b"o" * 32, b"n" * 32
    before, after, unrelated = KeyRing([old]), KeyRing([new, old]), KeyRing([new])
    key = before.storage_key(b"selector")
    assert before.session_ref(key) == after.session_ref(key) == unrelated.session_ref(key)
    assert before.session_ref(key) != before.session_ref(before.storage_key(b"other"))
    label = before.fingerprint("client:192.0.2.1")
    assert after.fingerprint_matches("client:192.0.2.1", label)  # made under the old secret
    assert after.fingerprint_matches("client:192.0.2.1", after.fingerprint("client:192.0.2.1"))
    assert not after.fingerprint_matches("client:192.0.2.2", label)
    assert not unrelated.fingerprint_matches("client:192.0.2.1", label)  # old secret retired
    assert not after.fingerprint_matches("client:192.0.2.1", None)
