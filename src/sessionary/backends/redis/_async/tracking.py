"""Server-assisted invalidation: one RESP3 connection with ``CLIENT TRACKING ... BCAST``.

``AsyncTracker`` owns one connection of its own (never a pooled one: its tracking state
must not be shared or silently re-established). On it, ``CLIENT TRACKING on BCAST PREFIX
<prefix>:s: PREFIX <prefix>:u:`` makes Redis push an ``invalidate`` message for every
change of a session hash or a user's epoch, by any client, to this connection; a ``PING``
with a counter proves how far the stream has been read: Redis queues the invalidation of a
write ahead of the writer's own reply, so once the answer to a ping sent at ``t`` has been
read, every change made before ``t`` has been seen (:attr:`confirmed_at` is ``t``).

Nothing runs in the background: :meth:`poll` (called by the cache on each load) reads what
has arrived without waiting, and keeps one ping in flight once the last confirmation is
``ping_after_s`` old (the cache passes half its bound: a stream of loads then sends one
ping per half bound, not one per load). :meth:`confirm` waits for a fresh confirmation (a
load whose confirmation is too old for the bound), shared by the loads meanwhile;
:meth:`follow` sends commands whose answers must come in stream order (the cache's
read-back of its own writes). Any error on the connection (a
restart, a failover, a timeout) drops it: the sink is told to flush, :attr:`confirmed_at`
is cleared, :attr:`generation` moves on, and a new connection is tried at most once per
``retry_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sessionary.backends.redis._lru import InvalidationSink
from sessionary.backends.redis._tracking_nodes import AsyncNodes
from sessionary.backends.redis._trylock import AsyncTryLock

__all__ = ["AsyncClusterTracker", "AsyncTracker", "async_tracking_connection"]

INVALIDATE = b"invalidate"
REFRESH_S = 1.0
"""How often a Cluster's topology is asked for while a primary's stream is down."""


def async_tracking_connection(client: Any) -> Any:
    """A new RESP3 connection to the server ``client`` (a standalone redis-py client) uses.

    Same address, credentials, TLS and database as the client's pool; no retries and no
    health checks (a reconnection redis-py made by itself would lose the tracking).
    """
    pool = client.connection_pool
    options = dict(pool.connection_kwargs)
    options.update(protocol=3, retry=Retry(NoBackoff(), 0), health_check_interval=0)
    return pool.connection_class(**options)


async def _echo(message: Any) -> Any:
    """Hand an ``invalidate`` push message back to the reader as it is."""
    return message


async def _close(conn: Any) -> None:
    """Disconnect, ignoring a failure (the connection is being given up anyway)."""
    with contextlib.suppress(Exception):
        await conn.disconnect()


class AsyncTracker:
    """The invalidation stream of one Redis server, read on demand (see the module)."""

    def __init__(
        self,
        connect: Callable[[], Any],
        prefixes: tuple[str, ...],
        sink: InvalidationSink,
        *,
        timeout_s: float = 1.0,
        retry_s: float = 0.5,
        ping_after_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self._prefixes = prefixes
        self._sink = sink
        self._timeout_s = timeout_s
        self._ping_after_s = ping_after_s
        self._retry_s = retry_s
        self._clock = clock
        self._conn: Any = None  # a redis-py Connection (of this flavour)
        self._guard = AsyncTryLock()
        self._retry_at = 0.0
        self._sent = 0
        self._pings: deque[float] = deque()  # send times of the pings in flight, oldest first
        self._expected: deque[Callable[[Any], None]] = deque()  # one per reply in flight
        self._outbox: deque[tuple[list[tuple[Any, ...]], Callable[[Any], None]]] = deque()
        self.generation = 0
        """Moves on with every (re)connection and loss: a load that started in another
        generation must not fill the cache."""
        self.confirmed_at: float | None = None
        """Send time (``clock``) of the last ping answered: every change made on the server
        before it has been read. ``None`` while tracking is not established."""
        self.connections = 0
        """How many times tracking was established."""
        self.messages = 0
        """How many ``invalidate`` messages were received."""

    @property
    def tracking(self) -> bool:
        """Whether the server tracks for this connection now (as far as is known)."""
        return self._conn is not None

    def _fresh(self, since: float) -> bool:
        return self.confirmed_at is not None and self.confirmed_at >= since

    async def poll(self) -> None:
        """Read what has arrived (never waiting); keep one ping in flight; reconnect when due.

        Another caller already reading is not waited for.
        """
        if not self._guard.acquire():
            return
        try:
            if self._conn is None:
                await self._open()
            else:
                await self._read()
        except Exception:  # the cache is only an optimisation: it must never fail a load
            await self._lose("error")
        finally:
            self._guard.release()

    async def confirm(self, since: float) -> None:
        """Have a ping sent at or after ``since`` answered: :attr:`confirmed_at` ``>= since``.

        Sends a ping unless one sent since then is in flight, and reads the stream until
        its answer (at most the timeout: then the connection counts as lost). A caller that
        finds another one reading waits for it to be done instead, and shares what it
        confirmed. Does nothing while tracking is not established.
        """
        if self._fresh(since):
            return
        if not self._guard.acquire():
            await self._guard.wait(self._timeout_s)
            return
        try:
            conn = self._conn
            if conn is None or self._fresh(since):
                return
            if not self._pings or self._pings[-1] < since:
                await self._ping(conn)
            target = self._pings[-1]
            while not self._fresh(target):
                message = await conn.read_response(push_request=True, timeout=self._timeout_s)
                self._take(message)
            await self._send_outbox(conn)
        except (TimeoutError, RedisTimeoutError):
            await self._lose("unanswered")
        except (RedisError, OSError):
            await self._lose("disconnect")
        except Exception:  # never fail a load because of the cache
            await self._lose("error")
        finally:
            self._guard.release()

    def follow(self, commands: list[tuple[Any, ...]], handler: Callable[[Any], None]) -> None:
        """Queue ``commands`` to be sent on this connection; ``handler`` gets the last reply.

        Sent by :meth:`send_pending` (or by whoever reads the stream next), so they run on
        the server after everything this caller completed before; ``handler`` is called
        while the stream is read, with every invalidation sent before that reply already
        taken in and every later one still to come. Nothing is sent (and ``handler`` is
        never called) if the connection is lost meanwhile.
        """
        if self._conn is not None:
            self._outbox.append((commands, handler))

    async def send_pending(self) -> None:
        """Send what :meth:`follow` queued, unless another caller is reading (it will)."""
        while self._outbox and self._guard.acquire():
            try:
                if self._conn is None:
                    self._outbox.clear()
                else:
                    await self._send_outbox(self._conn)
            except Exception:
                await self._lose("disconnect")
            finally:
                self._guard.release()

    async def _open(self) -> None:
        now = self._clock()
        if now < self._retry_at:
            return
        conn = self._connect()
        try:
            await conn.connect()
            command: list[str] = ["CLIENT", "TRACKING", "on", "BCAST"]
            for prefix in self._prefixes:
                command += ["PREFIX", prefix]
            await conn.send_command(*command)
            reply = await conn.read_response()
            if reply not in (b"OK", "OK"):
                raise RedisError(f"CLIENT TRACKING answered {reply!r}")
            conn._parser.set_invalidation_push_handler(_echo)
        except (RedisError, OSError):
            self._retry_at = now + self._retry_s
            await _close(conn)
            return
        self._conn = conn
        self.generation += 1
        self.connections += 1
        await self._read()

    async def _read(self) -> None:
        conn = self._conn
        assert conn is not None
        # Let the event loop take in what arrived on the socket: a load answered from memory
        # suspends nowhere else, and a loop that never runs its selector never sees the
        # invalidations (nor the end of a connection) that came meanwhile.
        await asyncio.sleep(0)
        try:
            while await conn.can_read():
                message = await conn.read_response(push_request=True)
                self._take(message)
            now = self._clock()
            if not self._pings:
                confirmed = self.confirmed_at
                if confirmed is None or now - confirmed >= self._ping_after_s:
                    await self._ping(conn)
            elif now - self._pings[0] > self._timeout_s:
                await self._lose("unanswered")
                return
            await self._send_outbox(conn)
        except (RedisError, OSError):
            await self._lose("disconnect")

    async def _ping(self, conn: Any) -> None:
        """Send a ping; its answer confirms the stream up to its send time."""
        self._sent += 1
        now = self._clock()
        self._pings.append(now)
        self._expected.append(partial(self._answered, now, str(self._sent).encode()))
        await conn.send_command("PING", str(self._sent))

    async def _send_outbox(self, conn: Any) -> None:
        while self._outbox:
            commands, handler = self._outbox.popleft()
            self._expected.extend([_ignore] * (len(commands) - 1))
            self._expected.append(handler)
            await conn.send_packed_command(conn.pack_commands(commands))

    def _answered(self, sent_at: float, marker: bytes, reply: Any) -> None:
        if reply != marker:
            raise _OutOfStepError(f"a ping answered {reply!r}, not {marker!r}")
        self._pings.popleft()
        self.confirmed_at = sent_at

    def _take(self, message: Any) -> None:
        if isinstance(message, list) and message and message[0] == INVALIDATE:
            self.messages += 1
            keys = message[1] if len(message) > 1 else None
            if keys is None:  # FLUSHDB / FLUSHALL
                self._sink.flush("server_flush")
            else:
                self._sink.invalidated(list(keys))
        elif self._expected:
            self._expected.popleft()(message)
        else:
            raise _OutOfStepError(f"a reply nothing was sent for: {message!r}")

    def _forget(self) -> Any:
        conn, self._conn = self._conn, None
        self.confirmed_at = None
        self._pings.clear()
        self._expected.clear()
        self._outbox.clear()
        self.generation += 1
        return conn

    async def _lose(self, cause: str) -> None:
        conn = self._forget()
        self._retry_at = self._clock()  # reconnect at once, then back off
        self._sink.flush(cause)
        if conn is not None:
            await _close(conn)

    async def aclose(self) -> None:
        """Close the connection (the cache stops being served)."""
        conn = self._forget()
        if conn is not None:
            await _close(conn)


class _OutOfStepError(RedisError):
    """The tracking connection answered something other than what was asked next."""


def _ignore(reply: Any) -> None:
    """The reply to a command sent only for what follows it (``MULTI``, a queued command)."""


class AsyncClusterTracker:
    """One :class:`AsyncTracker` per primary of a Cluster, seen as one.

    Confirmed only while every primary's stream is (the oldest confirmation counts); a
    change of the primaries (a failover, a node added or removed) flushes the cache and
    starts over with the new set. Before the client knows the topology, nothing is tracked
    (every load goes to the server, which teaches the client the topology).
    """

    def __init__(
        self,
        client: Callable[[], Any],
        prefixes: tuple[str, ...],
        sink: InvalidationSink,
        *,
        ping_after_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefixes = prefixes
        self._sink = sink
        self._ping_after_s = ping_after_s
        self._clock = clock
        self._members: dict[str, AsyncTracker] = {}
        self._shape: tuple[int, ...] = ()
        self._changes = 0
        self._generation = 0
        self._refreshed_at = 0.0
        self.connections = 0
        """How many times tracking was established, on any primary."""

    async def poll(self) -> None:
        """Follow the primaries, then poll each one's stream.

        While a primary's stream is down, the topology is asked for again (at most every
        ``REFRESH_S``): the loads themselves may never touch the dead primary's slots, and
        the client would not learn of its replacement.
        """
        now = self._clock()
        if self._members and not self.tracking and now - self._refreshed_at > REFRESH_S:
            self._refreshed_at = now
            with contextlib.suppress(Exception):
                await AsyncNodes.refresh(self._client())
        try:
            current = AsyncNodes.primaries(self._client())
        except Exception:  # the client is being rebuilt: track nothing meanwhile
            current = []
        if {name for name, _ in current} != set(self._members):
            old, self._members = (
                self._members,
                {
                    name: AsyncTracker(
                        connect,
                        self._prefixes,
                        self._sink,
                        ping_after_s=self._ping_after_s,
                        clock=self._clock,
                    )
                    for name, connect in current
                },
            )
            self._changes += 1
            if old:
                self._sink.flush("topology")
            for tracker in old.values():
                await tracker.aclose()
        for tracker in list(self._members.values()):
            before = tracker.connections
            await tracker.poll()
            self.connections += tracker.connections - before

    async def confirm(self, since: float) -> None:
        """Have every primary's stream confirmed at or after ``since`` (see ``AsyncTracker``)."""
        for tracker in list(self._members.values()):
            await tracker.confirm(since)

    @property
    def messages(self) -> int:
        """How many ``invalidate`` messages the current primaries' streams received."""
        return sum(t.messages for t in self._members.values())

    @property
    def tracking(self) -> bool:
        """Whether every primary's stream is tracked now."""
        return bool(self._members) and all(t.tracking for t in self._members.values())

    @property
    def confirmed_at(self) -> float | None:
        """The oldest confirmation over the primaries (``None`` if one has none)."""
        times = [t.confirmed_at for t in self._members.values()]
        if not times or any(at is None for at in times):
            return None
        return min(at for at in times if at is not None)

    @property
    def generation(self) -> int:
        """Moves on whenever any primary's stream, or the set of primaries, changes."""
        shape = (self._changes, *(t.generation for t in self._members.values()))
        if shape != self._shape:
            self._shape = shape
            self._generation += 1
        return self._generation

    async def aclose(self) -> None:
        """Close every primary's connection."""
        members, self._members = self._members, {}
        self._changes += 1
        for tracker in members.values():
            await tracker.aclose()
