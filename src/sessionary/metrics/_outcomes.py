"""How an observer reads the ``outcome`` of a store operation (shared by the exporters).

The manager reports a result status (``found``, ``ok``, ``gone``…), ``touched`` for a load
that also extended the session's idle expiry, ``deleted``/``absent`` for a destroy, and the
exception's type name when the operation failed. Everything here keeps metric labels
bounded: outcome labels come from fixed sets, error type names are capped.
"""

from __future__ import annotations

from sessionary.observability import CACHE_OUTCOMES, TOUCHED_OUTCOME
from sessionary.sansio.ops import CommitStatus, LoadStatus

__all__ = [
    "ERROR_OUTCOME",
    "LOAD_HITS",
    "LOAD_MISSES",
    "MAX_ERROR_TYPES",
    "OTHER_ERROR",
    "ErrorNames",
    "is_error",
    "operation_label",
]

LOAD_HITS = frozenset({LoadStatus.FOUND.value, TOUCHED_OUTCOME})
"""Load outcomes that found a live session (``touched`` = found and touched)."""
LOAD_MISSES = frozenset(status.value for status in LoadStatus) - LOAD_HITS
"""Load outcomes that found no usable session (every other load status, present or future)."""
_RESULTS = (
    LOAD_HITS
    | LOAD_MISSES
    | {status.value for status in CommitStatus}
    | {"deleted", "absent"}  # destroy
    | CACHE_OUTCOMES  # the local cache's reports (operation "cache")
)
ERROR_OUTCOME = "error"
OTHER_ERROR = "other"
MAX_ERROR_TYPES = 32
"""Distinct error type names kept as label values; further ones are counted as ``other``."""


def is_error(outcome: str) -> bool:
    """Whether ``outcome`` names an exception type rather than a result."""
    return outcome not in _RESULTS


def operation_label(name: str, outcome: str) -> str:
    """``touch`` for a load that extended the expiry, else the operation name."""
    return "touch" if name == "load" and outcome == TOUCHED_OUTCOME else name


class ErrorNames:
    """Maps exception type names to label values, at most :data:`MAX_ERROR_TYPES` of them."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def label(self, type_name: str) -> str:
        """``type_name`` while fewer than the cap were seen, then ``other`` for new names."""
        if type_name in self._seen:
            return type_name
        if len(self._seen) >= MAX_ERROR_TYPES or not type_name.isidentifier():
            return OTHER_ERROR
        self._seen.add(type_name)
        return type_name
