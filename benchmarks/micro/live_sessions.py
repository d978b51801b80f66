"""Per-operation cost with few and with many live sessions in one Redis: is it flat?

The issue's scale goal (docs/benchmarks.md, *Scale*): the same mix with 1 000 and with
1 000 000 live sessions (users with 10 devices each) in one Redis, ratio ≤ 1.05. This runs
``sessionary bench`` (its default mix, ``--requests`` operations, 16 workers, its own 1 000
sessions) against two databases of one Redis server: the URL's, holding ``--few`` live
sessions, and ``--many-db`` (default 1), holding ``--many`` (copies of a signed-in session
record, each under its own key, in a user index of 10 devices per user, with the record's
TTL), the two in turn for ``--rounds`` rounds so that both meet the same load on a shared
machine::

    python -m benchmarks.micro.live_sessions --redis-url redis://127.0.0.1:6484/0 \\
        --many 1000000 --requests 20000

It prints ops/s and p50/p99 latency at each size (the best round, and every round's ops/s)
and the ratio. Use a private Redis: the filler goes under ``--prefix`` (default
``micro-live``) and is removed at the end with ``SCAN`` + ``UNLINK``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
from typing import Any

import redis
from click.testing import CliRunner

from benchmarks._cpu import logged_in_load
from sessionary.cli.commands import cli
from sessionary.stores import AsyncRedisStore

_PIPELINE = 2000
_DEVICES = 10
_TTL_MS = 3_600_000


async def _template(url: str, prefix: str) -> dict[bytes, bytes]:
    """The hash of one signed-in session, written by the store itself."""
    store = AsyncRedisStore.from_url(url, prefix=prefix)
    try:
        op = await logged_in_load(store)
        fields: Any = await store.client.hgetall(store.layout.session_key(op.key))
        return dict(fields)
    finally:
        await store.aclose()


def fill(client: redis.Redis, template: dict[bytes, bytes], prefix: str, count: int) -> None:
    """``count`` copies of ``template`` under fresh keys, ``_DEVICES`` per user index."""
    pipe = client.pipeline(transaction=False)
    user = ""
    for index in range(count):
        if index % _DEVICES == 0:
            user = secrets.token_urlsafe(16)
        key = secrets.token_urlsafe(16)
        session = f"{prefix}:s:{{{key}}}"
        pipe.hset(session, mapping=template)  # type: ignore[arg-type]
        pipe.pexpire(session, _TTL_MS)
        pipe.zadd(f"{prefix}:u:{{{user}}}", {key: index})
        if (index + 1) % _PIPELINE == 0:
            pipe.execute()
    pipe.execute()


def bench(url: str, requests: int) -> dict[str, float]:
    """One ``sessionary bench`` run: ops/s, p50 and p99 over all operations (ms)."""
    argv = ["bench", url, "-n", str(requests), "-c", "16", "--sessions", "1000", "--json"]
    result = CliRunner().invoke(cli, argv)
    if result.exit_code != 0:
        raise SystemExit(result.output)
    report = json.loads(result.stdout)
    ops = report["ops"].values()
    weights = [op["count"] for op in ops]
    total = sum(weights)
    return {
        "ops_per_s": report["ops_per_s"],
        "p50_ms": sum(op["p50_ms"] * w for op, w in zip(ops, weights, strict=True)) / total,
        "p99_ms": sum(op["p99_ms"] * w for op, w in zip(ops, weights, strict=True)) / total,
    }


def _db_url(url: str, db: int) -> str:
    """``url`` with its database number replaced by ``db``."""
    base, _, last = url.rpartition("/")
    return f"{base}/{db}" if last.isdigit() else f"{url.rstrip('/')}/{db}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--few", type=int, default=1000)
    parser.add_argument("--many", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefix", default="micro-live")
    parser.add_argument("--many-db", type=int, default=1, help="database of the many")
    args = parser.parse_args(argv)
    urls = {"few": args.redis_url, "many": _db_url(args.redis_url, args.many_db)}
    sizes = {"few": args.few, "many": args.many}
    clients = {name: redis.Redis.from_url(url) for name, url in urls.items()}
    runs: dict[str, list[dict[str, float]]] = {"few": [], "many": []}
    try:
        template = asyncio.run(_template(args.redis_url, args.prefix))
        for name, client in clients.items():
            fill(client, template, args.prefix, sizes[name] - 1)
        for _ in range(args.rounds):  # taken in turn: both meet the same load on the machine
            for name, url in urls.items():
                runs[name].append(bench(url, args.requests))
    finally:
        for client in clients.values():
            _remove(client, args.prefix)
            client.close()
    best = {name: max(found, key=lambda run: run["ops_per_s"]) for name, found in runs.items()}
    for name, run in best.items():
        print(
            f"{sizes[name]} live sessions ({name}): {run['ops_per_s']:,.0f} ops/s, "
            f"p50 {run['p50_ms']:.3f} ms, p99 {run['p99_ms']:.3f} ms "
            f"(best of {args.rounds}; all: "
            + ", ".join(f"{each['ops_per_s']:,.0f}" for each in runs[name])
            + ")"
        )
    print(f"ratio few/many, ops/s: {best['few']['ops_per_s'] / best['many']['ops_per_s']:.3f}")
    return 0


def _remove(client: redis.Redis, prefix: str) -> None:
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= _PIPELINE:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)


if __name__ == "__main__":
    raise SystemExit(main())
