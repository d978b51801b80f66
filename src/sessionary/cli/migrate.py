"""``sessionary migrate --from KIND URL --to URL``: copy every live legacy session in bulk.

The copy is :meth:`sessionary.LegacyMigration.copy`: each legacy session is created under
the ID a request with its old cookie would migrate it to, so a run is idempotent (run it
again to resume), requests arriving meanwhile are never served a duplicate, and the legacy
records stay (the read-through deletes each one when its user comes back).
"""

from __future__ import annotations

import importlib
import json
import os
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sessionary.cli._help import examples
from sessionary.cli._store import open_redis_store, store_failure
from sessionary.config import SessionConfig
from sessionary.demo.settings import LIBRARY_PREFIX, redacted_url
from sessionary.exceptions import ConfigurationError, MigrationError

if TYPE_CHECKING:
    from sessionary._sync.migration import LegacyMigration
    from sessionary.sansio.migration import CopyReport

__all__ = ["migrate"]

_KINDS = {
    "flask-session": "session:",
    "starsessions": "starsessions.",
    "django-db": "",
    "django-cache": "",
}
"""Sources the command reads, with their libraries' default key prefixes (Redis sources)."""
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_DATABASE_SCHEMES = ("postgresql", "postgres", "sqlite")
_FAR_FUTURE = 2**40  # the window of a bulk copy is the run itself


def _config(path: str | None, secret_env: str) -> SessionConfig:
    """The application's ``SessionConfig`` (``module:name``), or one from ``$secret_env``."""
    if path is not None:
        module, _, name = path.partition(":")
        try:
            value = getattr(importlib.import_module(module), name or "SESSION_CONFIG")
        except (ImportError, AttributeError) as exc:
            raise click.BadParameter(str(exc), param_hint="--config") from None
        if not isinstance(value, SessionConfig):
            msg = f"{path} is not a SessionConfig"
            raise click.BadParameter(msg, param_hint="--config")
        return value
    secret = os.environ.get(secret_env)
    if not secret:
        msg = f"set ${secret_env} to the application's secret, or pass --config MODULE:NAME"
        raise click.UsageError(msg)
    try:
        return SessionConfig(secret_keys=[secret])
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None


def _django_source(settings_module: str) -> Any:
    """Django's ``db``/``cached_db`` rows, read with the project's settings (its old keys)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    try:
        import django  # noqa: PLC0415 - the django extra
        from django.conf import settings  # noqa: PLC0415

        django.setup()
    except ImportError as exc:
        raise click.BadParameter(str(exc), param_hint="--from django-db SETTINGS") from None
    from sessionary.integrations.django.legacy import DjangoDbSource  # noqa: PLC0415

    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
    cached = settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    return DjangoDbSource(
        keys,
        cookie_name=settings.SESSION_COOKIE_NAME,
        cache_alias=settings.SESSION_CACHE_ALIAS if cached else None,
    )


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _legacy_secrets(names: tuple[str, ...], path: str | None) -> list[str]:
    """The old ``SECRET_KEY`` then its fallbacks: from variables ``names``, then the file."""
    keys = []
    for name in names:
        value = os.environ.get(name)
        if not value:
            msg = f"--legacy-secret-env {name}: ${name} is not set"
            raise click.UsageError(msg)
        keys.append(value)
    if path is not None:
        with open(path, encoding="utf-8") as lines:
            keys += [line.strip() for line in lines if line.strip()]
    if not keys:
        msg = (
            "--from django-db URL needs the old SECRET_KEY: --legacy-secret-env VAR or "
            "--legacy-secret-file PATH (never on the command line)"
        )
        raise click.UsageError(msg)
    return keys


def _django_db(target: str, options: dict[str, Any]) -> Any:
    """The rows at a database URL, or the rows of a settings module's database."""
    if _scheme(target) not in _DATABASE_SCHEMES:
        return _django_source(target)
    try:
        from sessionary.integrations.django.legacy_sql import DjangoSqlSource  # noqa: PLC0415
    except ImportError as exc:
        raise click.UsageError(
            f"--from django-db: {exc} (pip install 'sessionary[django]')"
        ) from None
    keys = _legacy_secrets(options["legacy_secret_env"], options["legacy_secret_file"])
    try:
        return DjangoSqlSource(target, keys, table=options["table"])
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None


def _django_cache(url: str, options: dict[str, Any]) -> Any:
    """The sessions of Django's Redis cache at ``url``, read only with the pickle trust."""
    try:
        from sessionary.integrations.django.legacy_cache import (  # noqa: PLC0415
            NOT_LISTABLE,
            DjangoCacheSource,
        )
    except ImportError as exc:
        needs = "pip install 'sessionary[django,redis]'"
        raise click.UsageError(f"--from django-cache: {exc} ({needs})") from None

    if _scheme(url) not in _REDIS_SCHEMES:
        msg = f"--from django-cache {redacted_url(url)}: {NOT_LISTABLE}"
        raise click.UsageError(msg)
    from django.core.cache.backends.redis import RedisCache  # noqa: PLC0415

    from sessionary.sansio.migration import PickleTrust  # noqa: PLC0415

    params = {"KEY_PREFIX": options["cache_key_prefix"], "VERSION": options["cache_version"]}
    statement = options["trust_pickle"]
    try:
        trust = None if statement is None else PickleTrust(statement)
        return DjangoCacheSource(trust=trust, cache=RedisCache(url, params))
    except (ConfigurationError, MigrationError) as exc:
        hint = "" if statement is not None else " (--trust-pickle STATEMENT)"
        raise click.UsageError(f"--from django-cache: {exc}{hint}") from None


def _migration(
    kind: str, url: str, user_key: str | None, options: dict[str, Any]
) -> LegacyMigration:
    import datetime as dt  # noqa: PLC0415

    from sessionary._sync.migration import LegacyMigration  # noqa: PLC0415

    source: Any
    if kind == "django-db":
        source = _django_db(url, options)
    elif kind == "django-cache":
        source = _django_cache(url, options)
    else:
        import redis  # noqa: PLC0415 - the legacy extra

        from sessionary.backends.legacy import (  # noqa: PLC0415
            FlaskSessionSource,
            StarsessionsSource,
        )

        client = redis.Redis.from_url(url)
        prefix = options["legacy_prefix"]
        legacy_prefix = _KINDS[kind] if prefix is None else prefix
        source = (
            FlaskSessionSource(client, prefix=legacy_prefix)
            if kind == "flask-session"
            else StarsessionsSource(client, prefix=legacy_prefix)
        )
    user = None if user_key is None else (lambda data: data.get(user_key))
    until = dt.datetime.fromtimestamp(_FAR_FUTURE / 1000, tz=dt.timezone.utc)
    return LegacyMigration(source, until=until, user_id=user)


def _figures(report: CopyReport, elapsed: float, *, dry_run: bool) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "seen": report.seen,
        "migrated": report.migrated,
        "skipped": dict(sorted(report.skipped.items())),
        "failed": dict(sorted(report.failed.items())),
        "dropped_keys": dict(sorted(report.dropped.items())),
        "seconds": round(elapsed, 3),
        "per_second": round(report.seen / elapsed) if elapsed > 0 else None,
    }


def _print(console: Console, figures: dict[str, Any]) -> None:
    title = "Bulk migration (dry run: nothing written)" if figures["dry_run"] else "Bulk migration"
    table = Table(title=title, show_header=False)
    verb = "would migrate" if figures["dry_run"] else "migrated"
    table.add_row(verb, str(figures["migrated"]))
    for group in ("skipped", "failed", "dropped_keys"):
        for reason, count in figures[group].items():
            table.add_row(f"{group.replace('_', ' ')}: {reason}", str(count))
    table.add_row("records seen", str(figures["seen"]))
    table.add_row("time", f"{figures['seconds']} s ({figures['per_second']} records/s)")
    console.print(table)


@click.command(
    epilog=examples(
        "sessionary migrate --from flask-session redis://old:6379/0 "
        "--to redis://localhost:6379/0 --user-key _user_id --dry-run",
        "sessionary migrate --from starsessions redis://old:6379/0 --to redis://new:6379/0 "
        "--config myapp.settings:SESSION_CONFIG --json",
        "sessionary migrate --from django-db myproject.settings --to redis://localhost:6379/0 "
        "--user-key _auth_user_id",
        "sessionary migrate --from django-db postgresql://db/app "
        "--legacy-secret-env OLD_SECRET_KEY --to redis://localhost:6379/0",
        "sessionary migrate --from django-cache redis://:pw@cache:6379/1 --to "
        "redis://localhost:6379/0 --trust-pickle 'cache.internal: ACL user django only, TLS'",
    )
)
@click.option(
    "--from",
    "source",
    nargs=2,
    type=(click.Choice(sorted(_KINDS)), str),
    required=True,
    metavar="KIND URL",
    help="The legacy library and the Redis URL of its sessions (django-cache: Django's "
    "RedisCache; django-db: postgresql://... or sqlite:///path of the database, or the "
    "project's settings module, whose SECRET_KEY, fallbacks, database and session settings "
    "are used).",
)
@click.option("--to", "store_url", required=True, metavar="URL", help="sessionary's Redis URL.")
@click.option("--prefix", default=LIBRARY_PREFIX, show_default=True, help="sessionary's prefix.")
@click.option("--legacy-prefix", default=None, help="The legacy key prefix (its default).")
@click.option("--user-key", default=None, help="The session key holding the signed-in user.")
@click.option(
    "--config",
    "config_path",
    default=None,
    metavar="MODULE:NAME",
    help="The application's SessionConfig (its secrets, timeouts, codec).",
)
@click.option(
    "--secret-env",
    default="SESSION_SECRET",
    show_default=True,
    help="Without --config: the variable holding the application's secret.",
)
@click.option(
    "--legacy-secret-env",
    multiple=True,
    metavar="VAR",
    help="django-db URL: the variable holding the old SECRET_KEY (repeat for its fallbacks).",
)
@click.option(
    "--legacy-secret-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="django-db URL: a file of the old SECRET_KEY then its fallbacks, one a line.",
)
@click.option(
    "--table", default="django_session", show_default=True, help="django-db URL: the table."
)
@click.option(
    "--trust-pickle",
    default=None,
    metavar="STATEMENT",
    help="django-cache: who can write that cache and why nobody else can (its values are "
    "unpickled; refused for a Redis reached without a password; docs/migration.md).",
)
@click.option(
    "--cache-key-prefix", default="", help="django-cache: the cache's KEY_PREFIX (CACHES)."
)
@click.option(
    "--cache-version",
    type=int,
    default=1,
    show_default=True,
    help="django-cache: the cache's VERSION (CACHES).",
)
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option("--dry-run", is_flag=True, help="Read and convert, write nothing: the report.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def migrate(
    *,
    source: tuple[str, str],
    store_url: str,
    prefix: str,
    legacy_prefix: str | None,
    user_key: str | None,
    config_path: str | None,
    secret_env: str,
    batch: int,
    dry_run: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Copy every live session of a legacy library into sessionary (idempotent, resumable).

    Give the application's SessionConfig (--config, for its secrets, timeouts and codec) or
    its secret in $SESSION_SECRET. Each session keeps its remaining lifetime; its user is
    read from --user-key. Running it again skips what is already there. The legacy records
    are kept for the read-through, which deletes each one when its user comes back.
    """
    kind, legacy_url = source
    config = _config(config_path, secret_env)
    options["legacy_prefix"] = legacy_prefix
    migration = _migration(kind, legacy_url, user_key, options)
    from sessionary.sansio.core import SessionCore  # noqa: PLC0415

    core = SessionCore(config)
    console = Console(stderr=as_json)
    started = time.perf_counter()
    with open_redis_store(store_url, prefix) as store, store_failure(legacy_url):
        total = getattr(migration.source, "count", lambda: None)()
        columns = (TextColumn("migrating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=as_json) as progress:
            task = progress.add_task("copy", total=total)
            report = migration.copy(
                core,
                store,
                dry_run=dry_run,
                batch=batch,
                progress=lambda r: progress.update(task, completed=r.seen),
            )
    getattr(migration.source, "close", lambda: None)()
    figures = _figures(report, time.perf_counter() - started, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(figures, indent=2))
    else:
        _print(console, figures)
        console.print(f"from {redacted_url(legacy_url)} to {redacted_url(store_url)}")
