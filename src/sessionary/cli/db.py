"""``sessionary db init|upgrade|status|purge --store URL``: the SQL stores' schema and rows.

``init`` creates the tables at the schema version this release needs and ``upgrade`` moves
older ones to it (both idempotent, safe when several instances run them at once);
``status`` says which version the database has (exit status 1 unless it is this release's);
``purge`` deletes rows whose time is over in bounded batches, each one short transaction,
with a progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import Progress

from sessionary.backends.sql import SCHEMA_VERSION, SQLStore
from sessionary.cli._help import examples
from sessionary.cli._store import open_sql_store

__all__ = ["db"]

F = TypeVar("F", bound=Callable[..., Any])


def _store_option(command: F) -> F:
    return click.option(
        "--store",
        "store_url",
        envvar="SESSIONARY_STORE",
        required=True,
        metavar="URL",
        help="postgresql://... or sqlite:///path.db (or $SESSIONARY_STORE).",
    )(command)


def _opened(url: str) -> AbstractContextManager[SQLStore]:
    return open_sql_store(url, needs="db commands")


@click.group()
def db() -> None:
    """Create, upgrade, inspect and purge a SQL store's tables."""


def _apply(url: str, verb: str, *, row_security: bool) -> None:
    with _opened(url) as store:
        found = store.init_schema(row_security=row_security)
    if found == SCHEMA_VERSION:
        click.echo(f"schema already at version {SCHEMA_VERSION}: nothing to do")
    elif found is None:
        click.echo(f"{verb}: created the sessionary tables at schema version {SCHEMA_VERSION}")
    else:
        click.echo(f"{verb}: schema upgraded from version {found} to {SCHEMA_VERSION}")


_ROW_SECURITY = click.option(
    "--row-security",
    is_flag=True,
    help="PostgreSQL: isolate tenants by row-level security (run as the tables' owner; the "
    "application then connects as another role, never a superuser).",
)


@db.command(
    epilog=examples(
        "sessionary db init --store sqlite:///sessions.db",
        "sessionary db init --row-security --store postgresql://owner@db/app",
    )
)
@_store_option
@_ROW_SECURITY
def init(store_url: str, row_security: bool) -> None:
    """Create the tables (idempotent; concurrent runs wait for each other)."""
    _apply(store_url, "init", row_security=row_security)


@db.command(epilog=examples("sessionary db upgrade --store postgresql://owner@db/app"))
@_store_option
@_ROW_SECURITY
def upgrade(store_url: str, row_security: bool) -> None:
    """Move the tables to this release's schema version (idempotent)."""
    _apply(store_url, "upgrade", row_security=row_security)


@db.command(epilog=examples("sessionary db status --store sqlite:///sessions.db"))
@_store_option
def status(store_url: str) -> None:
    """Show the schema version; exit status 1 unless it is the one this release needs."""
    with _opened(store_url) as store:
        found = store.schema_version()
    if found is None:
        click.echo(f"no sessionary tables: run `sessionary db init --store {store_url}`")
        raise SystemExit(1)
    state = "up to date" if found == SCHEMA_VERSION else "needs `sessionary db upgrade`"
    if found > SCHEMA_VERSION:
        state = "newer than this release"
    click.echo(f"schema version {found} (this release: {SCHEMA_VERSION}): {state}")
    if found != SCHEMA_VERSION:
        raise SystemExit(1)


@db.command(epilog=examples("sessionary db purge --store sqlite:///sessions.db --batch 500"))
@_store_option
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--quiet", is_flag=True, help="No progress bar.")
def purge(store_url: str, batch: int, quiet: bool) -> None:
    """Delete expired rows in bounded batches (each batch one short transaction)."""
    now_ms = int(time.time() * 1000)
    purged = 0
    with _opened(store_url) as store:
        total = store.count_purgeable(now_ms)
        with Progress(console=Console(stderr=True), disable=quiet) as progress:
            task = progress.add_task("purging expired rows", total=total)
            while True:
                done = store.purge_expired(now_ms, batch)
                purged += done
                progress.advance(task, done)
                if done < batch:
                    break
    click.echo(f"purged {purged} expired rows (batches of {batch})")
