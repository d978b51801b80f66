"""``sessionary bench``: a load generator for session operations, like ``redis-benchmark``.

Runs a mix of create/load/touch/commit/rotate/destroy request cycles through the real
manager and store against ``memory://``, a Redis URL or a SQL store URL, then prints
throughput, latency percentiles, errors, the store hit rate and (on Redis) commands per
operation from the ``INFO commandstats`` delta. Sessions live under a fresh key prefix (on
SQL, a tenant of their own) and are deleted at the end. Bounded: at most 10 million
operations, one hour, 1024 concurrent workers.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from sessionary.backends.redis import mapped_redis_errors, parse_redis_url
from sessionary.backends.sql import async_sql_store_from_url, is_sql_url, sql_store_from_url
from sessionary.cli._bench_run import (
    DEFAULT_MIX,
    BenchPlan,
    BenchResult,
    parse_mix,
    run_bench,
)
from sessionary.cli._help import examples
from sessionary.demo.settings import redacted_url
from sessionary.exceptions import ConfigurationError, StoreError
from sessionary.stores.base import AsyncSessionStore

__all__ = ["bench"]

MAX_REQUESTS = 10_000_000
MAX_DURATION_S = 3600.0
MAX_CONCURRENCY = 1024
MAX_SESSIONS = 100_000
MAX_PAYLOAD = 60_000
_MEMORY_URLS = ("memory", "memory://")
_QUANTILES = (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))


def _check_url(url: str) -> str:
    if url in _MEMORY_URLS:
        return "memory"
    if is_sql_url(url):
        return url
    try:
        parse_redis_url(url)
    except ConfigurationError as exc:
        msg = f"{exc}; or memory:// for the in-process store"
        raise click.BadParameter(msg, param_hint="URL") from None
    return url


def _open_store(url: str, prefix: str, plan: BenchPlan) -> AsyncSessionStore:
    if url == "memory":
        from sessionary._async.memory import AsyncMemoryStore  # noqa: PLC0415

        room = plan.sessions + (plan.requests or MAX_REQUESTS)
        return AsyncMemoryStore(max_entries=room)
    if is_sql_url(url):  # the run's rows carry a tenant of their own, forgotten at the end
        return async_sql_store_from_url(url, tenant=prefix)
    from sessionary.backends.redis import AsyncRedisStore  # noqa: PLC0415 - redis is optional

    return AsyncRedisStore.from_url(
        url, prefix=prefix, max_connections=max(64, plan.concurrency), timeout=5.0
    )


class _RedisSide:
    """Command counts and cleanup on the Redis behind the store (SQL: cleanup only)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.deployment: Any = None
        self.prefix = prefix
        self.sql_url = url if is_sql_url(url) else None
        if url != "memory" and self.sql_url is None:
            from sessionary.cli._redis_admin import RedisDeployment  # noqa: PLC0415

            self.deployment = RedisDeployment(url)
        self.before: list[dict[str, int]] = []
        self.delta: dict[str, int] = {}
        self.by_primary: list[dict[str, Any]] = []
        """Per primary: its address, the commands it ran and the run's keys it holds."""
        self.removed = 0

    def start(self) -> None:
        if self.deployment is not None:
            with mapped_redis_errors("INFO commandstats"):
                self.before = self.deployment.command_calls_by_primary()

    def stop(self) -> None:
        deployment = self.deployment
        if deployment is None:
            return
        with mapped_redis_errors("INFO commandstats"):
            after = deployment.command_calls_by_primary()
            keys = deployment.count_matching(f"{self.prefix}:*")
        totals: dict[str, int] = {}
        self.by_primary = []
        for address, now, then, held in zip(
            deployment.addresses(), after, self.before, keys, strict=True
        ):
            delta = {name: calls - then.get(name, 0) for name, calls in now.items()}
            delta.pop("info", None)  # this tool's own INFO calls
            delta.pop("replconf", None)  # a Cluster's replicas acknowledging, not the bench
            for name, calls in delta.items():
                totals[name] = totals.get(name, 0) + calls
            self.by_primary.append(
                {"address": address, "commands": sum(delta.values()), "keys": held}
            )
        self.delta = {name: calls for name, calls in totals.items() if calls > 0}

    def cleanup(self, console: Console) -> None:
        if self.sql_url is not None:
            self._forget_tenant(self.sql_url, console)
        if self.deployment is None:
            return
        try:
            with mapped_redis_errors("the cleanup"):
                self.removed = self.deployment.delete_matching(f"{self.prefix}:*")
        except StoreError as exc:
            console.print(
                f"[red]cleanup failed ({exc}): delete the keys {self.prefix}:* yourself[/]"
            )
        finally:
            self.deployment.close()

    def _forget_tenant(self, url: str, console: Console) -> None:
        store = sql_store_from_url(url, tenant=self.prefix)
        try:
            self.removed = store.forget_tenant()
        except (StoreError, ConfigurationError) as exc:
            console.print(f"[red]cleanup failed ({exc}): delete the tenant {self.prefix}'s rows[/]")
        finally:
            store.close()


@contextmanager
def _progress_bar(console: Console, plan: BenchPlan) -> Iterator[Callable[[int], None]]:
    by_time = plan.requests is None
    # A --duration run counts seconds, a --requests run operations: label the count so.
    count: list[ProgressColumn] = (
        [TextColumn("{task.completed:.0f}/{task.total:g} s")]
        if by_time
        else [MofNCompleteColumn(), TextColumn("ops")]
    )
    columns = [TextColumn("[bold]bench"), BarColumn(), *count, TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        total = plan.duration if by_time else plan.requests
        task = progress.add_task("bench", total=total)
        started = time.monotonic()

        def update(done: int) -> None:
            completed = min(time.monotonic() - started, total or 0) if by_time else done
            progress.update(task, completed=completed)

        yield update


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def _report(result: BenchResult, side: _RedisSide, url: str) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for name, stats in result.ops.items():
        latency = stats.latency
        ops[name] = {
            "count": stats.count,
            "ops_per_s": stats.count / result.elapsed if result.elapsed else 0.0,
            "mean_ms": latency.mean * 1000,
            **{f"{label}_ms": latency.quantile(q) * 1000 for label, q in _QUANTILES},
            "max_ms": latency.maximum * 1000,
            "errors": dict(stats.errors),
        }
    total = result.total
    redis: dict[str, Any] | None = None
    if side.deployment is not None:
        commands = sum(side.delta.values())
        redis = {
            "commands": commands,
            "commands_per_op": commands / total if total else 0.0,
            "by_command": {
                name: calls / total if total else 0.0
                for name, calls in sorted(side.delta.items(), key=lambda item: -item[1])
            },
            "keys_removed": side.removed,
            "by_primary": side.by_primary,
        }
    return {
        "store": redacted_url(url),
        "prefix": side.prefix,
        "concurrency": result.plan.concurrency,
        "mix": dict(result.plan.mix),
        "sessions": result.plan.sessions,
        "payload_bytes": result.plan.payload,
        "elapsed_s": result.elapsed,
        "operations": total,
        "ops_per_s": total / result.elapsed if result.elapsed else 0.0,
        "errors": dict(result.errors),
        "store_round_trips_per_op": result.store_round_trips / total if total else 0.0,
        "store_calls": {
            f"{name}:{outcome}": count
            for (name, outcome), count in sorted(result.store_calls.items())
        },
        "store_hit_rate": result.hit_rate,
        "ops": ops,
        "redis": redis,
        "sql_rows_removed": side.removed if side.sql_url is not None else None,
    }


def _print_report(console: Console, report: dict[str, Any]) -> None:
    console.print(f"[bold]sessionary bench[/] — {report['store']}", soft_wrap=True)
    table = Table()
    table.add_column("operation")
    for heading in ("count", "ops/s", "mean ms", "p50 ms", "p99 ms", "p999 ms", "max ms"):
        table.add_column(heading, justify="right")
    table.add_column("errors", justify="right")
    for name, op in report["ops"].items():
        table.add_row(
            name,
            str(op["count"]),
            f"{op['ops_per_s']:,.0f}",
            *(f"{op[key]:.3f}" for key in ("mean_ms", "p50_ms", "p99_ms", "p999_ms", "max_ms")),
            str(sum(op["errors"].values())),
        )
    table.add_section()
    table.add_row(
        "total",
        str(report["operations"]),
        f"{report['ops_per_s']:,.0f}",
        *([""] * 5),
        str(sum(report["errors"].values())),
    )
    console.print(table)
    hit_rate = report["store_hit_rate"]
    hit_text = "n/a (no loads)" if hit_rate is None else f"{hit_rate:.1%}"
    console.print(
        f"{report['operations']} operations in {report['elapsed_s']:.2f} s by "
        f"{report['concurrency']} workers; store round trips per op "
        f"{report['store_round_trips_per_op']:.2f}; store hit rate {hit_text}"
    )
    if report["errors"]:
        errors = ", ".join(f"{name} {count}" for name, count in report["errors"].items())
        console.print(f"[red]errors: {errors}[/]")
    redis = report["redis"]
    if redis is not None:
        top = ", ".join(
            f"{name} {per_op:.2f}" for name, per_op in list(redis["by_command"].items())[:8]
        )
        console.print(
            f"Redis commands per op {redis['commands_per_op']:.2f} ({top}); server-wide "
            "INFO commandstats delta, so other clients' traffic counts too"
        )
        primaries = redis["by_primary"]
        if len(primaries) > 1:  # a Cluster: how the run spread over its primaries
            commands = sum(p["commands"] for p in primaries) or 1
            keys = sum(p["keys"] for p in primaries) or 1
            for primary in primaries:
                console.print(
                    f"primary {primary['address']}: {primary['commands']} commands "
                    f"({primary['commands'] / commands:.1%}), {primary['keys']} keys "
                    f"({primary['keys'] / keys:.1%})"
                )
        console.print(f"cleanup: {redis['keys_removed']} keys removed")
    elif report["sql_rows_removed"] is not None:
        console.print(f"cleanup: {report['sql_rows_removed']} session rows removed")


@click.command(
    epilog=examples(
        "sessionary bench memory:// -n 50000",
        "sessionary bench redis://localhost:6379/0 -c 64 -d 30",
        "sessionary bench redis://localhost:6379/0 --mix load=90,commit=10 --json",
        "sessionary bench 'postgresql://app@db/app?pool_max=32' -c 32 -d 30",
    )
)
@click.argument("url", metavar="URL")
@click.option(
    "--mix",
    default=DEFAULT_MIX,
    show_default=True,
    help="Relative weights of create, load, touch, commit, rotate, destroy.",
)
@click.option(
    "-c", "--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=32, show_default=True
)
@click.option(
    "-n",
    "--requests",
    type=click.IntRange(1, MAX_REQUESTS),
    help="Stop after this many operations (default 10000 unless --duration is given).",
)
@click.option(
    "-d",
    "--duration",
    type=click.FloatRange(0, MAX_DURATION_S, min_open=True),
    help="Stop after this many seconds.",
)
@click.option(
    "--sessions",
    type=click.IntRange(1, MAX_SESSIONS),
    default=1000,
    show_default=True,
    help="Sessions created before the measured phase.",
)
@click.option(
    "--payload",
    type=click.IntRange(0, MAX_PAYLOAD),
    default=128,
    show_default=True,
    help="Bytes of the attribute each session carries.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
def bench(  # noqa: PLR0917 - click passes one parameter per option
    url: str,
    mix: str,
    concurrency: int,
    requests: int | None,
    duration: float | None,
    sessions: int,
    payload: int,
    as_json: bool,
) -> None:
    """Stress a session store with a mix of session operations and print the numbers.

    URL is memory://, a redis://, rediss://, unix://, redis+cluster:// or
    redis+sentinel:// URL, or a postgresql:// or sqlite:/// URL (tables created by
    sessionary db init). Sessions are written under a fresh key prefix (SQL: a tenant of
    their own) and removed at the end.
    """
    url = _check_url(url)
    try:
        weights = parse_mix(mix)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mix") from None
    if requests is None and duration is None:
        requests = 10_000
    plan = BenchPlan(weights, concurrency, requests, duration, sessions, payload)
    console = Console(stderr=True, highlight=False)
    prefix = f"sessionary-bench-{secrets.token_hex(6)}"
    try:
        side = _RedisSide(url, prefix)
    except StoreError as exc:
        msg = f"cannot use {redacted_url(url)}: {exc}"
        raise click.ClickException(msg) from None
    try:
        result = asyncio.run(_run(url, prefix, plan, side, console))
        side.stop()
    except StoreError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        msg = f"cannot benchmark {redacted_url(url)}: {exc}{cause}"
        raise click.ClickException(msg) from None
    except ConfigurationError as exc:  # a SQL store without its tables: says which command
        raise click.ClickException(str(exc)) from None
    finally:
        side.cleanup(console)
    report = _report(result, side, url)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_report(Console(highlight=False, width=max(100, Console().width)), report)


async def _run(
    url: str, prefix: str, plan: BenchPlan, side: _RedisSide, console: Console
) -> BenchResult:
    store = _open_store(url, prefix, plan)
    try:
        warm_up = getattr(store, "warm_up", None)
        if warm_up is not None:
            await warm_up()
        with _progress_bar(console, plan) as update:
            return await run_bench(store, plan, on_start=side.start, progress=update)
    finally:
        await store.aclose()
