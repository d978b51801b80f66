"""``sessionary demo``: serve the demo application with uvicorn on localhost."""

from __future__ import annotations

import errno
import ipaddress
import os
import secrets
import socket
import stat
from pathlib import Path

import click
from rich.console import Console

from sessionary.cli._help import examples
from sessionary.config import SessionConfig
from sessionary.demo.settings import LIBRARY_PREFIX, DemoSettings, redacted_url
from sessionary.exceptions import ConfigurationError, StoreError

__all__ = ["demo"]

_LOOPBACK_NAMES = ("localhost",)
_STARTUP_FAILURE = 3  # uvicorn's exit code when the server could not start


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_or_create_secret(path: Path) -> str:
    """The secret stored in ``path``; a new random one is written (mode 0600) if it is missing."""
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        try:
            SessionConfig(secret_keys=[secret])
        except ConfigurationError as exc:
            msg = f"{path}: {exc}"
            raise click.BadParameter(msg, param_hint="--secret-file") from None
        return secret
    secret = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    return secret


def _check_redis(settings: DemoSettings) -> None:
    """Fail before serving if Redis cannot be reached or may not run scripts."""
    from sessionary.backends.redis import RedisStore  # noqa: PLC0415 - only with --store redis

    url = settings.store
    store = RedisStore.from_url(url, prefix=settings.prefix)
    try:
        store.warm_up()
    except StoreError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        msg = f"cannot use Redis at {redacted_url(url)}: {exc}{cause}"
        raise click.ClickException(msg) from None
    finally:
        store.close()


def _prepare_sql(settings: DemoSettings) -> None:
    """Create the SQL store's tables if they are missing (the demo sets itself up)."""
    from sessionary.backends.sql import sql_store_from_url  # noqa: PLC0415

    store = sql_store_from_url(settings.store)
    try:
        store.init_schema()
    except (StoreError, ConfigurationError) as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        msg = f"cannot use the database at {redacted_url(settings.store)}: {exc}{cause}"
        raise click.ClickException(msg) from None
    finally:
        store.close()


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` as uvicorn binds one; a taken port is a clean error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        in_use = exc.errno == errno.EADDRINUSE
        reason = "the port is already in use" if in_use else (exc.strerror or str(exc))
        msg = f"cannot listen on {host}:{port}: {reason}"
        raise click.ClickException(msg) from None
    sock.set_inheritable(True)  # uvicorn's worker processes serve on it too
    return sock


def _serve(settings: DemoSettings, sock: socket.socket, workers: int, log_level: str) -> None:
    """Run uvicorn on the bound ``sock`` (the same steps as ``uvicorn.run``)."""
    import uvicorn  # noqa: PLC0415 - a slow import, only when serving
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    from sessionary.demo.metrics import shared_metrics  # noqa: PLC0415 - imports Starlette

    host, port = sock.getsockname()[:2]
    if workers == 1:
        from sessionary.demo.app import create_app  # noqa: PLC0415 - imports Starlette

        config = uvicorn.Config(create_app(settings), host=host, port=port, log_level=log_level)
    else:
        settings.export(os.environ)  # uvicorn's worker processes inherit the environment
        config = uvicorn.Config(
            "sessionary.demo.app:create_app_from_environ",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
        )
    server = uvicorn.Server(config)
    try:
        if workers == 1:
            server.run(sockets=[sock])
        else:
            with shared_metrics(os.environ):
                Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    if workers == 1 and not server.started:
        raise SystemExit(_STARTUP_FAILURE)


@click.command(
    epilog=examples(
        "sessionary demo",
        "sessionary demo --store sqlite:///demo.db --workers 4",
        "sessionary demo --store redis://localhost:6379/0 --workers 4",
    )
)
@click.option(
    "--store",
    default="memory",
    show_default=True,
    metavar="memory|URL",
    help="'memory' (this process only), sqlite:///path.db (shared by workers, kept across "
    "restarts, no server), postgresql://... or a redis://, rediss:// or unix:// URL.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes; more than one needs a shared store (--store sqlite:///demo.db).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the signing secret from this file (created if missing), so sessions survive "
    "a restart. Default: a new random secret per run.",
)
@click.option(
    "--insecure-cookie",
    is_flag=True,
    help="Send the cookie without Secure, for browsers that refuse Secure cookies over "
    "plain HTTP even on localhost (Safari). Never do this in production.",
)
@click.option(
    "--prefix",
    default=LIBRARY_PREFIX,
    hidden=True,
    help="Redis key prefix (default: the library's, which the operator commands use too).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def demo(  # noqa: PLR0917 - click passes one parameter per option
    store: str,
    workers: int,
    host: str,
    port: int,
    secret_file: Path | None,
    insecure_cookie: bool,
    prefix: str,
    log_level: str,
) -> None:
    """Serve the demo web app: sign in, count, log out, see the session shared by workers.

    On Redis, the sessions and their lifecycle events are where 'sessionary sessions',
    'sessionary events' and 'sessionary stats' look by default.
    """
    secret = _read_or_create_secret(secret_file) if secret_file else secrets.token_urlsafe(32)
    try:
        settings = DemoSettings(
            store=store, secret=secret, prefix=prefix, insecure_cookie=insecure_cookie
        )
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--store") from None
    if workers > 1 and not settings.shares_sessions:
        msg = (
            "the memory store lives inside one process, so several workers would not share "
            "sessions; use --store sqlite:///demo.db (or a redis:// URL) with --workers"
        )
        raise click.UsageError(msg)
    console = Console(stderr=True, highlight=False)
    if settings.uses_redis:
        console.print(f"Checking Redis at {redacted_url(store)} ...")
        _check_redis(settings)
    if settings.uses_sql:
        _prepare_sql(settings)
    if not insecure_cookie and not _is_loopback(host):
        console.print(
            "[yellow]Browsers send Secure cookies over plain HTTP only to localhost; "
            "serve this host over HTTPS or pass --insecure-cookie for a trial.[/]"
        )
    from sessionary.demo.metrics import prometheus_available  # noqa: PLC0415 - imports Starlette

    sock = _bind(host, port)  # before the banner: a taken port is an error, not a banner
    port = sock.getsockname()[1]  # the kernel's choice for --port 0
    shown_host = "localhost" if _is_loopback(host) else host
    metrics = (
        f"Prometheus metrics: http://{shown_host}:{port}/metrics"
        f"{' (summed over the workers)' if workers > 1 else ''}\n"
        if prometheus_available()
        else ""
    )
    console.print(
        f"[bold]sessionary demo[/] on [link]http://{shown_host}:{port}[/link]  "
        f"(store: {redacted_url(store)}, workers: {workers}, password: [bold]demo[/])\n"
        f"{metrics}Press Ctrl+C to stop.",
        soft_wrap=True,
    )
    _serve(settings, sock, workers, log_level)
