"""A burst beyond the pool waits for connections, on every topology (none fails).

``from_url()`` bounds each pool at ``max_connections`` (64 by default; per node on a
Cluster). A burst of 1 000 concurrent requests must queue for those connections, not fail:
before the Sentinel and Cluster pools waited, 805 of 1 000 concurrent commits failed with
``MaxConnectionsError`` on a Cluster (808 of 1 000 ASGI clients got a 503). The pool bound
holds too: no node sees more than ``max_connections`` of the store's connections.

The timeouts are generous (``timeout=10``, ``pool_timeout=60``): a thousand requests queue
behind one busy event loop on a small machine; these tests are about waiting, not latency.
"""

from __future__ import annotations

import asyncio

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessionary import AsyncSessionManager
from sessionary.integrations.asgi import SessionMiddleware, get_session
from sessionary.stores import AsyncRedisStore
from sessionary.testing import session_config
from tests.redis_topologies import TOPOLOGIES, Topology, connections_by_server, topology_of

BURST = 1000
MAX_CONNECTIONS = 64
COOKIE = "__Host-session"


@pytest.fixture(params=TOPOLOGIES)
def topology(request: pytest.FixtureRequest) -> Topology:
    return topology_of(request)


def burst_store(
    topology: Topology, prefix: str, name: str, max_connections: int = MAX_CONNECTIONS
) -> AsyncRedisStore:
    return AsyncRedisStore.from_url(
        topology.url,
        prefix=prefix,
        client_name=name,
        timeout=10,
        pool_timeout=60,
        max_connections=max_connections,
    )


def bound(topology: Topology, max_connections: int) -> int:
    """Connections a node may see: a Cluster client also keeps the one it read the slot map
    on (redis-py's "startup node", outside the node's pool)."""
    return max_connections + (topology.kind == "cluster")


def test_a_thousand_concurrent_commits_wait_for_the_pool(
    topology: Topology, key_prefix: str
) -> None:
    name = f"burst-{key_prefix}"
    store = burst_store(topology, key_prefix, name)
    manager = AsyncSessionManager(store, session_config())

    async def commit(index: int) -> str:
        cycle = await manager.open([])
        cycle.session["n"] = index
        update = await manager.commit(cycle)
        assert update.set_cookie is not None
        return update.set_cookie.split(";", 1)[0]

    async def read(cookie: str) -> object:
        return (await manager.open([cookie])).session["n"]

    async def burst() -> tuple[list[object], list[int]]:
        cookies = await asyncio.gather(*(commit(index) for index in range(BURST)))
        values = await asyncio.gather(*(read(cookie) for cookie in cookies))
        held = connections_by_server(name, topology.data)  # while the loop's client lives
        await store.aclose()
        return list(values), held

    values, held = asyncio.run(burst())
    assert values == list(range(BURST))
    assert 0 < max(held) <= bound(topology, MAX_CONNECTIONS), held  # per node


def _app(store: AsyncRedisStore) -> Starlette:
    async def write(request: Request) -> JSONResponse:
        session = get_session(request)
        session["n"] = request.query_params["n"]
        return JSONResponse({"n": session["n"]})

    async def read(request: Request) -> JSONResponse:
        return JSONResponse({"n": get_session(request).get("n")})

    app = Starlette(routes=[Route("/write", write, methods=["POST"]), Route("/read", read)])
    app.add_middleware(SessionMiddleware, store=store, config=session_config())
    return app


def test_a_thousand_concurrent_asgi_clients_are_all_served(
    topology: Topology, key_prefix: str
) -> None:
    # In process, the event loop staggers the requests (each spends CPU time in the
    # middleware and the test client), so fewer are in flight at once than in front of a
    # server: a small pool makes the burst exceed it for sure.
    name = f"asgi-{key_prefix}"
    store = burst_store(topology, key_prefix, name, max_connections=8)

    async def burst() -> tuple[list[int], list[object], list[int]]:
        transport = httpx2.ASGITransport(app=_app(store))
        async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as http:

            async def one(index: int) -> tuple[int, object]:
                written = await http.post(f"/write?n={index}")
                token = written.cookies.get(COOKIE)
                if written.status_code != 200 or token is None:
                    return written.status_code, None
                http_read = await http.get("/read", headers={"Cookie": f"{COOKIE}={token}"})
                return http_read.status_code, http_read.json()["n"]

            replies = await asyncio.gather(*(one(index) for index in range(BURST)))
        held = connections_by_server(name, topology.data)
        await store.aclose()
        return [status for status, _ in replies], [value for _, value in replies], held

    statuses, values, held = asyncio.run(burst())
    assert statuses == [200] * BURST
    assert values == [str(index) for index in range(BURST)]
    assert 0 < max(held) <= bound(topology, 8), held
