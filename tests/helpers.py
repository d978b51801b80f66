"""Builders for store operations, so contract tests read as scenarios."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from sessionary.sansio.ops import Create, Destroy, Load, Update

MINUTE = 60_000
HOUR = 60 * MINUTE
IDLE = 30 * MINUTE
ABSOLUTE = 12 * HOUR
TOUCH = 3 * MINUTE
T0 = 1_750_000_000_000


@dataclass
class Ref:
    """One test session: its storage key and current digest."""

    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    digest: bytes = field(default_factory=lambda: secrets.token_bytes(16))

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
    ) -> Create:
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
        )

    def load(
        self,
        *,
        now: int = T0,
        max_idle: int = IDLE,
        touch_after: int = TOUCH,
        digest: bytes | None = None,
    ) -> Load:
        return Load(
            key=self.key,
            digest=self.digest if digest is None else digest,
            now=now,
            max_idle=max_idle,
            touch_after=touch_after,
        )

    def update(
        self,
        attributes: Mapping[str, bytes] | None = None,
        *,
        now: int = T0,
        delete: tuple[str, ...] = (),
        expected: Mapping[str, bytes | None] | None = None,
        strict: bool = False,
        new_digest: bytes | None = None,
        expect_digest: bytes | None = None,
        user: str | None = None,
        auth_time: int | None = None,
        deadline: int | None = None,
        nonce: bytes | None = None,
        max_idle: int = IDLE,
    ) -> Update:
        return Update(
            key=self.key,
            expect_digest=self.digest if expect_digest is None else expect_digest,
            digest=self.digest if new_digest is None else new_digest,
            nonce=nonce or secrets.token_bytes(8),
            now=now,
            max_idle=max_idle,
            attributes=dict(attributes or {}),
            delete=delete,
            expected=dict(expected or {}),
            strict=strict,
            user=user,
            auth_time=auth_time,
            deadline=deadline,
        )

    def destroy(self, digest: bytes | None = None) -> Destroy:
        return Destroy(key=self.key, digest=self.digest if digest is None else digest)
