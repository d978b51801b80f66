"""A cookie-keeping client of a sync :class:`~sessionary.SessionManager`, for scenario tests."""

from __future__ import annotations

from sessionary import SessionManager


class Browser:
    """Keeps its session cookie; each :meth:`request` is one open/commit cycle."""

    def __init__(self, manager: SessionManager, tenant: str = "") -> None:
        self.manager = manager
        self.tenant = tenant
        self.cookie: str | None = None

    def request(self, login: str | None = None, *, cookie: str | None = None) -> str | None:
        """One request (logging in as ``login`` if given); returns the user it saw."""
        name = self.manager.config.cookie.name
        value = cookie or self.cookie
        cycle = self.manager.open([f"{name}={value}"] if value else [], tenant=self.tenant)
        if login is not None:
            cycle.session.login(login)
        user = cycle.session.user_id
        update = self.manager.commit(cycle)
        if update.set_cookie is not None:
            self.cookie = update.set_cookie.split(";", 1)[0].split("=", 1)[1] or None
        return user
