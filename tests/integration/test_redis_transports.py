"""``from_url`` transports and timeouts: ``unix://``, ``rediss://`` (TLS), bounded waits.

Each test starts its own ``redis-server``: one listening on a Unix socket, one with a TLS
port (certificates made with the ``openssl`` command line; skipped without it or when the
binary was built without TLS).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio.connection import UnixDomainSocketConnection as AsyncUnixConnection
from redis.connection import SSLConnection, UnixDomainSocketConnection

from sessionary import AsyncSessionManager, SessionManager
from sessionary.exceptions import StoreTimeoutError, StoreUnavailableError
from sessionary.stores import AsyncRedisStore, RedisStore
from sessionary.testing import session_config
from tests.helpers import Ref
from tests.services import (
    DEFAULT_HOST,
    RedisServer,
    free_port,
    redis_server_binary,
    unavailable,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def binary() -> str:
    return redis_server_binary("the transport tests' servers")


def _roundtrip(store: RedisStore) -> None:
    store.warm_up()
    manager = SessionManager(store, session_config())
    cycle = manager.open([])
    cycle.session["cart"] = [1, 2]
    cookie = (manager.commit(cycle).set_cookie or "").split(";", 1)[0]
    assert manager.open([cookie]).session["cart"] == [1, 2]


# ---------------------------------------------------------------------- unix://
@pytest.fixture
def unix_server(binary: str, tmp_path: Path) -> Iterator[tuple[RedisServer, Path]]:
    path = tmp_path / "redis.sock"
    args = ["--unixsocket", str(path), "--unixsocketperm", "700"]
    with RedisServer(binary, extra_args=args) as server:
        yield server, path


def test_unix_socket_url(unix_server: tuple[RedisServer, Path]) -> None:
    _, path = unix_server
    store = RedisStore.from_url(f"unix://{path}?db=0")
    pool = store.client.connection_pool  # type: ignore[union-attr]
    assert pool.connection_class is UnixDomainSocketConnection
    assert pool.connection_kwargs["socket_timeout"] == 1.0
    _roundtrip(store)
    store.close()


async def test_unix_socket_url_async(unix_server: tuple[RedisServer, Path]) -> None:
    _, path = unix_server
    store = AsyncRedisStore.from_url(f"unix://{path}?db=0")
    assert store.client.connection_pool.connection_class is AsyncUnixConnection  # type: ignore[union-attr]
    await store.warm_up()
    manager = AsyncSessionManager(store, session_config())
    cycle = await manager.open([])
    cycle.session["a"] = 1
    cookie = ((await manager.commit(cycle)).set_cookie or "").split(";", 1)[0]
    assert (await manager.open([cookie])).session["a"] == 1
    await store.aclose()


# ---------------------------------------------------------------------- rediss://
def _certificates(directory: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1, made by the openssl command line."""
    openssl = shutil.which("openssl")
    if openssl is None:
        unavailable("no openssl command to make test certificates")
    files = {name: directory / f"{name}.pem" for name in ("ca", "ca-key", "cert", "key")}
    csr, ext = directory / "server.csr", directory / "server.ext"
    ext.write_text("subjectAltName = IP:127.0.0.1\n")
    commands = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
         "-keyout", files["ca-key"], "-out", files["ca"]],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", files["key"], "-out", csr],
        ["x509", "-req", "-in", csr, "-CA", files["ca"], "-CAkey", files["ca-key"],
         "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", files["cert"]],
    ]  # fmt: skip
    for command in commands:
        subprocess.run([openssl, *map(str, command)], check=True, capture_output=True)
    return files


@pytest.fixture(scope="module")
def tls_server(binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    files = _certificates(tmp_path_factory.mktemp("tls"))
    tls_port = free_port()
    args = [
        "--tls-port", str(tls_port),
        "--tls-cert-file", str(files["cert"]),
        "--tls-key-file", str(files["key"]),
        "--tls-ca-cert-file", str(files["ca"]),
        "--tls-auth-clients", "no",
    ]  # fmt: skip
    try:
        server = RedisServer(binary, extra_args=args).start()
    except RuntimeError as exc:  # a binary built without TLS refuses the options
        unavailable(f"this redis-server cannot serve TLS: {exc}"[:300])
    yield tls_port, files["ca"]
    server.stop()


def test_rediss_url_with_the_ca(tls_server: tuple[int, Path]) -> None:
    port, ca = tls_server
    store = RedisStore.from_url(f"rediss://{DEFAULT_HOST}:{port}/0", ssl_ca_certs=str(ca))
    assert issubclass(store.client.connection_pool.connection_class, SSLConnection)  # type: ignore[union-attr]
    _roundtrip(store)
    store.close()


async def test_rediss_url_async(tls_server: tuple[int, Path]) -> None:
    port, ca = tls_server
    store = AsyncRedisStore.from_url(f"rediss://{DEFAULT_HOST}:{port}/0", ssl_ca_certs=str(ca))
    await store.warm_up()
    assert (await store.load(Ref().load())).record is None
    await store.aclose()


def test_an_untrusted_certificate_is_a_typed_error(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server
    store = RedisStore.from_url(f"rediss://{DEFAULT_HOST}:{port}/0", retries=0)
    with pytest.raises(StoreUnavailableError) as info:
        store.warm_up()
    assert "certificate verify failed" in str(info.value.__cause__).lower()
    store.close()


def test_plain_redis_against_a_tls_port_is_a_typed_error(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server
    store = RedisStore.from_url(f"redis://{DEFAULT_HOST}:{port}/0", timeout=0.3, retries=0)
    with pytest.raises(StoreUnavailableError):
        store.warm_up()
    store.close()


# ---------------------------------------------------------------------- timeouts
class SilentServer:
    """Accepts connections and never answers: every command runs into the socket timeout."""

    def __init__(self) -> None:
        self.sock = socket.create_server((DEFAULT_HOST, 0))
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for connection in self.connections:
            connection.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_default_timeouts_are_one_second_on_every_topology() -> None:
    standalone = RedisStore.from_url("redis://127.0.0.1:1/0")
    kwargs = standalone.client.connection_pool.connection_kwargs  # type: ignore[union-attr]
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (1.0, 1.0)
    assert kwargs["retry"].get_retries() == 0  # the client never replays; the store decides
    sentinel = RedisStore.from_url("redis+sentinel://127.0.0.1:1/svc")
    kwargs = sentinel.client.connection_pool.connection_kwargs  # type: ignore[union-attr]
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (1.0, 1.0)
    standalone.close()
    sentinel.close()


def test_a_server_that_never_answers_is_a_timeout_within_bounds(silent: SilentServer) -> None:
    store = RedisStore.from_url(f"redis://{DEFAULT_HOST}:{silent.port}/0", timeout=0.2, retries=1)
    started = time.monotonic()
    with pytest.raises(StoreTimeoutError):
        store.load(Ref().load())  # retried once: two attempts of 0.2 s
    elapsed = time.monotonic() - started
    assert len(silent.connections) == 2  # the retry, on a fresh connection
    # The timing is the behaviour here: the configured 0.2 s applies to each attempt, not the
    # 1 s default (two attempts of which would take 2 s); the upper bound leaves a loaded
    # machine 1.5 s of slack.
    assert 0.35 < elapsed < 1.9
    with pytest.raises(StoreTimeoutError):
        store.update(Ref().update({"a": b"\x011"}))  # never retried
    assert len(silent.connections) == 3  # one attempt: counted, not timed
    store.close()
