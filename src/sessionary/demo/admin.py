"""The demo's admin view: live sessions per user, lifecycle events as they happen, metrics.

Behind the demo admin's login: the user name ``admin`` with the password ``admin`` (both
published, like the demo's own). ``GET /admin`` lists the users seen in the recent lifecycle
events with their live sessions (devices) and ends all of a user's sessions
(``POST /admin/revoke``: ``admin_revoke``, reason ``admin``); the events and the metrics
are in a part of the page (``GET /admin/live``) that the page fetches again every few
seconds. The events come from the manager's event sink: the Redis stream on Redis (shared
by every worker), an in-process log otherwise (this worker's). The metrics are the
Prometheus exporter's counters (summed over workers), drawn as small bar charts.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from html import escape
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sessionary._async.events import AsyncEventSink, AsyncMemoryEventLog
from sessionary.demo.devices import device_name
from sessionary.demo.pages import error_page, layout, when
from sessionary.integrations.asgi import csrf_token, get_manager, get_session
from sessionary.sansio.events import SessionEvent
from sessionary.sansio.users import UserSession

__all__ = ["ADMIN_PASSWORD", "ADMIN_USER", "Figures", "admin_routes", "live_part"]

ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin"  # noqa: S105 - the demo admin's published password
EVENTS_SHOWN = 15
EVENTS_SCANNED = 500
"""How many recent events are read for the users with sessions."""
REFRESH_MS = 3000
Figures = Callable[[], Mapping[str, Mapping[str, float]]]
"""The metrics to chart: per chart title, a value per label (empty without the exporter)."""
_REVOKED = "Every session of {user} is ended: its devices see the sign-in page next."
_FORBIDDEN = "The admin view is for the demo admin: sign in as admin (password admin)."


async def recent_events(sink: AsyncEventSink | None, count: int) -> list[SessionEvent]:
    """The ``count`` most recent events of the sink, oldest first."""
    if sink is None:
        return []
    recent = getattr(sink, "recent", None)
    if recent is not None:  # the Redis stream
        return [event for _, event in await recent(count)]
    if isinstance(sink, AsyncMemoryEventLog):
        return [event for _, event in await sink.read("0", count=sink.maxlen)][-count:]
    return []


def _users(events: Sequence[SessionEvent]) -> list[str]:
    """The users of ``events``, the most recently seen first."""
    seen: dict[str, None] = {}
    for event in reversed(events):
        if event.user is not None:
            seen.setdefault(event.user)
    return list(seen)


def _bars(title: str, values: Mapping[str, float]) -> str:
    """A small horizontal bar chart (one stylesheet, no script)."""
    top = max(values.values(), default=0) or 1
    rows = "".join(
        f"<tr><th scope=row>{escape(label)}</th><td><span class=bar "
        f'style="width: {max(1, round(100 * value / top))}%"></span></td>'
        f"<td class=num>{value:g}</td></tr>"
        for label, value in sorted(values.items(), key=lambda item: -item[1])
    )
    caption = f"<figcaption>{escape(title)}</figcaption>"
    return f"<figure class=chart>{caption}<table>{rows}</table></figure>"


def _code(fingerprint: str | None) -> str:
    return f"<code>{escape(fingerprint[:8])}</code>" if fingerprint else ""


def live_part(events: Sequence[SessionEvent], figures: Mapping[str, Mapping[str, float]]) -> str:
    """The part of the admin page that refreshes itself: recent events and the metrics."""
    rows = "".join(
        f"<tr><td>{time.strftime('%H:%M:%S', time.gmtime(event.at / 1000))}</td>"
        f"<td><code>{escape(event.name.value)}</code></td>"
        f"<td>{escape(event.user or '')}</td>"
        f"<td>{_code(event.fingerprint)}</td></tr>"
        for event in reversed(events[-EVENTS_SHOWN:])
    )
    charts = "".join(_bars(title, values) for title, values in figures.items() if values)
    return (
        "<h2>Lifecycle events</h2>"
        "<table class=events><thead><tr><th>UTC</th><th>Event</th><th>User</th>"
        f"<th>Session</th></tr></thead><tbody>{rows}</tbody></table>"
        "<h2>Metrics</h2>"
        + (charts or "<p class=muted>Install prometheus_client for the metrics.</p>")
    )


def _sessions_table(listed: Sequence[tuple[str, Sequence[UserSession]]], now: float) -> str:
    rows = []
    for user, sessions in listed:
        devices = "<br>".join(
            f"{escape(device_name(s.user_agent))} · since "
            f"{when(s.auth_time if s.auth_time is not None else s.created)} · "
            f"{escape(s.describe_age(now))}"
            for s in sessions
        )
        action = (
            "<span class=current>you</span>"
            if user == ADMIN_USER
            else "<form method=post action=/admin/revoke>"
            f'<input type=hidden name=user value="{escape(user, quote=True)}">'
            "<button type=submit class=secondary>End all sessions</button></form>"
        )
        rows.append(
            f"<tr><td>{escape(user)}</td><td>{len(sessions)} live</td><td>{devices}</td>"
            f"<td>{action}</td></tr>"
        )
    return (
        "<table class=users><colgroup><col class=user><col class=live><col class=devices>"
        "<col class=action></colgroup><thead><tr><th>User</th><th>Live</th>"
        f"<th>Devices</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def admin_routes(
    *,
    sink: AsyncEventSink | None,
    figures: Figures,
    store: str,
    pid: Callable[[], int],
    form: Callable[[Request], Awaitable[dict[str, str]]],
) -> list[Route]:
    """``/admin``, ``/admin/live`` and ``/admin/revoke``, for the demo admin only."""

    def forbidden() -> HTMLResponse:
        page = error_page(403, _FORBIDDEN, store=store, pid=pid())
        return HTMLResponse(page, status_code=403)

    async def admin(request: Request) -> Response:
        session = get_session(request)
        if session.user_id != ADMIN_USER:
            return forbidden()
        events = await recent_events(sink, EVENTS_SCANNED)
        manager = get_manager(request)
        listed = []
        for user in _users(events):
            sessions = await manager.list_user_sessions(user, current=session)
            if sessions:
                listed.append((user, sessions))
        done = request.query_params.get("ended")
        notice = (
            f"<p class=notice role=status>{escape(_REVOKED.format(user=done))}</p>" if done else ""
        )
        body = (
            "<h1>Admin</h1>"
            f"{notice}"
            f"<h2>Live sessions per user</h2><p>{len(listed)} user(s) with live sessions, "
            "from the recent lifecycle events.</p>"
            f"{_sessions_table(listed, time.time())}"
            f"<div id=live>{live_part(events, figures())}</div>"
            "<p><a href=/>Back</a></p>"
            f"<script>setInterval(async () => {{ const r = await fetch('/admin/live'); "
            "if (r.ok) document.getElementById('live').innerHTML = await r.text(); }, "
            f"{REFRESH_MS});</script>"
        )
        return HTMLResponse(
            layout(
                "sessionary demo - admin", body, store=store, pid=pid(), csrf=csrf_token(request)
            )
        )

    async def live(request: Request) -> Response:
        if get_session(request).user_id != ADMIN_USER:
            return forbidden()
        events = await recent_events(sink, EVENTS_SCANNED)
        return HTMLResponse(live_part(events, figures()))

    async def revoke(request: Request) -> Response:
        session = get_session(request)
        if session.user_id != ADMIN_USER:
            return forbidden()
        user = (await form(request)).get("user", "")
        if not user or user == ADMIN_USER:
            return RedirectResponse("/admin", status_code=303)
        await get_manager(request).admin_revoke(user)
        return RedirectResponse("/admin?" + urlencode({"ended": user}), status_code=303)

    return [
        Route("/admin", admin),
        Route("/admin/live", live),
        Route("/admin/revoke", revoke, methods=["POST"]),
    ]
