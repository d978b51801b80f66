"""``sessionary audit run|query``: the audit trail in SQL, written behind the request.

``run`` moves lifecycle events from the Redis stream into ``sessionary_events`` with a
consumer group (:class:`~sessionary.audit.AuditMover`): at least once, no duplicate rows,
nothing acknowledged before it is committed, so a database outage only delays the trail.
``query`` prints a user's history from the table (a table, or ``--json``).
"""

from __future__ import annotations

import json
import time
from contextlib import suppress
from datetime import datetime, timezone

import click
from rich.console import Console
from rich.table import Table

from sessionary.audit import DEFAULT_GROUP, AuditMover
from sessionary.cli._help import examples
from sessionary.cli._store import open_redis_store, open_sql_store, store_failure
from sessionary.demo.settings import LIBRARY_PREFIX
from sessionary.exceptions import StoreError

__all__ = ["audit"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since_ms(value: str | None, now_s: float) -> int:
    """``--since``: an ISO date or time (UTC unless it says), or an age such as ``2h``."""
    if not value:
        return 0
    if value[-1:] in _UNITS and value[:-1].isdigit():
        return int((now_s - int(value[:-1]) * _UNITS[value[-1]]) * 1000)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        msg = f"not an ISO date or an age like 30m, 2h, 7d: {value!r}"
        raise click.BadParameter(msg, param_hint="--since") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


@click.group()
def audit() -> None:
    """The audit trail: lifecycle events moved from Redis into SQL, and queried there."""


@audit.command(
    "run",
    epilog=examples(
        "sessionary audit run --from redis://localhost:6379/0 --to postgresql://app@db/app",
        "sessionary audit run --from redis://r:6379/0 --to sqlite:///audit.db --until-idle",
        "sessionary audit run --from redis://r/0 --to postgresql://db/app --metrics-port 9108",
    ),
)
@click.option("--from", "source_url", required=True, metavar="URL", help="The Redis store URL.")
@click.option("--to", "target_url", required=True, metavar="URL", help="The SQL store URL.")
@click.option("--prefix", default=LIBRARY_PREFIX, show_default=True, help="The Redis key prefix.")
@click.option("--tenant", default="", help="The tenant the rows carry (row-level security).")
@click.option("--group", default=DEFAULT_GROUP, show_default=True, help="The consumer group.")
@click.option("--consumer", default=None, help="This mover's name (default: host-pid).")
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option("--duration", type=click.FloatRange(0, 31_536_000), default=None, help="Seconds.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Stop after this many.")
@click.option("--until-idle", is_flag=True, help="Stop once the group has nothing left.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve the lag and counters for Prometheus on this port.",
)
@click.option("--quiet", is_flag=True, help="Print only the final count.")
def run(
    *,
    source_url: str,
    target_url: str,
    prefix: str,
    tenant: str,
    group: str,
    consumer: str | None,
    batch: int,
    duration: float | None,
    limit: int | None,
    until_idle: bool,
    metrics_port: int | None,
    quiet: bool,
) -> None:
    """Move lifecycle events from the Redis stream into the SQL events table."""
    console = Console(stderr=True, highlight=False)
    metrics = None
    if metrics_port is not None:
        from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

        from sessionary.metrics.audit import AuditMetrics  # noqa: PLC0415

        registry = CollectorRegistry()
        metrics = AuditMetrics(registry)
        start_http_server(metrics_port, registry=registry)
    with (
        open_sql_store(target_url, param="--to", tenant=tenant) as target,
        open_redis_store(source_url, prefix) as source,
        store_failure(source_url),
    ):
        target.check_schema()
        mover = AuditMover(source, target, prefix=prefix, group=group, consumer=consumer)
        mover.batch = batch
        last_lag = 0.0

        def on_step(moved: int, error: StoreError | None) -> None:
            nonlocal last_lag
            if error is not None and not quiet:
                console.print(f"[yellow]retrying:[/] {error}")
            if metrics is not None:
                metrics.moved.inc(moved)
                if error is not None:
                    metrics.errors.inc()
                if time.monotonic() - last_lag >= 1.0:  # one XINFO a second at most
                    last_lag = time.monotonic()
                    with suppress(StoreError):  # Redis is down: the retry line says so
                        metrics.observe(mover.lag())

        try:
            moved = mover.run(
                duration_s=duration, limit=limit, until_idle=until_idle, on_step=on_step
            )
        except KeyboardInterrupt:
            moved = mover.moved
        lag = mover.lag()
        if metrics is not None:  # the final state, for a scrape after the run
            metrics.observe(lag)
    click.echo(f"moved {moved} events; group {group!r}: {lag.pending} pending, lag {lag.lag}")


@audit.command(
    "query",
    epilog=examples(
        "sessionary audit query --user alice --store postgresql://app@db/app",
        "sessionary audit query --user alice --since 7d --json --store sqlite:///audit.db",
    ),
)
@click.option("--user", "user_id", required=True, help="The user ID the application logs in.")
@click.option("--since", default=None, help="An ISO date/time (UTC) or an age: 30m, 2h, 7d.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@click.option("--tenant", default="", help="The tenant the user belongs to.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option(
    "--store",
    "store_url",
    envvar="SESSIONARY_STORE",
    required=True,
    metavar="URL",
    help="The SQL store holding the events (or $SESSIONARY_STORE).",
)
def query(
    *, user_id: str, since: str | None, limit: int, tenant: str, as_json: bool, store_url: str
) -> None:
    """Show a user's session history from the events table, oldest first."""
    since_ms = _since_ms(since, time.time())
    with open_sql_store(store_url, param="--store", tenant=tenant) as store:
        entries = store.user_events(user_id, since_ms=since_ms, limit=limit)
    if as_json:
        for entry_id, event in entries:
            record = {
                "id": entry_id,
                "at": event.at,
                "event": event.name.value,
                "user": event.user,
                "fingerprint": event.fingerprint,
                "detail": event.detail,
            }
            click.echo(json.dumps(record, sort_keys=True, default=str))
        return
    table = Table(title=f"history of {user_id!r} ({len(entries)} events)")
    for column in ("when (UTC)", "event", "session", "detail"):
        table.add_column(column)
    for _, event in entries:
        when = datetime.fromtimestamp(event.at / 1000, tz=timezone.utc)
        detail = " ".join(f"{k}={v}" for k, v in sorted(event.detail.items()))
        table.add_row(
            when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            event.name.value,
            event.fingerprint or "-",
            detail,
        )
    Console(highlight=False, width=max(100, Console().width)).print(table)
