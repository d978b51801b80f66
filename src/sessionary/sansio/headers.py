"""Merging a :class:`~sessionary.sansio.cycle.ResponseUpdate` into response headers.

Pure helpers so each adapter only translates its framework's header container:
``Set-Cookie`` (or the token header) is appended, ``Cache-Control`` is replaced by
``no-store`` when the ID is set or cleared (R15), set to ``no-store`` when a signed-in
session was used and the application set no ``Cache-Control`` of its own, and ``Cookie`` (or
the token header) is added to ``Vary`` unless ``Vary`` already names it (or is ``*``).

Adapters with a header object (Flask, Django, aiohttp) use :func:`header_changes`::

    changes = header_changes(update, response.headers.get("Vary"))
    for name, value in changes.replace.items():
        response.headers[name] = value
    for name, value in changes.default.items():
        if name not in response.headers:
            response.headers[name] = value
    for name, value in changes.append:
        response.headers.add(name, value)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sessionary.sansio.response import ResponseUpdate

__all__ = [
    "HeaderChanges",
    "header_changes",
    "merge_headers",
    "merge_raw_headers",
    "vary_with",
    "vary_with_cookie",
]


def vary_with(existing: str | None, name: str) -> str | None:
    """The ``Vary`` value with ``name`` added, or ``None`` if nothing needs to change."""
    if not existing:
        return name
    names = {part.strip().lower() for part in existing.split(",")}
    if name.lower() in names or "*" in names:
        return None
    return f"{existing}, {name}"


def vary_with_cookie(existing: str | None) -> str | None:
    """The ``Vary`` value with ``Cookie`` added, or ``None`` if nothing needs to change."""
    return vary_with(existing, "Cookie")


@dataclass(slots=True)
class HeaderChanges:
    """Headers to overwrite (``replace``), to set if absent (``default``), to add (``append``).

    Applied in that order.
    """

    replace: dict[str, str] = field(default_factory=dict)
    append: list[tuple[str, str]] = field(default_factory=list)
    default: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.replace or self.append or self.default)

    def __repr__(self) -> str:
        # Header names only: the values carry the session ID or the sealed cookie (R79).
        return (
            f"HeaderChanges(replace={list(self.replace)}, default={list(self.default)}, "
            f"append={[n for n, _ in self.append]})"
        )


def header_changes(update: ResponseUpdate, existing_vary: str | None) -> HeaderChanges:
    """What ``update`` changes in a response whose ``Vary`` is ``existing_vary``."""
    changes = HeaderChanges()
    if update.no_store:
        changes.replace["Cache-Control"] = "no-store"
    elif update.cache_control is not None:
        changes.default["Cache-Control"] = update.cache_control
    if update.vary_cookie:
        new_vary = vary_with(existing_vary, update.vary_name)
        if new_vary is not None:
            changes.replace["Vary"] = new_vary
    if update.set_cookie is not None:
        changes.append.append(("Set-Cookie", update.set_cookie))
    if update.token_header is not None:
        changes.replace[update.token_header[0]] = update.token_header[1]
    return changes


def merge_raw_headers(
    headers: Iterable[tuple[bytes, bytes]], update: ResponseUpdate
) -> list[tuple[bytes, bytes]]:
    """Apply ``update`` to ASGI-style raw headers (lower-case names, latin-1 bytes)."""
    merged = list(headers)
    if update.set_cookie is None and not update.no_store and update.token_header is None:
        # The common responses (hot path): a ``Vary`` and a signed-in page's default
        # ``Cache-Control`` to add, and usually no ``Vary`` yet. One pass over the headers;
        # the same result as the general path below.
        has_vary = has_cache_control = False
        for raw_name, _ in merged:
            lowered = raw_name.lower()
            if lowered == b"vary":
                has_vary = True
            elif lowered == b"cache-control":
                has_cache_control = True
        if not has_vary or not update.vary_cookie:
            if update.vary_cookie:
                merged.append((b"vary", update.vary_name.encode("latin-1")))
            if update.cache_control is not None and not has_cache_control:
                merged.append((b"cache-control", update.cache_control.encode("latin-1")))
            return merged
    vary_values = [v.decode("latin-1") for k, v in merged if k.lower() == b"vary"]
    changes = header_changes(update, ", ".join(vary_values) if vary_values else None)
    if changes.replace:
        replaced = {name.lower().encode("latin-1") for name in changes.replace}
        merged = [(k, v) for k, v in merged if k.lower() not in replaced]
        merged += [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in changes.replace.items()
        ]
    for name, value in changes.default.items():
        raw = name.lower().encode("latin-1")
        if all(k.lower() != raw for k, _ in merged):
            merged.append((raw, value.encode("latin-1")))
    merged += [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in changes.append
    ]
    return merged


def merge_headers(
    headers: Iterable[tuple[str, str]], update: ResponseUpdate
) -> list[tuple[str, str]]:
    """Apply ``update`` to a list of ``(name, value)`` string headers (WSGI style)."""
    merged = list(headers)
    vary_values = [v for k, v in merged if k.lower() == "vary"]
    changes = header_changes(update, ", ".join(vary_values) if vary_values else None)
    if not changes:
        return merged
    replaced = {name.lower() for name in changes.replace}
    merged = [(k, v) for k, v in merged if k.lower() not in replaced]
    merged += list(changes.replace.items())
    present = {k.lower() for k, _ in merged}
    merged += [(k, v) for k, v in changes.default.items() if k.lower() not in present]
    merged += changes.append
    return merged
