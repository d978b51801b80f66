"""Redis session store: ``AsyncRedisStore`` (the sync module is generated from the asyncio one).

A read is one ``HGETALL`` judged in the client (:mod:`sessionary.backends.redis._reads`);
every write is one ``EVALSHA`` of a single-key Lua script: one round trip, atomic, and
Cluster-safe. redis-py errors are mapped to sessionary's store errors here, at the boundary.
Durable writes (:class:`~sessionary.stores.ReplicaWait`) add ``WAIT`` to the same round trip;
failed idempotent operations are retried with backoff (see :mod:`sessionary.backends.redis._retry`).
"""

from __future__ import annotations

import hmac
import itertools
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import NoScriptError, RedisClusterException, RedisError, ResponseError

from sessionary.backends.redis._async.admission import AsyncAdmission
from sessionary.backends.redis._async.io import (
    async_close_client,
    async_execute_pipeline,
    async_node_replies,
    async_owner_of,
    async_pause,
    async_raw_exchange,
    async_raw_replies,
    async_refresh_slots,
    async_replica_of,
    async_send_pipeline,
    async_slot_nodes,
)
from sessionary.backends.redis._cluster import owner_moved
from sessionary.backends.redis._durability import ReplicaWait, check_acknowledged
from sessionary.backends.redis._errors import mapped_redis_errors
from sessionary.backends.redis._layout import (
    ALL_SCRIPTS,
    CREATE_SCRIPT,
    DESTROY_SCRIPT,
    DISCARD_SCRIPT,
    LOAD_SCRIPT,
    TOUCH_SCRIPT,
    UPDATE_SCRIPT,
    RedisLayout,
    Script,
    client_decodes_responses,
    parse_commit_reply,
    parse_load_reply,
)
from sessionary.backends.redis._loops import AsyncLoopClients
from sessionary.backends.redis._options import check_cluster_options, check_pool_options
from sessionary.backends.redis._pool import (
    AsyncWaitingCluster,
    AsyncWaitingPool,
    AsyncWaitingSentinelPool,
)
from sessionary.backends.redis._reads import (
    NOT_A_HASH,
    ReadStep,
    TagMemory,
    judge_read,
    pack_read,
)
from sessionary.backends.redis._replicas import (
    SENTINEL_PRIMARY,
    OffsetFloor,
    ReplicaReadStats,
    primary_offset,
    replica_refusal,
    wants_replicas,
)
from sessionary.backends.redis._retry import RETRYABLE
from sessionary.backends.redis._sweep import (
    MAX_PER_CALL,
    SETTLE_SCRIPT,
    SWEEP_RECORD_SCRIPT,
    SWEEP_SCRIPT,
    SWEEP_SCRIPTS,
    expired_session,
    parse_sweep_reply,
    reported,
)
from sessionary.backends.redis._urls import RedisTarget, parse_redis_url
from sessionary.backends.redis._users import (
    END_SCRIPT,
    INDEX_ADD_SCRIPT,
    LOCK_SCRIPT,
    PIN_COOKIE_SCRIPT,
    RELEASE_LOCK_SCRIPT,
    RENEW_LOCK_SCRIPT,
    RESTAMP_SCRIPT,
    REVOKE_SCRIPT,
    SESSION_META_FIELDS,
    USER_SCRIPTS,
    cookie_floor_key,
    due_bucket,
    parse_session_meta,
)
from sessionary.exceptions import ConfigurationError, StoreDurabilityError, StoreUnavailableError
from sessionary.sansio.cookie_state import CookieState, PinCookie, ReadCookieState
from sessionary.sansio.ops import (
    CommitResult,
    CommitStatus,
    Create,
    Destroy,
    Discard,
    ExpiredSession,
    Load,
    LoadResult,
    LoadStatus,
    RecordMeta,
    Update,
    UserBinding,
)
from sessionary.sansio.users import is_live_session_of, sessions_to_evict
from sessionary.stores.base import Capability

__all__ = ["AsyncRedisStore"]

_WITHOUT_SWEEP = frozenset(
    {
        Capability.SESSIONS,
        Capability.USER_INDEX,
        Capability.LOCKS,
        Capability.CLOCK,
        Capability.COOKIE_STATES,
    }
)
_WITH_SWEEP = _WITHOUT_SWEEP | {Capability.EXPIRY_SWEEP}


def _int_or_none(raw: Any) -> int | None:
    return None if raw is None else int(raw)


Client = Redis | RedisCluster
"""Any redis-py topology: standalone, ``Sentinel(...).master_for(...)`` or ``RedisCluster``."""

DEFAULT_TIMEOUT_S = 1.0
DEFAULT_RETRIES = 1
DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_POOL_TIMEOUT_S = 5.0
DEFAULT_DUE_BUCKETS = 16
_CONFIRMED_ON_PRIMARY = frozenset({LoadStatus.MISSING, LoadStatus.INVALID, LoadStatus.CORRUPT})
"""A replica's verdicts the primary confirms (see ``_judged_from_replica``)."""
REPLICA_LOOKUP_INTERVAL_S = 5.0
"""How often a Cluster store re-reads a slot map that shows a slot without a replica."""
_BACKOFF = ExponentialWithJitterBackoff(base=0.01, cap=0.2)


class AsyncRedisStore:
    """Sessions in Redis (or Valkey), one hash per session.

    ``client``: a redis-py client of any topology (standalone, Sentinel's ``master_for()``,
    ``RedisCluster``: every script touches one key, so one hash slot), or a function that
    creates one. It must return bytes (``decode_responses=False``).

    Event loops: an asyncio redis-py client belongs to the loop that first used it. A store
    built by :meth:`from_url` or given a function keeps one client per event loop, created
    on the loop's first use and closed when that loop shuts down (and by :meth:`aclose`), so
    it works from any loop: ``asyncio.run()`` called repeatedly, Django's async views under
    WSGI, Starlette's ``TestClient`` without ``with``. A client passed in serves the one
    loop that uses it first; from another loop the store raises
    :class:`~sessionary.exceptions.ConfigurationError` naming the fix. The store closes the
    clients it created, never one it was given.

    ``durability``: a :class:`~sessionary.stores.ReplicaWait` makes every write that ends or
    revokes sessions (logout, ``end_session``, ``revoke_user``) — and with ``commits=True``
    every write — wait for replica acknowledgement, so a failover cannot bring back a
    session that was ended. ``retries``: how often a failed *idempotent* operation (load,
    create, destroy; never an update) is retried, with jittered backoff. An injected client
    keeps its own retry settings (redis-py retries every command on connection errors by
    default); pass ``retry=Retry(NoBackoff(), 0)`` to it, as :meth:`from_url` does, so that
    updates are never replayed.

    ``read_from_replicas=True`` (Sentinel or Cluster): a session read goes to a replica when
    the replica is connected and has processed every write this process made on its
    primary, else to the primary; writes, touches and the user's epoch always go to the
    primary, and every write that ends or revokes sessions waits for a replica (a
    :class:`~sessionary.stores.ReplicaWait`, ``ReplicaWait()`` when ``durability`` is not
    given). docs/redis.md, "Reads from replicas", states what this guarantees.

    >>> store = AsyncRedisStore.from_url("redis://localhost:6379/0")  # doctest: +SKIP
    >>> store = AsyncRedisStore(lambda: Redis(host="localhost"))  # doctest: +SKIP
    """

    def __init__(
        self,
        client: Client | Callable[[], Client],
        *,
        prefix: str = "sessionary",
        track_expiry: bool = False,
        due_buckets: int = DEFAULT_DUE_BUCKETS,
        durability: ReplicaWait | None = None,
        retries: int = 0,
        read_from_replicas: bool = False,
    ) -> None:
        if not 1 <= due_buckets <= 1024:
            msg = "due_buckets must be between 1 and 1024"
            raise ConfigurationError(msg)
        if durability is not None and not isinstance(durability, ReplicaWait):
            msg = "durability must be a ReplicaWait (or None)"
            raise ConfigurationError(msg)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            msg = "retries must be a non-negative int"
            raise ConfigurationError(msg)
        self._clients = client if isinstance(client, AsyncLoopClients) else _clients_of(client)
        self._layout = RedisLayout(prefix)
        self._durability = durability
        self._retries = retries
        self._cluster = self._clients.cluster
        self._replica_reads = wants_replicas(read_from_replicas)
        # Reads from a replica: every write that ends sessions waits for one (see the class).
        self._revocation_wait = durability
        if self._replica_reads and durability is None:
            self._revocation_wait = ReplicaWait()
        self._floor = OffsetFloor()
        self._turn = itertools.count()  # which of a slot's replicas a Cluster read goes to
        self._replicas_looked_up = 0.0
        self._digests = TagMemory()
        """With ``read_from_replicas``: the validator digest (hex) each session was read
        with, so that an update changing it (a rotation) waits for a replica, as a logout."""
        self.replica_stats = ReplicaReadStats()
        """With ``read_from_replicas``: reads a replica answered, and the fallbacks."""
        self._admission = AsyncAdmission(self._clients, self._layout, self._run)
        # On Cluster the user's epoch lives in another slot: read in a second step.
        self._epoch_prefix = "" if self._cluster else self._layout.epoch_prefix
        self._tags = TagMemory()
        """Each session's user tag as last seen, so a read sends the epoch GET at once."""
        self.track_expiry = track_expiry
        """Keep the expiry schedule the sweeper reads (one more round trip per create); the
        store then declares the ``EXPIRY_SWEEP`` capability."""
        self.due_buckets = due_buckets

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this store can do: all of it, the sweep with ``track_expiry`` only."""
        return _WITH_SWEEP if self.track_expiry else _WITHOUT_SWEEP

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "sessionary",
        track_expiry: bool = False,
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT_S,
        durability: ReplicaWait | None = None,
        read_from_replicas: bool | str = False,
        **client_options: Any,
    ) -> AsyncRedisStore:
        """Connect to a URL: standalone, Cluster or Sentinel (lazily: on first use).

        ``redis://``, ``rediss://`` (TLS), ``unix://``; ``redis+cluster://host:port`` (any
        node); ``redis+sentinel://host1:26379,host2:26379/service[/db]`` (the current
        primary, found through the sentinels). Socket and connect timeouts default to 1 s
        (``timeout``); raise it for bursts of thousands of concurrent operations. The client
        itself never retries; the store retries failed idempotent operations ``retries``
        times with jittered backoff (an update, whose effect is unknown after a timeout, is
        never replayed). Every topology uses bounded pools — ``max_connections`` per node —
        whose callers wait in turn, up to ``pool_timeout`` seconds, for a free connection.
        ``durability`` and ``read_from_replicas`` (or ``?read_from_replicas=true`` in the
        URL, Sentinel and Cluster only): see the class. Further keyword arguments (and the
        URL's query string) go to redis-py; one it does not know raises
        :class:`~sessionary.exceptions.ConfigurationError` here, not at the first request.
        Nothing connects before the first operation: an unreachable Redis is a
        :class:`~sessionary.exceptions.StoreUnavailableError` then.
        """
        target = parse_redis_url(url)
        replicas = target.read_from_replicas or wants_replicas(read_from_replicas)
        if replicas and target.kind == "standalone":
            msg = "read_from_replicas needs a redis+sentinel:// or redis+cluster:// URL"
            raise ConfigurationError(msg)
        wait = durability if durability is not None or not replicas else ReplicaWait()
        if wait is not None:
            wait.check_socket_timeout(client_options.get("socket_timeout", timeout))
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),
        }
        options.update(client_options)
        options["decode_responses"] = False
        connect = partial(
            _connect, url, target, options, max_connections=max_connections, timeout=pool_timeout
        )
        first: Client | None = None
        if target.kind == "cluster":  # the sync client would connect in its constructor
            check_cluster_options(RedisCluster, target.url, options, store_url=url)
        else:
            try:
                first = connect()  # standalone or Sentinel: nothing connects yet
            except (TypeError, ValueError) as exc:
                msg = f"invalid Redis options for {url.split(':', 1)[0]}://: {exc}"
                raise ConfigurationError(msg) from exc
            check_pool_options(first.connection_pool, url)  # type: ignore[union-attr]
        clients: AsyncLoopClients[Client] = AsyncLoopClients(
            connect, spare=first, cluster=target.kind == "cluster", close=async_close_client
        )
        return cls(
            clients,
            prefix=prefix,
            track_expiry=track_expiry,
            durability=durability,
            retries=retries,
            read_from_replicas=replicas,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self._layout.prefix!r})"

    @property
    def client(self) -> Client:
        """The redis-py client of the running event loop (see the class)."""
        return self._clients()

    @property
    def _client(self) -> Client:
        return self._clients()

    @property
    def durability(self) -> ReplicaWait | None:
        """The replica acknowledgement durable writes wait for, if any."""
        return self._durability

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
            for script in (*ALL_SCRIPTS, *USER_SCRIPTS, *SWEEP_SCRIPTS):
                await self._client.script_load(script.source)

    async def server_time(self) -> int:
        """Redis ``TIME`` in milliseconds: the clock every node judges expiry by (R38).

        On a Cluster, the time of the node redis-py picks (nodes' clocks should agree; the
        store samples one node, so every application node follows the same one).
        """
        with mapped_redis_errors("reading the server time"):
            reply: Any = await self._client.time()
        if isinstance(reply, dict):  # RedisCluster answers per node
            reply = next(iter(reply.values()))
        seconds, micros = reply
        return int(seconds) * 1000 + int(micros) // 1000

    async def _run(
        self,
        script: Script,
        key: str | list[str],
        args: list[bytes | str | int],
        *,
        durable: bool = False,
    ) -> Any:
        """Run a script on keys of one slot; the one path every script call takes.

        ``durable=True`` waits for replica acknowledgement when the store has a
        :class:`ReplicaWait` (every write that ends or revokes sessions passes it). Scripts
        named in :data:`~sessionary.backends.redis._retry.RETRYABLE` are retried on unavailability;
        a :class:`~sessionary.exceptions.StoreDurabilityError` never is.
        """
        keys = [key] if isinstance(key, str) else key
        wait = self._revocation_wait if durable else None
        return await self._retried(script.name, partial(self._eval, script, keys, args, wait))

    async def _eval(
        self,
        script: Script,
        keys: list[str],
        args: list[bytes | str | int],
        wait: ReplicaWait | None,
    ) -> Any:
        with mapped_redis_errors(f"the {script.name} script"):
            try:
                return await self._send(script, keys, args, wait)
            except NoScriptError:  # flushed or failed over: load it and try once more
                await self._client.script_load(script.source)
                return await self._send(script, keys, args, wait)

    async def _send(
        self,
        script: Script,
        keys: list[str],
        args: list[bytes | str | int],
        wait: ReplicaWait | None,
    ) -> Any:
        role = self._replica_reads
        if wait is None and not role:
            return await self._client.evalsha(script.sha, len(keys), *keys, *args)
        # One round trip on one connection: WAIT counts the replicas holding this write, ROLE
        # gives the primary's offset after it (the floor replica reads are held to).
        # On a Cluster, both (no key) must be sent to the primary owning the keys explicitly.
        if isinstance(self._client, RedisCluster):
            return await self._send_on_owner(self._client, script, keys, args, wait)
        pipe: Any = self._client.pipeline(transaction=False)
        pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        if wait is not None:
            pipe.execute_command("WAIT", wait.replicas, wait.timeout_ms)
        if role:
            pipe.execute_command("ROLE")
        replies = await pipe.execute()
        if role:
            self._floor.raise_to(keys[0], SENTINEL_PRIMARY, primary_offset(replies[-1]))
        if wait is not None:
            check_acknowledged(wait, int(replies[1]), script.name)
        return replies[0]

    async def _send_on_owner(
        self,
        client: Any,  # a RedisCluster (the sync one's pipeline() is untyped)
        script: Script,
        keys: list[str],
        args: list[bytes | str | int],
        wait: ReplicaWait | None,
    ) -> Any:
        """The write, then ``WAIT`` and/or ``ROLE``, on the connection of the key's primary.

        A failure refreshes the slot map (redis-py's asyncio pipeline does not). A write
        redirected to another primary (MOVED mid-pipeline) was acknowledged by the wrong
        node's ``WAIT``: its durability is unknown, reported as such; and the offset read
        was the wrong node's: replica reads of the new owner go to it until its next write.
        """
        owner = await async_owner_of(client, keys[0])
        role = self._replica_reads
        pipe: Any = client.pipeline(transaction=False)
        pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        if wait is not None:
            pipe.execute_command("WAIT", wait.replicas, wait.timeout_ms, target_nodes=owner)
        if role:
            pipe.execute_command("ROLE", target_nodes=owner)
        replies = await async_execute_pipeline(client, pipe)
        moved = owner_moved(client, keys[0], owner)
        if role and moved:
            self._floor.raise_to(keys[0], client.get_node_from_key(keys[0]).name, None)
        elif role:
            self._floor.raise_to(keys[0], owner.name, primary_offset(replies[-1]))
        if wait is not None:
            if moved:
                check_acknowledged(wait, 0, script.name)
            check_acknowledged(wait, int(replies[1]), script.name)
        return replies[0]

    @property
    def _commits(self) -> bool:
        return self._durability is not None and self._durability.commits

    async def load(self, op: Load) -> LoadResult:
        """Read a session: one ``HGETALL`` judged in the client, no script (see ``_reads``).

        A signed-in session's user epoch goes out in the same write when this store knows
        the record's user tag (from its login here or an earlier read); otherwise it is a
        second round trip, as on a Cluster, where the epoch lives in the user's slot. A
        touch that is due adds the conditional touch script; an expired record, the load
        script that deletes it.
        """
        layout = self._layout
        key = layout.session_key(op.key)
        tag = None if self._cluster else self._tags.get(op.key)
        result: LoadResult
        step: ReadStep
        if self._replica_reads:
            judged = partial(self._judged_from_replica, key, tag, op)
            result, step = await self._retried("load", judged)
        else:
            reply, epoch = await self._retried("load", partial(self._read, key, tag))
            result, step = judge_read(reply, op, tag, epoch)
        if self._replica_reads and result.status is LoadStatus.FOUND:
            self._digests.remember(op.key, op.digest.hex())
        if step is ReadStep.SCRIPT:
            return await self._load_by_script(op)
        record = result.record
        if record is None:
            return result
        user_key = record.meta.user_key
        if step is ReadStep.TOUCH:
            args = [*layout.load_args(op), self._epoch_prefix]
            touch = await self._run(TOUCH_SCRIPT, key, args)
            if int(touch[0]) < 0:  # changed since the read: the script's verdict stands
                return await self._load_by_script(op)
            if int(touch[0]):
                record = record._replace(meta=record.meta._replace(accessed=op.now), touched=True)
            if not self._cluster:  # the touch read the epoch of the record's own user
                tag = user_key
                record = record._replace(user_epoch=_int_or_none(touch[1] or None))
        if user_key is not None and user_key != tag:
            with mapped_redis_errors("reading the user epoch"):
                epoch = await self._client.get(layout.user_epoch_key(user_key))
            record = record._replace(user_epoch=_int_or_none(epoch))
        elif step is ReadStep.DONE and user_key == tag:
            return result  # as read, and the tag memory already right
        if not self._cluster:
            self._tags.remember(op.key, user_key)
        return LoadResult(LoadStatus.FOUND, record)

    def user_tag(self, key: str) -> str | None:
        """The user tag this store last saw on ``key``'s record (``None``: none, or a Cluster)."""
        return None if self._cluster else self._tags.get(key)

    async def _read(self, key: str, tag: str | None) -> tuple[Any, Any]:
        """``HGETALL`` of a session hash, with the epoch ``GET`` of ``tag`` if one is given.

        The hash comes back raw (``NOT_A_HASH`` for another type under its name: corrupt,
        never an error); an error reply to the ``GET`` is raised, as the load script's would.
        """
        epoch_key = None if tag is None else self._layout.user_epoch_key(tag)
        with mapped_redis_errors("reading a session"):
            replies = await async_raw_replies(self._client, pack_read(key, epoch_key))
            if replies is None:  # a Cluster: redis-py routes the command
                client: Any = self._client
                try:
                    replies = [await client.execute_command("HGETALL", key)]
                except ResponseError as error:
                    replies = [error]
            reply = _checked_replies(replies)
        return reply, replies[1] if tag is not None else None

    async def _judged_from_replica(
        self, key: str, tag: str | None, op: Load
    ) -> tuple[LoadResult, ReadStep]:
        """:meth:`_read` judged, answered by a replica when it may stand, else by the primary.

        The replica's ``ROLE`` goes first in the same write (see ``_replicas.py``); on
        Sentinel the epoch ``GET`` of ``tag`` goes to the primary at the same time (written
        before either reply is read: no second round trip). A replica that finds no record
        for this validator is not believed: another process may have just created the
        session or given it a new ID, which the replica has not received yet; the primary
        confirms (a rare read: a forged, expired or logged-out cookie). Counted in
        ``replica_stats``.
        """
        if self._cluster:
            answer = await self._replica_read_on_cluster(key)
        else:
            answer = await self._replica_read_on_sentinel(key, tag)
        if not isinstance(answer, str):
            result, step = judge_read(answer[0], op, tag, answer[1])
            if result.status not in _CONFIRMED_ON_PRIMARY or step is not ReadStep.DONE:
                self.replica_stats.replica += 1
                return result, step
            answer = "not found"
        self.replica_stats.fell_back(answer)
        reply, epoch = await self._read(key, tag)
        return judge_read(reply, op, tag, epoch)

    async def _replica_read_on_sentinel(self, key: str, tag: str | None) -> tuple[Any, Any] | str:
        """The replica's ``ROLE`` and ``HGETALL`` (and the primary's epoch), or a refusal."""
        primary = self._client
        batches: list[tuple[Any, list[tuple[str, ...]]]] = [
            (async_replica_of(primary), [("ROLE",), ("HGETALL", key)])
        ]
        if tag is not None:
            batches.append((primary, [("GET", self._layout.user_epoch_key(tag))]))
        try:
            results = await async_raw_exchange(batches)
        except (RedisError, OSError):
            return "error"
        if results is None:
            return "not pooled"
        (role, reply), *epoch = results
        refusal = replica_refusal(role, self._floor.get(key, SENTINEL_PRIMARY))
        if refusal is None and isinstance(reply, ResponseError) and not _wrong_type(reply):
            refusal = "error"
        if refusal is not None:
            return refusal
        with mapped_redis_errors("reading a session"):
            reply = _checked_replies([reply, *(epoch[0] if epoch else ())])
        return reply, epoch[0][0] if epoch else None

    def _may_look_for_replicas(self) -> bool:
        """Whether a slot map without a replica may be re-read now (every few seconds).

        ``CLUSTER SLOTS`` lists a replica only once it has reported a replication offset: a
        client that loaded its map right after a replica joined would never read from it.
        """
        now = time.monotonic()
        if now - self._replicas_looked_up < REPLICA_LOOKUP_INTERVAL_S:
            return False
        self._replicas_looked_up = now
        return True

    async def _replica_read_on_cluster(self, key: str) -> tuple[Any, Any] | str:
        """The ``ROLE`` and ``HGETALL`` of a replica of the key's slot, or a refusal.

        ``READONLY`` goes first on the same connection: a Cluster replica answers a
        connection that did not send it with a redirection to its primary.
        """
        client: Any = self._client
        try:
            nodes = await async_slot_nodes(client, key)
            if len(nodes) < 2 and self._may_look_for_replicas():
                await async_refresh_slots(client)
                nodes = await async_slot_nodes(client, key)
            if len(nodes) < 2:
                return "no replica"
            replica = nodes[1 + next(self._turn) % (len(nodes) - 1)]
            commands = [("READONLY",), ("ROLE",), ("HGETALL", key)]
            _, role, reply = await async_node_replies(replica, commands)
        except (RedisError, RedisClusterException, OSError):
            return "error"
        refusal = replica_refusal(role, self._floor.get(key, nodes[0].name))
        if refusal is None and isinstance(reply, ResponseError) and not _wrong_type(reply):
            refusal = "error"
        if refusal is not None:
            return refusal
        with mapped_redis_errors("reading a session"):
            return _checked_replies([reply]), None

    async def _retried(self, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``call``; retried on unavailability when ``name`` is in ``RETRYABLE``.

        A :class:`~sessionary.exceptions.StoreDurabilityError` is never retried.
        """
        retries = self._retries if name in RETRYABLE else 0
        attempt = 0
        while True:
            try:
                return await call()
            except StoreDurabilityError:
                raise
            except StoreUnavailableError:
                if attempt >= retries:
                    raise
            attempt += 1
            await async_pause(_BACKOFF.compute(attempt))

    async def _load_by_script(self, op: Load) -> LoadResult:
        """Read, verify and touch a session in one script (expired records, changed ones).

        On Cluster a user's session takes two round trips: the epoch lives in the user's slot.
        """
        layout = self._layout
        args = [*layout.load_args(op), self._epoch_prefix]
        result = parse_load_reply(await self._run(LOAD_SCRIPT, layout.session_key(op.key), args))
        record = result.record
        if self._cluster and record is not None and record.meta.user_key is not None:
            with mapped_redis_errors("reading the user epoch"):
                epoch = await self._client.get(layout.user_epoch_key(record.meta.user_key))
            record = record._replace(user_epoch=None if epoch is None else int(epoch))
            return result._replace(record=record)
        return result

    async def create(self, op: Create) -> CommitResult:
        """Create a session record (one round trip; a login also updates its user's index).

        A login under a session limit takes its user's admission first (see
        :mod:`sessionary.backends.redis._async.admission`).
        """
        return await self._admitted(op.binding, partial(self._create, op))

    async def _create(self, op: Create) -> CommitResult:
        evicted = await self._admit(op.key, op.binding, op.now, op.idle)
        if evicted is None:
            return CommitResult(CommitStatus.LIMIT)
        key = self._layout.session_key(op.key)
        args = self._layout.create_args(op)
        result = parse_commit_reply(
            await self._run(CREATE_SCRIPT, key, args, durable=self._commits)
        )
        if result.status is CommitStatus.OK:
            due = min(op.now + op.idle, op.deadline)
            await self._after_write(
                op.key, binding=op.binding, now=op.now, user=op.user, deadline=op.deadline, due=due
            )
            return result._replace(evicted=evicted)
        return result

    async def update(self, op: Update) -> CommitResult:
        """Apply a conditional delta (one round trip; a login also updates its user's index).

        A login under a session limit takes its user's admission first, as in :meth:`create`.
        """
        return await self._admitted(op.binding, partial(self._update, op))

    async def _admitted(
        self, binding: UserBinding | None, write: Callable[[], Awaitable[CommitResult]]
    ) -> CommitResult:
        """Run ``write``, holding the user's admission when a session limit applies."""
        if binding is None or binding.max_sessions is None:
            return await write()
        token = await self._admission.enter(binding.user_key)
        try:
            return await write()
        finally:
            await self._admission.leave(binding.user_key, token)

    async def _update(self, op: Update) -> CommitResult:
        evicted = await self._admit(op.key, op.binding, op.now, op.max_idle)
        if evicted is None:
            return CommitResult(CommitStatus.LIMIT)
        layout = self._layout
        keys = [layout.session_key(op.key), layout.lock_key(op.key)]
        args = layout.update_args(op)
        rotation = self._replica_reads and not hmac.compare_digest(
            self._digests.get(op.key) or "", op.digest.hex()
        )
        result = parse_commit_reply(
            await self._run(UPDATE_SCRIPT, keys, args, durable=self._commits or rotation)
        )
        if rotation and result.status is CommitStatus.OK:
            self._digests.remember(op.key, op.digest.hex())
        if result.status is CommitStatus.OK and op.binding is not None:
            await self._after_write(
                op.key,
                binding=op.binding,
                now=op.now,
                user=op.user,
                deadline=op.deadline,
                due=op.now,
            )
            return result._replace(evicted=evicted)
        return result

    async def destroy(self, op: Destroy) -> bool:
        """Delete a session if its digest matches (one round trip; two for a user's session)."""
        key = self._layout.session_key(op.key)
        args = self._layout.destroy_args(op)
        deleted = bool(await self._run(DESTROY_SCRIPT, key, args, durable=True))
        self._tags.remember(op.key, None)
        if deleted and op.user_key is not None:
            with mapped_redis_errors("updating the user index"):
                await self._client.zrem(self._layout.user_index_key(op.user_key), op.key)
        if deleted and self.track_expiry:
            await self._untrack([op.key])
        return deleted

    async def discard(self, op: Discard) -> bool:
        """Delete whatever is stored under the key: the core found it corrupt or forged."""
        key = self._layout.session_key(op.key)
        deleted = bool(await self._run(DISCARD_SCRIPT, key, [], durable=True))
        if deleted and self.track_expiry:
            await self._untrack([op.key])
        return deleted

    # ------------------------------------------------------------------ users
    async def _after_write(
        self,
        key: str,
        *,
        binding: UserBinding | None,
        now: int,
        user: str | None,
        deadline: int | None,
        due: int,
    ) -> None:
        """Index a login under its user and keep the expiry schedule (after the write)."""
        if binding is not None:
            self._tags.remember(key, binding.user_key)
            index = self._layout.user_index_key(binding.user_key)
            await self._run(INDEX_ADD_SCRIPT, index, [now, key, binding.deadline])
        if self.track_expiry:
            bucket = due_bucket(key, self.due_buckets)
            info = f"{deadline or 0}|{user or ''}".encode("utf-8", "surrogatepass")
            pipe = self._client.pipeline(transaction=False)
            pipe.zadd(self._layout.due_key(bucket), {key: due})
            pipe.hset(self._layout.due_info_key(bucket), key, info)
            await self._execute(pipe, "scheduling the expiry sweep")

    async def _execute(self, pipe: Any, operation: str) -> Any:
        """Send a pipeline; on a Cluster a failure refreshes the slot map.

        redis-py's asyncio Cluster pipeline does not refresh it (a single command does), so
        a store whose only traffic to a dead primary's slots is pipelined would keep sending
        to the dead address after the failover.
        """
        return await async_send_pipeline(self._client, pipe, operation)

    async def _read_records(self, keys: list[str]) -> list[RecordMeta | None]:
        """The metadata of several sessions (any slots), one pipelined round trip per node."""
        if not keys:
            return []
        layout = self._layout
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(layout.session_key(key), SESSION_META_FIELDS)
        replies = await self._execute(pipe, "reading sessions")
        return [parse_session_meta(reply) for reply in replies]

    async def _live_members(
        self, user_key: str, now: int, max_idle: int
    ) -> list[tuple[str, int, RecordMeta]]:
        """The user's live indexed sessions (key, score, meta); prunes the dead entries."""
        layout = self._layout
        index = layout.user_index_key(user_key)
        pipe = self._client.pipeline(transaction=False)
        pipe.zremrangebyscore(index, "-inf", f"({now}")
        pipe.zrange(index, 0, -1, withscores=True)
        pipe.get(layout.user_epoch_key(user_key))
        _, members, epoch_raw = await self._execute(pipe, "reading the user index")
        epoch = None if epoch_raw is None else int(epoch_raw)
        keys = [bytes(m).decode("ascii") for m, _ in members]
        metas = await self._read_records(keys)
        live: list[tuple[str, int, RecordMeta]] = []
        dead: list[str] = []
        for key, (_, score), meta in zip(keys, members, metas, strict=True):
            if is_live_session_of(meta, user_key, now=now, max_idle=max_idle, epoch=epoch):
                assert meta is not None
                live.append((key, int(score), meta))
            else:
                dead.append(key)
        if dead:
            with mapped_redis_errors("pruning the user index"):
                await self._client.zrem(index, *dead)
        return live

    async def _admit(
        self, key: str, binding: UserBinding | None, now: int, max_idle: int
    ) -> tuple[str, ...] | None:
        """Apply the session limit for a login; ``None`` means refuse."""
        if binding is None or binding.max_sessions is None:
            return ()
        members = await self._live_members(binding.user_key, now, max_idle)
        victims = sessions_to_evict(((s, k) for k, s, _ in members if k != key), binding)
        for victim in victims or ():
            await self.end_session(binding.user_key, victim, "evicted")
        return victims

    async def list_user(
        self, user_key: str, now: int, max_idle: int
    ) -> list[tuple[str, RecordMeta]]:
        """The user's live sessions (storage key, metadata), oldest first; prunes the index."""
        members = await self._live_members(user_key, now, max_idle)
        return [(key, meta) for key, _, meta in sorted(members, key=lambda m: m[1])]

    async def revoke_user(
        self, user_key: str, now: int, keep: str | None = None, *, sessions_end_by: int
    ) -> int:
        """End every session of the user (but ``keep``): O(1) epoch move, then cleanup.

        ``sessions_end_by``: no session stamped before ``now`` lives past it (its absolute
        deadline), so the epoch key expires then instead of staying forever. Returns how
        many sessions the cleanup ended.
        """
        horizon = max(1, sessions_end_by - now)
        layout = self._layout
        kept = False
        if keep is not None:
            kept = bool(
                await self._run(
                    RESTAMP_SCRIPT, layout.session_key(keep), [user_key.encode(), now + 1]
                )
            )
        removed = await self._run(
            REVOKE_SCRIPT,
            [layout.user_index_key(user_key), layout.user_epoch_key(user_key)],
            [now, keep if kept and keep is not None else "", horizon],
            durable=True,  # the epoch move is what refuses every older session
        )
        ended = 0
        keys = [bytes(m).decode("ascii") for m in removed]
        for key in keys:  # cleanup: tombstones, so each device learns why on its next request
            ended += int(
                await self._run(END_SCRIPT, layout.session_key(key), [user_key.encode(), "revoked"])
            )
        if self.track_expiry:
            await self._untrack(keys)
        return ended

    async def end_session(self, user_key: str, key: str, reason: str) -> bool:
        """Tombstone one session of the user: its next request learns ``reason``."""
        layout = self._layout
        ended = bool(
            await self._run(
                END_SCRIPT, layout.session_key(key), [user_key.encode(), reason], durable=True
            )
        )
        with mapped_redis_errors("updating the user index"):
            await self._client.zrem(layout.user_index_key(user_key), key)
        if ended and self.track_expiry:
            await self._untrack([key])
        return ended

    async def user_epoch(self, user_key: str) -> int | None:
        """The user's epoch (time of the last ``revoke_user``), if any."""
        with mapped_redis_errors("reading the user epoch"):
            raw = await self._client.get(self._layout.user_epoch_key(user_key))
        return None if raw is None else int(raw)

    # ------------------------------------------------------------------ sealed cookie floors
    async def read_cookie_state(self, op: ReadCookieState) -> CookieState:
        """A sealed cookie session's floor and, for an authenticated one, its user's epoch.

        One ``GET``, or one ``MGET`` of both; on a Cluster the two keys live in different
        slots, so they go out as one pipeline (one request per node, at once).
        """
        floor_key = cookie_floor_key(self._layout.prefix, op.cookie_key)
        if op.user_key is None:
            with mapped_redis_errors("reading a cookie session's floor"):
                floor = await self._client.get(floor_key)
            return CookieState(_int_or_none(floor), None)
        epoch_key = self._layout.user_epoch_key(op.user_key)
        if self._cluster:
            pipe = self._client.pipeline(transaction=False)
            pipe.get(floor_key)
            pipe.get(epoch_key)
            floor, epoch = await self._execute(pipe, "reading a cookie session's state")
        else:
            with mapped_redis_errors("reading a cookie session's state"):
                floor, epoch = await self._client.mget([floor_key, epoch_key])
        return CookieState(_int_or_none(floor), _int_or_none(epoch))

    async def pin_cookie(self, op: PinCookie) -> int:
        """Raise a sealed cookie session's floor (never lower it); returns the floor held.

        Durable like every write that ends sessions: a failover must not bring back a copy
        the floor refused.
        """
        key = cookie_floor_key(self._layout.prefix, op.cookie_key)
        reply = await self._run(PIN_COOKIE_SCRIPT, key, [op.floor, op.ttl_ms], durable=True)
        return int(reply)

    # ------------------------------------------------------------------ locks
    async def acquire_lock(self, key: str, token: bytes, ttl_ms: int, digest: bytes) -> bool | None:
        """Take the session's lock unless someone holds it (one script, one round trip).

        ``None`` when no session with this validator ``digest`` exists: a stale or stolen
        ID holds no lock.
        """
        layout = self._layout
        keys = [layout.session_key(key), layout.lock_key(key)]
        reply = int(await self._run(LOCK_SCRIPT, keys, [digest, token, ttl_ms]))
        return None if reply < 0 else bool(reply)

    async def renew_lock(self, key: str, token: bytes, ttl_ms: int) -> bool:
        """Extend the lease while this token still holds the lock."""
        return bool(await self._run(RENEW_LOCK_SCRIPT, self._layout.lock_key(key), [token, ttl_ms]))

    async def release_lock(self, key: str, token: bytes) -> bool:
        """Compare-and-delete: release the lock only if this token holds it."""
        return bool(await self._run(RELEASE_LOCK_SCRIPT, self._layout.lock_key(key), [token]))

    # ------------------------------------------------------------------ expiry sweep
    async def _untrack(self, keys: list[str]) -> None:
        if not keys:
            return
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            bucket = due_bucket(key, self.due_buckets)
            pipe.zrem(self._layout.due_key(bucket), key)
            pipe.hdel(self._layout.due_info_key(bucket), key)
        await self._execute(pipe, "updating the expiry schedule")

    async def sweep(self, now: int, max_idle: int, limit: int = 500) -> list[ExpiredSession]:
        """Report sessions that expired, each exactly once across concurrent sweepers.

        Walks every bucket of the schedule (see :mod:`sessionary.backends.redis._sweep`): a
        due entry's record is checked atomically; a live one is rescheduled at its expiry,
        an expired one becomes a tombstone and is *claimed* (the sweeper whose ``ZREM``
        removes the entry reports it; the others skip it). Needs ``track_expiry=True``.
        Handles at most ``limit`` due entries per bucket: one script call per bucket and
        500 entries standalone, three pipelined round trips in all on a Cluster.
        """
        if self._cluster:
            return await self._sweep_cluster(now, max_idle, limit)
        layout = self._layout
        expired: list[ExpiredSession] = []
        for bucket in range(self.due_buckets):
            keys = [layout.due_key(bucket), layout.due_info_key(bucket)]
            left = limit
            while left > 0:
                count = min(left, MAX_PER_CALL)
                args: list[bytes | str | int] = [
                    now,
                    max_idle,
                    count,
                    layout.session_prefix,
                    layout.epoch_prefix,
                ]
                handled, found = parse_sweep_reply(await self._run(SWEEP_SCRIPT, keys, args), now)
                expired += found
                left -= handled
                if handled < count:
                    break
        return expired

    async def _sweep_cluster(self, now: int, max_idle: int, limit: int) -> list[ExpiredSession]:
        """:meth:`sweep` on a Cluster, where each session hash is in a slot of its own.

        The due entries of every bucket (one pipeline), each record's check (one pipeline:
        redis-py sends one request per node), each bucket's claims and reschedules, with
        the user-index upkeep of the sessions this pass made tombstones (one pipeline).
        """
        layout = self._layout
        buckets = range(self.due_buckets)
        pipe = self._client.pipeline(transaction=False)
        for bucket in buckets:
            pipe.zrangebyscore(layout.due_key(bucket), "-inf", now, start=0, num=limit)
        entries = await self._execute(pipe, "reading the expiry schedule")
        due = [
            (bucket, bytes(member).decode("ascii"))
            for bucket, members in zip(buckets, entries, strict=True)
            for member in members
        ]
        checks = await self._run_each(
            SWEEP_RECORD_SCRIPT, [([layout.session_key(key)], [now, max_idle]) for _, key in due]
        )
        settle: dict[int, list[bytes | str | int]] = {}
        unindex: list[tuple[str, str]] = []
        for (bucket, key), check in zip(due, checks, strict=True):
            live = int(check[0]) == 0
            settle.setdefault(bucket, []).extend((key, int(check[1]) if live else ""))
            if int(check[0]) == 1 and check[3]:
                unindex.append((bytes(check[3]).decode("ascii"), key))
        calls = [
            ([layout.due_key(bucket), layout.due_info_key(bucket)], args[first : first + step])
            for bucket, args in settle.items()
            for step in (2 * MAX_PER_CALL,)
            for first in range(0, len(args), step)
        ]
        claims = iter(
            claim for replies in await self._run_each(SETTLE_SCRIPT, calls) for claim in replies
        )
        expired: list[ExpiredSession] = []
        for (_, key), check in zip(due, checks, strict=True):
            info = next(claims)
            if int(check[0]) != 0 and info is not None and reported(check):
                user = check[2] if int(check[0]) == 1 else None
                reason = check[1] if len(check) > 1 else None
                expired.append(expired_session(key, reason, user, info, now))
        if unindex:
            pipe = self._client.pipeline(transaction=False)
            for user_key, key in unindex:
                pipe.zrem(layout.user_index_key(user_key), key)
            await self._execute(pipe, "updating the user index")
        return expired

    async def _run_each(
        self, script: Script, calls: list[tuple[list[str], list[bytes | str | int]]]
    ) -> list[Any]:
        """Run a script once per call, pipelined (on a Cluster one request per node).

        A call answered ``NOSCRIPT`` (the scripts were flushed, or a failover) goes again
        through :meth:`_run`, which loads the script; any other error is raised.
        """
        if not calls:
            return []
        pipe: Any = self._client.pipeline(transaction=False)
        for keys, args in calls:
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        with mapped_redis_errors(f"the {script.name} script"):
            replies = list(await async_execute_pipeline(self._client, pipe, raise_on_error=False))
            for index, reply in enumerate(replies):
                if isinstance(reply, NoScriptError):
                    replies[index] = await self._run(script, *calls[index])
                elif isinstance(reply, Exception):
                    raise reply
        return replies

    async def aclose(self) -> None:
        """Close the clients this store created (each on its own event loop).

        A client that was passed in is left open. The store can still be used afterwards:
        it creates new clients.
        """
        await self._clients.aclose()


def _wrong_type(error: BaseException) -> bool:
    return isinstance(error, ResponseError) and str(error).startswith("WRONGTYPE")


def _checked_replies(replies: list[Any]) -> Any:
    """The ``HGETALL`` reply of ``replies`` (``NOT_A_HASH`` for ``WRONGTYPE``).

    Any other error reply in them is raised, as the load script's would be.
    """
    reply = replies[0]
    if _wrong_type(reply):
        reply = NOT_A_HASH
    for each in (reply, *replies[1:]):
        if isinstance(each, ResponseError):
            raise each
    return reply


def _clients_of(client: Client | Callable[[], Client]) -> AsyncLoopClients[Client]:
    """A client given to the store (one loop), or a function making them (one per loop)."""
    clients: AsyncLoopClients[Client]
    if callable(client):
        with mapped_redis_errors("creating the Redis client"):
            sample = client()
        cluster = isinstance(sample, RedisCluster)
        clients = AsyncLoopClients(client, spare=sample, cluster=cluster, close=async_close_client)
    else:
        sample = client
        cluster = isinstance(client, RedisCluster)
        clients = AsyncLoopClients(None, spare=client, cluster=cluster, close=async_close_client)
    if client_decodes_responses(sample):
        msg = "the Redis client must be created with decode_responses=False"
        raise ConfigurationError(msg)
    return clients


def _connect(
    url: str, target: RedisTarget, options: dict[str, Any], *, max_connections: int, timeout: float
) -> Client:
    """A new client for a parsed store URL, with waiting pools (see ``_pool``)."""
    if target.kind == "cluster":
        # Each node waits up to ``timeout`` s for one of its ``max_connections`` connections.
        return AsyncWaitingCluster.from_url(
            target.url, max_connections=max_connections, pool_timeout=timeout, **options
        )
    if target.kind == "sentinel":
        sentinel_options = {
            "socket_timeout": options["socket_timeout"],
            "socket_connect_timeout": options["socket_connect_timeout"],
        }
        if "client_name" in options:  # name the connections to the sentinels too
            sentinel_options["client_name"] = options["client_name"]
        sentinel_class: Any = Sentinel  # redis-py's Sentinel API is untyped
        sentinel = sentinel_class(list(target.sentinels), sentinel_kwargs=sentinel_options)
        from_url: dict[str, Any] = {"db": target.db, "ssl": target.tls}  # the URL wins
        for name, value in (("username", target.username), ("password", target.password)):
            if value is not None:
                from_url[name] = value
        primary: Redis = sentinel.master_for(
            target.service,
            connection_pool_class=AsyncWaitingSentinelPool,
            max_connections=max_connections,
            timeout=timeout,
            **{**options, **from_url},
        )
        return primary
    pool = AsyncWaitingPool.from_url(
        url, max_connections=max_connections, timeout=timeout, **options
    )
    return Redis.from_pool(pool)
