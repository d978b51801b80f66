"""The workload behind ``sessionary bench``: session operations through the real manager.

Every operation is a full request cycle of :class:`~sessionary.AsyncSessionManager`
(``open`` then ``commit``), exactly what an adapter does for one HTTP request:

==========  =============================================================  ==============
operation   request                                                        store calls
==========  =============================================================  ==============
create      no cookie; writes one attribute                                create
load        presents a session's cookie; reads it; the touch is not due     load
touch       the same with the sliding-expiry touch due                      load (+ touch)
commit      presents a cookie; writes one attribute                         load, update
rotate      presents a cookie; rotates the ID (as a login does)             load, update
destroy     presents a cookie; logs out                                     load, destroy
==========  =============================================================  ==============

Each worker (an asyncio task) owns a slice of the pre-created sessions, so workers never
destroy each other's sessions, and walks the mix in a fixed, smoothly interleaved order
(deterministic: no random numbers). An operation that needs a session when its worker has
none left creates one instead (counted as ``create``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from sessionary._async.manager import AsyncSessionManager
from sessionary.cli._latency import LatencyHistogram
from sessionary.config import SessionConfig
from sessionary.exceptions import SessionaryError
from sessionary.metrics._outcomes import LOAD_HITS, LOAD_MISSES, is_error
from sessionary.sansio.events import SessionEvent
from sessionary.stores.base import AsyncSessionStore

__all__ = [
    "DEFAULT_MIX",
    "OPERATIONS",
    "BenchPlan",
    "BenchResult",
    "parse_mix",
    "run_bench",
    "schedule",
]

OPERATIONS = ("create", "load", "touch", "commit", "rotate", "destroy")
DEFAULT_MIX = "load=60,commit=15,touch=10,create=8,rotate=4,destroy=3"
_MAX_WEIGHT = 1000


def parse_mix(text: str) -> dict[str, int]:
    """``"load=80,commit=20"`` → ``{"load": 80, "commit": 20}``; raises ``ValueError``."""
    mix: dict[str, int] = {}
    for item in text.split(","):
        name, sep, weight = item.strip().partition("=")
        name = name.strip().lower()
        if name not in OPERATIONS:
            msg = f"unknown operation {name!r} (choose from {', '.join(OPERATIONS)})"
            raise ValueError(msg)
        if not sep or not weight.strip().isdigit() or not 0 <= int(weight) <= _MAX_WEIGHT:
            msg = f"{name}: the weight must be an integer from 0 to {_MAX_WEIGHT}"
            raise ValueError(msg)
        if name in mix:
            msg = f"{name} appears twice"
            raise ValueError(msg)
        mix[name] = int(weight)
    if not any(mix.values()):
        msg = "at least one operation needs a positive weight"
        raise ValueError(msg)
    return mix


def schedule(mix: Mapping[str, int]) -> list[str]:
    """One cycle of the mix, interleaved (smooth weighted round-robin), ``sum(weights)`` long."""
    total = sum(mix.values())
    current = dict.fromkeys(mix, 0)
    order: list[str] = []
    for _ in range(total):
        for name, weight in mix.items():
            current[name] += weight
        chosen = max(current, key=lambda name: current[name])
        current[chosen] -= total
        order.append(chosen)
    return order


@dataclass(frozen=True, slots=True)
class BenchPlan:
    """What to run. Stops after ``requests`` operations or ``duration`` seconds, first reached."""

    mix: Mapping[str, int]
    concurrency: int = 32
    requests: int | None = 10_000
    duration: float | None = None
    sessions: int = 1000
    payload: int = 128


@dataclass(slots=True)
class OpStats:
    """Outcome of one kind of operation."""

    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        """Completed operations (successful or not)."""
        return self.latency.count + sum(self.errors.values())


@dataclass(slots=True)
class BenchResult:
    """Everything measured by a run."""

    plan: BenchPlan
    elapsed: float
    ops: dict[str, OpStats]
    store_calls: Counter[tuple[str, str]]
    """Store round trips by (operation, outcome), as the manager reported them."""

    @property
    def total(self) -> int:
        """Operations completed."""
        return sum(stats.count for stats in self.ops.values())

    @property
    def errors(self) -> Counter[str]:
        """Failed operations by exception type."""
        total: Counter[str] = Counter()
        for stats in self.ops.values():
            total.update(stats.errors)
        return total

    @property
    def store_round_trips(self) -> int:
        """Store calls made during the measured phase."""
        return sum(self.store_calls.values())

    @property
    def hit_rate(self) -> float | None:
        """Share of loads that found a live session (``None`` without loads)."""
        hits = misses = 0
        for (name, outcome), count in self.store_calls.items():
            if name == "load" and outcome in LOAD_HITS:
                hits += count
            elif name == "load" and (outcome in LOAD_MISSES or is_error(outcome)):
                misses += count
        return hits / (hits + misses) if hits + misses else None


class _CallCounter:
    """An observer counting store round trips by operation and outcome."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()

    def event(self, event: SessionEvent) -> None:
        """Events are not counted."""

    def operation(self, name: str, seconds: float, outcome: str) -> None:
        """Count one round trip."""
        self.calls[(name, outcome)] += 1


def _cookie_value(set_cookie: str | None) -> str | None:
    if set_cookie is None:
        return None
    value = set_cookie.split(";", 1)[0].partition("=")[2]
    return value or None


class _Workload:
    """The six operations over one store, with the sessions they create."""

    def __init__(self, store: AsyncSessionStore, plan: BenchPlan, observer: _CallCounter) -> None:
        config = SessionConfig(
            secret_keys=[secrets.token_bytes(32)], idle_timeout=4 * 3600, absolute_timeout=8 * 3600
        )
        self.cookie_name = config.cookie.name
        self.manager = AsyncSessionManager(store, config, observer=observer)
        # Same secret and store; a 1 ms touch interval makes every load's touch due.
        touching = dataclasses.replace(config, touch_interval=0.001)
        self.toucher = AsyncSessionManager(store, touching, observer=observer)
        self.payload = "x" * plan.payload
        self.counter = 0
        self.run: dict[str, Callable[[deque[str]], Awaitable[None]]] = {
            "create": self.create,
            "load": self.load,
            "touch": self.touch,
            "commit": self.commit,
            "rotate": self.rotate,
            "destroy": self.destroy,
        }

    def _cookies(self, value: str) -> list[str]:
        return [f"{self.cookie_name}={value}"]

    async def create(self, pool: deque[str]) -> None:
        """A new session with one attribute."""
        cycle = await self.manager.open([])
        cycle.session["payload"] = self.payload
        value = _cookie_value((await self.manager.commit(cycle)).set_cookie)
        if value is not None:
            pool.append(value)

    async def _read(self, manager: AsyncSessionManager, pool: deque[str]) -> None:
        cycle = await manager.open(self._cookies(pool[-1]))
        cycle.session.get("payload")
        await manager.commit(cycle)  # nothing changed: no store call
        pool.rotate(1)  # next time, another session

    async def load(self, pool: deque[str]) -> None:
        """Read a session (the touch is not due)."""
        await self._read(self.manager, pool)

    async def touch(self, pool: deque[str]) -> None:
        """Read a session whose sliding-expiry touch is due."""
        await self._read(self.toucher, pool)

    async def commit(self, pool: deque[str]) -> None:
        """Write one attribute of a session."""
        cycle = await self.manager.open(self._cookies(pool[-1]))
        self.counter += 1
        cycle.session["n"] = self.counter
        await self.manager.commit(cycle)
        pool.rotate(1)

    async def rotate(self, pool: deque[str]) -> None:
        """Rotate a session's ID."""
        value = pool.pop()
        cycle = await self.manager.open(self._cookies(value))
        cycle.session.rotate()
        update = await self.manager.commit(cycle)
        pool.appendleft(_cookie_value(update.set_cookie) or value)

    async def destroy(self, pool: deque[str]) -> None:
        """Log a session out."""
        cycle = await self.manager.open(self._cookies(pool.pop()))
        cycle.session.logout()
        await self.manager.commit(cycle)


class _Budget:
    """Hands out operations until the request count or the deadline is reached."""

    def __init__(self, requests: int | None, duration: float | None) -> None:
        self.left = requests
        self.deadline = None if duration is None else time.monotonic() + duration
        self.done = 0

    def take(self) -> bool:
        if self.left is not None:
            if self.left <= 0:
                return False
            self.left -= 1
        return self.deadline is None or time.monotonic() < self.deadline


async def _populate(work: _Workload, pools: list[deque[str]], sessions: int, width: int) -> None:
    for start in range(0, sessions, width):
        batch = range(start, min(sessions, start + width))
        await asyncio.gather(*(work.create(pools[i % len(pools)]) for i in batch))


async def run_bench(
    store: AsyncSessionStore,
    plan: BenchPlan,
    *,
    on_start: Callable[[], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> BenchResult:
    """Create ``plan.sessions`` sessions (untimed), then run the mix and measure it.

    ``on_start`` is called when the measured phase begins; ``progress`` receives the count
    of completed operations about ten times a second.
    """
    observer = _CallCounter()
    work = _Workload(store, plan, observer)
    pools = [deque[str]() for _ in range(plan.concurrency)]
    await _populate(work, pools, plan.sessions, plan.concurrency)
    observer.calls.clear()
    order = schedule(plan.mix)
    stats = {name: OpStats() for name in OPERATIONS if plan.mix.get(name)}
    stats.setdefault("create", OpStats())
    if on_start is not None:
        on_start()
    budget = _Budget(plan.requests, plan.duration)

    async def worker(index: int) -> None:
        pool = pools[index]
        position = index * len(order) // plan.concurrency
        while budget.take():
            name = order[position % len(order)]
            position += 1
            if name != "create" and not pool:
                name = "create"
            started = time.perf_counter()
            try:
                await work.run[name](pool)
            except SessionaryError as exc:
                stats[name].errors[type(exc).__name__] += 1
            else:
                stats[name].latency.record(time.perf_counter() - started)
            budget.done += 1

    async def ticker() -> None:
        while progress is not None:
            progress(budget.done)
            await asyncio.sleep(0.1)

    started = time.perf_counter()
    ticking = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*(worker(i) for i in range(plan.concurrency)))
    finally:
        ticking.cancel()
    elapsed = time.perf_counter() - started
    if progress is not None:
        progress(budget.done)
    return BenchResult(plan, elapsed, stats, Counter(observer.calls))
