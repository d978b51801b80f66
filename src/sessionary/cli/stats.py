"""``sessionary stats URL``: the monitoring view of a running sessionary deployment on Redis.

Live sessions and sessions per user (``SCAN`` over every primary, never ``KEYS``), Redis
memory in total and per session (``MEMORY USAGE`` of a sample), keyspace hit rate, ops/s,
evicted keys, PING round trips, and the ``maxmemory-policy`` with a warning when it can evict
sessions. ``--json`` prints the same as a JSON document.
"""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from sessionary.backends.redis import RedisLayout, mapped_redis_errors
from sessionary.cli._help import examples
from sessionary.cli._redis_admin import RedisDeployment
from sessionary.cli._stats_collect import Stats, collect_stats
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
    console.print(table)
    if stats.top_users:
        console.print(f"top {len(stats.top_users)} users by live sessions:")
        users = Table()
        users.add_column("user")
        users.add_column("sessions", justify="right")
        for user, count in stats.top_users:
            users.add_row(user, str(count))
        console.print(users)
    for warning in stats.warnings:
        console.print(f"[bold red]WARNING:[/] {warning}")


@click.command(
    epilog=examples(
        "sessionary stats redis://localhost:6379/0",
        "sessionary stats redis+cluster://node1:7000 --prefix myapp --top 20 --json",
    )
)
@click.argument("url", metavar="URL")
@click.option("--prefix", default=LIBRARY_PREFIX, show_default=True, help="The stores' key prefix.")
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
def stats(url: str, prefix: str, top: int, sample: int, as_json: bool) -> None:
    """Show the health of a sessionary deployment on Redis: sessions, users, memory, eviction.

    URL is a redis://, rediss://, unix://, redis+cluster:// or redis+sentinel:// URL. Only
    reads: SCAN, HMGET, GET, MEMORY USAGE, INFO and PING.
    """
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
