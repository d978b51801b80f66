"""Row-level security's cost on the PostgreSQL store: the same mix with and without it.

Two schemas of one database hold the same seeded rows: ``--tenants`` tenants sharing
``--sessions`` session rows (by default 100 000 tenants and 1 000 000 rows). One schema has
sessionary's ``tenant_isolation`` policies (``init_schema(row_security=True)``: ``ENABLE``
and ``FORCE ROW LEVEL SECURITY``), the other has none. Both are used by the same login
role, which is not a superuser and owns neither (the policies then apply to it), through
tenant-scoped ``PostgresStore`` objects: every operation on either side runs in a
transaction that sets ``app.current_tenant`` first, so the only difference is the policy.

Both schemas' tables and indexes are read into the OS page cache before the first round
(``pg_prewarm``), so neither side starts with a cache the other lacks. Each round draws
``--tenants-per-round`` tenants at random and runs ``--ops`` operations on each side,
interleaved operation by operation (which side goes first alternates), so both sides meet
the same load of the machine: 80 % reads of one of the tenant's sessions (one statement)
and 20 % writes of it (a conditional update, one transaction).
The table gives the median over rounds of each side's mean time per operation; the
overhead is the median of the rounds' ratios (each round measures both sides together).
The schemas and the role are dropped at the end::

    python -m benchmarks.micro.rls_overhead --url postgresql://postgres@127.0.0.1:5432/test \\
        --tenants 100000 --sessions 1000000 --ops 2000 --rounds 7
"""

from __future__ import annotations

import argparse
import hashlib
import random
import secrets
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from sessionary.backends.sql import PostgresStore
from sessionary.backends.sql._rows import encode_attributes
from sessionary.sansio.ops import CommitStatus, Load, LoadStatus, Update

DAY_MS = 86_400_000
READ_SHARE = 0.8


def _digest(key: str) -> bytes:
    return hashlib.md5(key.encode()).digest()


def _as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{role}@{host}:{parts.port}" if parts.port else f"{role}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


_SEED = """
INSERT INTO {table} (tenant, key, digest, nonce, created, accessed, idle, deadline, version,
    seal, attributes, gc_at, expires_at)
SELECT 't' || (i %% %(tenants)s), 'k' || i, decode(md5('k' || i), 'hex'), '\\x00'::bytea,
    %(now)s, %(now)s, %(idle)s, %(deadline)s, 1, '\\x00'::bytea, %(attributes)s,
    %(deadline)s + %(idle)s, %(deadline)s
FROM generate_series(0, %(sessions)s - 1) AS i
"""


@dataclass
class Setup:
    """The two schemas and the application role of one run."""

    url: str
    app_url: str
    role: str
    schemas: dict[str, str]
    tenants: int
    sessions: int


@contextmanager
def seeded(url: str, tenants: int, sessions: int) -> Iterator[Setup]:
    """Create, seed and (afterwards) drop the schemas ``rls`` and ``plain`` and the role."""
    run = uuid.uuid4().hex[:8]
    schemas = {"rls": f"bench_rls_{run}", "plain": f"bench_plain_{run}"}
    role = f"bench_app_{run}"
    now = int(time.time() * 1000)
    params = {
        "tenants": tenants,
        "sessions": sessions,
        "now": now,
        "idle": DAY_MS,
        "deadline": now + 2 * DAY_MS,
        "attributes": encode_attributes({"n": b"\x011"}),
    }
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS").format(sql.Identifier(role))
        )
    try:
        for side, schema in schemas.items():
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            owner = PostgresStore(url, schema=schema)
            owner.init_schema(row_security=side == "rls")
            owner.close()
            started = time.perf_counter()
            with psycopg.connect(url, autocommit=True) as conn:
                table = sql.Identifier(schema, "sessionary_sessions")
                conn.execute(sql.SQL(_SEED).format(table=table), params)
                conn.execute(sql.SQL("ANALYZE {}").format(table))
                ident = sql.Identifier(schema)
                conn.execute(
                    sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident, sql.Identifier(role))
                )
                conn.execute(
                    sql.SQL(
                        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}"
                    ).format(ident, sql.Identifier(role))
                )
            print(f"seeded {schema}: {sessions:,} rows in {time.perf_counter() - started:.1f} s")
        _prewarm(url, list(schemas.values()))
        setup = Setup(url, _as_role(url, role), role, schemas, tenants, sessions)
        visible = {side: _visible_rows(setup, side) for side in schemas}
        print(f"rows the application role sees with tenant t0 set: {visible}")
        assert visible["rls"] < visible["plain"], "the policy does not apply to the role"
        yield setup
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _prewarm(url: str, schemas: list[str]) -> None:
    """Read both schemas' session tables and indexes into the OS page cache, alike.

    Seeded one after the other, the second schema's pages would otherwise be the ones still
    cached, and every read of the first would pay for the disk: a bias that is not the
    policy's (it made the first runs of this script report +44 %).
    """
    with psycopg.connect(url, autocommit=True) as conn:
        there = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'")
        created = there.fetchone() is None
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for schema in schemas:
            relations = conn.execute(
                "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "AND c.relname LIKE 'sessionary_sessions%%'",
                (schema,),
            ).fetchall()
            for (relation,) in relations:
                conn.execute("SELECT pg_prewarm(%s::regclass, 'read')", (relation,))
        if created:  # leave the database as it was
            conn.execute("DROP EXTENSION pg_prewarm")


def _visible_rows(setup: Setup, side: str) -> int:
    """How many session rows the application role sees in a transaction of tenant ``t0``."""
    with psycopg.connect(setup.app_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.current_tenant', 't0', true)")
        table = sql.Identifier(setup.schemas[side], "sessionary_sessions")
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
    return int(row[0]) if row else 0


def _keys_of(tenant: int, setup: Setup, count: int, rng: random.Random) -> list[str]:
    """``count`` seeded session keys of tenant ``t<tenant>`` (key ``k<i>``, i % tenants)."""
    per_tenant = setup.sessions // setup.tenants
    picks = [tenant + setup.tenants * rng.randrange(max(per_tenant, 1)) for _ in range(count)]
    return [f"k{i}" for i in picks if i < setup.sessions] or [f"k{tenant}"]


def _operate(store: PostgresStore, key: str, is_read: bool, version: int) -> None:
    now = int(time.time() * 1000)
    if is_read:
        found = store.load(
            Load(key=key, digest=_digest(key), now=now, max_idle=DAY_MS, touch_after=60_000)
        )
        assert found.status is LoadStatus.FOUND, (store, key, found.status)
        return
    written = store.update(
        Update(
            key=key, expect_version=version, digest=_digest(key),
            nonce=secrets.token_bytes(8), now=now, max_idle=DAY_MS,
            attributes={"n": b"\x012"}, seal=b"\x00",
        )
    )  # fmt: skip
    assert written.status is CommitStatus.OK, (store, key, written.status)


def measure_round(
    setup: Setup, tenants: list[int], ops: int, seed: int, versions: dict[str, int]
) -> dict[str, float]:
    """Mean seconds per operation of each side, the sides interleaved operation by operation.

    Operation ``i`` of the plan runs on both sides back to back (which side first alternates
    with ``i``), so both meet the same moment of the machine's load and the same cache.
    """
    rng = random.Random(seed)
    stores = {
        (side, t): PostgresStore(setup.app_url, schema=schema, tenant=f"t{t}", max_size=1)
        for side, schema in setup.schemas.items()
        for t in tenants
    }
    spent = dict.fromkeys(setup.schemas, 0.0)
    try:
        plan = []
        for index in range(ops):
            tenant = tenants[index % len(tenants)]
            key = rng.choice(_keys_of(tenant, setup, 4, rng))
            plan.append((tenant, key, rng.random() < READ_SHARE))
        for store in stores.values():  # connect and check the schema outside the timing
            store.check_schema()
        for index, (tenant, key, is_read) in enumerate(plan):
            order = ("plain", "rls") if index % 2 == 0 else ("rls", "plain")
            for side in order:
                version = versions.get(f"{side}:{key}", 1)
                started = time.perf_counter()
                _operate(stores[side, tenant], key, is_read, version)
                spent[side] += time.perf_counter() - started
                if not is_read:
                    versions[f"{side}:{key}"] = version + 1
        return {side: total / ops for side, total in spent.items()}
    finally:
        for store in stores.values():
            store.close()


def main(argv: list[str] | None = None) -> int:
    """Seed, measure both sides round by round, print the Markdown table, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--tenants", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--tenants-per-round", type=int, default=8)
    parser.add_argument("--ops", type=int, default=2000, help="operations per side and round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(1)
    means: dict[str, list[float]] = {"plain": [], "rls": []}
    versions: dict[str, int] = {}
    with seeded(args.url, args.tenants, args.sessions) as setup:
        for round_no in range(args.rounds):
            tenants = rng.sample(range(args.tenants), min(args.tenants_per_round, args.tenants))
            for side, mean in measure_round(setup, tenants, args.ops, round_no, versions).items():
                means[side].append(mean)
            ratio = means["rls"][-1] / means["plain"][-1]
            print(
                f"round {round_no + 1}: plain {means['plain'][-1] * 1e6:.0f} µs, "
                f"rls {means['rls'][-1] * 1e6:.0f} µs per operation (ratio {ratio:.2f})"
            )
    plain = statistics.median(means["plain"])
    rls = statistics.median(means["rls"])
    print()
    print(
        f"{args.tenants:,} tenants, {args.sessions:,} session rows, {args.rounds} rounds x "
        f"{args.ops:,} operations per side ({READ_SHARE:.0%} reads, the rest writes)"
    )
    print()
    print("| schema | median µs per operation | ratio |")
    print("|---|---:|---:|")
    print(f"| no row-level security | {plain * 1e6:,.0f} | 1.00 |")
    print(f"| row-level security (tenant_isolation) | {rls * 1e6:,.0f} | {rls / plain:.2f} |")
    print()
    paired = statistics.median(r / p for r, p in zip(means["rls"], means["plain"], strict=True))
    print(f"overhead (median of the rounds' ratios): {(paired - 1) * 100:+.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
