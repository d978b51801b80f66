"""What a server-side session cycle knows of its stored record, shared by its read and write.

:class:`ServerRecord` is the record side of one request: which storage key and generation
of the key ring the presented ID names, the validator digest, the record as last read, and
the IDs a CSRF token may already be bound to (a pre-session ID, or the ID a pending login or
rotation will give). It also computes the record MAC (:mod:`sessionary.sansio.record_auth`)
under the generation the record was found with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sessionary.sansio.record_auth import record_seal, seal_matches

if TYPE_CHECKING:
    from sessionary.sansio.context import CoreContext
    from sessionary.sansio.ids import SessionToken
    from sessionary.sansio.ops import RecordMeta, StoredSession, UserBinding

__all__ = ["ServerRecord"]


@dataclass(slots=True, eq=False, repr=False)
class ServerRecord:
    """The stored record one request works with."""

    core: CoreContext
    key: str = ""
    """The storage key (a keyed hash of the selector, never the ID)."""
    digest: bytes = b""
    """The keyed digest of the validator the record must hold (the current one)."""
    generation: int = 0
    """The generation of the key ring the record was found (or is created) under."""
    stored: StoredSession | None = None
    """The record as loaded; ``None`` for a new session."""
    pre: SessionToken | None = None
    """The pre-session ID the client presented, or one minted for a CSRF token."""
    pre_minted: bool = False
    next_token: SessionToken | None = None
    """The ID a pending login or rotation will give, once a CSRF token needed it."""

    def __repr__(self) -> str:
        return f"ServerRecord(generation={self.generation})"

    def next(self, fresh: SessionToken) -> SessionToken:
        """The ID a pending login or rotation gives: ``fresh``, unless one was chosen."""
        if self.next_token is None:
            self.next_token = fresh
        return self.next_token

    def seal_of(self, meta: RecordMeta, attributes: Mapping[str, bytes]) -> bytes:
        """The MAC a record with this metadata and these stored attributes must carry."""
        return record_seal(
            self.core.record_keys[self.generation],
            self.key,
            version=meta.version,
            digest=meta.digest,
            created=meta.created,
            idle=meta.idle,
            deadline=meta.deadline,
            user=meta.user,
            auth_time=meta.auth_time,
            user_key=meta.user_key,
            device=meta.device,
            attributes=attributes,
        )

    def seal_update(
        self,
        base: StoredSession,
        attributes: Mapping[str, bytes],
        delete: tuple[str, ...],
        *,
        digest: bytes,
        deadline: int | None,
        user: str | None,
        auth_time: int | None,
        binding: UserBinding | None,
    ) -> bytes:
        """The MAC of ``base`` once an update has written to it (its next version).

        ``None`` for ``deadline``, ``user`` or ``auth_time`` keeps the stored value, as the
        store does; a login's ``binding`` sets the user tag and device.
        """
        merged = dict(base.attributes)
        for name in delete:
            merged.pop(name, None)
        merged.update(attributes)
        meta = base.meta
        written = meta._replace(
            deadline=meta.deadline if deadline is None else deadline,
            digest=digest,
            version=meta.version + 1,
            user=meta.user if user is None else user,
            auth_time=meta.auth_time if auth_time is None else auth_time,
            user_key=meta.user_key if binding is None else binding.user_key,
            device=meta.device if binding is None or binding.device is None else binding.device,
        )
        return self.seal_of(written, merged)

    def authentic(self, record: StoredSession) -> bool:
        """Whether a record read from the store carries its own MAC."""
        return seal_matches(self.seal_of(record.meta, record.attributes), record.meta.seal)
