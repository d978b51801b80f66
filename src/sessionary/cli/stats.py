"""``sessionary stats URL``: the monitoring view of a running sessionary deployment.

On a SQL store (``postgresql://``, ``sqlite:///``): live, signed-in and ended sessions,
users, rows past their time, locks and audit events, counted by the database in one
statement, and the users with the most sessions. On Redis: live sessions and sessions per
user (``SCAN`` over every primary, never ``KEYS``), Redis memory in total and per session
(``MEMORY USAGE`` of a sample), keyspace hit rate, ops/s, evicted keys, PING round trips,
the lag of each consumer group reading the event stream (``sessionary audit run``), and the
``maxmemory-policy`` with a warning when it can evict sessions. ``--json`` prints the same
as a JSON document.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from sessionary.backends.redis import RedisLayout, mapped_redis_errors
from sessionary.backends.sql import is_sql_url
from sessionary.cli._help import examples
from sessionary.cli._redis_admin import RedisDeployment
from sessionary.cli._stats_collect import Stats, collect_stats
from sessionary.cli._store import open_sql_store
from sessionary.demo.settings import LIBRARY_PREFIX, redacted_url
from sessionary.exceptions import ConfigurationError, StoreError

__all__ = ["stats"]


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1024
    return f"{n:,.2f} TiB"  # pragma: no cover - the loop returns at GiB


def _print(console: Console, stats: Stats) -> None:
    console.print(
        f"[bold]sessionary stats[/] — {redacted_url(stats.url)} (prefix {stats.prefix!r})",
        soft_wrap=True,
    )
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    topology = f"{stats.kind}, {stats.primaries} primar{'y' if stats.primaries == 1 else 'ies'}"
    table.add_row("Redis", f"{stats.redis_version} ({topology})")
    table.add_row("live sessions", f"{stats.live_sessions:,}")
    table.add_row("  signed in", f"{stats.authenticated_sessions:,}")
    table.add_row("  users", f"{stats.users:,}")
    table.add_row("ended, awaiting expiry", f"{stats.ended_sessions:,}")
    table.add_row("revoked, awaiting expiry", f"{stats.revoked_sessions:,}")
    table.add_row("user indexes", f"{stats.user_indexes:,}")
    table.add_row("memory used", _size(stats.used_memory))
    if stats.memory_per_session is not None:
        per_session = f"{_size(stats.memory_per_session)} (sample of {stats.memory_sample})"
    else:
        per_session = "n/a (no sessions)" if not stats.live_sessions else "n/a (--sample 0)"
    table.add_row("memory per session", per_session)
    table.add_row("maxmemory", _size(stats.maxmemory) if stats.maxmemory else "0 (no limit)")
    table.add_row("maxmemory-policy", ", ".join(stats.maxmemory_policies))
    hit_rate = "n/a" if stats.hit_rate is None else f"{stats.hit_rate:.1%}"
    table.add_row("keyspace hit rate", hit_rate)
    table.add_row("ops/s (now)", f"{stats.ops_per_sec:,}")
    table.add_row("evicted keys", f"{stats.evicted_keys:,}")
    table.add_row("expired keys", f"{stats.expired_keys:,}")
    table.add_row("connected clients", f"{stats.connected_clients:,}")
    if stats.tracking_clients:  # local caches (AsyncCachingStore / CachingStore) at work
        table.add_row(
            "  tracking (local caches)",
            f"{stats.tracking_clients:,} ({stats.tracking_prefixes:,} prefixes)",
        )
    ping = stats.ping_ms
    table.add_row(
        "PING round trip",
        f"min {ping['min']:.3f} / p50 {ping['p50']:.3f} / max {ping['max']:.3f} ms",
    )
    for lag in stats.audit:
        behind = "?" if lag.lag is None else f"{lag.lag:,}"
        table.add_row(f"audit group {lag.group!r}", f"lag {behind}, pending {lag.pending:,}")
    console.print(table)
    _print_top(console, stats.top_users)
    for warning in stats.warnings:
        console.print(f"[bold red]WARNING:[/] {warning}")


def _print_top(console: Console, top_users: list[tuple[str, int]]) -> None:
    if top_users:
        console.print(f"top {len(top_users)} users by live sessions:")
        users = Table()
        users.add_column("user")
        users.add_column("sessions", justify="right")
        for user, count in top_users:
            users.add_row(user, str(count))
        console.print(users)


def _sql_stats(url: str, *, tenant: str, top: int, as_json: bool) -> None:
    """The SQL store's figures: its rows, counted by the database in one statement."""
    now_ms = int(time.time() * 1000)
    with open_sql_store(url, param="URL", tenant=tenant) as store:
        version = store.schema_version()
        store.check_schema()
        started = time.perf_counter()
        census = store.census(now_ms)
        census_ms = (time.perf_counter() - started) * 1000
        top_users = store.top_users(now_ms, top) if top else []
    figures: dict[str, Any] = {
        "url": redacted_url(url),
        "tenant": tenant,
        "schema_version": version,
        **census._asdict(),
        "top_users": [{"user": user, "sessions": n} for user, n in top_users],
        "census_ms": census_ms,
    }
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    console = Console(highlight=False, width=max(100, Console().width))
    where = f" (tenant {tenant!r})" if tenant else ""
    console.print(f"[bold]sessionary stats[/] — {redacted_url(url)}{where}", soft_wrap=True)
    rows = [
        ("schema version", str(version)),
        ("live sessions", f"{census.live_sessions:,}"),
        ("  signed in", f"{census.authenticated_sessions:,}"),
        ("  users", f"{census.users:,}"),
        ("ended, awaiting purge", f"{census.ended_sessions:,}"),
        ("rows past their time", f"{census.purgeable_rows:,}"),
        ("session rows", f"{census.rows:,}"),
        ("locks held", f"{census.locks_held:,}"),
        ("audit events", f"{census.events:,}"),
        ("census query", f"{census_ms:.1f} ms"),
    ]
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    _print_top(console, top_users)
    if census.purgeable_rows:
        console.print(
            f"{census.purgeable_rows:,} rows are past their time: the sweeper or "
            "`sessionary db purge` deletes them"
        )


@click.command(
    epilog=examples(
        "sessionary stats redis://localhost:6379/0",
        "sessionary stats redis+cluster://node1:7000 --prefix myapp --top 20 --json",
        "sessionary stats postgresql://app@db/app --tenant acme",
    )
)
@click.argument("url", metavar="URL")
@click.option("--prefix", default=LIBRARY_PREFIX, show_default=True, help="The stores' key prefix.")
@click.option("--tenant", default="", help="SQL: the tenant whose rows to count.")
@click.option(
    "--top", type=click.IntRange(0, 1000), default=10, show_default=True, help="Users to list."
)
@click.option(
    "--sample",
    type=click.IntRange(0, 10_000),
    default=200,
    show_default=True,
    help="Sessions whose MEMORY USAGE is measured.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON on stdout.")
def stats(  # noqa: PLR0917 - click passes one parameter per option
    url: str, prefix: str, tenant: str, top: int, sample: int, as_json: bool
) -> None:
    """Show the health of a sessionary deployment: sessions, users, memory, eviction.

    URL is a redis://, rediss://, unix://, redis+cluster:// or redis+sentinel:// URL (only
    reads: SCAN, HMGET, GET, MEMORY USAGE, INFO, XINFO and PING), or a postgresql:// or
    sqlite:/// URL (one counting query, and the top users).
    """
    if is_sql_url(url):
        _sql_stats(url, tenant=tenant, top=top, as_json=as_json)
        return
    try:
        RedisLayout(prefix)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--prefix") from None
    try:
        deployment = RedisDeployment(url)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    except StoreError as exc:
        msg = f"cannot use {redacted_url(url)}: {exc}"
        raise click.ClickException(msg) from None
    try:
        with deployment, mapped_redis_errors("the stats queries"):
            figures = collect_stats(deployment, prefix, top=top, sample=sample)
    except StoreError as exc:
        msg = f"cannot read the stats of {redacted_url(url)}: {exc}"
        raise click.ClickException(msg) from None
    if as_json:
        click.echo(json.dumps(figures.as_dict(), indent=2))
    else:
        _print(Console(highlight=False, width=max(100, Console().width)), figures)
