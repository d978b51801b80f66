"""The matrix of features and adapters: every request option, proved through every adapter.

The matrix is written out cell by cell: an adapter (a driver in ``drivers/``) or a feature
without its cell fails :func:`test_the_matrix_is_complete`, so neither can be added without
saying how the other behaves with it. A cell is the feature's proof (``features.py``) or
:class:`NotServed`, with the reason the framework cannot have it (WebSockets under WSGI).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import pytest

from sessionary import SessionConfig
from sessionary.testing import session_config
from tests.conformance import drivers, features
from tests.conformance.driver import AppSpec, Driver, MakeDriver, StoreKind

FEATURES = (
    "lock",
    "store_down",
    "csrf_token",
    "origin_check",
    "tenants",
    "header_transport",
    "websocket_origin",
    "commit_on_error",
)


@dataclass(frozen=True)
class NotServed:
    """The framework cannot have this feature; ``reason`` says why."""

    reason: str


Cell = Callable[[features.OpenApp], None] | NotServed
NO_WEBSOCKETS = NotServed("WSGI serves no WebSockets")
DJANGO_WEBSOCKETS = NotServed("Django serves WebSockets through Channels, not this middleware")

MATRIX: dict[str, dict[str, Cell]] = {
    "asgi": {
        "lock": features.lock,
        "store_down": features.store_down,
        "csrf_token": features.csrf_token,
        "origin_check": features.origin_check,
        "tenants": features.tenants,
        "header_transport": features.header_transport,
        "websocket_origin": features.websocket_origin,
        "commit_on_error": features.commit_on_error,
    },
    "asgi_nowith": {
        "lock": features.lock,
        "store_down": features.store_down,
        "csrf_token": features.csrf_token,
        "origin_check": features.origin_check,
        "tenants": features.tenants,
        "header_transport": features.header_transport,
        "websocket_origin": features.websocket_origin,
        "commit_on_error": features.commit_on_error,
    },
    "fastapi": {
        "lock": features.lock,
        "store_down": features.store_down,
        "csrf_token": features.csrf_token,
        "origin_check": features.origin_check,
        "tenants": features.tenants,
        "header_transport": features.header_transport,
        "websocket_origin": features.websocket_origin,
        "commit_on_error": features.commit_on_error,
    },
    "flask": {
        "lock": features.lock,
        "store_down": features.store_down,
        "csrf_token": features.csrf_token,
        "origin_check": features.origin_check,
        "tenants": features.tenants,
        "header_transport": features.header_transport,
        "websocket_origin": NO_WEBSOCKETS,
        "commit_on_error": features.commit_on_error,
    },
    "wsgi": {
        "lock": features.lock,
        "store_down": features.store_down,
        "csrf_token": features.csrf_token,
        "origin_check": features.origin_check,
        "tenants": features.tenants,
        "header_transport": features.header_transport,
        "websocket_origin": NO_WEBSOCKETS,
        "commit_on_error": features.commit_on_error,
    },
    "django": {
        "lock": features.lock,
        "store_down": features.store_down,
        "csrf_token": features.csrf_token,
        "origin_check": features.origin_check_opted_in,
        "tenants": features.tenants,
        "header_transport": features.header_transport,
        "websocket_origin": DJANGO_WEBSOCKETS,
        "commit_on_error": features.commit_on_error,
    },
    "django_async": {
        "lock": features.lock,
        "store_down": features.store_down,
        "csrf_token": features.csrf_token,
        "origin_check": features.origin_check_opted_in,
        "tenants": features.tenants,
        "header_transport": features.header_transport,
        "websocket_origin": DJANGO_WEBSOCKETS,
        "commit_on_error": features.commit_on_error,
    },
    "aiohttp": {
        "lock": features.lock,
        "store_down": features.store_down,
        "csrf_token": features.csrf_token,
        "origin_check": features.origin_check,
        "tenants": features.tenants,
        "header_transport": features.header_transport,
        "websocket_origin": features.websocket_origin,
        "commit_on_error": features.commit_on_error,
    },
}

DRIVERS = sorted(
    info.name for info in pkgutil.iter_modules(drivers.__path__) if not info.name.startswith("_")
)


def test_the_matrix_is_complete() -> None:
    """Every driver has a row, every row has every feature, and nothing else."""
    assert sorted(MATRIX) == DRIVERS
    for adapter, cells in MATRIX.items():
        assert tuple(cells) == FEATURES, adapter


def _make_driver(adapter: str) -> MakeDriver:
    factory: MakeDriver = importlib.import_module(
        f"tests.conformance.drivers.{adapter}"
    ).make_driver
    return factory


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("adapter", DRIVERS)
def test_the_feature_works_through_the_adapter(
    adapter: str, feature: str, key_prefix: str, request: pytest.FixtureRequest
) -> None:
    cell = MATRIX[adapter][feature]
    make = _make_driver(adapter)

    def open_app(
        store: StoreKind, config: SessionConfig | None = None, **spec: object
    ) -> AbstractContextManager[Driver]:
        redis_url = request.getfixturevalue("redis_url") if store == "redis" else ""
        app = AppSpec(store, config or session_config(), redis_url, key_prefix, **spec)  # type: ignore[arg-type]
        return make(app)

    if isinstance(cell, NotServed):
        with open_app("memory") as driver:
            assert not driver.serves_websockets, cell.reason
        return
    cell(open_app)
