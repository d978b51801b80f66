"""Session reads on a throw-away Redis Cluster, from the primaries and from the replicas.

docs/redis.md (*Reads from replicas*) quotes the figures. This starts the test suite's
Cluster (3 primaries, 3 replicas, ``redis-server`` on free loopback ports: see
``tests/cluster.py``), creates ``--sessions`` sessions through a manager, then runs
``--reads`` read requests (``manager.open`` + ``commit`` of an unchanged session, cookie
chosen round robin, ``--concurrency`` asyncio tasks) on a store reading from the primaries
and on one with ``read_from_replicas=True``, alternately, ``--repeat`` times each::

    python -m benchmarks.micro.replica_reads --reads 5000 --sessions 200 --concurrency 16

Per mode it prints the best and median reads/s, and the ``HGETALL`` (and all commands)
the primaries and the replicas answered during one run (``INFO commandstats``), and the
store's fallbacks to the primary. The load average is printed first and last: the figures
are only comparable on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import time
from typing import Any

import redis
from tests.cluster import RedisClusterNodes
from tests.replica_nodes import DataNodes
from tests.services import DEFAULT_HOST, find_redis_server

from sessionary import AsyncSessionManager, SessionConfig
from sessionary.stores import AsyncRedisStore

MODES = ("primary", "replicas")


def _counts(port: int) -> tuple[str, int, int]:
    """The node's role, ``HGETALL`` calls and calls of every command, since it started."""
    client = redis.Redis(host=DEFAULT_HOST, port=port)
    try:
        role: Any = client.execute_command("ROLE")  # type: ignore[no-untyped-call]
        stats: Any = client.info("commandstats")
    finally:
        client.close()
    hgetall = int(stats.get("cmdstat_hgetall", {}).get("calls", 0))
    every = sum(int(v.get("calls", 0)) for v in stats.values())
    return role[0].decode(), hgetall, every


def _snapshot(ports: list[int]) -> dict[str, list[int]]:
    """``{role: [HGETALL calls, all calls]}`` summed over the nodes of each role."""
    totals = {"master": [0, 0], "slave": [0, 0]}
    for port in ports:
        role, hgetall, every = _counts(port)
        totals[role][0] += hgetall
        totals[role][1] += every
    return totals


async def _cookies(manager: AsyncSessionManager, sessions: int) -> list[str]:
    name = manager.config.cookie.name
    cookies = []
    for number in range(sessions):
        cycle = await manager.open([])
        cycle.session["n"] = number
        update = await manager.commit(cycle)
        assert update.set_cookie is not None
        cookies.append(f"{name}={update.set_cookie.split(';', 1)[0].split('=', 1)[1]}")
    return cookies


async def _run(
    manager: AsyncSessionManager, cookies: list[str], reads: int, concurrency: int
) -> float:
    """Reads per second of ``reads`` unchanged read requests by ``concurrency`` tasks."""
    turn = itertools.count()

    async def worker() -> None:
        while (index := next(turn)) < reads:
            cycle = await manager.open([cookies[index % len(cookies)]])
            assert cycle.session["n"] == index % len(cookies)
            await manager.commit(cycle)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return reads / (time.perf_counter() - started)


async def _bench(url: str, ports: list[int], args: argparse.Namespace) -> None:
    config = SessionConfig(secret_keys=[os.urandom(32)])
    stores = {
        "primary": AsyncRedisStore.from_url(url, prefix="bench-replicas"),
        "replicas": AsyncRedisStore.from_url(url, prefix="bench-replicas", read_from_replicas=True),
    }
    managers = {mode: AsyncSessionManager(store, config) for mode, store in stores.items()}
    cookies = await _cookies(managers["primary"], args.sessions)
    for mode in MODES:  # warm connections and slot maps
        await _run(managers[mode], cookies, min(200, args.reads), args.concurrency)
    DataNodes(ports).wait_caught_up()  # every replica holds every session
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    load: dict[str, dict[str, list[int]]] = {}
    for _ in range(args.repeat):
        for mode in MODES:
            before = _snapshot(ports)
            rates[mode].append(await _run(managers[mode], cookies, args.reads, args.concurrency))
            after = _snapshot(ports)
            load[mode] = {
                role: [a - b for a, b in zip(after[role], before[role], strict=True)]
                for role in after
            }
    for mode in MODES:
        best, median = max(rates[mode]), statistics.median(rates[mode])
        primaries, replicas = load[mode]["master"], load[mode]["slave"]
        print(
            f"{mode}: best {best:,.0f} reads/s, median {median:,.0f} reads/s; last run: "
            f"HGETALL primaries {primaries[0]}, replicas {replicas[0]}; all commands "
            f"primaries {primaries[1]}, replicas {replicas[1]}"
        )
    stats = stores["replicas"].replica_stats
    print(f"replica store: {stats.replica} reads on replicas, fallbacks {stats.fallbacks}")
    for store in stores.values():
        await store.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    binary = find_redis_server()
    if binary is None:
        print("no redis-server binary found")
        return 1
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    with RedisClusterNodes(binary) as cluster:
        host, port = cluster.startup_nodes[0]
        ports = [server.port for server in cluster.servers]
        DataNodes(ports).wait_advertised()
        asyncio.run(_bench(f"redis+cluster://{host}:{port}", ports, args))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
