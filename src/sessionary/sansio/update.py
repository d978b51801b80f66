"""The value every adapter turns into its framework's response headers for the session."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ResponseUpdate"]


@dataclass(slots=True)
class ResponseUpdate:
    """What the response must carry. Adapters translate this into their framework.

    Most adapters call :func:`sessionary.sansio.headers.header_changes` (or
    :meth:`headers`) rather than reading the fields one by one.
    """

    set_cookie: str | None = None
    """A full ``Set-Cookie`` header value, or ``None``."""
    vary_cookie: bool = False
    """Add :attr:`vary_name` to ``Vary`` (the response depends on the session)."""
    no_store: bool = False
    """Set ``Cache-Control: no-store`` (the response sets or clears the ID, R15)."""
    cache_control: str | None = None
    """A ``Cache-Control`` value for a response that has none of its own (a signed-in
    session's page: ``SessionConfig.signed_in_cache_control``); ``no_store`` wins over it."""
    vary_name: str = "Cookie"
    """The request header the response depends on: ``Cookie``, or the token header."""
    token_header: tuple[str, str] | None = None
    """Header transport only: ``(name, new ID)`` to send, or ``(name, "")`` to forget it."""

    def __repr__(self) -> str:
        # Never the ID or the sealed cookie (R79): error trackers record the repr of locals.
        cookie = "<hidden>" if self.set_cookie is not None else None
        token = None if self.token_header is None else (self.token_header[0], "<hidden>")
        return (
            f"ResponseUpdate(set_cookie={cookie}, vary_cookie={self.vary_cookie}, "
            f"no_store={self.no_store}, cache_control={self.cache_control!r}, "
            f"vary_name={self.vary_name!r}, token_header={token!r})"
        )

    def headers(self) -> list[tuple[str, str]]:
        """The headers to add, for adapters that merge ``Vary`` themselves.

        A :attr:`cache_control` default is listed too: the caller leaves it out when the
        application set its own ``Cache-Control``.
        """
        out: list[tuple[str, str]] = []
        if self.set_cookie is not None:
            out.append(("Set-Cookie", self.set_cookie))
        if self.token_header is not None:
            out.append(self.token_header)
        if self.no_store:
            out.append(("Cache-Control", "no-store"))
        elif self.cache_control is not None:
            out.append(("Cache-Control", self.cache_control))
        if self.vary_cookie:
            out.append(("Vary", self.vary_name))
        return out
