"""``sessionary sessions list|revoke --user U``: a user's sessions, for operators."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import click
from rich.console import Console
from rich.table import Table

from sessionary.backends.sql import SQLStore
from sessionary.cli._help import examples
from sessionary.cli._store import open_user_store, store_failure, store_options
from sessionary.exceptions import ConfigurationError
from sessionary.sansio.events import ChangeEvents, EventName, SessionEvent
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.tenants import check_tenant
from sessionary.sansio.users import RevocationReason, UserSession

__all__ = ["sessions"]

_ANY_IDLE = 1 << 62  # judge each session by its own idle timeout
# SessionConfig's default absolute_timeout (the operator tests check they agree).
_DEFAULT_ABSOLUTE_S = 12 * 3600


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@click.group()
def sessions() -> None:
    """Inspect or end a user's sessions (by user ID, across every device)."""


def _tenant(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not value:
        return ""
    try:
        return check_tenant(value)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc)) from None


_TENANT = click.option(
    "--tenant",
    default="",
    callback=_tenant,
    help="The tenant the user belongs to (applications configured with tenants=); on a SQL "
    "store also the tenant of its rows (required under row-level security).",
)


@sessions.command(
    "list",
    epilog=examples(
        "sessionary sessions list --user alice --store redis://localhost:6379/0",
        "sessionary sessions list --user alice --tenant acme --json",
    ),
)
@click.option("--user", "user_id", required=True, help="The user ID the application logs in.")
@_TENANT
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@store_options
def list_sessions(*, user_id: str, tenant: str, as_json: bool, store_url: str, prefix: str) -> None:
    """List the live sessions of a user, oldest first."""
    console = Console()
    with open_user_store(store_url, prefix, tenant) as store, store_failure(store_url):
        now = int(time.time() * 1000)
        entries = store.list_user(KeyRing.user_key(user_id, tenant), now, _ANY_IDLE)
    devices = [
        UserSession.from_meta(str(n), meta, current=False) for n, (_, meta) in enumerate(entries, 1)
    ]
    if as_json:
        console.print_json(
            data=[
                {
                    "created": d.created,
                    "last_seen": d.last_seen,
                    "expires": d.expires,
                    "auth_time": d.auth_time,
                    "user_agent": d.user_agent,
                    "client_hash": d.client_hash,
                }
                for d in devices
            ]
        )
        return
    if not devices:
        console.print(f"No live sessions for user [bold]{user_id}[/bold].")
        return
    table = Table(title=f"Sessions of {user_id}")
    for column in ("#", "created (UTC)", "last seen", "expires (UTC)", "user agent", "client"):
        table.add_column(column)
    for device in devices:
        table.add_row(
            device.ref,
            _when(device.created),
            device.describe_age(),
            _when(device.expires),
            device.user_agent or "-",
            device.client_hash or "-",
        )
    console.print(table)


@sessions.command(
    "revoke",
    epilog=examples(
        "sessionary sessions revoke --user alice --store redis://localhost:6379/0",
        "sessionary sessions revoke --user alice --tenant acme --yes",
    ),
)
@click.option("--user", "user_id", required=True, help="The user ID the application logs in.")
@_TENANT
@click.option(
    "--absolute-timeout",
    "absolute_timeout",
    type=click.IntRange(1, 10 * 365 * 86_400),
    default=_DEFAULT_ABSOLUTE_S,
    show_default=True,
    help="The application's absolute_timeout in seconds: how long the revocation is kept "
    "(at least as long as any of the user's sessions could still live).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@store_options
def revoke_sessions(
    *,
    user_id: str,
    tenant: str,
    absolute_timeout: int,
    yes: bool,
    store_url: str,
    prefix: str,
) -> None:
    """Log a user out everywhere: every session that exists now stops working.

    On Redis, a "revoked" event (reason "admin") goes to the deployment's event stream. The
    user's revocation record expires once no session begun before it can still be alive.
    """
    console = Console()
    with open_user_store(store_url, prefix, tenant) as store, store_failure(store_url):
        user_key = KeyRing.user_key(user_id, tenant)
        now = int(time.time() * 1000)
        listed = store.list_user(user_key, now, _ANY_IDLE)
        if not yes:
            click.confirm(
                f"End all {len(listed)} live session(s) of user {user_id!r}?",
                abort=True,
                default=False,
            )
        now = int(time.time() * 1000)
        # As the manager's revoke_user: the epoch must outlast every session stamped before
        # it (one absolute timeout), and then may expire instead of staying forever. The
        # deadlines of the sessions just listed cover an application with a longer timeout.
        horizon = max([absolute_timeout * 1000, *(meta.deadline - now for _, meta in listed)])
        detail = {"scope": "user", "reason": RevocationReason.ADMIN.value}  # and "sessions"
        change = ChangeEvents(counted=SessionEvent(EventName.REVOKED, now, None, user_id, detail))
        end_by = now + horizon
        if isinstance(store, SQLStore):  # its audit table, in the revocation's transaction
            ended = store.revoke_user(user_key, now, sessions_end_by=end_by, events=change)
        else:  # a Redis deployment: its event stream
            from sessionary.backends.redis import RedisEventStream  # noqa: PLC0415 - an extra

            ended = store.revoke_user(user_key, now, sessions_end_by=end_by)
            RedisEventStream(store.client, prefix=prefix).publish(change.taken(ended=ended))
    console.print(
        f"Revoked user [bold]{user_id}[/bold]: {ended} session(s) ended; "
        "any session begun before now is refused from now on."
    )
