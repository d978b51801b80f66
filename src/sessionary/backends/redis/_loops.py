"""One redis-py client per running event loop, for the asyncio Redis store.

An asyncio redis-py client belongs to the event loop that first used it: its connections'
streams, its pool's ``asyncio.Lock`` and a Cluster client's locks are bound to that loop.
From another loop, a connection made on the first one fails (``RuntimeError: Event loop is
closed`` once that loop has ended; the store then worked every other call, as the failed
connection was replaced). Fresh loops are common: ``asyncio.run()`` called twice, asgiref's
``async_to_sync`` (Django's async views and ``request.session.asave()`` under WSGI: one loop
per call), Starlette's ``TestClient`` used without ``with`` (one portal loop per request).

So a store that creates its clients (``from_url()``, or a factory passed to the store) keeps
one per loop (:class:`AsyncLoopClients`): created on the loop's first use, closed when that
loop shuts down, all of them closed by the store's ``aclose()``. A client the application
injects cannot be copied safely (its pool class, connection class, credential provider, a
Sentinel manager or a Cluster's node table are all the application's); it serves the one
loop that first uses it, and any other loop gets a :class:`ConfigurationError` naming the fix.

Knowing when a loop ends: asyncio offers no close callback, but every runner —
``asyncio.run``, ``asyncio.Runner``, asgiref, anyio — calls ``loop.shutdown_asyncgens()``
before it closes the loop, which closes each asynchronous generator first iterated on that
loop. Each client's *keeper* is such a generator, suspended at its only ``yield`` until that
moment; its ``finally`` closes the client on its own loop. A loop closed without that step
(``loop.close()`` alone) leaves its connections to the garbage collector, which closes their
sockets; the store forgets the client when another loop comes.

The sync store's twin, :class:`LoopClients`, holds one client (redis-py's sync clients are
thread-safe) and creates it on first use: the sync ``RedisCluster`` connects in its
constructor, and a store must not fail to construct because Redis is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

from sessionary.backends.redis._errors import mapped_redis_errors
from sessionary.exceptions import ConfigurationError

__all__ = ["AsyncLoopClients", "LoopClients"]

C = TypeVar("C")

ANOTHER_LOOP = (
    "this AsyncRedisStore was given a client, which belongs to the event loop that first used "
    "it; it is now used from another loop (asyncio.run() again, Django async views under WSGI, "
    "Starlette's TestClient without 'with'...). Use AsyncRedisStore.from_url(...), or pass a "
    "function that creates the client, AsyncRedisStore(lambda: Redis(...)): the store then "
    "keeps one client per event loop"
)
_running_loop = asyncio._get_running_loop  # None outside a loop; never raises


class AsyncLoopClients(Generic[C]):
    """The client of the running event loop: ``clients()``.

    ``factory`` set: the store's own clients, one per loop (``spare``, if given, is the
    first). ``factory`` unset: the injected ``spare``, for one loop only.
    """

    __slots__ = ("_by_loop", "_close", "_factory", "_home", "_last", "_lock", "_spare", "cluster")

    def __init__(
        self,
        factory: Callable[[], C] | None,
        *,
        spare: C | None = None,
        cluster: bool,
        close: Callable[[C], Awaitable[None]],
    ) -> None:
        self._factory = factory
        self._close = close  # how to close a client this object created
        self._spare = spare
        self.cluster = cluster
        """Whether the clients are Cluster clients."""
        self._by_loop: dict[asyncio.AbstractEventLoop, tuple[C, AsyncGenerator[None, None]]] = {}
        self._home: asyncio.AbstractEventLoop | None = None  # an injected client's loop
        self._last: tuple[asyncio.AbstractEventLoop | None, C | None] = (None, None)
        self._lock = threading.Lock()

    @property
    def owned(self) -> bool:
        """Whether the store created the clients (and closes them)."""
        return self._factory is not None

    def __call__(self) -> C:
        """The running loop's client (created on the loop's first use)."""
        loop = _running_loop()
        last_loop, client = self._last
        if last_loop is loop and client is not None:
            return client
        return self._bind(loop)

    def _bind(self, loop: asyncio.AbstractEventLoop | None) -> C:
        if loop is None:  # outside any loop: the client the next loop will use
            return self._spare_client()
        with self._lock:
            if self._factory is None:
                client = self._injected(loop)
            else:
                client = self._owned(loop, self._factory)
            self._last = (loop, client)
        return client

    def _spare_client(self) -> C:
        with self._lock:
            if self._spare is None:
                assert self._factory is not None  # an injected client is always the spare
                with mapped_redis_errors("creating the Redis client"):
                    self._spare = self._factory()
            return self._spare

    def _injected(self, loop: asyncio.AbstractEventLoop) -> C:
        assert self._spare is not None
        if self._home is None:
            self._home = loop
        elif self._home is not loop:
            raise ConfigurationError(ANOTHER_LOOP)
        return self._spare

    def _owned(self, loop: asyncio.AbstractEventLoop, factory: Callable[[], C]) -> C:
        bound = self._by_loop.get(loop)
        if bound is not None:
            return bound[0]
        for other in [other for other in self._by_loop if other.is_closed()]:
            del self._by_loop[other]  # closed without shutdown_asyncgens(): see the module
        client = self._spare
        self._spare = None
        if client is None:
            with mapped_redis_errors("creating the Redis client"):
                client = factory()
        keeper = self._keep(loop, client)
        # Run the keeper to its yield now, on this loop: asyncio's first-iteration hook
        # registers it with the loop, whose shutdown_asyncgens() will close it.
        with contextlib.suppress(StopIteration):
            keeper.asend(None).send(None)
        self._by_loop[loop] = (client, keeper)
        return client

    async def _keep(self, loop: asyncio.AbstractEventLoop, client: C) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                bound = self._by_loop.get(loop)
                if bound is not None and bound[0] is client:
                    del self._by_loop[loop]
                if self._last[0] is loop:
                    self._last = (None, None)
            if _running_loop() is loop:
                await self._close(client)

    @property
    def loops(self) -> int:
        """How many loops have a client now."""
        return len(self._by_loop)

    async def aclose(self) -> None:
        """Close every client this object created, each on its own loop.

        The running loop's at once; a loop running in another thread closes its own (awaited
        up to 5 s); a loop not running now closes it when it shuts down; a closed loop's is
        left to the garbage collector. An injected client is never closed.
        """
        if not self.owned:
            return
        here = asyncio.get_running_loop()
        with self._lock:
            closing = [
                (loop, keeper)
                for loop, (_, keeper) in self._by_loop.items()
                if loop is here or loop.is_running() or loop.is_closed()
            ]
            for loop, _ in closing:
                del self._by_loop[loop]
            self._last = (None, None)
            spare, self._spare = self._spare, None
        for loop, keeper in closing:
            if loop is here:
                await keeper.aclose()
            elif not loop.is_closed():
                done = asyncio.run_coroutine_threadsafe(_finish(keeper), loop)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.wrap_future(done), 5)
        if spare is not None:
            await self._close(spare)


async def _finish(keeper: AsyncGenerator[None, None]) -> None:
    await keeper.aclose()


class LoopClients(Generic[C]):
    """The sync store's twin of :class:`AsyncLoopClients`: one client, made on first use."""

    __slots__ = ("_client", "_close", "_factory", "_lock", "cluster")

    def __init__(
        self,
        factory: Callable[[], C] | None,
        *,
        spare: C | None = None,
        cluster: bool,
        close: Callable[[C], None],
    ) -> None:
        self._factory = factory
        self._close = close  # how to close the client this object created
        self._client = spare
        self.cluster = cluster
        """Whether the client is a Cluster client."""
        self._lock = threading.Lock()

    @property
    def owned(self) -> bool:
        """Whether the store created the client (and closes it)."""
        return self._factory is not None

    def __call__(self) -> C:
        """The client (created on first use)."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                assert self._factory is not None
                with mapped_redis_errors("connecting to Redis"):
                    self._client = self._factory()
            return self._client

    def close(self) -> None:
        """Close the client if this object created it (a later use creates another)."""
        with self._lock:
            client = self._client
            if self.owned:
                self._client = None
        if self.owned and client is not None:
            self._close(client)
