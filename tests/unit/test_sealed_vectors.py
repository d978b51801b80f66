"""The sealed cookie's format is stable: a cookie sealed by one version opens in the next.

Every part of the sealed mode seals and opens through the same functions, so a change to
what the box is bound to (the AAD of :func:`~sessionary.sansio.sealed_flow.cookie_aad`: its
prefix, the cookie name, the purpose, the tenant), to the subkey the mode derives, or to
the payload's layout would pass every round-trip test and still sign every visitor out at
the upgrade. These cookies were sealed by the implementation of 2026-12-03 under a fixed
test secret, at a fixed time, for the default cookie name, without and with a tenant.
"""

from __future__ import annotations

import pytest

from sessionary.config import CookieOptions
from sessionary.sansio.core import SessionCore
from sessionary.sansio.modes import SealedMode
from sessionary.testing import FakeClock, session_config

# A test secret (random, so that the configuration accepts it), not a deployment's.
SECRET = bytes.fromhex("607a3e1a965039b228ca9d71aaedbc3222468a602507762672a623bf146a590a")
NOW = 1_750_000_000_000
NAME = "__Host-session"
# user "ada", one attribute a=1, created and logged in a minute before NOW, seen 1 s before
SEALED = {
    "": (
        "AkjplD5UMm5UzG4WcWz27CQDDOoeeWZ2EOo8ByiFEI3jDPmSdL50caC0ZNEEdczy9KcQZAsxpiFnFGk8Pbw5"
        "D5zqqWSun4EbGGgYRONeD3zR7mxi2FoeLPhovj7NdR07JH7KIq6xN2TBVXROt3oBhJ8qBTtIpWw6arC9DrLa"
        "8Emq46JL0-GF-nst"
    ),
    "acme": (
        "ApNSvmFBiI9V_Y0NR4eX5uqcISbS8UuvcSauaud_Agbi6sF2iUjxn1qfdP11IDmR41NKijVyehv-zn2v68To"
        "t2OJanCPau8mAExJMz91f7rl8HXqtJPxxDNUPfbuFNEyjhRHMxjUXby3SII_NIeivRuolN8fEI-NOiUyTe9m"
        "35XUbASW5GhKKcsb"
    ),
}


def core(**overrides: object) -> SessionCore:
    clock = FakeClock()
    clock.set((NOW + 0.5) / 1000)
    config = session_config(secret_keys=[SECRET], clock=clock, **overrides)
    return SessionCore(config, mode=SealedMode())


@pytest.mark.parametrize("tenant", ["", "acme"])
def test_a_cookie_sealed_by_an_earlier_version_opens(tenant: str) -> None:
    cycle = core().begin([f"{NAME}={SEALED[tenant]}"], tenant=tenant)
    assert cycle.next_op() is None
    session = cycle.session
    assert not session.is_new
    assert session["a"] == 1
    assert session.user_id == "ada"


@pytest.mark.parametrize(("sealed_for", "presented_for"), [("", "acme"), ("acme", "")])
def test_a_cookie_opens_only_for_the_tenant_it_was_sealed_for(
    sealed_for: str, presented_for: str
) -> None:
    cycle = core().begin([f"{NAME}={SEALED[sealed_for]}"], tenant=presented_for)
    assert cycle.session.is_new
    assert cycle.session.get("a") is None


def test_a_cookie_opens_only_under_the_name_it_was_sealed_for() -> None:
    """The cookie name is in the AAD: the same box under another name is no session."""
    renamed = core(cookie=CookieOptions(name="__Host-other"))
    cycle = renamed.begin([f"__Host-other={SEALED['']}"])
    assert cycle.session.is_new
