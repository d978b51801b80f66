"""The session manager: drives the sans-IO cycle against a store.

This is the only I/O loop in sessionary. Adapters call ``open`` when a request arrives and
``commit`` before the response headers leave. The asyncio manager is written by hand; the
sync manager is generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError, StoreError
from sessionary.observability import LoggingObserver, Observer, notify
from sessionary.sansio.cycle import ResponseUpdate, SessionCore, SessionCycle
from sessionary.sansio.ops import (
    CommitResult,
    Create,
    Destroy,
    Load,
    LoadResult,
    Operation,
    Update,
)
from sessionary.stores.base import AsyncStore

__all__ = ["AsyncSessionManager"]

_BOOL_OUTCOMES = {True: "deleted", False: "absent"}
_OPERATION_NAMES: dict[type, str] = {
    Load: "load",
    Create: "create",
    Update: "update",
    Destroy: "destroy",
}


class AsyncSessionManager:
    """Loads and commits sessions for one application: a store plus a configuration.

    >>> manager = AsyncSessionManager(store, config)  # doctest: +SKIP
    >>> cycle = await manager.open(cookie_header_values)  # doctest: +SKIP
    >>> cycle.session["cart"] = [1, 2]  # doctest: +SKIP
    >>> headers = await manager.commit(cycle)  # doctest: +SKIP
    """

    def __init__(
        self, store: AsyncStore, config: SessionConfig, *, observer: Observer | None = None
    ) -> None:
        if not isinstance(config, SessionConfig):
            msg = "config must be a SessionConfig"
            raise ConfigurationError(msg)
        if not isinstance(store, AsyncStore):
            msg = (
                f"{type(store).__name__} does not implement the AsyncStore protocol; pass "
                "AsyncMemoryStore, AsyncRedisStore or another AsyncStore implementation"
            )
            raise ConfigurationError(msg)
        self.store = store
        self.config = config
        self.core = SessionCore(config)
        self.observer: Observer = observer if observer is not None else LoggingObserver()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.store!r})"

    @property
    def request_header(self) -> str | None:
        """Header transport: the lower-case request header adapters pass as ``token_headers``.

        ``None`` in cookie mode (the default).
        """
        return self.core.request_header

    async def open(
        self,
        cookie_headers: Iterable[str],
        *,
        client: str | None = None,
        token_headers: Iterable[str] = (),
    ) -> SessionCycle:
        """Start a request: read the ID and load the session (at most one round trip).

        ``cookie_headers``: the request's ``Cookie`` values; ``token_headers``: the values of
        :attr:`request_header` when the header transport is configured.

        A store failure does not raise here: the session becomes *unavailable* and raises
        :class:`~sessionary.exceptions.StoreUnavailableError` only if the handler touches it.
        """
        cycle = self.core.begin(cookie_headers, client=client, token_headers=token_headers)
        try:
            await self._drive(cycle)
        except StoreError as exc:
            cycle.fail(exc)
        self._publish(cycle)
        return cycle

    async def commit(self, cycle: SessionCycle) -> ResponseUpdate:
        """Finish a request: commit what changed (at most one round trip) and return headers.

        Raises :class:`~sessionary.exceptions.StoreError` subclasses when the commit could not
        be performed; adapters answer 503 (unavailable) or 409 (conflict) then.
        """
        cycle.finish()
        try:
            await self._drive(cycle)
        finally:
            self._publish(cycle)
        return cycle.response()

    async def _drive(self, cycle: SessionCycle) -> None:
        op = cycle.next_op()
        while op is not None:
            cycle.send(await self._perform(op))
            op = cycle.next_op()

    async def _perform(self, op: Operation) -> LoadResult | CommitResult | bool:
        store = self.store
        kind = type(op)
        started = time.perf_counter()
        result: LoadResult | CommitResult | bool
        try:
            if kind is Load:
                result = await store.load(op)  # type: ignore[arg-type]
            elif kind is Update:
                result = await store.update(op)  # type: ignore[arg-type]
            elif kind is Create:
                result = await store.create(op)  # type: ignore[arg-type]
            else:
                result = await store.destroy(op)  # type: ignore[arg-type]
        except StoreError as exc:
            elapsed = time.perf_counter() - started
            self.observer.operation(_OPERATION_NAMES[kind], elapsed, type(exc).__name__)
            raise
        elapsed = time.perf_counter() - started
        outcome = _BOOL_OUTCOMES[result] if isinstance(result, bool) else result.status.value
        self.observer.operation(_OPERATION_NAMES[kind], elapsed, outcome)
        return result

    def _publish(self, cycle: SessionCycle) -> None:
        for event in cycle.drain_events():
            notify(self.observer, event)

    async def aclose(self) -> None:
        """Close the store (and the connections it created)."""
        await self.store.aclose()
