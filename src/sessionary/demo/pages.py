"""The demo's HTML, rendered with the standard library (every dynamic value escaped)."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from html import escape

from sessionary.demo.devices import device_name
from sessionary.sansio.csrf import CSRF_FIELD
from sessionary.sansio.users import UserSession

__all__ = ["FAVICON_SVG", "devices_page", "error_page", "home_page", "layout", "login_page", "when"]

_END_REASONS = {
    "revoked": "You were signed out from another device.",
    "evicted": "You were signed out: too many devices are signed in to this account.",
    "expired_idle": "Your session expired after a period of inactivity.",
    "expired_absolute": "Your session reached its maximum lifetime; please sign in again.",
}

_STYLE = """
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6474; --line: #dde2ea;
        --accent: #2457c5; --bad: #a4161a; --good: #1f6f43; }
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem;
       color: var(--ink); line-height: 1.45; }
h1 { font-size: 1.5rem; overflow-wrap: anywhere; } a { color: var(--accent); }
.muted { color: var(--muted); font-size: .9rem; } .count { font-size: 3rem; font-weight: 700;
  margin: .5rem 0; }
form { display: inline-block; margin: .25rem .5rem .25rem 0; }
label { display: block; margin: .4rem 0; }
input[type=text], input[type=password] { width: 100%; max-width: 20rem; padding: .45rem;
  border: 1px solid #b8c0cc; border-radius: 4px; font: inherit; }
button { padding: .45rem .9rem; cursor: pointer; font: inherit; border-radius: 4px;
  border: 1px solid var(--accent); background: var(--accent); color: #fff; }
button.secondary { background: #fff; color: var(--accent); }
.error { color: var(--bad); } .notice { color: var(--good); }
code { background: #eef1f5; padding: 0 .25rem; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; table-layout: fixed; }
td, th { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line);
  overflow-wrap: anywhere; vertical-align: top; }
.current { font-weight: 600; } .num { text-align: right; }
.chart { margin: 1rem 0; } .chart figcaption { font-weight: 600; }
.chart table { margin: .25rem 0; } .chart th { width: 45%; font-weight: 400; }
.chart td { border: 0; } .chart td.num { width: 15%; }
.users col.user { width: 22%; } .users col.live { width: 14%; }
.users col.action { width: 24%; }
.bar { display: inline-block; height: .8rem; background: var(--accent); border-radius: 2px; }
@media (max-width: 32rem) {
  body { margin: 1rem auto; }
  .devices thead, .users thead { display: none; }
  .devices tr, .users tr { display: block; border-bottom: 1px solid var(--line);
    padding: .4rem 0; }
  .devices td, .users td { display: block; border: 0; padding: .1rem 0; text-align: left; }
}
"""

FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#2457c5"/>'
    '<text x="16" y="23" font-size="20" text-anchor="middle" fill="#fff" '
    'font-family="sans-serif">s</text></svg>'
)
"""The demo's icon (``GET /favicon.svg`` and ``/favicon.ico``)."""


_POST_FORM = re.compile(r"(<form method=post [^>]*>)")


def layout(title: str, body: str, *, store: str, pid: int, csrf: str | None = None) -> str:
    """The page around ``body``; every POST form carries the CSRF token ``csrf``, if given."""
    if csrf is not None:
        field = f'<input type=hidden name={CSRF_FIELD} value="{escape(csrf, quote=True)}">'
        body = _POST_FORM.sub(lambda form: form.group(1) + field, body)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        "<link rel=icon type=image/svg+xml href=/favicon.svg>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"{body}"
        f"</main><p class=muted>Served by worker process <strong>{pid}</strong> · "
        f"store: <code>{escape(store)}</code></p>"
        "</body></html>"
    )


def error_page(status: int, message: str, *, store: str, pid: int) -> str:
    """A styled error page (404, 405) with a way back."""
    body = f"<h1>{status}</h1><p>{escape(message)}</p><p><a href=/>Back to the demo</a></p>"
    return layout(f"sessionary demo - {status}", body, store=store, pid=pid)


def login_page(
    *,
    store: str,
    pid: int,
    error: str | None = None,
    ended: str | None = None,
    notice: str | None = None,
    username: str = "",
    csrf: str | None = None,
) -> str:
    """The anonymous visitor's page: a login form (any user name, password ``demo``).

    ``ended`` is the session's end reason, when the visitor was just signed out; ``notice``
    a confirmation (signed out); ``username`` refills the form after a wrong password.
    """
    problem = f"<p class=error>{escape(error)}</p>" if error else ""
    if ended in _END_REASONS:
        problem = f"<p class=error>{escape(_END_REASONS[ended])}</p>" + problem
    if notice:
        problem = f"<p class=notice role=status>{escape(notice)}</p>" + problem
    body = (
        "<h1>sessionary demo</h1>"
        "<p>Sign in with any user name and the password <code>demo</code> (or as "
        "<code>admin</code> with the password <code>admin</code> for the admin view). "
        "Until you do, the store is not touched: the only cookie is a pre-session ID that "
        "carries this form's CSRF token.</p>"
        f"{problem}"
        "<form method=post action=/login>"
        "<label>User name<input type=text name=username required maxlength=64 "
        f'autocomplete=username value="{escape(username, quote=True)}"></label>'
        "<label>Password<input name=password type=password required "
        "autocomplete=current-password></label>"
        "<button type=submit>Sign in</button></form>"
    )
    return layout("sessionary demo", body, store=store, pid=pid, csrf=csrf)


def home_page(
    *,
    user: str,
    count: int,
    store: str,
    pid: int,
    workers: Sequence[int] = (),
    ids: tuple[str | None, str | None] = (None, None),
    csrf: str | None = None,
) -> str:
    """The signed-in user's page: the counter, +1, a new ID, log out, workers, ID fingerprints.

    ``ids`` are the fingerprints of the session ID before sign-in (or the last new ID) and now.
    """
    served = ", ".join(str(worker) for worker in workers) or "none yet"
    before, now = (escape(fingerprint or "none") for fingerprint in ids)
    body = (
        f"<h1>Hello, {escape(user)}</h1>"
        "<p>Your counter lives in your session:</p>"
        f"<p class=count>{count}</p>"
        "<form method=post action=/increment><button type=submit>+1</button></form>"
        "<form method=post action=/logout><button type=submit class=secondary>Log out"
        "</button></form>"
        "<form method=post action=/rotate><button type=submit class=secondary>New session ID"
        "</button></form>"
        "<p><a href=/devices>Your devices</a>"
        + (" · <a href=/admin>Admin</a>" if user == "admin" else "")
        + "</p>"
        f"<p>Session ID fingerprint: <code class=id-now>{now}</code>; before sign-in (or the "
        f"last new ID): <code class=id-before>{before}</code>.</p>"
        f"<p>Your last +1s were served by worker processes: <strong>{served}</strong>.</p>"
        "<p class=muted>Signing in rotated your session ID; logging out deletes the session "
        "from the store and clears the cookie. Every response closes its connection, so each "
        "request may reach another worker: with <code>--store redis://…</code> and "
        "<code>--workers N</code>, press +1 a few times and watch the workers change while "
        "the count goes on.</p>"
    )
    return layout(f"sessionary demo - {user}", body, store=store, pid=pid, csrf=csrf)


def when(seconds: float) -> str:
    """A UTC time to the minute, for tables."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


def devices_page(
    *,
    user: str,
    devices: Sequence[UserSession],
    now: float,
    store: str,
    pid: int,
    notice: str | None = None,
    csrf: str | None = None,
) -> str:
    """The signed-in user's sessions, this one first: end one, or every one but this."""
    rows = []
    for device in sorted(devices, key=lambda d: (not d.current, -d.last_seen)):
        name = escape(device_name(device.user_agent))
        signed_in = when(device.auth_time if device.auth_time is not None else device.created)
        if device.current:
            action = "<span class=current>this device</span>"
        else:
            action = (
                "<form method=post action=/devices/revoke>"
                f"<input type=hidden name=ref value={escape(device.ref, quote=True)}>"
                "<button type=submit class=secondary>Log out</button></form>"
            )
        rows.append(
            f"<tr><td>{name}</td><td>{signed_in}</td>"
            f"<td>{escape(device.describe_age(now))}</td><td>{action}</td></tr>"
        )
    others = len(devices) - sum(d.current for d in devices)
    message = f"<p class=notice role=status>{escape(notice)}</p>" if notice else ""
    body = (
        f"<h1>Your devices, {escape(user)}</h1>"
        f"{message}"
        f"<p>{len(devices)} signed-in session(s).</p>"
        "<table class=devices><thead><tr><th>Device</th><th>Signed in</th><th>Last seen</th>"
        "<th></th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + (
            "<form method=post action=/devices/revoke-others>"
            "<label><input type=checkbox name=confirm value=yes required> "
            f"Yes, sign out the {others} other device(s)</label>"
            "<button type=submit>Log out all other devices</button></form>"
            if others
            else ""
        )
        + "<p><a href=/>Back</a></p>"
    )
    return layout(f"sessionary demo - {user} - devices", body, store=store, pid=pid, csrf=csrf)
