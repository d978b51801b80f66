"""A throw-away Sentinel group: one primary, one replica, three sentinels (``redis-server``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel

from tests.services import DEFAULT_HOST, RedisServer, free_port

SERVICE = "sessionary-test"
FAST_SYNC = ("--repl-diskless-sync-delay", "0")  # replicas sync at once, not after 5 s
# How long the sentinels wait for the chosen replica to report its promotion (and for the
# other replicas to follow it) before they give the failover up and retry after twice as long.
# A quick failover never waits for it; 5 s was seen to be too short for a CPU-starved
# machine (the failover was abandoned half-done and no sentinel named a primary for 30 s).
FAILOVER_TIMEOUT_MS = 60_000


class SentinelGroup:
    """Starts the group on free loopback ports and waits until the sentinels agree."""

    def __init__(self, binary: str, *, replicas: int = 1, down_after_ms: int = 2000) -> None:
        self.binary = binary
        self.replica_count = replicas
        self.down_after_ms = down_after_ms
        self.primary: RedisServer | None = None
        self.replicas: list[RedisServer] = []
        self.sentinels: list[RedisServer] = []

    @property
    def replica(self) -> RedisServer | None:
        """The first replica."""
        return self.replicas[0] if self.replicas else None

    @property
    def servers(self) -> list[RedisServer]:
        """The data nodes: primary first, then the replicas (as started)."""
        return [s for s in (self.primary, *self.replicas) if s is not None]

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """``(host, port)`` of each sentinel."""
        return [(DEFAULT_HOST, s.port) for s in self.sentinels]

    @property
    def url(self) -> str:
        """A ``redis+sentinel://`` URL for the group's service."""
        hosts = ",".join(f"{h}:{p}" for h, p in self.sentinel_addresses)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self, timeout: float = 30.0) -> SentinelGroup:
        """Start primary, replica and sentinels."""
        try:
            self.primary = RedisServer(self.binary, extra_args=FAST_SYNC).start()
            for _ in range(self.replica_count):
                follow = ["--replicaof", DEFAULT_HOST, str(self.primary.port), *FAST_SYNC]
                self.replicas.append(RedisServer(self.binary, extra_args=follow).start())
            for _ in range(3):
                port = free_port()
                sentinel = RedisServer(self.binary, port=port, extra_args=["--sentinel"])
                config = Path(sentinel.directory) / "sentinel.conf"
                config.write_text(
                    f"port {port}\nbind {DEFAULT_HOST}\n"
                    f"sentinel monitor {SERVICE} {DEFAULT_HOST} {self.primary.port} 2\n"
                    f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}\n"
                    f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
                )
                sentinel.extra_args = [str(config), "--sentinel"]
                self.sentinels.append(_start_sentinel(sentinel))
            deadline = time.monotonic() + timeout
            self._wait_for_agreement(deadline)
            for replica in self.replicas:
                wait_for_replica_link(replica.port, deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_agreement(self, deadline: float) -> None:
        assert self.primary is not None
        while time.monotonic() < deadline:
            agreed = 0
            for host, port in self.sentinel_addresses:
                client = redis.Redis(host=host, port=port)
                try:
                    address: Any = client.sentinel_get_master_addr_by_name(SERVICE)
                    agreed += bool(address) and int(address[1]) == self.primary.port
                except redis.RedisError:
                    pass
                finally:
                    client.close()
            if agreed == len(self.sentinels):
                return
            time.sleep(0.1)
        msg = "the test Sentinel group did not come up in time"
        raise RuntimeError(msg)

    def describe(self) -> str:
        """For a failure message: the primary each sentinel names, each data node's role."""
        views = [
            _ask(port, lambda c: c.sentinel_get_master_addr_by_name(SERVICE))
            for _, port in self.sentinel_addresses
        ]
        roles = [f"{s.port}: {_ask(s.port, _role)}" for s in self.servers]
        logs = "; ".join(f"sentinel {s.port}: {s.log_tail()}" for s in self.sentinels)
        return f"sentinels name {views}; nodes {roles}; {logs}"

    def stop(self) -> None:
        """Stop every process."""
        for server in [*self.sentinels, *self.replicas, self.primary]:
            if server is not None:
                server.stop()
        self.sentinels = []
        self.replicas = []
        self.primary = None

    def __enter__(self) -> SentinelGroup:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _ask(port: int, question: Any) -> str:
    """``question(client)`` for one server, or the error's name when it does not answer."""
    client = redis.Redis(host=DEFAULT_HOST, port=port, socket_timeout=1)
    try:
        return str(question(client))
    except (redis.RedisError, OSError) as exc:
        return type(exc).__name__
    finally:
        client.close()


def _role(client: redis.Redis) -> str:
    info: Any = client.info("replication")
    return f"{info.get('role')} link {info.get('master_link_status', '-')}"


def wait_for_replica_link(port: int, deadline: float) -> None:
    """Wait until the replica on ``port`` has finished its initial sync with its primary."""
    client = redis.Redis(host=DEFAULT_HOST, port=port)
    try:
        while time.monotonic() < deadline:
            if client.info("replication").get("master_link_status") == "up":
                return
            time.sleep(0.05)
    finally:
        client.close()
    msg = f"the replica on port {port} did not sync in time"
    raise RuntimeError(msg)


def _start_sentinel(server: RedisServer) -> RedisServer:
    """``redis-server <config> --sentinel`` (the config file must come first)."""
    import subprocess  # noqa: PLC0415 - only here

    server.process = subprocess.Popen(
        [server.binary, *server.extra_args, "--logfile", str(Path(server.directory) / "redis.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        client = redis.Redis(host=DEFAULT_HOST, port=server.port)
        try:
            if client.ping():
                return server
        except redis.RedisError:
            time.sleep(0.05)
        finally:
            client.close()
    msg = f"sentinel on port {server.port} did not start"
    raise RuntimeError(msg)


@contextmanager
def sync_primary(addresses: list[tuple[str, int]], **options: Any) -> Iterator[redis.Redis]:
    """A sync ``Sentinel(...).master_for(SERVICE)`` client; closes it and the sentinels."""
    sentinel_class: Any = Sentinel  # redis-py's Sentinel API is untyped
    sentinel = sentinel_class(addresses)
    client: redis.Redis = sentinel.master_for(SERVICE, **options)
    try:
        yield client
    finally:
        client.close()
        for connection in sentinel.sentinels:
            connection.close()


@asynccontextmanager
async def async_primary(
    addresses: list[tuple[str, int]], **options: Any
) -> AsyncIterator[redis.asyncio.Redis]:
    """An asyncio ``Sentinel(...).master_for(SERVICE)`` client; closes it and the sentinels."""
    sentinel_class: Any = AsyncSentinel
    sentinel = sentinel_class(addresses)
    client: redis.asyncio.Redis = sentinel.master_for(SERVICE, **options)
    try:
        yield client
    finally:
        await client.aclose()
        for connection in sentinel.sentinels:
            await connection.aclose()
