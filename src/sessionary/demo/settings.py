"""What the demo needs to know, passed from the CLI to every worker through the environment."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from sessionary.backends.redis import RedisLayout
from sessionary.exceptions import ConfigurationError

__all__ = ["LIBRARY_PREFIX", "DemoSettings", "redacted_url"]

LIBRARY_PREFIX = RedisLayout().prefix
"""The Redis stores' default key prefix, where the demo and the operator commands meet."""

_ENV_STORE = "SESSIONARY_DEMO_STORE"
_ENV_SECRET = "SESSIONARY_DEMO_SECRET"  # noqa: S105 - the variable's name, not a secret
_ENV_PREFIX = "SESSIONARY_DEMO_PREFIX"
_ENV_INSECURE = "SESSIONARY_DEMO_INSECURE_COOKIE"
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres")


def redacted_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """The demo's configuration.

    ``store`` is ``"memory"``, a ``redis://``, ``rediss://`` or ``unix://`` URL, or a SQL
    store's ``sqlite:///path.db`` or ``postgresql://`` URL.
    ``prefix`` is the Redis key prefix: by default the library's, where the operator
    commands (``sessionary sessions|events|stats``) look unless told otherwise.
    ``insecure_cookie`` drops the ``Secure`` attribute (and the ``__Host-`` prefix) for
    browsers that refuse ``Secure`` cookies over plain HTTP even on localhost.
    ``idle_timeout`` (seconds) is how long a signed-in session may sit unused.
    """

    store: str = "memory"
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    prefix: str = LIBRARY_PREFIX
    insecure_cookie: bool = False
    idle_timeout: float = 30 * 60

    def __post_init__(self) -> None:
        scheme = urlsplit(self.store).scheme
        if self.store != "memory" and scheme not in _REDIS_SCHEMES + _SQL_SCHEMES:
            msg = (
                f"unsupported store {redacted_url(self.store)!r}: use 'memory', a "
                "redis://, rediss:// or unix:// URL, or sqlite:///path.db or postgresql://"
            )
            raise ConfigurationError(msg)

    @property
    def uses_redis(self) -> bool:
        """Whether sessions live in Redis."""
        return urlsplit(self.store).scheme in _REDIS_SCHEMES

    @property
    def uses_sql(self) -> bool:
        """Whether sessions live in a SQL database (SQLite or PostgreSQL)."""
        return urlsplit(self.store).scheme in _SQL_SCHEMES

    @property
    def shares_sessions(self) -> bool:
        """Whether several worker processes share the sessions (any store but memory)."""
        return self.store != "memory"

    def export(self, environ: MutableMapping[str, str]) -> None:
        """Write these settings into ``environ`` for worker processes to read back."""
        environ[_ENV_STORE] = self.store
        environ[_ENV_SECRET] = self.secret
        environ[_ENV_PREFIX] = self.prefix
        environ[_ENV_INSECURE] = "1" if self.insecure_cookie else "0"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> DemoSettings:
        """Settings exported by :meth:`export` (defaults where a variable is missing)."""
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            store=env.get(_ENV_STORE, defaults.store),
            secret=env.get(_ENV_SECRET, defaults.secret),
            prefix=env.get(_ENV_PREFIX, defaults.prefix),
            insecure_cookie=env.get(_ENV_INSECURE, "0") == "1",
        )
