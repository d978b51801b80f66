"""Tenant isolation (docs/security.md R64-R66): resolution, validation, keys and AAD."""

from __future__ import annotations

import secrets

import pytest

from sessionary.exceptions import ConfigurationError
from sessionary.sansio.core import SessionCore
from sessionary.sansio.ids import SessionToken
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.modes import SERVER
from sessionary.sansio.ops import CommitResult, CommitStatus, Create
from sessionary.sansio.tenants import TenantResolver, check_tenant
from sessionary.stores import CookieStore
from sessionary.stores.memory import MemoryEngine
from sessionary.testing import session_config
from tests.unit.test_cycle import Harness, write
from tests.unit.test_sealed_cycle import NAME, Browser


@pytest.mark.parametrize(
    "bad", ["", "a:b", "a*", "a?", "[a]", "{a}", "a b", "-a", "a" * 65, "é", None, 3]
)
def test_tenant_ids_are_validated(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="tenant IDs"):
        check_tenant(bad)
    assert check_tenant("acme-1.eu_west") == "acme-1.eu_west"


def test_resolution_by_mapping_or_callable() -> None:
    mapping = TenantResolver({"A.example.com": "a", "b.example.com:8443": "b"})
    assert mapping.resolve("a.example.com") == "a"
    assert mapping.resolve("a.example.com:443") == "a"
    assert mapping.resolve("B.EXAMPLE.COM") == "b"
    assert mapping.resolve("c.example.com") is None
    assert mapping.resolve(None) is None
    assert mapping.resolve("") is None
    with pytest.raises(ConfigurationError):
        TenantResolver({"x.example.com": "bad:tenant"})
    with pytest.raises(ConfigurationError):
        TenantResolver(42)  # type: ignore[arg-type]
    func = TenantResolver(lambda host: host.split(".", 1)[0] if host.endswith(".app") else None)
    assert func.resolve("acme.app") == "acme"
    assert func.resolve("[::1]:8000") is None
    assert TenantResolver(lambda host: "bad:one").resolve("x") is None  # invalid → unknown
    assert "callable" in repr(func)


def test_storage_keys_bind_the_tenant_without_collisions() -> None:
    ring = KeyRing([secrets.token_bytes(32)])
    keys = {
        ring.storage_key(b"sel", 0, ""),
        ring.storage_key(b"sel", 0, "a"),
        ring.storage_key(b"sel", 0, "b"),
        ring.storage_key(b"bsel", 0, "a"),  # "a" + "bsel" vs "ab" + "sel": length-prefixed
        ring.storage_key(b"sel", 0, "ab"),
    }
    assert len(keys) == 5
    assert ring.storage_key(b"sel") == ring.storage_key(b"sel", 0, "")  # single-tenant keys kept


def test_a_session_of_tenant_a_is_anonymous_under_tenant_b() -> None:
    engine = MemoryEngine()
    h = Harness(engine=engine)
    config = h.config
    cookie_header: list[str] = []

    def run(tenant: str, handler: object = None) -> tuple[bool, dict[str, object]]:
        cycle = h.core.begin(cookie_header, tenant=tenant)
        h.drive(cycle)
        seen = dict(cycle.session)
        if handler is not None:
            handler(cycle.session)  # type: ignore[operator]
        cycle.finish()
        h.drive(cycle)
        update = cycle.response()
        if update.set_cookie and not cookie_header:
            cookie_header.append(update.set_cookie.split(";", 1)[0])
        return cycle.session.is_new, seen

    run("a", write(secret="A's data"))
    assert run("a") == (False, {"secret": "A's data"})
    assert run("b") == (True, {})  # same cookie, other tenant: another record name
    assert config is h.config


def test_sealed_cookies_are_bound_to_their_tenant() -> None:
    browser = Browser()
    cycle = browser.core.begin([], tenant="a")
    cycle.session["x"] = 1
    cycle.finish()
    value = cycle.response().set_cookie
    assert value is not None
    cookie = value.split(";", 1)[0]
    same = browser.core.begin([cookie], tenant="a")
    assert dict(same.session) == {"x": 1}
    other = browser.core.begin([cookie], tenant="b")
    assert other.session.is_new
    assert cookie.startswith(f"{NAME}=")


def test_core_accepts_tenants_with_both_modes() -> None:
    """Both modes take a tenant and bind it: the server-side record's name, the cookie's AAD."""
    for sealed in (False, True):
        core = SessionCore(session_config(), mode=CookieStore() if sealed else SERVER)
        cycle = core.begin([], tenant="t1")
        assert cycle.session.is_new
        cycle.session["x"] = 1
        cycle.finish()
        create = cycle.next_op()
        if not sealed:
            assert isinstance(create, Create)
            cycle.send(CommitResult(CommitStatus.OK))
            assert cycle.issued_id is not None
            selector = SessionToken(cycle.issued_id).selector
            assert create.key == core.keyring.storage_key(selector, 0, "t1")
            assert create.key != core.keyring.storage_key(selector)
            continue
        assert create is None
        set_cookie = cycle.response().set_cookie
        assert set_cookie is not None
        cookie = set_cookie.split(";", 1)[0]
        assert dict(core.begin([cookie], tenant="t1").session) == {"x": 1}
        assert core.begin([cookie]).session.is_new  # not under another (or no) tenant
