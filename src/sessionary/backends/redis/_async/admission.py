"""Serializing the logins of one user while a session limit applies (Redis stores).

Admitting a login under ``max_sessions_per_user`` takes three steps: read the user's live
sessions (and evict the oldest, or refuse), write the new session, add it to the user's index.
The session and the index live in different hash slots, so no single script can do all three
on a Cluster; concurrent logins of one user would interleave them, each finding room for
itself (30 simultaneous logins under a limit of 3 all got in). A short lease in the user's
slot (``SET NX PX``, compare-and-delete on release) makes them take turns. Only logins of a
user with a limit pay for it: one ``SET`` and one ``EVALSHA`` more.
"""

from __future__ import annotations

import secrets
from typing import Any

from sessionary._async.leases import async_wait_for_lease
from sessionary.backends.redis._errors import mapped_redis_errors
from sessionary.backends.redis._layout import RedisLayout
from sessionary.backends.redis._users import RELEASE_LOCK_SCRIPT
from sessionary.exceptions import StoreError

__all__ = ["ADMISSION_LEASE_MS", "ADMISSION_WAIT_S", "AsyncAdmission"]

ADMISSION_LEASE_MS = 5_000
"""How long a crashed login can hold its user's admission (it normally takes milliseconds)."""

ADMISSION_WAIT_S = 2.0
"""How long a login waits for the other logins of its user before it is refused (409)."""


class AsyncAdmission:
    """The per-user admission lease of one store."""

    def __init__(self, client_of: Any, layout: RedisLayout, run_script: Any) -> None:
        self._client_of = client_of  # the store's client of the running event loop
        self._layout = layout
        self._run_script = run_script  # the store's _run: retries, error mapping, NOSCRIPT

    async def enter(self, user_key: str) -> bytes:
        """Take the user's admission, waiting with jitter; raise when it stays busy.

        Raises :class:`~sessionary.exceptions.LockNotAcquiredError` after
        :data:`ADMISSION_WAIT_S`.
        """
        key = self._layout.user_admission_key(user_key)
        token = secrets.token_bytes(16)

        async def take() -> bool:
            with mapped_redis_errors("admitting a login"):
                client = self._client_of()
                return bool(await client.set(key, token, nx=True, px=ADMISSION_LEASE_MS))

        busy = f"other logins of this user held its admission for {ADMISSION_WAIT_S:g} s"
        await async_wait_for_lease(take, ADMISSION_WAIT_S, busy)
        return token

    async def leave(self, user_key: str, token: bytes) -> None:
        """Release the admission if this token still holds it.

        Never raises: the login's own outcome must not be replaced by a failed release, and
        the lease ends an unreleased admission anyway.
        """
        key = self._layout.user_admission_key(user_key)
        try:
            await self._run_script(RELEASE_LOCK_SCRIPT, key, [token])
        except StoreError:
            return
