"""The audit trail written behind the request: lifecycle events moved into SQL.

==========================  ========================  ==========================================
asyncio                     sync                      what
==========================  ========================  ==========================================
``AsyncAuditMover``         ``AuditMover``            Redis stream -> ``sessionary_events``
==========================  ========================  ==========================================

``sessionary audit run --from redis://... --to postgresql://...`` runs an ``AuditMover``;
``sessionary audit query --user U`` reads the table (docs/sql.md, "Audit trail").
"""

from __future__ import annotations

import typing

from sessionary._lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from sessionary.audit._async.mover import DEFAULT_GROUP, AsyncAuditMover
    from sessionary.audit._lag import AuditLag
    from sessionary.audit._sync.mover import AuditMover

__all__ = ["DEFAULT_GROUP", "AsyncAuditMover", "AuditLag", "AuditMover"]

_HOMES = {
    "AsyncAuditMover": "_async.mover",
    "AuditMover": "_sync.mover",
    "DEFAULT_GROUP": "_async.mover",
    "AuditLag": "_lag",
}

__getattr__ = _lazy_exports(__name__, {name: f"{__name__}.{home}" for name, home in _HOMES.items()})
