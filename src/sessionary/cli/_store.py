"""Opening a deployment's Redis store from the command line (shared by the operator commands)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from sessionary.backends.sql import is_sql_url
from sessionary.demo.settings import LIBRARY_PREFIX, redacted_url
from sessionary.exceptions import ConfigurationError, StoreError

if TYPE_CHECKING:
    from sessionary.backends.redis import RedisStore
    from sessionary.backends.sql import SQLStore

__all__ = [
    "open_redis_store",
    "open_sql_store",
    "open_user_store",
    "store_failure",
    "store_options",
]

F = TypeVar("F", bound=Callable[..., Any])


def store_options(command: F) -> F:
    """``--store URL`` and ``--prefix``: which deployment the command operates on."""
    command = click.option(
        "--prefix",
        default=LIBRARY_PREFIX,
        show_default=True,
        help="Key prefix the application's store uses.",
    )(command)
    return click.option(
        "--store",
        "store_url",
        envvar="SESSIONARY_STORE",
        required=True,
        metavar="URL",
        help="redis://, rediss://, unix://, redis+cluster:// or redis+sentinel:// URL "
        "(or $SESSIONARY_STORE); sessions list|revoke and events tail take postgresql:// and "
        "sqlite:/// too.",
    )(command)


@contextmanager
def open_redis_store(url: str, prefix: str) -> Iterator[RedisStore]:
    """A connected sync ``RedisStore``; any failure becomes a clean CLI error (exit 1)."""
    if not url.startswith(("redis", "rediss", "unix")):
        msg = "operator commands need the application's Redis URL (a memory store lives in "
        msg += "its own process)"
        raise click.BadParameter(msg, param_hint="--store")
    from sessionary.backends.redis import RedisStore  # noqa: PLC0415 - redis is optional

    try:
        store = RedisStore.from_url(url, prefix=prefix, timeout=5)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--store") from None
    try:
        with store_failure(url):
            store.warm_up()
        yield store
    finally:
        store.close()


@contextmanager
def open_sql_store(
    url: str, *, param: str = "--store", tenant: str = "", needs: str = "this command"
) -> Iterator[SQLStore]:
    """A SQL store for an operator command; its errors become clean CLI errors (exit 1)."""
    from sessionary.backends.sql import sql_store_from_url  # noqa: PLC0415

    if not is_sql_url(url):
        msg = f"{needs} work on a SQL store: postgresql://... or sqlite:///path.db"
        raise click.BadParameter(msg, param_hint=param)
    try:
        store = sql_store_from_url(url, tenant=tenant)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None
    try:
        with store_failure(url):
            yield store
    except ConfigurationError as exc:  # the schema is missing or unknown: say which command
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


@contextmanager
def open_user_store(url: str, prefix: str, tenant: str = "") -> Iterator[RedisStore | SQLStore]:
    """A store with a user index: Redis (as :func:`open_redis_store`) or a SQL store.

    A SQL store is scoped to ``tenant`` (its rows); one whose tables isolate tenants by
    row-level security is refused without one (it would show no session at all).
    """
    if not is_sql_url(url):
        with open_redis_store(url, prefix) as redis_store:
            yield redis_store
        return
    with open_sql_store(url, tenant=tenant) as store:
        if not tenant and store.row_security():
            msg = (
                "this database isolates tenants (row-level security): with no tenant no "
                "session is visible; pass --tenant (the tenant of the user's sessions)"
            )
            raise click.UsageError(msg)
        yield store


@contextmanager
def store_failure(url: str) -> Iterator[None]:
    """Turn a store error into ``click.ClickException`` naming the (redacted) URL."""
    try:
        yield
    except StoreError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        where = "the database" if is_sql_url(url) else "Redis"
        msg = f"{where} at {redacted_url(url)}: {exc}{cause}"
        raise click.ClickException(msg) from None
