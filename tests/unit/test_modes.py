"""The storage modes themselves (``sessionary.sansio.modes``): what each shows, warns and needs.

The flows they start are tested through the cycle (``test_cycle.py``, ``test_sealed_*.py``);
here, the modes' own promises: an unbound sealed mode has no sealer, the cookie store warns
when nothing can revoke its cookies, and each mode names itself and its revocation store.
"""

from __future__ import annotations

import logging

import pytest

from sessionary.exceptions import ConfigurationError
from sessionary.sansio.modes import SERVER, SealedMode
from sessionary.stores import CookieStore, MemoryStore


def test_a_sealed_mode_has_no_sealer_until_bound_to_a_core() -> None:
    with pytest.raises(ConfigurationError, match="not bound"):
        SealedMode().sealer  # noqa: B018 - the property raises


def test_the_cookie_store_warns_only_when_nothing_can_revoke_its_cookies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="sessionary"):
        CookieStore(revocation=MemoryStore())
    assert caplog.records == []
    with caplog.at_level(logging.WARNING, logger="sessionary"):
        CookieStore()
    (record,) = caplog.records
    assert record.name == "sessionary"
    assert record.levelno == logging.WARNING
    assert "revocation store" in record.getMessage()


def test_each_mode_names_itself_and_its_revocation_store() -> None:
    assert repr(SERVER) == "ServerMode()"
    assert repr(SealedMode()) == "SealedMode(revocation=None)"
    store = MemoryStore()
    assert repr(CookieStore(revocation=store)) == f"CookieStore(revocation={store!r})"
