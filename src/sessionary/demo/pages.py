"""The demo's HTML, rendered with the standard library (every dynamic value escaped)."""

from __future__ import annotations

from html import escape

__all__ = ["home_page", "login_page"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem;
       color: #1d2430; }
h1 { font-size: 1.5rem; } .muted { color: #5b6474; font-size: .9rem; }
.count { font-size: 3rem; font-weight: 700; margin: .5rem 0; }
form { display: inline-block; margin: .25rem .5rem .25rem 0; }
input { padding: .4rem; margin: .2rem 0; } button { padding: .4rem .9rem; cursor: pointer; }
.error { color: #a4161a; } code { background: #eef1f5; padding: 0 .25rem; }
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


def login_page(*, store: str, pid: int, error: str | None = None) -> str:
    """The anonymous visitor's page: a login form (any user name, password ``demo``)."""
    problem = f"<p class=error>{escape(error)}</p>" if error else ""
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
        "<p class=muted>Signing in rotated your session ID; logging out deletes the session "
        "from the store and clears the cookie. With <code>--store redis://…</code> and "
        "<code>--workers N</code>, reload to see other worker processes serve the same "
        "session.</p>"
    )
    return _layout(f"sessionary demo - {user}", body, store=store, pid=pid)
