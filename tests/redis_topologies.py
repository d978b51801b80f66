"""Each Redis topology behind one fixture, and the connections a test's clients hold."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import redis

from tests.services import DEFAULT_HOST, DEFAULT_PORT

TOPOLOGIES = ["standalone", "sentinel", "cluster"]


@dataclass
class Topology:
    """A store URL, the data nodes it uses and every server its connections may reach."""

    kind: str
    url: str
    data: list[tuple[str, int]]
    servers: list[tuple[str, int]]


def standalone(url: str) -> Topology:
    """The standalone server of ``url``."""
    parts = urlsplit(url)
    address = [(parts.hostname or DEFAULT_HOST, parts.port or DEFAULT_PORT)]
    return Topology("standalone", url, address, address)


def topology_of(request: pytest.FixtureRequest) -> Topology:
    """For a fixture parametrized over :data:`TOPOLOGIES`: that topology.

    This test's keys are deleted afterwards. The Sentinel group and the Cluster are the test
    process's shared ones (``tests/conftest.py``).
    """
    if request.param == "standalone":
        request.getfixturevalue("redis_admin")
        return standalone(str(request.getfixturevalue("redis_url")))
    if request.param == "sentinel":
        request.getfixturevalue("sentinel_admin")
        group = request.getfixturevalue("redis_sentinel")
        data = [(DEFAULT_HOST, server.port) for server in group.servers]
        return Topology("sentinel", group.url, data, data + group.sentinel_addresses)
    request.getfixturevalue("cluster_admin")
    cluster = request.getfixturevalue("redis_cluster")
    host, port = cluster.startup_nodes[0]
    nodes = list(cluster.startup_nodes)
    return Topology("cluster", f"redis+cluster://{host}:{port}", nodes, nodes)


def connections_by_server(name: str, servers: list[tuple[str, int]]) -> list[int]:
    """How many connections named ``name`` each server has open (``CLIENT LIST``)."""
    counts = []
    for host, port in servers:
        admin = redis.Redis(host=host, port=port)
        try:
            listed: list[dict[str, str]] = admin.client_list()
            counts.append(sum(1 for client in listed if client.get("name") == name))
        finally:
            admin.close()
    return counts


def connections_named(name: str, servers: list[tuple[str, int]]) -> int:
    """How many connections named ``name`` the servers have open, in all."""
    return sum(connections_by_server(name, servers))
