"""Session IDs (docs/security.md R1-R4, R19): CSPRNG, format, opacity, fork safety, parsing."""

from __future__ import annotations

import base64
import inspect
import multiprocessing
import re
import secrets
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionary.sansio import ids
from sessionary.sansio.ids import (
    SELECTOR_CHARS,
    TOKEN_LENGTH,
    VALIDATOR_BITS,
    mint_token,
    parse_token,
    rotate_token,
)

ID_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def test_hundred_thousand_ids_are_unique_well_formed_and_256_bits() -> None:
    values = [mint_token().value for _ in range(100_000)]
    assert len(set(values)) == len(values)
    for value in values[:2000]:
        assert ID_RE.match(value)
        assert len(base64.urlsafe_b64decode(value + "=")) == 32
    assert all(len(v) == TOKEN_LENGTH for v in values)


def test_secrets_token_bytes_is_the_only_source(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = secrets.token_bytes

    def spy(n: int) -> bytes:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(secrets, "token_bytes", spy)
    mint_token()
    rotate_token(mint_token())
    assert calls == [32, 32, 32]
    source = inspect.getsource(ids)
    for banned in ("import random", "uuid", "from random"):
        assert banned not in source


def test_the_secret_part_has_at_least_128_bits() -> None:
    assert VALIDATOR_BITS >= 128
    assert SELECTOR_CHARS * 6 + VALIDATOR_BITS == 256


def test_ids_minted_together_share_no_structure() -> None:
    # R2: no user, tenant or time in the ID. Many IDs minted in the same instant: no common
    # prefix beyond chance and a character distribution close to uniform.
    values = [mint_token().value for _ in range(20_000)]
    prefixes = Counter(v[:3] for v in values)  # 64**3 = 262144 possible prefixes
    assert max(prefixes.values()) <= 6
    counts = Counter("".join(v[:42] for v in values))
    expected = 20_000 * 42 / 64
    assert len(counts) == 64
    assert all(abs(c - expected) < expected * 0.1 for c in counts.values())


def _mint_many(count: int) -> list[str]:
    return [mint_token().value for _ in range(count)]


def test_forked_workers_never_repeat_ids() -> None:
    context = multiprocessing.get_context("fork")
    with context.Pool(8) as pool:
        batches = pool.map(_mint_many, [10_000] * 8)
    union = [value for batch in batches for value in batch]
    assert len(union) == 80_000
    assert len(set(union)) == 80_000


def test_parse_accepts_exactly_what_mint_produces() -> None:
    for _ in range(1000):
        token = mint_token()
        parsed = parse_token(token.value)
        assert parsed is not None
        assert (parsed.selector, parsed.validator) == (token.selector, token.validator)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "A" * 42,
        "A" * 44,
        "A" * 128,
        "A" * 42 + "B",  # non-canonical: the last character's low bits must be zero
        "A" * 41 + "{}",
        "A" * 42 + "*",
        "A" * 21 + "\r\n" + "A" * 20,
        "A" * 42 + "\x00",
        "A" * 42 + "é",
        "A" * 42 + "=",
        "A" * 20 + "+/" + "A" * 21,
        " " + "A" * 42,
    ],
)
def test_parse_rejects_malformed_values(value: str) -> None:
    assert parse_token(value) is None


@given(st.text(max_size=200))
def test_parse_never_raises(value: str) -> None:
    token = parse_token(value)
    assert token is None or token.value == value


def test_rotation_keeps_the_selector_and_replaces_the_validator() -> None:
    token = mint_token()
    rotated = rotate_token(token)
    assert rotated.selector == token.selector
    assert rotated.validator != token.validator
    assert parse_token(rotated.value) is not None


def test_repr_never_shows_the_value() -> None:
    token = mint_token()
    assert token.value not in repr(token)
    assert token.value not in str(token)
    assert repr(token) == "SessionToken(<redacted>)"
