"""Validated, frozen configuration: :class:`SessionConfig` and :class:`CookieOptions`.

Every check runs when the object is built, so a misconfigured application fails at
start-up with a :class:`~sessionary.exceptions.ConfigurationError` instead of emitting an
insecure cookie later (docs/security.md R18).

Durations are given in seconds (``int``/``float``) or as :class:`datetime.timedelta`;
they are kept internally as integer milliseconds (``*_ms`` properties).
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from sessionary._secret_strength import MIN_BITS, estimate_bits, known_weak
from sessionary.exceptions import ConfigurationError

__all__ = [
    "ClientBinding",
    "ConflictPolicy",
    "CookieOptions",
    "Duration",
    "LimitPolicy",
    "SameSite",
    "SessionConfig",
    "StoreDownPolicy",
    "Transport",
]

logger = logging.getLogger("sessionary")

Duration = int | float | timedelta
SameSite = Literal["lax", "strict", "none"]
Transport = Literal["cookie", "header"]

_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_MAX_COOKIE_LIFETIME_S = 400 * 24 * 3600  # RFC 6265bis §5.5: user agents cap Max-Age at 400 days
_MIN_SECRET_BYTES = 32
_MAX_CLOCK_SKEW_MS = 5 * 60 * 1000


class ConflictPolicy(str, enum.Enum):
    """What a commit does when a field this request read *and* wrote changed concurrently.

    Disjoint writers never conflict: each request writes only the fields it changed.
    """

    LAST_WRITER_WINS = "last_writer_wins"
    """Write anyway, per field (the default); the conflict is reported to the observer."""

    RAISE = "raise"
    """Write nothing and raise :class:`~sessionary.exceptions.StoreConflictError`."""


class StoreDownPolicy(str, enum.Enum):
    """What a request gets when the store cannot load its session (down, timing out).

    Counted by the observer: events ``fail_closed`` and ``fail_open_readonly``.
    """

    FAIL_CLOSED = "fail_closed"
    """The default: a request that uses the session is refused (503) and its response sets
    no cookie (the client's cookie is left alone). Requests that never touch the session
    are served normally."""

    FAIL_OPEN_READONLY = "fail_open_readonly"
    """The handler gets an empty, anonymous, read-only session: reads find nothing, writes
    (and login, logout, rotate) raise :class:`~sessionary.exceptions.SessionReadOnlyError`
    (a 503 if not caught). No cookie is set. For pages that can be served to a logged-out
    visitor (a home page, public content), chosen per application or per route."""


class ClientBinding(str, enum.Enum):
    """Whether an authenticated session is bound to the client that logged in (R81).

    The login records the ``User-Agent`` and a keyed hash of the client address; later
    requests are compared with them (``SessionConfig.client_binding_fields``).
    """

    OFF = "off"
    """No comparison (the default): nothing is read or decoded per request."""

    DETECT = "detect"
    """A mismatch emits a ``client_mismatch`` event (which fields differ); the session goes on."""

    ENFORCE = "enforce"
    """A mismatch also ends the session: the request is anonymous, the stored session is
    destroyed (as a logout) and the cookie cleared. Opt-in: user agents change on browser
    updates and addresses on mobile networks, and anyone holding a stolen cookie can end
    the victim's session this way."""


class LimitPolicy(str, enum.Enum):
    """What a login does when its user already has ``max_sessions_per_user`` sessions."""

    REJECT_NEW = "reject_new"
    """Refuse the login: the commit raises :class:`~sessionary.exceptions.SessionLimitError`."""

    EVICT_OLDEST = "evict_oldest"
    """End the oldest sessions; they turn anonymous with ``end_reason == "evicted"``."""


def _to_ms(value: Duration, what: str, *, allow_zero: bool = False) -> int:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        msg = f"{what} must be a number of seconds or a timedelta, not {type(value).__name__}"
        raise ConfigurationError(msg)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        msg = f"{what} must be a finite, {kind} duration (got {value!r})"
        raise ConfigurationError(msg)
    return round(seconds * 1000)


_HSTS_PRELOAD_MIN_AGE_S = 31_536_000  # the preload list's minimum: one year


def _check_strict_transport(value: object) -> None:
    """A ``Strict-Transport-Security`` value: directives of RFC 6797 section 6.1."""
    msg = "strict_transport_security must be a Strict-Transport-Security value or None"
    if not isinstance(value, str) or not value.isascii() or not value.isprintable():
        raise ConfigurationError(msg)
    directives: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue  # empty directives are allowed (RFC 6797 section 6.1)
        name, _, argument = part.strip().partition("=")
        if not name or not set(name) <= _TOKEN_CHARS or name.lower() in directives:
            raise ConfigurationError(msg)
        directives[name.lower()] = argument.strip().strip('"')
    max_age = directives.get("max-age", "")
    if not max_age.isdigit():
        msg = "strict_transport_security needs a max-age=<seconds> directive"
        raise ConfigurationError(msg)
    if "preload" in directives and (
        "includesubdomains" not in directives or int(max_age) < _HSTS_PRELOAD_MIN_AGE_S
    ):
        msg = "strict_transport_security: preload needs includeSubDomains and max-age >= 1 year"
        raise ConfigurationError(msg)


def _check_secret(raw: str | bytes, index: int) -> bytes:
    """A configured secret as bytes, or :class:`ConfigurationError` (docs/security.md R56).

    At least 32 bytes, not a well-known weak value, and not guessable by the estimate of
    :mod:`sessionary._secret_strength` (words, sequences, keyboard walks, repeats). No real
    random secret is refused. The message never repeats the secret.
    """
    if isinstance(raw, str):
        secret = raw.encode("utf-8")
    elif isinstance(raw, bytes):
        secret = raw
    else:
        msg = f"secret_keys[{index}] must be str or bytes, not {type(raw).__name__}"
        raise ConfigurationError(msg)
    advice = "use random bytes: secrets.token_bytes(32), or secrets.token_urlsafe(32) as text"
    if len(secret) < _MIN_SECRET_BYTES:
        msg = (
            f"secret_keys[{index}] is {len(secret)} bytes; at least {_MIN_SECRET_BYTES} random "
            f"bytes are required ({advice})"
        )
        raise ConfigurationError(msg)
    weak = known_weak(secret)
    if weak is not None:
        msg = f"secret_keys[{index}] {weak}; {advice}"
        raise ConfigurationError(msg)
    bits = estimate_bits(secret)
    if bits <= MIN_BITS:
        msg = (
            f"secret_keys[{index}] is guessable (about {bits:.0f} bits; more than "
            f"{MIN_BITS:.0f} needed): "
            f"it is made of words, sequences, keyboard walks or repeats, like a placeholder "
            f"or a typed secret; {advice}"
        )
        raise ConfigurationError(msg)
    return secret


@dataclass(frozen=True, slots=True)
class CookieOptions:
    """How the session cookie is named and scoped.

    The defaults follow docs/security.md R8-R18: ``__Host-session; Path=/; Secure; HttpOnly;
    SameSite=Lax`` with no ``Domain``. ``HttpOnly`` is not configurable.

    A name without the ``__Host-`` prefix logs a warning (logger ``sessionary``, level
    WARNING) when the options are built: a sibling subdomain can then set a second cookie of
    the same name, and differing duplicates make every request anonymous and clear the
    cookie (R22), so it could keep a user logged out. Not in ``insecure_development_mode``,
    where ``__Host-`` is impossible and a warning is logged already.
    """

    name: str = "__Host-session"
    path: str = "/"
    domain: str | None = None
    secure: bool = True
    samesite: SameSite = "lax"
    persistent: bool = True
    """Send ``Max-Age`` (the remaining absolute lifetime); ``False``: a browser-session cookie."""
    partitioned: bool = False
    insecure_development_mode: bool = False
    """Must be ``True`` to turn ``secure`` off; a warning is logged. Never in production."""

    def __post_init__(self) -> None:
        self._check_syntax()
        self._check_security()

    def _check_syntax(self) -> None:
        name = self.name
        if not name or not set(name) <= _TOKEN_CHARS:
            msg = f"cookie name {name!r} must be a non-empty RFC 6265 token"
            raise ConfigurationError(msg)
        if self.samesite not in ("lax", "strict", "none"):
            msg = f"samesite must be 'lax', 'strict' or 'none', not {self.samesite!r}"
            raise ConfigurationError(msg)
        if not self.path.startswith("/") or any(c in self.path for c in ";\r\n\x00"):
            msg = (
                f"cookie path {self.path!r} must start with '/' and contain no ';' or control chars"
            )
            raise ConfigurationError(msg)
        if self.domain is not None and (
            not self.domain or any(c in self.domain for c in ";,\r\n\x00 ")
        ):
            msg = f"cookie domain {self.domain!r} is not a valid domain attribute"
            raise ConfigurationError(msg)

    def _check_security(self) -> None:
        name = self.name
        if not self.secure:
            if not self.insecure_development_mode:
                msg = (
                    "secure=False needs insecure_development_mode=True: cookies without Secure "
                    "leak over plain HTTP (docs/security.md R9)"
                )
                raise ConfigurationError(msg)
            logger.warning(
                "sessionary: session cookie %r is sent without Secure (development mode)", name
            )
        elif not name.startswith("__Host-"):
            logger.warning(
                "sessionary: session cookie %r has no '__Host-' prefix: a sibling subdomain can "
                "set a cookie of the same name, and the duplicate makes requests anonymous "
                "(use a '__Host-' name, Path=/ and no Domain, unless subdomains share it)",
                name,
            )
        if name.startswith("__Host-"):
            if not self.secure:
                msg = "a '__Host-' cookie requires secure=True"
                raise ConfigurationError(msg)
            if self.domain is not None:
                msg = "a '__Host-' cookie must not set a domain"
                raise ConfigurationError(msg)
            if self.path != "/":
                msg = "a '__Host-' cookie requires path='/'"
                raise ConfigurationError(msg)
        if name.startswith("__Secure-") and not self.secure:
            msg = "a '__Secure-' cookie requires secure=True"
            raise ConfigurationError(msg)
        if self.samesite == "none" and not self.secure:
            msg = "samesite='none' requires secure=True"
            raise ConfigurationError(msg)
        if self.partitioned and not self.secure:
            msg = "partitioned cookies require secure=True"
            raise ConfigurationError(msg)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Everything that decides how sessions behave. Built once, validated at construction.

    >>> import secrets
    >>> config = SessionConfig(secret_keys=[secrets.token_bytes(32)])
    >>> config.idle_timeout_ms, config.absolute_timeout_ms
    (1800000, 43200000)
    """

    secret_keys: Sequence[str | bytes]
    """Ordered key ring: the first key is used for new sessions, all keys are accepted."""
    cookie: CookieOptions = field(default_factory=CookieOptions)
    """The session cookie's name and attributes (:class:`CookieOptions`)."""
    idle_timeout: Duration = 30 * 60
    """Seconds (or a ``timedelta``) without a request after which a session expires."""
    absolute_timeout: Duration = 12 * 3600
    """The longest a session lives from its login, however active (at least ``idle_timeout``)."""
    touch_interval: Duration | None = None
    """Minimum time between sliding-expiry writes; default ``max(60 s, idle/10)``, <= idle/2."""
    expiry_notice: Duration = 3600
    """How long a server-side store keeps an expired record (never served: expiry is judged
    on every read) so that a client returning late learns *why* it was signed out
    (``session.end_reason`` is ``expired_idle``/``expired_absolute``, not an unknown ID).
    ``0`` frees records exactly at their deadline; capped at one absolute timeout."""
    max_size: int = 64 * 1024
    """Upper bound, in bytes, for a session's encoded attributes (names plus values)."""
    codec: Literal["json", "msgpack"] = "json"
    """How attribute values are encoded in the store (``msgpack`` needs its extra)."""
    conflict_policy: ConflictPolicy = ConflictPolicy.LAST_WRITER_WINS
    """What a commit does when a field it read and wrote was changed meanwhile."""
    store_down: StoreDownPolicy = StoreDownPolicy.FAIL_CLOSED
    """What requests get while the store is unavailable (adapters may override per route)."""
    max_raw_id_length: int = 128
    """Incoming ID values longer than this are rejected before any other work (R20)."""
    transport: Transport = "cookie"
    """Where the session ID travels: the ``cookie`` or a request ``header`` (one per mount,
    the other ignored: R17). Header mode suits API clients and mobile apps."""
    token_header: str = "X-Session-Token"  # noqa: S105 - a header name
    """The request header carrying the ID in header mode. ``Authorization`` means the value
    ``Session <id>`` (other schemes, e.g. ``Bearer``, are left alone)."""
    response_token_header: str = "X-Session-Token"  # noqa: S105 - a header name
    """The response header carrying a new ID (creation, login, rotation) in header mode; an
    empty value tells the client to forget its ID (logout, expiry, invalid ID)."""
    clock: Callable[[], float] = time.time
    """Seconds since the epoch (UTC). Injected by tests (``sessionary.testing.FakeClock``)."""
    time_authority: Literal["store", "local"] | None = None
    """Whose clock judges expiry. ``"store"``: the store's (Redis ``TIME``), sampled once a
    minute and carried forward by a monotonic clock, so nodes whose clocks disagree or jump
    still agree on every deadline (R38); stores without a clock fall back to ``clock``.
    ``"local"``: ``clock``. Default: ``"store"``, or ``"local"`` when a ``clock`` is given
    (a test's fake clock is the authority it means)."""
    clock_skew_tolerance: Duration = 5
    """How far (at most 5 min) this node's clock may lag a record stamped by another node
    before a ``clock_skew`` event reports it (R38). A node whose clock lags keeps sessions
    alive for its lag: keep clocks in sync (NTP) and watch for that event."""
    max_sessions_per_user: int | None = None
    """At most this many live sessions per user (``None``: no limit); see ``session_limit``."""
    session_limit: LimitPolicy = LimitPolicy.REJECT_NEW
    """What a login beyond ``max_sessions_per_user`` does: refuse, or evict the oldest."""
    client_binding: ClientBinding = ClientBinding.OFF
    """Compare authenticated requests with the client that logged in: off, detect, enforce."""
    client_binding_fields: tuple[str, ...] = ("user_agent", "client")
    """What ``client_binding`` compares: ``"user_agent"`` and/or ``"client"`` (the address)."""
    encrypt_at_rest: bool = False
    """Seal attribute values (AES-256-GCM) and authenticate metadata in server-side stores
    (:mod:`sessionary.sansio.at_rest`; needs the ``crypto`` extra)."""
    signed_in_cache_control: str | None = "no-store"
    """The ``Cache-Control`` of a response that used a signed-in session, unless the
    application set its own: so that Back after a logout, or a shared cache, never shows a
    signed-in page from a cache. ``None`` leaves such responses alone."""
    strict_transport_security: str | None = None
    """A ``Strict-Transport-Security`` value (``"max-age=31536000; includeSubDomains"``) the
    adapters add to every response to an HTTPS request, unless the application set its own;
    never over plain HTTP (RFC 6797 section 7.2). ``None`` (the default): none; send it from
    the TLS-terminating proxy instead (docs/deploy.md). ``max-age`` is required; ``preload``
    only with ``includeSubDomains`` and a ``max-age`` of a year or more (the browsers'
    preload list refuses less)."""

    # Derived, validated values (not constructor arguments).
    secrets: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    idle_timeout_ms: int = field(init=False)
    absolute_timeout_ms: int = field(init=False)
    touch_interval_ms: int = field(init=False)
    expiry_notice_ms: int = field(init=False)
    clock_skew_tolerance_ms: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "secrets", self._check_keys())
        self._check_durations()
        self._check_options()
        self._check_limits()

    def _check_keys(self) -> tuple[bytes, ...]:
        if isinstance(self.secret_keys, str | bytes) or not isinstance(self.secret_keys, Sequence):
            msg = "secret_keys must be a list of keys (newest first), not a single key"
            raise ConfigurationError(msg)
        if not self.secret_keys:
            msg = "secret_keys must hold at least one key"
            raise ConfigurationError(msg)
        secrets = tuple(_check_secret(k, i) for i, k in enumerate(self.secret_keys))
        if len(set(secrets)) != len(secrets):
            msg = "secret_keys contains the same key twice"
            raise ConfigurationError(msg)
        return secrets

    def _check_durations(self) -> None:
        idle = _to_ms(self.idle_timeout, "idle_timeout")
        absolute = _to_ms(self.absolute_timeout, "absolute_timeout")
        if idle > absolute:
            msg = "idle_timeout must not exceed absolute_timeout"
            raise ConfigurationError(msg)
        if self.touch_interval is None:
            touch = min(max(60_000, idle // 10), idle // 2)
        else:
            touch = _to_ms(self.touch_interval, "touch_interval")
            if touch >= idle:
                msg = "touch_interval must be shorter than idle_timeout"
                raise ConfigurationError(msg)
        object.__setattr__(self, "idle_timeout_ms", idle)
        object.__setattr__(self, "absolute_timeout_ms", absolute)
        object.__setattr__(self, "touch_interval_ms", touch)
        notice = _to_ms(self.expiry_notice, "expiry_notice", allow_zero=True)
        object.__setattr__(self, "expiry_notice_ms", min(notice, absolute))
        skew = _to_ms(self.clock_skew_tolerance, "clock_skew_tolerance")
        if skew > _MAX_CLOCK_SKEW_MS:
            msg = "clock_skew_tolerance must be at most 5 minutes"
            raise ConfigurationError(msg)
        object.__setattr__(self, "clock_skew_tolerance_ms", skew)

    def _check_response_headers(self) -> None:
        cache_control = self.signed_in_cache_control
        if cache_control is not None and (
            not isinstance(cache_control, str)
            or not cache_control.strip()
            or not cache_control.isprintable()
            or not cache_control.isascii()
        ):
            msg = "signed_in_cache_control must be a Cache-Control header value or None"
            raise ConfigurationError(msg)
        if self.strict_transport_security is not None:
            _check_strict_transport(self.strict_transport_security)

    def _check_options(self) -> None:
        if not isinstance(self.cookie, CookieOptions):
            msg = "cookie must be a CookieOptions instance"
            raise ConfigurationError(msg)
        if (
            isinstance(self.max_size, bool)
            or not isinstance(self.max_size, int)
            or self.max_size <= 0
        ):
            msg = "max_size must be a positive number of bytes"
            raise ConfigurationError(msg)
        if self.codec not in ("json", "msgpack"):
            msg = f"codec must be 'json' or 'msgpack', not {self.codec!r}"
            raise ConfigurationError(msg)
        self._coerce("conflict_policy", ConflictPolicy)
        self._coerce("store_down", StoreDownPolicy)
        if not 68 <= self.max_raw_id_length <= 4096:  # an ID is 43, a pre-session ID 68
            msg = "max_raw_id_length must be between 68 and 4096"
            raise ConfigurationError(msg)
        if self.transport not in ("cookie", "header"):
            msg = f"transport must be 'cookie' or 'header', not {self.transport!r}"
            raise ConfigurationError(msg)
        for what in ("token_header", "response_token_header"):
            name = getattr(self, what)
            if not isinstance(name, str) or not name or not set(name) <= _TOKEN_CHARS:
                msg = f"{what} must be a non-empty HTTP header name, not {name!r}"
                raise ConfigurationError(msg)
            if name.lower() in ("cookie", "set-cookie"):
                msg = f"{what} cannot be {name!r}: use transport='cookie' for cookies"
                raise ConfigurationError(msg)
        self._check_response_headers()
        if not callable(self.clock):
            msg = "clock must be a callable returning seconds since the epoch"
            raise ConfigurationError(msg)
        authority = self.time_authority
        if authority is None:
            authority = "store" if self.clock is time.time else "local"
            object.__setattr__(self, "time_authority", authority)
        if authority not in ("store", "local"):
            msg = f"time_authority must be 'store' or 'local', not {authority!r}"
            raise ConfigurationError(msg)

    def _check_limits(self) -> None:
        limit = self.max_sessions_per_user
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0
        ):
            msg = "max_sessions_per_user must be a positive integer or None"
            raise ConfigurationError(msg)
        self._coerce("session_limit", LimitPolicy)
        self._coerce("client_binding", ClientBinding)
        fields = self.client_binding_fields
        if (
            not isinstance(fields, tuple)
            or not fields
            or not set(fields) <= {"user_agent", "client"}
        ):
            msg = "client_binding_fields must be a non-empty tuple of 'user_agent' and 'client'"
            raise ConfigurationError(msg)

    def _coerce(self, name: str, kind: type[enum.Enum]) -> None:
        """Accept an enum member or its value (``"raise"``) for the option ``name``."""
        value = getattr(self, name)
        if not isinstance(value, kind):
            try:
                object.__setattr__(self, name, kind(value))
            except ValueError:
                msg = f"unknown {name} {value!r}"
                raise ConfigurationError(msg) from None

    def __repr__(self) -> str:
        # Never show key material (docs/security.md R79).
        return (
            f"SessionConfig(secret_keys=<{len(self.secrets)} keys>, cookie={self.cookie!r}, "
            f"idle_timeout_ms={self.idle_timeout_ms}, "
            f"absolute_timeout_ms={self.absolute_timeout_ms}, "
            f"touch_interval_ms={self.touch_interval_ms}, max_size={self.max_size}, "
            f"codec={self.codec!r}, conflict_policy={self.conflict_policy.value!r}, "
            f"store_down={self.store_down.value!r}, transport={self.transport!r}, "
            f"encrypt_at_rest={self.encrypt_at_rest!r})"
        )

    @property
    def max_cookie_age_s(self) -> int:
        """The cap on cookie ``Max-Age`` from RFC 6265bis (400 days)."""
        return _MAX_COOKIE_LIFETIME_S
