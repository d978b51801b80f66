"""``sessionary events tail``: follow the lifecycle event stream of a deployment."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import click
from rich.console import Console

from sessionary.cli._help import examples
from sessionary.cli._store import open_redis_store, store_failure, store_options
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
    """Read the lifecycle event stream (the Redis stream <prefix>:events)."""


@events.command(
    "tail",
    epilog=examples(
        "sessionary events tail --store redis://localhost:6379/0",
        "sessionary events tail --type revoked --user alice --last 100 --no-follow",
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

    with open_redis_store(store_url, prefix) as store, store_failure(store_url):
        stream = RedisEventStream(store.client, prefix=prefix)
        recent = stream.recent(last) if last else []
        after = recent[-1][0] if recent else stream.last_id()
        for entry_id, event in recent:
            if show(entry_id, event):
                return
        try:
            while follow and (stop_at is None or time.monotonic() < stop_at):
                batch = stream.read(after, count=500, block_ms=500)
                for entry_id, event in batch:
                    after = entry_id
                    if show(entry_id, event):
                        return
        except KeyboardInterrupt:
            pass
