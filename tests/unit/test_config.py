"""Configuration is validated at start-up (R9, R11, R18, R56)."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from sessionary import ConfigurationError, ConflictPolicy, CookieOptions, SessionConfig
from sessionary._secret_strength import MIN_BITS, estimate_bits
from sessionary.config import _check_secret as check_secret

KEY = secrets.token_bytes(32)


def config(**kwargs: object) -> SessionConfig:
    kwargs.setdefault("secret_keys", [KEY])
    return SessionConfig(**kwargs)  # type: ignore[arg-type]


def test_defaults() -> None:
    cfg = config()
    assert (cfg.idle_timeout_ms, cfg.absolute_timeout_ms) == (1_800_000, 43_200_000)
    assert cfg.touch_interval_ms == 180_000  # max(60 s, idle / 10)
    assert cfg.cookie.name == "__Host-session"
    assert cfg.max_size == 65536
    assert cfg.conflict_policy is ConflictPolicy.LAST_WRITER_WINS
    assert cfg.max_cookie_age_s == 400 * 86400


def test_durations_accept_timedelta_and_seconds() -> None:
    cfg = config(idle_timeout=timedelta(minutes=5), absolute_timeout=3600.5)
    assert (cfg.idle_timeout_ms, cfg.absolute_timeout_ms) == (300_000, 3_600_500)
    assert cfg.touch_interval_ms == 60_000
    assert config(idle_timeout=90).touch_interval_ms == 45_000  # at most idle / 2
    assert config(touch_interval=10).touch_interval_ms == 10_000
    assert cfg.clock_skew_tolerance_ms == 5_000  # R38's default
    assert config(clock_skew_tolerance=timedelta(seconds=2)).clock_skew_tolerance_ms == 2_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"idle_timeout": 7200, "absolute_timeout": 3600}, "must not exceed"),
        ({"absolute_timeout": math.inf}, "finite"),
        ({"absolute_timeout": math.nan}, "finite"),
        ({"absolute_timeout": 0}, "positive"),
        ({"absolute_timeout": -1}, "positive"),
        ({"absolute_timeout": None}, "number of seconds"),
        ({"absolute_timeout": True}, "number of seconds"),
        ({"touch_interval": 1800}, "shorter than idle"),
        ({"max_size": 0}, "positive"),
        ({"max_size": True}, "positive"),
        ({"codec": "pickle"}, "codec"),
        ({"conflict_policy": "merge"}, "conflict_policy"),
        ({"max_raw_id_length": 10}, "between"),
        ({"clock": 5}, "callable"),
        ({"clock_skew_tolerance": 0}, "positive"),
        ({"clock_skew_tolerance": 301}, "at most 5 minutes"),
        ({"cookie": {"name": "x"}}, "CookieOptions"),
        ({"signed_in_cache_control": ""}, "Cache-Control"),
        ({"signed_in_cache_control": "no-store\r\nX-Evil: 1"}, "Cache-Control"),
        ({"signed_in_cache_control": 1}, "Cache-Control"),
        ({"strict_transport_security": ""}, "max-age"),
        ({"strict_transport_security": "includeSubDomains"}, "max-age"),
        ({"strict_transport_security": "max-age=one-year"}, "max-age"),
        ({"strict_transport_security": "max-age=1; max-age=2"}, "Strict-Transport-Security"),
        ({"strict_transport_security": "max-age=1\r\nX-Evil: 1"}, "Strict-Transport-Security"),
        ({"strict_transport_security": b"max-age=1"}, "Strict-Transport-Security"),
        ({"strict_transport_security": "max-age=31536000; preload"}, "preload"),
        ({"strict_transport_security": "max-age=86400; includeSubDomains; preload"}, "preload"),
    ],
)
def test_invalid_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        config(**kwargs)


@pytest.mark.parametrize(
    "value",
    [
        "max-age=0",
        "max-age=31536000",
        "max-age=63072000; includeSubDomains",
        'max-age="63072000"; includeSubDomains;',
        "max-age=63072000; includeSubDomains; preload",
    ],
)
def test_strict_transport_security_values(value: str) -> None:
    assert config(strict_transport_security=value).strict_transport_security == value


def test_conflict_policy_from_string() -> None:
    assert config(conflict_policy="raise").conflict_policy is ConflictPolicy.RAISE


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "at least one"),
        ("a-single-string-key-of-enough-length", "list of keys"),
        (KEY, "list of keys"),
        ([b"short"], "at least 32"),
        ([b"y" * 64], "guessable"),
        ([b"ab" * 32], "guessable"),
        ([b"abcd1234wxyz" * 6], "guessable"),
        (["change-me-please-" + "k" * 30], "placeholder"),
        (["my-super-secret-session-key-2024!!"], "placeholder"),
        (["django-insecure-" + secrets.token_urlsafe(40)], "development placeholder"),
        ([KEY, KEY], "same key twice"),
        ([42], "str or bytes"),
    ],
    ids=[
        "empty",
        "bare-string",
        "bare-key",
        "short",
        "repeated-byte",
        "repeated-pair",
        "repeated-pattern",
        "change-me",
        "super-secret",
        "django-insecure",
        "duplicate",
        "not-bytes",
    ],
)
def test_weak_or_malformed_secrets_are_refused(keys: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SessionConfig(secret_keys=keys)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "secret",
    [
        "abcdefghijklmnopqrstuvwxyz012345",  # a sequence
        "0123456789abcdef0123456789abcdef",
        "zyxwvutsrqponmlkjihgfedcba987654",  # backwards
        "qwertyuiopasdfghjklzxcvbnm123456",  # keyboard walks
        "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,",
        "QWERTYUIOP!@#$%^&*()asdfghjkl;zxcvbnm",
        "your-secret-key-here-change-me!!",  # placeholder words, the whole value
        "please change this secret key in production",
        "this-is-a-very-long-secret-key-for-my-application",
        hashlib.sha256(b"hello").hexdigest(),  # random-looking, recomputed by anyone
        hashlib.sha1(b"password").hexdigest(),  # the weak value under test
        secrets.token_hex(16),  # 32 hex characters carry 16 bytes: at most 128 bits
        uuid.uuid4().hex,  # 122 random bits
    ],
    ids=[
        "sequence",
        "hex-sequence",
        "backwards",
        "keyboard-rows",
        "keyboard-columns",
        "keyboard-shifted",
        "placeholder",
        "placeholder-phrase",
        "typed-phrase",
        "sha256-hello",
        "sha1-password",
        "token_hex-16",
        "uuid4",
    ],
)
def test_typed_and_placeholder_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ConfigurationError, match=r"secret_keys\[0\]") as refused:
        SessionConfig(secret_keys=[secret])
    assert secret not in str(refused.value)  # the message never repeats the secret


def test_strong_secrets_are_accepted() -> None:
    SessionConfig(secret_keys=[secrets.token_urlsafe(32), secrets.token_hex(32), KEY])
    SessionConfig(secret_keys=["Tr0ub4dor&3-correct-horse-battery-staple-9f2Kq"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "generate",
    [
        lambda: secrets.token_urlsafe(32),  # the README's recipe
        lambda: secrets.token_hex(32),
        lambda: secrets.token_bytes(32),
    ],
    ids=["token_urlsafe", "token_hex", "token_bytes"],
)
def test_real_random_secrets_are_never_refused(generate: Callable[[], str | bytes]) -> None:
    """100 000 fresh secrets of each recipe: none is refused (no seed: it must always hold).

    The former substring check refused 78 in a million ``token_urlsafe(32)`` outputs (those
    containing ``xxxx`` or ``todo``); the estimate gives random secrets their full worth.
    """
    for _ in range(100_000):
        check_secret(generate(), 0)
    samples = [generate() for _ in range(1000)]
    lowest = min(estimate_bits(s.encode() if isinstance(s, str) else s) for s in samples)
    assert lowest > 1.5 * MIN_BITS  # far from the bar, not just over it


def test_repr_hides_key_material() -> None:
    cfg = SessionConfig(secret_keys=[secrets.token_urlsafe(32)])
    text = repr(cfg)
    assert "<1 keys>" in text
    assert cfg.secret_keys[0] not in text  # type: ignore[operator]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": ""}, "token"),
        ({"name": "sess ion"}, "token"),
        ({"name": "sess;ion"}, "token"),
        ({"name": "séssion"}, "token"),
        ({"name": "__Host-s", "domain": "example.com"}, "must not set a domain"),
        ({"name": "__Host-s", "path": "/app"}, "path='/'"),
        (
            {"name": "__Host-s", "secure": False, "insecure_development_mode": True},
            "requires secure",
        ),
        (
            {"name": "__Secure-s", "secure": False, "insecure_development_mode": True},
            "requires secure",
        ),
        ({"name": "s", "secure": False}, "insecure_development_mode"),
        (
            {"name": "s", "samesite": "none", "secure": False, "insecure_development_mode": True},
            "samesite='none'",
        ),
        (
            {"name": "s", "partitioned": True, "secure": False, "insecure_development_mode": True},
            "partitioned",
        ),
        ({"samesite": "sometimes"}, "samesite"),
        ({"name": "s", "path": "app"}, "path"),
        ({"name": "s", "path": "/a;b"}, "path"),
        ({"name": "s", "domain": "a b"}, "domain"),
        ({"name": "s", "domain": ""}, "domain"),
    ],
)
def test_invalid_cookie_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CookieOptions(**options)  # type: ignore[arg-type]


def test_insecure_development_mode_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sessionary"):
        options = CookieOptions(name="session", secure=False, insecure_development_mode=True)
    assert options.secure is False
    assert "without Secure" in caplog.text


@pytest.mark.parametrize(
    "options",
    [
        {"name": "session"},
        {"name": "__Secure-s"},
        {"name": "__Secure-s", "domain": "example.com"},
        {"name": "app", "path": "/app"},
    ],
)
def test_a_cookie_name_without_the_host_prefix_warns_at_start_up(
    options: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    """Without ``__Host-`` a sibling subdomain can plant a second cookie of the same name;
    differing duplicates make the request anonymous (R22), so it could keep a user logged
    out. Logged (logger ``sessionary``, level WARNING) once per configuration."""
    with caplog.at_level(logging.WARNING, logger="sessionary"):
        CookieOptions(**options)  # type: ignore[arg-type]
    warnings = [r for r in caplog.records if "__Host-" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert repr(options["name"]) in warnings[0].getMessage()


def test_the_default_and_development_cookies_do_not_warn_about_the_prefix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="sessionary"):
        CookieOptions()
        CookieOptions(name="__Host-app", samesite="strict")
        CookieOptions(name="dev", secure=False, insecure_development_mode=True)
    assert "__Host-" not in caplog.text


def test_valid_cookie_variants() -> None:
    CookieOptions(name="__Secure-s", domain="example.com", path="/app", samesite="strict")
    CookieOptions(samesite="none", partitioned=True)
    CookieOptions(name="sid", persistent=False)
