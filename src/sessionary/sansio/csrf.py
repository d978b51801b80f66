"""CSRF protection, sans I/O (docs/security.md R67-R76): origin checks, session-bound masked tokens.

Two independent checks run on unsafe methods (anything but GET, HEAD, OPTIONS, TRACE):

1. **Origin** (before the session is even loaded, R72): ``Sec-Fetch-Site: cross-site`` is
   refused, ``same-site`` too unless allowed; otherwise the full ``Origin`` (scheme, host,
   port) must equal the request's own origin or a configured trusted origin — ``null``,
   userinfo and look-alike suffixes never match because the comparison is exact. Without
   ``Origin`` the ``Referer``'s origin is compared instead; with neither, the request passes
   (non-browser clients send neither) unless ``require_origin`` is in force: then only
   ``Sec-Fetch-Site: same-origin`` stands in for them. By default it is in force exactly when
   no token is checked and the session cookie is ``SameSite=None`` — the one case where a
   cross-site form would carry the cookie and nothing else would stop it
   (:meth:`CsrfOptions.for_cookie`).
2. **Token** (R67-R71, R74): the request must carry a valid token in the ``X-CSRF-Token``
   header or the ``csrf_token`` form field — never a cookie, never the query string —
   whatever its ``Content-Type``.

The per-session CSRF secret is ``HMAC-SHA256(k_csrf, binding)``, where the binding is the
session's own secret material: for server-side stores its ID (256 bits from the CSPRNG, so
the secret is as unpredictable, and it changes whenever the ID rotates: on login and every
``rotate()``); for the sealed cookie store 16 random bytes inside the sealed payload, replaced
on login (a signed double-submit token: the sealed cookie is the cookie half). A visitor
without a session gets a *pre-session* token (login forms, R70): the ID it is bound to is
minted at once and the session is created when the response is committed.

Tokens are masked per response against BREACH (R74): ``base64url(pad ‖ pad ⊕ secret)`` with
a fresh 32-byte one-time pad, so the same secret never appears twice on the wire. Checks use
:func:`hmac.compare_digest` (R25). Failures are reported by reason only, never with token
values (R75); adapters answer ``403 Forbidden`` with a generic body.
"""

from __future__ import annotations

import enum
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol
from urllib.parse import urlsplit

from sessionary.exceptions import ConfigurationError
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.sealed import aad, b64_decode, b64_encode

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "FORBIDDEN_BODY",
    "ORIGIN_ONLY",
    "SAFE_METHODS",
    "CsrfBound",
    "CsrfFailure",
    "CsrfGuard",
    "CsrfOptions",
    "mask",
    "unmask",
]

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORBIDDEN_BODY = b"Forbidden"
_SECRET_BYTES = 32


class CsrfFailure(str, enum.Enum):
    """Why a request was refused (logged; never shown to the client)."""

    CROSS_SITE = "cross-site"
    """``Sec-Fetch-Site`` says cross-site (or same-site, when not allowed)."""
    BAD_ORIGIN = "bad-origin"
    """``Origin`` (or ``Referer``) is not this site's origin nor a trusted one."""
    NO_ORIGIN = "no-origin"
    """Neither ``Origin`` nor ``Referer`` (nor ``Sec-Fetch-Site: same-origin``), and
    ``require_origin`` is in force."""
    MISSING_TOKEN = "missing-token"  # noqa: S105 - a reason, not a secret
    BAD_TOKEN = "bad-token"  # noqa: S105 - a reason, not a secret


class CsrfBound(Protocol):
    """What a token is bound to: a session cycle (server-side or sealed)."""

    def csrf_binding(self, *, create: bool = True) -> bytes | None:
        """The session's CSRF binding; without a session, minted when ``create`` (else None)."""
        ...

    def mark_private(self) -> None:
        """The response carries this session's secret material: no shared cache may keep it."""
        ...


@dataclass(frozen=True, slots=True)
class CsrfOptions:
    """How CSRF protection behaves on a mount."""

    header_name: str = CSRF_HEADER
    field_name: str = CSRF_FIELD
    check_origin: bool = True
    """The Origin / ``Sec-Fetch-Site`` check (defence in depth, on by default)."""
    require_token: bool = True
    """The synchronizer-token check. Adapters run the origin check alone by default
    (``csrf=None``: :data:`ORIGIN_ONLY`); ``csrf=True`` adds the token."""
    trusted_origins: Iterable[str] = ()
    """Other exact origins allowed to post (``"https://app.example.com"``, no path)."""
    allow_same_site: bool = False
    """Treat ``Sec-Fetch-Site: same-site`` (a sibling subdomain) as allowed."""
    require_origin: bool | None = None
    """Refuse unsafe requests carrying neither ``Origin`` nor ``Referer`` (nor
    ``Sec-Fetch-Site: same-origin``). ``None``, the default: in force when no token is
    checked and the session cookie is ``SameSite=None`` (see :meth:`for_cookie`)."""
    max_form_bytes: int = 64 * 1024
    """Adapters that read the form field themselves buffer at most this much body."""
    origins: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "trusted_origins", tuple(self.trusted_origins))  # reusable
        origins = set()
        for origin in self.trusted_origins:
            normal = _normal_origin(origin)
            if normal is None or normal != origin.rstrip("/").lower():
                msg = f"trusted origin {origin!r} must be scheme://host[:port] and nothing else"
                raise ConfigurationError(msg)
            origins.add(normal)
        object.__setattr__(self, "origins", frozenset(origins))

    def for_cookie(self, samesite: str) -> CsrfOptions:
        """These options for a mount whose session cookie has ``SameSite=samesite``.

        Decides an automatic ``require_origin`` (``None``): a ``SameSite=None`` cookie rides
        along on cross-site requests, so without a token an unsafe request must show where
        it comes from; with ``Lax`` or ``Strict`` the browser withholds the cookie from
        cross-site posts, and clients without ``Origin`` (scripts, curl) keep working.
        """
        if self.require_origin is not None:
            return self
        required = samesite == "none" and self.check_origin and not self.require_token
        return replace(self, require_origin=required)


ORIGIN_ONLY = CsrfOptions(require_token=False)
"""What adapters apply when ``csrf`` is not given: unsafe cross-origin requests are refused."""


def _normal_origin(value: str) -> str | None:
    """``scheme://host[:port]`` lower-cased, or ``None`` for userinfo, ``null`` or junk."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def mask(secret: bytes) -> str:
    """A fresh masked form of ``secret``: ``base64url(pad ‖ pad ⊕ secret)``."""
    pad = secrets.token_bytes(len(secret))
    return b64_encode(pad + bytes(a ^ b for a, b in zip(pad, secret, strict=True)))


def unmask(token: str) -> bytes | None:
    """The secret inside a masked token, or ``None`` when it is not one."""
    if len(token) != 86:  # 64 bytes, unpadded base64url
        return None
    raw = b64_decode(token)
    if raw is None:
        return None
    pad, masked = raw[:_SECRET_BYTES], raw[_SECRET_BYTES:]
    return bytes(a ^ b for a, b in zip(pad, masked, strict=True))


class CsrfGuard:
    """The CSRF decisions for one application: keys plus :class:`CsrfOptions`."""

    __slots__ = ("_keys", "options")

    def __init__(self, keyring: KeyRing, options: CsrfOptions | None = None) -> None:
        self._keys = keyring.subkeys("csrf")
        self.options = options if options is not None else CsrfOptions()

    def __repr__(self) -> str:
        return f"CsrfGuard(<{len(self._keys)} keys>, {self.options!r})"

    def _secret(self, binding: bytes, key: bytes) -> bytes:
        return hmac.digest(key, aad(b"sessionary/csrf/v1", binding), "sha256")

    def token(self, session: CsrfBound) -> str:
        """A masked token for the page being rendered (a new mask on every call).

        The response then carries ``Vary: Cookie`` and ``Cache-Control: no-store`` (replacing
        whatever the application set): a shared cache must never hand one visitor's token to
        another, even on a page that writes nothing to the session.
        """
        session.mark_private()
        binding = session.csrf_binding()
        assert binding is not None  # create=True always gives one
        return mask(self._secret(binding, self._keys[0]))

    @staticmethod
    def is_unsafe(method: str) -> bool:
        """Whether ``method`` needs a token (anything not GET, HEAD, OPTIONS, TRACE)."""
        return method.upper() not in SAFE_METHODS

    def check_origin(
        self,
        method: str,
        *,
        scheme: str,
        host: str | None,
        origin: str | None,
        referer: str | None,
        fetch_site: str | None,
    ) -> CsrfFailure | None:
        """The Origin / Fetch Metadata check for one request (``None``: allowed)."""
        options = self.options
        if not options.check_origin or not self.is_unsafe(method):
            return None
        if fetch_site is not None:
            site = fetch_site.strip().lower()
            if site == "cross-site" or (site == "same-site" and not options.allow_same_site):
                return CsrfFailure.CROSS_SITE
        claimed = origin if origin is not None else referer
        if claimed is None:
            vouched = fetch_site is not None and fetch_site.strip().lower() == "same-origin"
            return CsrfFailure.NO_ORIGIN if options.require_origin and not vouched else None
        normal = _normal_origin(claimed)
        if normal is None:
            return CsrfFailure.BAD_ORIGIN
        own = _normal_origin(f"{scheme}://{host}") if host else None
        if normal == own or normal in options.origins:
            return None
        return CsrfFailure.BAD_ORIGIN

    def check_token(self, session: CsrfBound, presented: str | None) -> CsrfFailure | None:
        """Verify the token of an unsafe request against the session (``None``: valid)."""
        if not presented:
            return CsrfFailure.MISSING_TOKEN
        candidate = unmask(presented.strip())
        if candidate is None:
            return CsrfFailure.BAD_TOKEN
        binding = session.csrf_binding(create=False)  # a refused request creates nothing
        if binding is None:
            return CsrfFailure.BAD_TOKEN
        valid = False
        for key in self._keys:  # newest first; older keys during a rotation
            valid |= hmac.compare_digest(candidate, self._secret(binding, key))
        return None if valid else CsrfFailure.BAD_TOKEN

    @staticmethod
    def failure_event(
        failure: CsrfFailure, *, now_ms: int, method: str, client: str | None
    ) -> SessionEvent:
        """The ``csrf_fail`` event to report (reason, method and client; never a token)."""
        detail: dict[str, str] = {"reason": failure.value, "method": method.upper()}
        if client is not None:
            detail["client"] = client
        return SessionEvent(EventName.CSRF_FAIL, now_ms, None, None, detail)
