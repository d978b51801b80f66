"""Retries: only idempotent operations are replayed after a failure, with backoff.

A server that accepts connections and closes them at once makes every attempt fail with a
connection reset; counting the accepted connections counts the attempts.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from sessionary.exceptions import StoreUnavailableError
from sessionary.stores import AsyncRedisStore, RedisStore
from tests.helpers import Ref
from tests.services import DEFAULT_HOST


class SlammingServer:
    """Accepts TCP connections and closes each one immediately; counts them."""

    def __init__(self) -> None:
        self.sock = socket.create_server((DEFAULT_HOST, 0))
        self.port = int(self.sock.getsockname()[1])
        self.sock.settimeout(0.05)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.close()

    def take(self) -> int:
        count, self.accepted = self.accepted, 0
        return count

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def slamming() -> Iterator[SlammingServer]:
    server = SlammingServer()
    yield server
    server.close()


def _attempts(server: SlammingServer, call: object) -> int:
    server.take()
    with pytest.raises(StoreUnavailableError):
        call()  # type: ignore[operator]
    return server.take()


def test_only_idempotent_operations_are_retried(slamming: SlammingServer) -> None:
    store = RedisStore.from_url(f"redis://{DEFAULT_HOST}:{slamming.port}/0", retries=2)
    ref = Ref()
    assert _attempts(slamming, lambda: store.load(ref.load())) == 3
    assert _attempts(slamming, lambda: store.create(ref.create())) == 3
    assert _attempts(slamming, lambda: store.destroy(ref.destroy())) == 3
    assert _attempts(slamming, lambda: store.update(ref.update({"a": b"\x011"}))) == 1
    store.close()


def test_no_retries_when_asked(slamming: SlammingServer) -> None:
    store = RedisStore.from_url(f"redis://{DEFAULT_HOST}:{slamming.port}/0", retries=0)
    assert _attempts(slamming, lambda: store.load(Ref().load())) == 1
    store.close()


@pytest.mark.anyio
async def test_the_async_store_retries_the_same_way(slamming: SlammingServer) -> None:
    store = AsyncRedisStore.from_url(f"redis://{DEFAULT_HOST}:{slamming.port}/0", retries=1)
    ref = Ref()
    for call, expected in (
        (store.load(ref.load()), 2),
        (store.update(ref.update({"a": b"\x011"})), 1),
    ):
        slamming.take()
        with pytest.raises(StoreUnavailableError):
            await call
        assert slamming.take() == expected
    await store.aclose()
