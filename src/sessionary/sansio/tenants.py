"""Tenants: resolved on the server, validated, and bound into every key (docs/security.md R64-R66).

A tenant ID never comes from the client as such: adapters resolve it from the request's host
through a server-side mapping or callable (:class:`TenantResolver`). It must match
``[A-Za-z0-9][A-Za-z0-9._-]{0,63}`` — none of ``:*?[]{}`` or whitespace — so it can never
widen a key pattern or a Redis hash tag.

The tenant is bound, length-prefixed, into:

* the storage key of every session (``KeyRing.storage_key(..., tenant=...)``): the same ID
  presented under another tenant names another record, so a session created under tenant A
  is anonymous under tenant B;
* the AAD of the sealed cookie store (:func:`~sessionary.sansio.sealed_flow.cookie_aad`);
* values encrypted at rest, through their storage key.

Length-prefixing makes the joining collision-free: tenant ``a`` with selector ``b:c`` and
tenant ``a:b`` with selector ``c`` never meet (and ``:`` is not a tenant character anyway).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sessionary.exceptions import ConfigurationError

__all__ = ["TENANT_PATTERN", "TenantResolver", "check_tenant"]

TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_tenant(value: object) -> str:
    """Return ``value`` if it is a valid tenant ID; raise ``ConfigurationError`` otherwise."""
    if not isinstance(value, str) or TENANT_PATTERN.fullmatch(value) is None:
        msg = f"tenant IDs must match {TENANT_PATTERN.pattern} (got {value!r})"
        raise ConfigurationError(msg)
    return value


def _host_name(host: str) -> str:
    """``Host`` header → lower-case host name without port (IPv6 brackets kept)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class TenantResolver:
    """Maps a request's host to its tenant: a ``{host: tenant}`` mapping or a callable."""

    __slots__ = ("_call", "_mapping")

    def __init__(self, source: Mapping[str, str] | Callable[[str], str | None]) -> None:
        self._mapping: dict[str, str] | None = None
        self._call: Callable[[str], str | None] | None = None
        if isinstance(source, Mapping):
            self._mapping = {_host_name(h): check_tenant(t) for h, t in source.items()}
        elif callable(source):
            self._call = source
        else:
            msg = "tenants must be a {host: tenant} mapping or a callable(host) -> tenant"
            raise ConfigurationError(msg)

    def __repr__(self) -> str:
        kind = "mapping" if self._mapping is not None else "callable"
        return f"TenantResolver(<{kind}>)"

    def resolve(self, host: str | None) -> str | None:
        """The tenant of ``host``; ``None`` for an unknown host or an invalid tenant ID."""
        if not host:
            return None
        name = _host_name(host)
        if self._mapping is not None:
            return self._mapping.get(name)
        assert self._call is not None
        tenant = self._call(name)
        if tenant is None or TENANT_PATTERN.fullmatch(tenant) is None:
            return None
        return tenant
