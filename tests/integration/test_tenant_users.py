"""Per-user indexes and revocation are tenant-scoped (R64, R66): the same user ID under two
tenants has two indexes and two epochs, on the memory store and on real Redis."""

from __future__ import annotations

import pytest

from sessionary import SessionManager
from sessionary.stores import MemoryStore, RedisStore
from sessionary.stores.base import SessionStore
from sessionary.testing import session_config
from tests.browser import Browser


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_revoke_user_is_tenant_scoped(
    kind: str, request: pytest.FixtureRequest, key_prefix: str
) -> None:
    store: SessionStore
    if kind == "redis":
        request.getfixturevalue("redis_admin")  # removes this test's keys afterwards
        store = RedisStore.from_url(request.getfixturevalue("redis_url"), prefix=key_prefix)
    else:
        store = MemoryStore()
    manager = SessionManager(store, session_config())
    try:
        in_a, in_b = Browser(manager, "a"), Browser(manager, "b")
        in_a.request(login="42")
        in_b.request(login="42")
        assert [len(manager.list_user_sessions("42", tenant=t)) for t in ("a", "b", "")] == [
            1,
            1,
            0,
        ]
        assert manager.revoke_user("42", tenant="a") == 1
        assert in_a.request() is None  # revoked in tenant a …
        assert in_b.request() == "42"  # … tenant b's user 42 is untouched
        assert manager.count_user_sessions("42", tenant="b") == 1
    finally:
        store.close()
