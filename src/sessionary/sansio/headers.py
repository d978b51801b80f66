"""Merging a :class:`~sessionary.sansio.cycle.ResponseUpdate` into response headers.

Pure helpers so each adapter only translates its framework's header container:
``Set-Cookie`` is appended, ``Cache-Control`` is replaced by ``no-store`` when the cookie is
set or cleared (R15), and ``Cookie`` is added to ``Vary`` unless ``Vary`` already names it
(or is ``*``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sessionary.sansio.cycle import ResponseUpdate

__all__ = ["merge_raw_headers", "vary_with_cookie"]


def vary_with_cookie(existing: str | None) -> str | None:
    """The ``Vary`` value with ``Cookie`` added, or ``None`` if nothing needs to change."""
    if not existing:
        return "Cookie"
    names = {part.strip().lower() for part in existing.split(",")}
    if "cookie" in names or "*" in names:
        return None
    return f"{existing}, Cookie"


def merge_raw_headers(
    headers: Iterable[tuple[bytes, bytes]], update: ResponseUpdate
) -> list[tuple[bytes, bytes]]:
    """Apply ``update`` to ASGI-style raw headers (lower-case names, latin-1 bytes)."""
    merged = list(headers)
    if update.set_cookie is None and not update.no_store and not update.vary_cookie:
        return merged
    if update.no_store:
        merged = [(k, v) for k, v in merged if k.lower() != b"cache-control"]
        merged.append((b"cache-control", b"no-store"))
    if update.vary_cookie:
        vary_values = [v.decode("latin-1") for k, v in merged if k.lower() == b"vary"]
        new_vary = vary_with_cookie(", ".join(vary_values) if vary_values else None)
        if new_vary is not None:
            merged = [(k, v) for k, v in merged if k.lower() != b"vary"]
            merged.append((b"vary", new_vary.encode("latin-1")))
    if update.set_cookie is not None:
        merged.append((b"set-cookie", update.set_cookie.encode("latin-1")))
    return merged
