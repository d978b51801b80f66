"""``sessionary events tail``: follow the lifecycle events of a deployment.

On Redis it reads the stream ``<prefix>:events``; on a SQL store (``postgresql://``,
``sqlite:///``) the audit table ``sessionary_events``, polled every half second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

import click
from rich.console import Console

from sessionary._sync.events import StreamEntry
from sessionary.backends.sql import is_sql_url
from sessionary.cli._help import examples
from sessionary.cli._store import open_redis_store, open_sql_store, store_failure, store_options
from sessionary.sansio.events import EventName, SessionEvent

__all__ = ["events"]

_STYLES = {
    EventName.REVOKED: "bold red",
    EventName.EVICTED: "red",
    EventName.INVALID_ID: "yellow",
    EventName.DUPLICATE_COOKIE: "yellow",
    EventName.CONFLICT: "yellow",
    EventName.FAIL_CLOSED: "bold red",
    EventName.CREATED: "green",
}


def _line(entry_id: str, event: SessionEvent) -> str:
    when = datetime.fromtimestamp(event.at / 1000, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    detail = " ".join(f"{k}={v}" for k, v in sorted(event.detail.items()))
    style = _STYLES.get(event.name, "")
    name = f"[{style}]{event.name.value:<17}[/]" if style else f"{event.name.value:<17}"
    return (
        f"{entry_id:<16} {when} {name} user={event.user or '-'} "
        f"fp={event.fingerprint or '-'} {detail}"
    ).rstrip()


@click.group()
def events() -> None:
    """Read the lifecycle events (the Redis stream <prefix>:events, or the SQL audit table)."""


@events.command(
    "tail",
    epilog=examples(
        "sessionary events tail --store redis://localhost:6379/0",
        "sessionary events tail --type revoked --user alice --last 100 --no-follow",
        "sessionary events tail --store postgresql://app@db/app --user alice",
    ),
)
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice([name.value for name in EventName]),
    help="Only these event types (repeatable).",
)
@click.option("--user", "user_id", default=None, help="Only events of this user.")
@click.option(
    "--last",
    type=click.IntRange(0, 100_000),
    default=20,
    show_default=True,
    help="Start with this many recent events.",
)
@click.option(
    "--follow/--no-follow", default=True, show_default=True, help="Keep waiting for new events."
)
@click.option(
    "--duration",
    type=click.FloatRange(0, 86_400),
    default=None,
    help="Stop following after this many seconds.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000_000),
    default=None,
    help="Stop after printing this many events.",
)
@click.option("--tenant", default="", help="SQL: the tenant whose events to show.")
@store_options
def tail(
    *,
    types: tuple[str, ...],
    user_id: str | None,
    last: int,
    follow: bool,
    duration: float | None,
    limit: int | None,
    store_url: str,
    prefix: str,
    tenant: str,
) -> None:
    """Print recent events, then follow new ones (Ctrl-C to stop)."""
    from sessionary.backends.redis import RedisEventStream  # noqa: PLC0415

    console = Console(highlight=False)
    wanted = {EventName(t) for t in types}
    printed = 0
    stop_at = None if duration is None else time.monotonic() + duration

    def show(entry_id: str, event: SessionEvent) -> bool:
        nonlocal printed
        if (wanted and event.name not in wanted) or (user_id and event.user != user_id):
            return False
        console.print(_line(entry_id, event))
        printed += 1
        return limit is not None and printed >= limit

    if is_sql_url(store_url):
        with open_sql_store(store_url, tenant=tenant) as sql_store:
            recent = sql_store.recent_events(max(last, 1))
            newest = recent[-1] if recent else None
            position = (newest[1].at, newest[0]) if newest else (0, "")

            def sql_batch() -> list[StreamEntry]:
                nonlocal position
                batch = sql_store.events_after(*position, count=500)
                if batch:
                    position = (batch[-1][1].at, batch[-1][0])
                else:
                    time.sleep(0.5)
                return batch

            _follow(recent[-last:] if last else [], sql_batch, show, follow, stop_at)
        return
    with open_redis_store(store_url, prefix) as store, store_failure(store_url):
        stream = RedisEventStream(store.client, prefix=prefix)
        recent = stream.recent(last) if last else []
        after = recent[-1][0] if recent else stream.last_id()

        def redis_batch() -> list[StreamEntry]:
            nonlocal after
            batch = stream.read(after, count=500, block_ms=500)
            if batch:
                after = batch[-1][0]
            return batch

        _follow(recent, redis_batch, show, follow, stop_at)


def _follow(
    recent: list[StreamEntry],
    next_batch: Callable[[], list[StreamEntry]],
    show: Callable[[str, SessionEvent], bool],
    follow: bool,
    stop_at: float | None,
) -> None:
    """Show ``recent``, then each batch until ``show`` says stop, time is up, or Ctrl-C."""
    for entry_id, event in recent:
        if show(entry_id, event):
            return
    try:
        while follow and (stop_at is None or time.monotonic() < stop_at):
            for entry_id, event in next_batch():
                if show(entry_id, event):
                    return
    except KeyboardInterrupt:
        pass
