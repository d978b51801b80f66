"""Legacy sources: the session libraries sessionary migrates live sessions from.

Give one to :class:`~sessionary.AsyncLegacyMigration` (or the sync ``LegacyMigration``)
and pass that as the manager's ``legacy=`` (see docs/migration.md):

* :class:`AsyncStarsessionsSource` / :class:`StarsessionsSource`: starsessions 2.x on Redis;
* :class:`AsyncFlaskSessionSource` / :class:`FlaskSessionSource`: Flask-Session 0.6+ on Redis;
* :class:`AsyncStarletteCookieSource` / :class:`StarletteCookieSource`: Starlette's signed
  cookie ``SessionMiddleware``.

Record formats are decoded in :mod:`sessionary.backends.legacy.formats`, never with pickle.
"""

from __future__ import annotations

from sessionary.backends.legacy._async.redis_sources import (
    AsyncFlaskSessionSource,
    AsyncStarsessionsSource,
)
from sessionary.backends.legacy._async.starlette_cookie import AsyncStarletteCookieSource
from sessionary.backends.legacy._sync.redis_sources import FlaskSessionSource, StarsessionsSource
from sessionary.backends.legacy._sync.starlette_cookie import StarletteCookieSource

__all__ = [
    "AsyncFlaskSessionSource",
    "AsyncStarletteCookieSource",
    "AsyncStarsessionsSource",
    "FlaskSessionSource",
    "StarletteCookieSource",
    "StarsessionsSource",
]
