"""CPU time per call, the way every micro-benchmark here reports it."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


async def best_cpu_us(
    call: Callable[[], Awaitable[object]], *, calls: int, repeat: int, per_call: int = 1
) -> float:
    """CPU µs per operation: the best of ``repeat`` runs of ``calls`` calls, each call doing
    ``per_call`` operations (``time.process_time``; other processes on a shared machine only
    ever add time, so the minimum is the least disturbed figure, as ``timeit`` reports)."""
    for _ in range(min(200, calls)):  # warm caches, connections and lazy imports
        await call()
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(calls):
            await call()
        best = min(best, (time.process_time() - started) / (calls * per_call))
    return best * 1e6


def redis_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every Redis micro-benchmark takes: ``--redis-url``, ``--calls``,
    ``--repeat`` (described by the first paragraph of the script's docstring)."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    return parser


def run_micro(
    argv: list[str] | None,
    doc: str | None,
    measure: Callable[..., Coroutine[Any, Any, dict[str, float]]],
    *,
    options: dict[str, Any],
    label: str = "{name}",
    unit: str = "µs CPU",
) -> int:
    """The ``main`` of a Redis micro-benchmark: parse, measure, print one line per figure.

    ``options``: further ``--name`` options and their defaults (typed by the default), passed
    on to ``measure(url, calls=, repeat=, **options)``, which returns µs by figure name;
    each is printed as ``<label>: <µs> <unit>`` (``label`` formats ``{name}``).
    """
    parser = redis_parser(doc)
    for name, default in options.items():
        parser.add_argument(f"--{name}", type=type(default), default=default)
    args = parser.parse_args(argv)
    chosen = {name: getattr(args, name) for name in options}
    results = asyncio.run(measure(args.redis_url, calls=args.calls, repeat=args.repeat, **chosen))
    for name, micros in results.items():
        print(f"{label.format(name=name)}: {micros:.1f} {unit}")
    return 0
