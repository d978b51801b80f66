"""Shared by the examples: the store URL and the secret, from the environment."""

from __future__ import annotations

import os
import secrets
import sys


def store_url() -> str:
    """``SESSIONARY_STORE``: ``memory`` (default) or a ``redis://`` URL."""
    return os.environ.get("SESSIONARY_STORE", "memory")


def secret() -> str:
    """``SESSION_SECRET``, or a random secret for this run (with a warning)."""
    value = os.environ.get("SESSION_SECRET")
    if value:
        return value
    print("SESSION_SECRET is not set: using a random secret for this run", file=sys.stderr)
    return secrets.token_urlsafe(32)
