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
from tests.conformance.features import commit_on_error as errors
from tests.conformance.features import csrf_token as token
from tests.conformance.features import header_transport as header
from tests.conformance.features import lock, tenants
from tests.conformance.features import origin_check as origin
from tests.conformance.features import origin_check_opted_in as opted_in
from tests.conformance.features import signed_in_cache_control as cache
from tests.conformance.features import store_down as down
from tests.conformance.features import strict_transport_security as hsts
from tests.conformance.features import websocket_origin as socket

FEATURES = (
    "lock",
    "store_down",
    "csrf_token",
    "origin_check",
    "tenants",
    "header_transport",
    "websocket_origin",
    "commit_on_error",
    "signed_in_cache_control",
    "strict_transport_security",
)


@dataclass(frozen=True)
class NotServed:
    """The framework cannot have this feature; ``reason`` says why."""

    reason: str


Cell = Callable[[features.OpenApp], None] | NotServed
NO_WS = NotServed("WSGI serves no WebSockets")
CHANNELS = NotServed("Django serves WebSockets through Channels, not this middleware")

MATRIX: dict[str, tuple[Cell, ...]] = {
    # the columns are FEATURES: lock, store_down, csrf_token, origin_check, tenants,
    # header_transport, websocket_origin, commit_on_error, signed_in_cache_control,
    # strict_transport_security
    "asgi":         (lock, down, token, origin, tenants, header, socket, errors, cache, hsts),
    "asgi_nowith":  (lock, down, token, origin, tenants, header, socket, errors, cache, hsts),
    "fastapi":      (lock, down, token, origin, tenants, header, socket, errors, cache, hsts),
    "flask":        (lock, down, token, origin, tenants, header, NO_WS, errors, cache, hsts),
    "wsgi":         (lock, down, token, origin, tenants, header, NO_WS, errors, cache, hsts),
    "django":       (lock, down, token, opted_in, tenants, header, CHANNELS, errors, cache, hsts),
    "django_async": (lock, down, token, opted_in, tenants, header, CHANNELS, errors, cache, hsts),
    "aiohttp":      (lock, down, token, origin, tenants, header, socket, errors, cache, hsts),
    "litestar":     (lock, down, token, origin, tenants, header, socket, errors, cache, hsts),
    "quart":        (lock, down, token, origin, tenants, header, socket, errors, cache, hsts),
}  # fmt: skip
"""One row per driver, one cell per feature in the order of :data:`FEATURES`."""

DRIVERS = sorted(
    info.name for info in pkgutil.iter_modules(drivers.__path__) if not info.name.startswith("_")
)


def test_the_matrix_is_complete() -> None:
    """Every driver has a row, every row has every feature, and nothing else."""
    assert sorted(MATRIX) == DRIVERS
    for adapter, cells in MATRIX.items():
        assert len(cells) == len(FEATURES), adapter
        for feature, cell in zip(FEATURES, cells, strict=True):  # each in its own column
            assert isinstance(cell, NotServed) or cell.__name__.startswith(feature), adapter


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
    cell = MATRIX[adapter][FEATURES.index(feature)]
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
