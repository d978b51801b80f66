"""One asyncio Redis store, many event loops (standalone, Sentinel, Cluster).

An asyncio redis-py client belongs to the event loop that first used it. Fresh loops are
everyday life: ``asyncio.run()`` called twice, Django's async views under WSGI (asgiref runs
each call on a new loop), Starlette's ``TestClient`` without ``with`` (the conformance
driver ``asgi_nowith``). A store made by ``from_url()`` (or given a factory) keeps one
client per loop, closes it when the loop shuts down — the connection counts below are read
from the servers' ``CLIENT LIST`` — and closes them all on ``aclose()``. A client the
application injects serves one loop; another loop is told how to fix it.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.urls import path

from sessionary import AsyncSessionManager, ConfigurationError
from sessionary.sansio.events import EventName
from sessionary.stores import AsyncRedisEventStream, AsyncRedisStore, RedisStore
from sessionary.testing import session_config
from tests.conformance.drivers.django import MIDDLEWARE, configure_django
from tests.conformance.loop_thread import loop_thread
from tests.helpers import Ref
from tests.redis_topologies import (
    TOPOLOGIES,
    Topology,
    connections_named,
    standalone,
    topology_of,
)

configure_django()

LOOPS = 6


@pytest.fixture(params=TOPOLOGIES)
def topology(request: pytest.FixtureRequest) -> Topology:
    return topology_of(request)


def cookie(update: object) -> str:
    set_cookie = getattr(update, "set_cookie", None)
    assert set_cookie, "the commit set no cookie"
    return str(set_cookie).split(";", 1)[0]


async def visit(store: AsyncRedisStore, users: int = 8) -> None:
    """Concurrent sessions: create, read, log in (rotation, user index), log out."""
    manager = AsyncSessionManager(store, session_config())

    async def one(index: int) -> None:
        cycle = await manager.open([])
        cycle.session["n"] = index
        token = cookie(await manager.commit(cycle))
        again = await manager.open([token])
        assert again.session["n"] == index
        again.session.login(f"user-{index}")
        token = cookie(await manager.commit(again))
        last = await manager.open([token])
        assert last.session.user_id == f"user-{index}"
        last.session.logout()
        await manager.commit(last)

    await asyncio.gather(*(one(index) for index in range(users)))


def test_one_store_serves_one_event_loop_after_another(topology: Topology, key_prefix: str) -> None:
    name = f"loops-{key_prefix}"
    store = AsyncRedisStore.from_url(topology.url, prefix=key_prefix, client_name=name)
    try:
        for _ in range(LOOPS):
            asyncio.run(visit(store))
            # The loop's client was closed when asyncio.run() shut the loop down.
            assert connections_named(name, topology.servers) == 0
    finally:
        asyncio.run(store.aclose())


def test_loops_side_by_side_get_a_client_each_and_aclose_closes_them_all(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    name = f"side-{key_prefix}"
    store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix, client_name=name)
    servers = standalone(redis_url).servers
    with loop_thread() as first, loop_thread() as second, loop_thread() as third:
        loops = [first, second, third]
        running = [asyncio.run_coroutine_threadsafe(visit(store), loop.loop) for loop in loops * 2]
        for future in running:
            future.result(60)
        # Each loop keeps its client (and its connections) while it lives.
        assert connections_named(name, servers) >= len(loops)
        asyncio.run(store.aclose())  # from a fourth loop: each client closed on its own loop
        assert connections_named(name, servers) == 0
        for loop in loops:  # the store is still usable: a new client for each loop
            loop.run(visit(store))
        assert connections_named(name, servers) >= len(loops)
        for loop in loops:  # what asyncio.run() and the other runners do before closing
            loop.run(loop.loop.shutdown_asyncgens())
        assert connections_named(name, servers) == 0
    asyncio.run(visit(store))
    asyncio.run(store.aclose())


# A loop closed without asyncio's shutdown step: its connections go to the garbage collector,
# which warns about them (as it would for any redis-py client left on such a loop).
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_loop_closed_without_shutdown_is_forgotten_when_the_next_loop_comes(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    abandoned = asyncio.new_event_loop()
    abandoned.run_until_complete(visit(store))
    abandoned.close()  # no shutdown_asyncgens(): the store cannot close that client
    asyncio.run(visit(store))  # a new loop, a new client; the dead loop's one is dropped
    asyncio.run(store.aclose())
    del store, abandoned
    gc.collect()  # here, not in the next test: the dropped client's sockets are closed


def test_a_client_factory_gives_each_loop_a_client_of_its_own(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    name = f"factory-{key_prefix}"
    made: list[redis.asyncio.Redis] = []

    def factory() -> redis.asyncio.Redis:
        made.append(redis.asyncio.Redis.from_url(redis_url, client_name=name))
        return made[-1]

    store = AsyncRedisStore(factory, prefix=key_prefix)
    servers = standalone(redis_url).servers
    for _ in range(3):
        asyncio.run(visit(store))
        assert connections_named(name, servers) == 0
    assert len(made) == 3  # the first was made (and checked) by the constructor
    asyncio.run(store.aclose())


def test_an_injected_client_serves_one_loop_and_the_error_names_the_fix(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    store = AsyncRedisStore(client, prefix=key_prefix)
    ref = Ref()

    async def first_loop() -> None:
        await store.create(ref.create())
        assert (await store.load(ref.load())).record is not None
        await client.aclose()  # the application's client: the application closes it

    asyncio.run(first_loop())
    with pytest.raises(ConfigurationError, match=r"from_url\(.*lambda: Redis"):
        asyncio.run(store.load(ref.load()))
    asyncio.run(store.aclose())  # leaves the injected client alone


def test_an_event_stream_given_the_store_follows_its_loops(
    topology: Topology, key_prefix: str
) -> None:
    store = AsyncRedisStore.from_url(topology.url, prefix=key_prefix)
    stream = AsyncRedisEventStream(store)  # the store's prefix and per-loop clients
    assert stream.key == store.layout.events_key()
    manager = AsyncSessionManager(store, session_config(), events=stream)

    async def create() -> None:
        cycle = await manager.open([])
        cycle.session["a"] = 1
        await manager.commit(cycle)  # publishes "created"

    for _ in range(3):
        asyncio.run(create())
    entries = asyncio.run(stream.read())
    assert [event.name for _, event in entries] == [EventName.CREATED] * 3
    asyncio.run(store.aclose())


# --------------------------------------------------------------------------- Django, WSGI
async def count_view(request: HttpRequest) -> HttpResponse:
    """An async view under WSGI: each call runs on a new event loop (asgiref)."""
    session = request.session
    count = int(await session.aget("n", 0)) + 1
    await session.aset("n", count)
    if count % 10 == 0:
        await session.acycle_key()
    await session.asave()
    return JsonResponse({"n": count})


urlpatterns = [path("async/count", count_view)]


@pytest.fixture
def django_redis(redis_url: str, redis_admin: redis.Redis, key_prefix: str) -> Iterator[None]:
    sync_store = RedisStore.from_url(redis_url, prefix=key_prefix)
    async_store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    settings = {"CONFIG": session_config(), "STORE": sync_store, "ASYNC_STORE": async_store}
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE, SESSIONARY=settings):
        yield
    sync_store.close()
    asyncio.run(async_store.aclose())


@pytest.mark.usefixtures("django_redis")
def test_django_async_views_under_wsgi_use_the_async_store_from_every_loop() -> None:
    client = Client()  # WSGI: the async view runs through async_to_sync, a loop per request
    replies = [client.get("/async/count", secure=True) for _ in range(50)]
    assert [reply.status_code for reply in replies] == [200] * 50
    assert [reply.json()["n"] for reply in replies] == list(range(1, 51))


def test_each_loop_keeps_the_one_round_trip_budget(private_redis: str) -> None:
    """The per-loop clients of ``from_url()`` cost no extra command per request: on every
    fresh loop, a read of a signed-in session is one ``HGETALL`` (its user epoch's ``GET``
    rides in the same write, tests/shell/test_redis_read_path.py counts the round trips)
    and a write one ``EVALSHA`` (what a new connection says on connecting is not a
    request's)."""
    admin = redis.Redis.from_url(private_redis)
    store = AsyncRedisStore.from_url(private_redis)
    config = session_config()
    reads_per_loop = 5

    def calls(command: str) -> int:
        stats = admin.info("commandstats")
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))

    def counts() -> dict[str, int]:
        return {name: calls(name) for name in ("hgetall", "get", "evalsha", "hello")}

    async def sign_in() -> str:
        manager = AsyncSessionManager(store, config)
        cycle = await manager.open([])
        cycle.session.login("ada")
        return cookie(await manager.commit(cycle))

    async def requests(value: str) -> None:
        manager = AsyncSessionManager(store, config)
        for index in range(reads_per_loop):
            cycle = await manager.open([value])
            assert cycle.session.user_id == "ada"
            if index == 0:
                cycle.session["visits"] = cycle.session.get("visits", 0) + 1  # one write
            await manager.commit(cycle)

    value = asyncio.run(sign_in())
    asyncio.run(requests(value))  # the server loads each script once (NOSCRIPT, then retried)
    for _ in range(3):
        before = counts()
        asyncio.run(requests(value))
        sent = {name: count - before[name] for name, count in counts().items()}
        assert sent["hgetall"] == reads_per_loop  # one read per request
        assert sent["get"] <= reads_per_loop  # the epoch, in the read's own round trip
        assert sent["evalsha"] == 1  # the one write
        assert sent["hello"] == 1  # the loop's one connection
    asyncio.run(store.aclose())
    admin.close()
