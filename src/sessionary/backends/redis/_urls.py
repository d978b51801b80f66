"""Parsing store URLs into a Redis topology (standalone, Cluster, Sentinel). Pure, no I/O.

* ``redis://[user:pass@]host:port/db``, ``rediss://…`` (TLS), ``unix:///path.sock?db=0``
* ``redis+cluster://[user:pass@]host:port`` (any node; the client discovers the others),
  ``rediss+cluster://…``
* ``redis+sentinel://[user:pass@]host1:26379,host2:26379/service[/db]``,
  ``rediss+sentinel://…`` (TLS to the primary); credentials are the primary's

``?read_from_replicas=true`` (Sentinel and Cluster) is the store's own option, taken out of
the URL here: redis-py never sees it (see ``_replicas.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from sessionary.backends.redis._replicas import wants_replicas
from sessionary.exceptions import ConfigurationError

__all__ = ["RedisTarget", "parse_redis_url"]

_PLAIN = ("redis", "rediss", "unix")
_SENTINEL_PORT = 26379


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where a store URL points."""

    kind: Literal["standalone", "cluster", "sentinel"]
    url: str = ""
    """For standalone and cluster: the URL to give redis-py."""
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    read_from_replicas: bool = False
    """``?read_from_replicas=true`` in the URL (taken out of ``url``)."""


def _bad(url: str, why: str) -> ConfigurationError:
    scheme = url.split(":", 1)[0]
    return ConfigurationError(f"invalid Redis URL (scheme {scheme!r}): {why}")


def parse_redis_url(url: str) -> RedisTarget:
    """Classify ``url``; raises :class:`~sessionary.exceptions.ConfigurationError`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise _bad(url, "expected scheme://…")
    base, _, topology = scheme.lower().partition("+")
    if base not in _PLAIN or (topology and base == "unix"):
        raise _bad(url, "use redis://, rediss://, unix://, redis+cluster:// or redis+sentinel://")
    rest, replicas = _take_replica_option(url, rest)
    if not topology:
        if replicas:
            raise _bad(url, "read_from_replicas needs redis+sentinel:// or redis+cluster://")
        return RedisTarget("standalone", url=f"{scheme}://{rest}")
    if topology == "cluster":
        url_of_node = f"{base}://{rest}"
        return RedisTarget(
            "cluster", url=url_of_node, tls=base == "rediss", read_from_replicas=replicas
        )
    if topology != "sentinel":
        raise _bad(url, f"unknown topology {topology!r} (cluster or sentinel)")
    return _sentinel(url, base, rest, replicas)


def _take_replica_option(url: str, rest: str) -> tuple[str, bool]:
    """``rest`` without ``read_from_replicas`` in its query string, and that option's value."""
    head, mark, query = rest.partition("?")
    if not mark or "read_from_replicas" not in query:
        return rest, False
    pairs = parse_qsl(query, keep_blank_values=True)
    values = [value for name, value in pairs if name == "read_from_replicas"]
    try:
        wanted = wants_replicas(values[-1])
    except ConfigurationError as exc:
        raise _bad(url, str(exc)) from exc
    kept = urlencode([(name, value) for name, value in pairs if name != "read_from_replicas"])
    return (f"{head}?{kept}" if kept else head), wanted


def _sentinel(url: str, base: str, rest: str, replicas: bool) -> RedisTarget:
    parts = urlsplit(f"{base}://{rest}")
    netloc = parts.netloc
    credentials, at, hosts = netloc.rpartition("@")
    if not at:
        credentials, hosts = "", netloc
    username = password = None
    if credentials:
        user, colon, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    sentinels: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, colon, port = item.strip().rpartition(":")
        if not colon:
            host, port = item.strip(), str(_SENTINEL_PORT)
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise _bad(url, f"bad sentinel address {item!r}")
        sentinels.append((host.strip("[]"), int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise _bad(url, "the path must be /<service>[/<db>]")
    db = 0
    if len(path) == 2:
        if not path[1].isdigit():
            raise _bad(url, f"bad database number {path[1]!r}")
        db = int(path[1])
    return RedisTarget(
        "sentinel",
        sentinels=tuple(sentinels),
        service=unquote(path[0]),
        db=db,
        username=username,
        password=password,
        tls=base == "rediss",
        read_from_replicas=replicas,
    )
