"""The demo's HTML, rendered with the standard library (every dynamic value escaped)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from sessionary.sansio.users import UserSession

__all__ = ["devices_page", "home_page", "login_page"]

_END_REASONS = {
    "revoked": "You were signed out from another device.",
    "evicted": "You were signed out: too many devices are signed in to this account.",
    "expired_idle": "Your session expired after a period of inactivity.",
    "expired_absolute": "Your session reached its maximum lifetime; please sign in again.",
}

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem;
       color: #1d2430; }
h1 { font-size: 1.5rem; } .muted { color: #5b6474; font-size: .9rem; }
.count { font-size: 3rem; font-weight: 700; margin: .5rem 0; }
form { display: inline-block; margin: .25rem .5rem .25rem 0; }
input { padding: .4rem; margin: .2rem 0; } button { padding: .4rem .9rem; cursor: pointer; }
.error { color: #a4161a; } code { background: #eef1f5; padding: 0 .25rem; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
td, th { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #dde2ea; }
.current { font-weight: 600; }
"""


def _layout(title: str, body: str, *, store: str, pid: int) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"{body}"
        f"<p class=muted>Served by worker process <strong>{pid}</strong> · "
        f"store: <code>{escape(store)}</code></p>"
        "</body></html>"
    )


def login_page(*, store: str, pid: int, error: str | None = None, ended: str | None = None) -> str:
    """The anonymous visitor's page: a login form (any user name, password ``demo``).

    ``ended`` is the session's end reason, when the visitor was just signed out.
    """
    problem = f"<p class=error>{escape(error)}</p>" if error else ""
    if ended in _END_REASONS:
        problem = f"<p class=error>{escape(_END_REASONS[ended])}</p>" + problem
    body = (
        "<h1>sessionary demo</h1>"
        "<p>Sign in with any user name and the password <code>demo</code>. "
        "Until you do, this page sets no cookie and the store is not touched.</p>"
        f"{problem}"
        "<form method=post action=/login>"
        "<label>User name<br><input name=username required maxlength=64 "
        "autocomplete=username></label><br>"
        "<label>Password<br><input name=password type=password required "
        "autocomplete=current-password></label><br>"
        "<button type=submit>Sign in</button></form>"
    )
    return _layout("sessionary demo", body, store=store, pid=pid)


def home_page(*, user: str, count: int, store: str, pid: int) -> str:
    """The signed-in user's page: their counter, +1 and log out."""
    body = (
        f"<h1>Hello, {escape(user)}</h1>"
        "<p>Your counter lives in your session:</p>"
        f"<p class=count>{count}</p>"
        "<form method=post action=/increment><button type=submit>+1</button></form>"
        "<form method=post action=/logout><button type=submit>Log out</button></form>"
        "<p><a href=/devices>Your devices</a></p>"
        "<p class=muted>Signing in rotated your session ID; logging out deletes the session "
        "from the store and clears the cookie. With <code>--store redis://…</code> and "
        "<code>--workers N</code>, reload to see other worker processes serve the same "
        "session.</p>"
    )
    return _layout(f"sessionary demo - {user}", body, store=store, pid=pid)


def devices_page(
    *, user: str, devices: Sequence[UserSession], now: float, store: str, pid: int
) -> str:
    """The signed-in user's sessions: end one, or every one but this."""
    rows = []
    for device in devices:
        agent = escape(device.user_agent or "unknown browser")
        where = escape(device.client_hash or "unknown")
        if device.current:
            action = "<span class=current>this device</span>"
        else:
            action = (
                "<form method=post action=/devices/revoke>"
                f"<input type=hidden name=ref value={escape(device.ref, quote=True)}>"
                "<button type=submit>Log out</button></form>"
            )
        rows.append(
            f"<tr><td>{agent}</td><td><code>{where}</code></td>"
            f"<td>{escape(device.describe_age(now))}</td><td>{action}</td></tr>"
        )
    others = len(devices) - sum(d.current for d in devices)
    body = (
        f"<h1>Your devices, {escape(user)}</h1>"
        f"<p>{len(devices)} signed-in session(s). Addresses are shown as keyed hashes.</p>"
        "<table><tr><th>Browser</th><th>Address</th><th>Last seen</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
        + (
            "<form method=post action=/devices/revoke-others>"
            f"<button type=submit>Log out all {others} other device(s)</button></form>"
            if others
            else ""
        )
        + "<p><a href=/>Back</a></p>"
    )
    return _layout(f"sessionary demo - {user} - devices", body, store=store, pid=pid)
