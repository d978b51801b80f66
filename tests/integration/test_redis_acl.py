"""A least-privilege Redis ACL user (docs/security.md R46; TLS: ``test_redis_transports.py``).

The test starts its own ``redis-server`` (ACL users are server-wide state) and creates:

* ``sessionary``: keys ``~<prefix>:*`` only, every command but ``@dangerous`` and ``@admin``.
  The whole lifecycle works: warm-up (``SCRIPT LOAD``), create, login, device list,
  ``revoke_user``, logout, the events stream; any key outside the prefix is refused.
* ``no-scripts``: the same without ``@scripting``. ``warm_up()`` fails at start-up with a
  typed :class:`~sessionary.exceptions.StoreError`, before any request is served.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from sessionary import SessionManager
from sessionary.exceptions import SessionaryError, StoreError
from sessionary.sansio.events import EventName
from sessionary.stores import RedisEventStream, RedisStore
from sessionary.testing import session_config
from tests.services import DEFAULT_HOST, RedisServer, redis_server_binary

PREFIX = "acl-app"
PASSWORD = "acl-test-password-not-a-secret"


@pytest.fixture(scope="module")
def acl_server() -> Iterator[RedisServer]:
    with RedisServer(redis_server_binary("a Redis with ACL users")) as server:
        admin = redis.Redis.from_url(server.url)
        for user, extra in (("sessionary", []), ("no-scripts", ["-@scripting"])):
            admin.acl_setuser(
                user,
                enabled=True,
                passwords=[f"+{PASSWORD}"],
                keys=[f"{PREFIX}:*"],
                reset_keys=True,
                reset_channels=True,
                categories=["+@all", "-@dangerous", "-@admin", *extra],
            )
        admin.close()
        yield server


def url_for(server: RedisServer, user: str) -> str:
    return f"redis://{user}:{PASSWORD}@{DEFAULT_HOST}:{server.port}/0"


def test_a_prefix_limited_user_without_dangerous_commands_runs_the_whole_lifecycle(
    acl_server: RedisServer,
) -> None:
    store = RedisStore.from_url(url_for(acl_server, "sessionary"), prefix=PREFIX)
    try:
        store.warm_up()
        stream = RedisEventStream(store.client, prefix=PREFIX)
        manager = SessionManager(store, session_config(), events=stream)
        cycle = manager.open([])
        cycle.session["cart"] = [1]
        cycle.session.login("alice")
        cookie = (manager.commit(cycle).set_cookie or "").split(";", 1)[0]
        cycle = manager.open([cookie])
        assert (cycle.session.user_id, cycle.session["cart"]) == ("alice", [1])
        manager.commit(cycle)
        assert len(manager.list_user_sessions("alice")) == 1
        assert manager.revoke_user("alice") == 1
        assert manager.open([cookie]).session.user_id is None
        assert EventName.REVOKED in {event.name for _, event in stream.read(count=100)}

        with pytest.raises(redis.exceptions.NoPermissionError):
            store.client.get("other-app:cache")  # outside the prefix: refused by Redis
        with pytest.raises(redis.exceptions.NoPermissionError):
            store.client.keys("*")  # @dangerous
    finally:
        store.close()


def test_a_user_without_script_rights_fails_at_warm_up_with_a_typed_error(
    acl_server: RedisServer,
) -> None:
    store = RedisStore.from_url(url_for(acl_server, "no-scripts"), prefix=PREFIX)
    try:
        with pytest.raises(StoreError, match="warm-up") as info:
            store.warm_up()
        assert isinstance(info.value, SessionaryError)
        assert isinstance(info.value.__cause__, redis.exceptions.NoPermissionError)
        assert PASSWORD not in str(info.value)
    finally:
        store.close()
