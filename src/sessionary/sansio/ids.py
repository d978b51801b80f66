"""Session ID minting and validation (docs/security.md R1-R7, R19-R26).

A session ID is 32 bytes from the OS CSPRNG (:func:`secrets.token_bytes`), sent as 43
characters of unpadded base64url. It is a *split token*, split on characters so that it
never needs decoding: the first 21 characters (126 bits) are the **selector**, which names
the record; the last 22 characters (130 bits) are the **validator**, the secret proof. Only
a keyed hash of the selector names the record and only a keyed digest of the validator is
stored, so nothing in the store works as a cookie. Rotating an ID keeps the selector and
replaces the validator, inside one key.

Presented IDs are untrusted input: :func:`parse_token` checks the exact length, charset and
canonical form with one compiled pattern before anything else, so malformed input costs
O(1) and reaches no hash and no store.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass

__all__ = [
    "SELECTOR_CHARS",
    "TOKEN_BYTES",
    "TOKEN_LENGTH",
    "VALIDATOR_BITS",
    "SessionToken",
    "mint_token",
    "parse_token",
    "rotate_token",
]

TOKEN_BYTES = 32
TOKEN_LENGTH = 43  # ceil(32 * 8 / 6), unpadded
SELECTOR_CHARS = 21  # 126 bits
VALIDATOR_BITS = (TOKEN_LENGTH - SELECTOR_CHARS - 1) * 6 + 4  # 130 bits

# 43 characters carry 258 bits for 256 bits of data: the last character's two low bits must
# be zero, otherwise two different strings would decode to the same bytes.
_CANONICAL = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")


@dataclass(slots=True)
class SessionToken:
    """A session ID split into selector and validator. ``repr`` never shows it."""

    value: str
    """The wire form (43 characters), for ``Set-Cookie`` only; never log it."""

    @property
    def selector(self) -> bytes:
        """The public half: names the record (through a keyed hash)."""
        return self.value[:SELECTOR_CHARS].encode("ascii")

    @property
    def validator(self) -> bytes:
        """The secret half: proves possession (compared through a keyed digest)."""
        return self.value[SELECTOR_CHARS:].encode("ascii")

    def __repr__(self) -> str:
        return "SessionToken(<redacted>)"

    __str__ = __repr__


def _fresh_value() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).rstrip(b"=").decode("ascii")


def mint_token() -> SessionToken:
    """Return a fresh session ID: 256 bits from :func:`secrets.token_bytes`."""
    return SessionToken(_fresh_value())


def rotate_token(token: SessionToken) -> SessionToken:
    """Return an ID with the same selector and a fresh 130-bit validator (rotation in place)."""
    return SessionToken(token.value[:SELECTOR_CHARS] + _fresh_value()[SELECTOR_CHARS:])


def parse_token(value: str) -> SessionToken | None:
    """Validate a presented ID, or return ``None`` for anything malformed.

    Length is checked first (O(1)), then charset and canonical form in one ``fullmatch``
    (pure-ASCII pattern, so non-ASCII input never matches).
    """
    if len(value) != TOKEN_LENGTH or _CANONICAL.fullmatch(value) is None:
        return None
    return SessionToken(value)
