"""Builders for store operations, so contract tests read as scenarios."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from sessionary.sansio.ops import Create, Destroy, Discard, Load, Update

MINUTE = 60_000
HOUR = 60 * MINUTE
IDLE = 30 * MINUTE
ABSOLUTE = 12 * HOUR
TOUCH = 3 * MINUTE
T0 = 1_750_000_000_000


@dataclass
class Ref:
    """One test session: its storage key, current digest and the version writers expect.

    Stores keep the record MAC (``seal``) as opaque bytes: these builders pass random ones.
    Each :meth:`update` expects the version after the previous write built here (pass
    ``expect_version`` to write as a request that read an older version).
    """

    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    digest: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    version: int = 1

    def create(
        self,
        attributes: Mapping[str, bytes] | None = None,
        *,
        now: int = T0,
        idle: int = IDLE,
        deadline: int | None = None,
        user: str | None = None,
        auth_time: int | None = None,
        nonce: bytes | None = None,
        seal: bytes | None = None,
        linger: int = 0,
    ) -> Create:
        self.version = 1
        return Create(
            key=self.key,
            digest=self.digest,
            nonce=nonce or secrets.token_bytes(8),
            now=now,
            idle=idle,
            deadline=now + ABSOLUTE if deadline is None else deadline,
            attributes=dict(attributes or {}),
            user=user,
            auth_time=auth_time,
            seal=seal or secrets.token_bytes(16),
            linger=linger,
        )

    def load(
        self,
        *,
        now: int = T0,
        max_idle: int = IDLE,
        touch_after: int = TOUCH,
        digest: bytes | None = None,
        linger: int = 0,
    ) -> Load:
        return Load(
            key=self.key,
            digest=self.digest if digest is None else digest,
            now=now,
            max_idle=max_idle,
            touch_after=touch_after,
            linger=linger,
        )

    def update(
        self,
        attributes: Mapping[str, bytes] | None = None,
        *,
        now: int = T0,
        delete: tuple[str, ...] = (),
        new_digest: bytes | None = None,
        expect_version: int | None = None,
        user: str | None = None,
        auth_time: int | None = None,
        deadline: int | None = None,
        nonce: bytes | None = None,
        max_idle: int = IDLE,
        seal: bytes | None = None,
        linger: int = 0,
        lock_token: bytes | None = None,
    ) -> Update:
        version = self.version if expect_version is None else expect_version
        self.version = version + 1
        return Update(
            key=self.key,
            expect_version=version,
            digest=self.digest if new_digest is None else new_digest,
            nonce=nonce or secrets.token_bytes(8),
            now=now,
            max_idle=max_idle,
            attributes=dict(attributes or {}),
            delete=delete,
            seal=seal or secrets.token_bytes(16),
            user=user,
            auth_time=auth_time,
            deadline=deadline,
            lock_token=lock_token,
            linger=linger,
        )

    def destroy(self, digest: bytes | None = None) -> Destroy:
        return Destroy(key=self.key, digest=self.digest if digest is None else digest)

    def discard(self) -> Discard:
        return Discard(key=self.key)
