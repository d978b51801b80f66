"""How far the audit mover's consumer group is behind the event stream (pure parsing)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AuditLag", "group_lag"]


@dataclass(frozen=True, slots=True)
class AuditLag:
    """The consumer group's position in the stream ``XINFO GROUPS`` reports."""

    group: str
    exists: bool
    """Whether the group exists (``sessionary audit run`` creates it)."""
    pending: int = 0
    """Entries delivered to a mover and not acknowledged yet (in flight, or to be retried)."""
    lag: int | None = None
    """Entries not delivered to the group yet (``None``: Redis could not say, as before 7.0
    or after the stream was trimmed past the group's position)."""

    @property
    def behind(self) -> int | None:
        """Entries not in the SQL table yet: undelivered plus unacknowledged."""
        return None if self.lag is None else self.lag + self.pending


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def group_lag(groups: Iterable[Mapping[Any, Any]], group: str) -> AuditLag:
    """The :class:`AuditLag` of ``group`` among the dictionaries of ``XINFO GROUPS``."""
    for info in groups:
        fields = {_text(k): v for k, v in info.items()}
        if _text(fields.get("name", "")) != group:
            continue
        raw_lag = fields.get("lag")
        return AuditLag(
            group,
            exists=True,
            pending=int(fields.get("pending") or 0),
            lag=None if raw_lag is None else int(raw_lag),
        )
    return AuditLag(group, exists=False)
