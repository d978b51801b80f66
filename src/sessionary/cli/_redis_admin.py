"""Operator access to a sessionary Redis deployment: every primary, INFO, SCAN, cleanup.

Used by ``sessionary bench`` (command counts, cleanup) and ``sessionary stats``. Connects
synchronously with redis-py to the same URLs as the stores (standalone, ``redis+cluster://``,
``redis+sentinel://``). Key listing always uses ``SCAN`` (never ``KEYS``), on every primary
of a Cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from sessionary.backends.redis import parse_redis_url
from sessionary.exceptions import StoreUnavailableError

__all__ = ["RedisDeployment"]

_TIMEOUT_S = 5.0
_SCAN_COUNT = 1000
_UNLINK_BATCH = 500


class RedisDeployment:
    """Sync clients for every primary behind a store URL; a context manager.

    Raises :class:`~sessionary.exceptions.StoreUnavailableError` when it cannot connect.
    """

    def __init__(self, url: str, *, timeout: float = _TIMEOUT_S) -> None:
        self.url = url
        self.kind = parse_redis_url(url).kind
        self._cluster: RedisCluster | None = None
        self._sentinel: Any = None
        self.primaries: list[redis.Redis] = []
        try:
            self.primaries = self._connect(url, timeout)
        except redis.RedisError as exc:
            self.close()
            msg = f"cannot reach Redis: {exc}"
            raise StoreUnavailableError(msg) from exc

    def _connect(self, url: str, timeout: float) -> list[redis.Redis]:
        target = parse_redis_url(url)
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if target.kind == "cluster":
            self._cluster = RedisCluster.from_url(target.url, **options)
            nodes = self._cluster.get_primaries()  # type: ignore[no-untyped-call]
            return [node.redis_connection for node in nodes]
        if target.kind == "sentinel":
            sentinel_class: Any = Sentinel  # redis-py's Sentinel API is untyped
            self._sentinel = sentinel_class(list(target.sentinels), sentinel_kwargs=options)
            primary: redis.Redis = self._sentinel.master_for(
                target.service,
                db=target.db,
                username=target.username,
                password=target.password,
                ssl=target.tls,
                **options,
            )
            primary.ping()
            return [primary]
        client = redis.Redis.from_url(url, **options)
        client.ping()
        return [client]

    def __enter__(self) -> RedisDeployment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this object opened."""
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
            return
        for client in self.primaries:
            client.close()
        if self._sentinel is not None:
            for sentinel in self._sentinel.sentinels:
                sentinel.close()

    @property
    def router(self) -> redis.Redis | RedisCluster:
        """A client that sends a key's command to the primary holding it."""
        return self._cluster if self._cluster is not None else self.primaries[0]

    # ------------------------------------------------------------------ INFO
    def info(self, section: str) -> list[dict[str, Any]]:
        """``INFO <section>`` of every primary."""
        return [client.info(section) for client in self.primaries]

    def command_calls(self) -> dict[str, int]:
        """Calls per command since start-up, summed over the primaries (``INFO commandstats``).

        Counts include commands run inside Lua scripts.
        """
        totals: dict[str, int] = {}
        for calls in self.command_calls_by_primary():
            for command, count in calls.items():
                totals[command] = totals.get(command, 0) + count
        return totals

    def command_calls_by_primary(self) -> list[dict[str, int]]:
        """Calls per command since start-up of each primary (in :attr:`primaries` order)."""
        return [
            {name.removeprefix("cmdstat_"): int(values["calls"]) for name, values in stats.items()}
            for stats in self.info("commandstats")
        ]

    def addresses(self) -> list[str]:
        """``host:port`` of each primary (in :attr:`primaries` order)."""
        found = []
        for client in self.primaries:
            kwargs = client.connection_pool.connection_kwargs
            found.append(f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}")
        return found

    def count_matching(self, pattern: str) -> list[int]:
        """How many keys match ``pattern`` on each primary (``SCAN``)."""
        return [
            sum(1 for _ in client.scan_iter(match=pattern, count=_SCAN_COUNT))
            for client in self.primaries
        ]

    # ------------------------------------------------------------------ keys
    def scan(
        self, pattern: str, *, count: int = _SCAN_COUNT
    ) -> Iterator[tuple[redis.Redis, bytes]]:
        """Keys matching ``pattern`` with the primary holding each (``SCAN``, never ``KEYS``)."""
        for client in self.primaries:
            for key in client.scan_iter(match=pattern, count=count):
                yield client, key

    def delete_matching(self, pattern: str) -> int:
        """``UNLINK`` every key matching ``pattern`` on every primary; return how many."""
        removed = 0
        for client in self.primaries:
            batch: list[bytes] = []
            for key in client.scan_iter(match=pattern, count=_SCAN_COUNT):
                batch.append(key)
                if len(batch) >= _UNLINK_BATCH:
                    removed += _unlink(client, batch)
                    batch = []
            if batch:
                removed += _unlink(client, batch)
        return removed


def _unlink(client: redis.Redis, keys: list[bytes]) -> int:
    # One key per call: a Cluster primary refuses multi-key commands across slots.
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.unlink(key)
    return sum(int(n) for n in pipe.execute())
