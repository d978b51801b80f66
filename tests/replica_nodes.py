"""The data nodes of a test Sentinel group or Cluster, seen from outside (sync, admin only).

For the replica-read tests (``tests/_async/test_replica_reads.py``): which node is a replica
now, how many ``HGETALL`` each node has answered (``INFO commandstats``), waiting until every
replica has caught up with its primary, and holding replicas back with ``CLIENT PAUSE WRITE``
(a paused replica still answers reads but stops applying its primary's stream: it stays
connected, with a stale offset).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from tests.services import DEFAULT_HOST


def _ask(port: int, *command: object) -> Any:
    client = redis.Redis(host=DEFAULT_HOST, port=port, socket_timeout=5)
    try:
        return client.execute_command(*command)  # type: ignore[no-untyped-call]
    finally:
        client.close()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class DataNodes:
    """The primaries and replicas among ``ports`` (roles read when asked)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports

    def role(self, port: int) -> list[Any]:
        """The node's ``ROLE`` reply."""
        reply: list[Any] = _ask(port, "ROLE")
        return reply

    @property
    def replicas(self) -> list[int]:
        """The ports of the nodes that are replicas now."""
        return [p for p in self.ports if _text(self.role(p)[0]) == "slave"]

    @property
    def primaries(self) -> list[int]:
        """The ports of the nodes that are primaries now."""
        return [p for p in self.ports if _text(self.role(p)[0]) == "master"]

    def hgetall_calls(self, ports: list[int]) -> int:
        """How many ``HGETALL`` the nodes on ``ports`` have answered since they started."""
        total = 0
        for port in ports:
            client = redis.Redis(host=DEFAULT_HOST, port=port)
            try:
                stats: Any = client.info("commandstats")
            finally:
                client.close()
            total += int(stats.get("cmdstat_hgetall", {}).get("calls", 0))
        return total

    def wait_advertised(self, timeout: float = 30.0) -> None:
        """On a Cluster, wait until ``CLUSTER SLOTS`` lists a replica for every slot range.

        A replica is listed once it has reported a replication offset to the others; a
        client that loads its slot map before that knows no replica.
        """
        deadline = time.monotonic() + timeout
        for port in self.primaries:
            info: Any = _ask(port, "INFO", "cluster")
            if not int(info.get("cluster_enabled", 0)):
                return
            while any(len(entry) < 4 for entry in _ask(port, "CLUSTER", "SLOTS")):
                if time.monotonic() > deadline:
                    msg = f"CLUSTER SLOTS on {port} lists no replica in time"
                    raise AssertionError(msg)
                time.sleep(0.05)

    def wait_caught_up(self, timeout: float = 15.0) -> None:
        """Wait until every replica has applied all its primary has sent so far."""
        deadline = time.monotonic() + timeout
        for replica in self.replicas:
            role = self.role(replica)
            target = int(self.role(int(role[2]))[1])
            while (
                int(self.role(replica)[4]) < target or _text(self.role(replica)[3]) != "connected"
            ):
                if time.monotonic() > deadline:
                    msg = f"replica {replica} did not catch up: {self.role(replica)}"
                    raise AssertionError(msg)
                time.sleep(0.01)

    @contextmanager
    def paused(self, seconds: float = 20.0, *, everything: bool = False) -> Iterator[None]:
        """Every replica stops applying its primary's stream (reads still answered).

        ``everything``: the replicas answer no command at all until the pause ends.
        """
        replicas = self.replicas
        for port in replicas:
            _ask(port, "CLIENT", "PAUSE", int(seconds * 1000), "ALL" if everything else "WRITE")
        try:
            yield
        finally:
            for port in replicas:
                _ask(port, "CLIENT", "UNPAUSE")
