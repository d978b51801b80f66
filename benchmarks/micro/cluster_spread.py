"""``sessionary bench`` on a throw-away 3-primary Redis Cluster: the spread over the primaries.

docs/redis.md (*Topologies and URLs*) quotes the per-primary figures. This starts the test
suite's Cluster (3 primaries, 3 replicas, ``redis-server`` on free loopback ports: see
``tests/cluster.py``), runs the bench's default mix against it and stops it::

    python -m benchmarks.micro.cluster_spread --requests 5000 --sessions 1000

It prints the bench's report, whose last lines give, per primary, the commands it ran and
the run's keys it held (before the bench's cleanup).
"""

from __future__ import annotations

import argparse

from click.testing import CliRunner
from tests.cluster import RedisClusterNodes
from tests.services import find_redis_server

from sessionary.cli.commands import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    binary = find_redis_server()
    if binary is None:
        print("no redis-server binary found")
        return 1
    with RedisClusterNodes(binary) as cluster:
        host, port = cluster.startup_nodes[0]
        bench = [
            "bench",
            f"redis+cluster://{host}:{port}",
            "-n",
            str(args.requests),
            "-c",
            str(args.concurrency),
            "--sessions",
            str(args.sessions),
        ]
        result = CliRunner().invoke(cli, bench)
    print(result.output)
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
