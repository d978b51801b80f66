"""Pre-session IDs: a CSRF binding for visitors without a session, and no record for it.

A login form needs a CSRF token before there is a session (R70). Creating a session record
just to bind that token would let every anonymous page view with a form write a record (a
thousand GETs, a thousand records; enough of them evict real sessions from a bounded
store). Instead the visitor gets a *pre-session ID* in the session cookie: the ID the
session will have if it is ever created, signed so that the server recognises it as its own
without storing anything::

    p.<43-character ID>.<22-character keyed BLAKE2b tag of the ID>

A pre-session ID is never looked up (no store call, no ``invalid_id`` event): the tag alone
tells it from a forged or unknown value, in O(1). CSRF tokens are bound to the ID inside it,
so when the visitor's first write creates the session under that very ID, tokens rendered
before stay valid; a login creates a session under a fresh ID instead (the token rotates on
login). Only IDs this server minted are ever adopted that way, as with the session IDs it
mints (R4): a client cannot choose one, because it cannot compute the tag.
"""

from __future__ import annotations

import hmac
from base64 import urlsafe_b64encode
from collections.abc import Sequence
from hashlib import blake2b

from sessionary.sansio.ids import TOKEN_LENGTH, SessionToken, parse_token

__all__ = ["PRESESSION_LENGTH", "parse_presession", "render_presession"]

_PREFIX = "p."
_TAG_BYTES = 16
_TAG_CHARS = 22  # unpadded base64url of 16 bytes
PRESESSION_LENGTH = len(_PREFIX) + TOKEN_LENGTH + 1 + _TAG_CHARS
"""The wire length of a pre-session ID (68 characters)."""
_PERSON = b"sessionary-pre1"


def _tag(key: bytes, token: SessionToken) -> str:
    mac = blake2b(token.value.encode("ascii"), key=key, digest_size=_TAG_BYTES, person=_PERSON)
    return urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def render_presession(key: bytes, token: SessionToken) -> str:
    """The cookie value carrying ``token`` as a pre-session ID (tagged with ``key``)."""
    return f"{_PREFIX}{token.value}.{_tag(key, token)}"


def parse_presession(value: str, keys: Sequence[bytes]) -> SessionToken | None:
    """The ID inside a pre-session value whose tag verifies under one of ``keys``, or None."""
    if len(value) != PRESESSION_LENGTH or not value.startswith(_PREFIX):
        return None
    inner, dot, tag = value[len(_PREFIX) :].partition(".")
    token = parse_token(inner) if dot else None
    if token is None:
        return None
    valid = False
    for key in keys:  # every generation of the ring, in constant time each
        valid |= hmac.compare_digest(_tag(key, token), tag)
    return token if valid else None
