"""``sessionary demo``: serve the demo application with uvicorn on localhost."""

from __future__ import annotations

import ipaddress
import os
import secrets
import stat
from pathlib import Path

import click
from rich.console import Console

from sessionary.cli._help import examples
from sessionary.config import SessionConfig
from sessionary.demo.settings import DemoSettings, redacted_url
from sessionary.exceptions import ConfigurationError, StoreError

__all__ = ["demo"]

_LOOPBACK_NAMES = ("localhost",)


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


def _check_redis(url: str, prefix: str) -> None:
    """Fail before serving if Redis cannot be reached or may not run scripts."""
    from sessionary._sync.redis import RedisStore  # noqa: PLC0415 - only with --store redis

    store = RedisStore.from_url(url, prefix=prefix)
    try:
        store.warm_up()
    except StoreError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        msg = f"cannot use Redis at {redacted_url(url)}: {exc}{cause}"
        raise click.ClickException(msg) from None
    finally:
        store.close()


@click.command(
    epilog=examples(
        "sessionary demo",
        "sessionary demo --store redis://localhost:6379/0 --workers 4",
    )
)
@click.option(
    "--store",
    default="memory",
    show_default=True,
    metavar="memory|URL",
    help="'memory' (this process only) or a redis://, rediss:// or unix:// URL.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes; more than one needs a shared store (--store redis://...).",
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
@click.option("--prefix", default="sessionary-demo", hidden=True, help="Redis key prefix.")
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
    """Serve the demo web app: sign in, count, log out, see the session shared by workers."""
    import uvicorn  # noqa: PLC0415 - a slow import, only when serving

    secret = _read_or_create_secret(secret_file) if secret_file else secrets.token_urlsafe(32)
    try:
        settings = DemoSettings(
            store=store, secret=secret, prefix=prefix, insecure_cookie=insecure_cookie
        )
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--store") from None
    if workers > 1 and not settings.uses_redis:
        msg = (
            "the memory store lives inside one process, so several workers would not share "
            "sessions; use --store redis://localhost:6379/0 with --workers"
        )
        raise click.UsageError(msg)
    console = Console(stderr=True, highlight=False)
    if settings.uses_redis:
        console.print(f"Checking Redis at {redacted_url(store)} ...")
        _check_redis(store, prefix)
    if not insecure_cookie and not _is_loopback(host):
        console.print(
            "[yellow]Browsers send Secure cookies over plain HTTP only to localhost; "
            "serve this host over HTTPS or pass --insecure-cookie for a trial.[/]"
        )
    from sessionary.demo.metrics import prometheus_available  # noqa: PLC0415 - imports Starlette

    shown_host = "localhost" if _is_loopback(host) else host
    metrics = (
        f"Prometheus metrics: http://{shown_host}:{port}/metrics (per worker)\n"
        if prometheus_available()
        else ""
    )
    console.print(
        f"[bold]sessionary demo[/] on [link]http://{shown_host}:{port}[/link]  "
        f"(store: {redacted_url(store)}, workers: {workers}, password: [bold]demo[/])\n"
        f"{metrics}Press Ctrl+C to stop.",
        soft_wrap=True,
    )
    if workers == 1:
        from sessionary.demo.app import create_app  # noqa: PLC0415 - imports Starlette

        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
        return
    settings.export(os.environ)  # uvicorn's worker processes inherit the environment
    uvicorn.run(
        "sessionary.demo.app:create_app_from_environ",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )
