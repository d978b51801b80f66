"""Run callables concurrently: tasks in the asyncio tests, threads in their generated twins.

The asyncio tests import ``async_gather``/``async_sleep``; ``scripts/unasync.py`` rewrites
those names to ``sync_gather``/``sync_sleep`` in the generated sync tests.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


async def async_gather(functions: Sequence[Callable[[], Awaitable[T]]], limit: int = 0) -> list[T]:
    """Run the coroutine functions concurrently; return their results in order."""
    results: list[T | None] = [None] * len(functions)
    limiter = anyio.CapacityLimiter(limit or len(functions) or 1)

    async def run(index: int, function: Callable[[], Awaitable[T]]) -> None:
        async with limiter:
            results[index] = await function()

    async with anyio.create_task_group() as group:
        for index, function in enumerate(functions):
            group.start_soon(run, index, function)
    return results  # type: ignore[return-value]


def sync_gather(functions: Sequence[Callable[[], T]], limit: int = 0) -> list[T]:
    """Run the functions in threads; return their results in order (errors propagate)."""
    workers = min(limit or len(functions) or 1, 64)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(function) for function in functions]
        return [future.result() for future in futures]


async def async_sleep(seconds: float) -> None:
    """Sleep without blocking the event loop."""
    await anyio.sleep(seconds)


def sync_sleep(seconds: float) -> None:
    """Sleep the current thread."""
    time.sleep(seconds)


async def copy_racing_visits(
    migration: Any, manager: Any, store: Any, cookies: dict[str, str], *, batch: int
) -> dict[str, str | None]:
    """A bulk copy (``migration.copy``) while each user comes back with their old cookie.

    ``cookies`` maps each user to their old ``Cookie`` header; returns the user each
    request was served (the migration race-safety tests, docs/migration.md).
    """
    served: dict[str, str | None] = {}

    async def copy() -> object:
        return await migration.copy(manager.core, store, batch=batch)

    def visit(user: str) -> Callable[[], Awaitable[object]]:
        async def go() -> object:
            cycle = await manager.open([cookies[user]])
            served[user] = cycle.session.user_id
            return await manager.commit(cycle)

        return go

    await async_gather([copy, *(visit(user) for user in cookies)])
    return served
