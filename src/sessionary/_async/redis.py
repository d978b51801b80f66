"""Redis session store: ``AsyncRedisStore`` (asyncio) and its generated twin ``RedisStore``.

Each operation is one ``EVALSHA`` of a single-key Lua script: one round trip, atomic, and
Cluster-safe. redis-py errors are mapped to sessionary's store errors here, at the boundary.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import NoScriptError

from sessionary.exceptions import ConfigurationError
from sessionary.sansio.ops import CommitResult, Create, Destroy, Load, LoadResult, Update
from sessionary.stores._redis_common import (
    ALL_SCRIPTS,
    CREATE_SCRIPT,
    DESTROY_SCRIPT,
    LOAD_SCRIPT,
    UPDATE_SCRIPT,
    RedisLayout,
    Script,
    client_decodes_responses,
    parse_commit_reply,
    parse_load_reply,
)
from sessionary.stores._redis_errors import mapped_redis_errors
from sessionary.stores._redis_urls import parse_redis_url

__all__ = ["AsyncRedisStore"]

Client = Redis | RedisCluster
"""Any redis-py topology: standalone, ``Sentinel(...).master_for(...)`` or ``RedisCluster``."""

DEFAULT_TIMEOUT_S = 1.0
DEFAULT_RETRIES = 1
DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_POOL_TIMEOUT_S = 5.0


class AsyncRedisStore:
    """Sessions in Redis (or Valkey), one hash per session.

    The client is injected, so any topology redis-py supports can be used (standalone,
    Sentinel's ``master_for()``, ``RedisCluster``: every script touches one key, so one hash
    slot); the store never closes a client it did not create. It must return bytes
    (``decode_responses=False``).

    >>> store = AsyncRedisStore.from_url("redis://localhost:6379/0")  # doctest: +SKIP
    """

    def __init__(self, client: Client, *, prefix: str = "sessionary") -> None:
        if client_decodes_responses(client):
            msg = "the Redis client must be created with decode_responses=False"
            raise ConfigurationError(msg)
        self._client = client
        self._layout = RedisLayout(prefix)
        self._owns_client = False
        self._sentinel: Any = None  # the Sentinel a redis+sentinel:// URL created

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "sessionary",
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT_S,
        **client_options: Any,
    ) -> AsyncRedisStore:
        """Connect to a URL: standalone, Cluster or Sentinel.

        ``redis://``, ``rediss://`` (TLS), ``unix://``; ``redis+cluster://host:port`` (any
        node); ``redis+sentinel://host1:26379,host2:26379/service[/db]`` (the current
        primary, found through the sentinels). Socket and connect timeouts default to 1 s,
        and failed calls are retried once with jittered backoff (every script is idempotent,
        so a retry is safe). Standalone connections come from a bounded, blocking pool: a
        burst of requests waits up to ``pool_timeout`` for one of ``max_connections``.
        Further keyword arguments go to redis-py.
        """
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.2), retries),
            "retry_on_timeout": True,
        }
        options.update(client_options)
        options["decode_responses"] = False
        target = parse_redis_url(url)
        sentinel: Any = None  # redis-py's Sentinel API is untyped
        client: Client
        if target.kind == "cluster":
            options.pop("retry_on_timeout")
            client = RedisCluster.from_url(target.url, max_connections=max_connections, **options)
        elif target.kind == "sentinel":
            sentinel_options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
            sentinel_class: Any = Sentinel
            sentinel = sentinel_class(list(target.sentinels), sentinel_kwargs=sentinel_options)
            client = sentinel.master_for(
                target.service,
                db=target.db,
                username=target.username,
                password=target.password,
                ssl=target.tls,
                **options,
            )
        else:
            pool = BlockingConnectionPool.from_url(
                url, max_connections=max_connections, timeout=pool_timeout, **options
            )
            client = Redis.from_pool(pool)
        store = cls(client, prefix=prefix)
        store._owns_client = True
        store._sentinel = sentinel
        return store

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self._layout.prefix!r})"

    @property
    def client(self) -> Client:
        """The underlying redis-py client."""
        return self._client

    @property
    def layout(self) -> RedisLayout:
        """Key names used by this store."""
        return self._layout

    async def warm_up(self) -> None:
        """Check the connection and load every script, so the first request pays neither.

        Call it at application start-up to fail fast when Redis is unreachable or the ACL
        user may not run scripts.
        """
        with mapped_redis_errors("warm-up"):
            await self._client.ping()
            for script in ALL_SCRIPTS:
                await self._client.script_load(script.source)

    async def _run(self, script: Script, key: str, args: list[bytes | str | int]) -> Any:
        with mapped_redis_errors(f"the {script.name} script"):
            try:
                return await self._client.evalsha(script.sha, 1, key, *args)
            except NoScriptError:  # flushed or failed over: load it and try once more
                await self._client.script_load(script.source)
                return await self._client.evalsha(script.sha, 1, key, *args)

    async def load(self, op: Load) -> LoadResult:
        """Read, verify and touch a session (one round trip)."""
        key = self._layout.session_key(op.key)
        return parse_load_reply(await self._run(LOAD_SCRIPT, key, self._layout.load_args(op)))

    async def create(self, op: Create) -> CommitResult:
        """Create a session record (one round trip)."""
        key = self._layout.session_key(op.key)
        return parse_commit_reply(await self._run(CREATE_SCRIPT, key, self._layout.create_args(op)))

    async def update(self, op: Update) -> CommitResult:
        """Apply a conditional delta (one round trip)."""
        key = self._layout.session_key(op.key)
        return parse_commit_reply(await self._run(UPDATE_SCRIPT, key, self._layout.update_args(op)))

    async def destroy(self, op: Destroy) -> bool:
        """Delete a session if its digest matches (one round trip)."""
        key = self._layout.session_key(op.key)
        return bool(await self._run(DESTROY_SCRIPT, key, self._layout.destroy_args(op)))

    async def aclose(self) -> None:
        """Close the client if this store created it."""
        if self._owns_client:
            await self._client.aclose()
            if self._sentinel is not None:
                for sentinel in self._sentinel.sentinels:
                    await sentinel.aclose()
