"""A steady session load through the ASGI adapter while a Redis primary is killed.

Each simulated client owns one session holding a distinctive payload (its index, a padding
string derived from it, and a counter it bumps). Every response is checked:

* the status is 200 or 503 (a typed store error), never a 500 or anything else;
* a 200 shows this client's own payload, never another's (no bleed), intact;
* the counter is between the last value the server acknowledged (200) and the last value
  the client attempted: an acknowledged, durable write was never lost;
* a 503 carries no ``Set-Cookie`` (the client's cookie is left alone).

``Timeline`` records when failures started and when each client succeeded again.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessionary.backends.redis import _errors as redis_errors
from sessionary.integrations.asgi import SessionMiddleware
from sessionary.sansio.events import SessionEvent
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import session_config

BASE = "https://testserver"
FAILURE_TYPES = {"StoreUnavailableError", "StoreTimeoutError", "StoreDurabilityError"}


def payload(owner: int) -> str:
    """The padding only client ``owner`` ever writes."""
    return f"client-{owner:03d}-" + "x" * (32 + owner)


async def bump(request: Request) -> JSONResponse:
    """Return the session as loaded, then write owner, padding and counter + 1."""
    owner = int(request.query_params["owner"])
    session = request.session
    before = dict(session)
    session["owner"] = owner
    session["pad"] = payload(owner)
    session["n"] = int(before.get("n", 0)) + 1
    return JSONResponse({"before": before, "n": session["n"]})


async def read(request: Request) -> JSONResponse:
    """Return the session."""
    return JSONResponse(dict(request.session))


class RecordingObserver:
    """Counts store-operation outcomes (errors by type name) and lifecycle events."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.crashes: Counter[str] = Counter()
        """Exceptions that escaped the session middleware (each one is a 500)."""

    def event(self, event: SessionEvent) -> None:
        """Count the event by name."""
        self.events[event.name.value] += 1

    def operation(self, name: str, seconds: float, outcome: str) -> None:
        """Count the outcome."""
        self.outcomes[outcome] += 1


_KEY_TAG = re.compile(r"\{[^}]*\}")


@contextmanager
def tally_redis_errors() -> Iterator[Counter[str]]:
    """Count the redis-py errors behind the store's typed errors, by type and message start.

    A diagnostic for the failure message: a typed ``StoreUnavailableError`` names the
    redis-py exception type only, and "why did the clients never recover" needs more. Key
    hash tags are blanked so equal messages for different sessions count together.
    """
    tally: Counter[str] = Counter()
    original = redis_errors.mapped_redis_errors.__exit__

    def counting(self: Any, kind: Any, exc: BaseException | None, traceback: Any) -> None:
        if exc is not None:
            tally[f"{type(exc).__name__}: {_KEY_TAG.sub('{}', str(exc))[:70]}"] += 1
        original(self, kind, exc, traceback)

    redis_errors.mapped_redis_errors.__exit__ = counting  # type: ignore[method-assign]
    try:
        yield tally
    finally:
        redis_errors.mapped_redis_errors.__exit__ = original  # type: ignore[method-assign]


def make_app(store: AsyncSessionStore, observer: RecordingObserver) -> Any:
    """The two-route application under load; escaping exceptions are recorded, then raised.

    The session middleware is installed the documented way (``add_middleware``), inside
    Starlette's error middleware, which answers 500 to any exception that reaches it.
    """
    app = Starlette(routes=[Route("/bump", bump), Route("/read", read)])
    app.add_middleware(SessionMiddleware, store=store, config=session_config(), observer=observer)

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        except Exception as exc:
            observer.crashes[f"{type(exc).__module__}.{type(exc).__name__}: {exc}"] += 1
            raise

    return recording


@dataclass
class SimulatedClient:
    """One browser: its own cookie jar, session and expectations."""

    index: int
    http: httpx2.AsyncClient
    acked: int = 0
    attempted: int = 0
    killed: list[float] = field(default_factory=list)
    """When the primary was killed (empty before): shared by every client of a run."""
    early_failures: int = 0
    """Failures before the kill (a durable write whose replica was slow, say): typed and
    checked like the others, but not the start of the outage."""
    first_failure: float | None = None
    recovered: float | None = None
    statuses: Counter[int] = field(default_factory=Counter)

    def check_state(self, state: dict[str, Any], violations: list[str]) -> None:
        """A session as a 200 showed it: this client's own, intact, not rolled back."""
        if not state:
            if self.acked:
                violations.append(f"client {self.index}: acknowledged session lost")
            return
        if state.get("owner") != self.index or state.get("pad") != payload(self.index):
            violations.append(f"client {self.index} saw another or a corrupted session")
        n = state.get("n")
        if not isinstance(n, int) or not self.acked <= n <= self.attempted:
            expected = f"[{self.acked}, {self.attempted}]"
            violations.append(f"client {self.index}: n={n} outside {expected}")

    async def step(self, violations: list[str]) -> None:
        """One request: a write, or every third time a read."""
        writing = self.statuses.total() % 3 != 2
        if writing:
            self.attempted += 1
            response = await self.http.get("/bump", params={"owner": str(self.index)})
        else:
            response = await self.http.get("/read")
        self.statuses[response.status_code] += 1
        if response.status_code == 200:
            body = response.json()
            if writing:
                self.check_state(body["before"], violations)
                self.acked = self.attempted = body["n"]
            else:
                self.check_state(body, violations)
            if self.first_failure is not None and self.recovered is None:
                self.recovered = time.monotonic()
            return
        if response.status_code != 503:
            violations.append(f"client {self.index}: status {response.status_code}")
        if "set-cookie" in response.headers:
            violations.append(f"client {self.index}: a {response.status_code} set a cookie")
        if not self.killed:
            self.early_failures += 1
        elif self.first_failure is None:
            self.first_failure = time.monotonic()
        await anyio.sleep(0.02)


@dataclass
class Outcome:
    """What a load run measured."""

    clients: list[SimulatedClient]
    violations: list[str]
    killed_at: float
    finished_at: float

    @property
    def failed(self) -> list[SimulatedClient]:
        """Clients that saw at least one failure."""
        return [c for c in self.clients if c.first_failure is not None]

    @property
    def first_failure(self) -> float | None:
        """When the first request failed, in seconds after the kill."""
        times = [c.first_failure for c in self.failed if c.first_failure is not None]
        return min(times) - self.killed_at if times else None

    @property
    def recovery(self) -> float | None:
        """First failure → the last affected client's first success after it, in seconds."""
        if not self.failed or any(c.recovered is None for c in self.failed):
            return None
        first = min(c.first_failure for c in self.failed if c.first_failure is not None)
        return max(c.recovered for c in self.failed if c.recovered is not None) - first

    def summary(self) -> str:
        """One line for the test report."""
        statuses: Counter[int] = Counter()
        for client in self.clients:
            statuses.update(client.statuses)
        first = self.first_failure
        recovery = self.recovery
        stuck = [c.index for c in self.failed if c.recovered is None]
        never = f" ({len(stuck)} never recovered: {stuck})" if stuck else ""
        early = sum(c.early_failures for c in self.clients)
        before = f" ({early} failed before the kill)" if early else ""
        return (
            f"{len(self.clients)} clients, {statuses.total()} requests {dict(statuses)}{before}; "
            f"{len(self.failed)} clients saw failures{never}; kill -> first failure "
            f"{'n/a' if first is None else f'{first:.2f} s'}; first failure -> recovered "
            f"{'n/a' if recovery is None else f'{recovery:.2f} s'}"
        )


async def run_load(
    app: Any,
    *,
    clients: int,
    kill: Any,
    warm_s: float = 1.0,
    settle_s: float = 1.0,
    limit_s: float = 45.0,
) -> Outcome:
    """Run ``clients`` concurrently; call ``kill()`` after ``warm_s``; stop once every
    client that failed has succeeded again and ``settle_s`` passed, or after ``limit_s``."""
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    violations: list[str] = []
    https = [httpx2.AsyncClient(transport=transport, base_url=BASE) for _ in range(clients)]
    killed: list[float] = []
    simulated = [SimulatedClient(index, http, killed=killed) for index, http in enumerate(https)]
    start = time.monotonic()
    killed_at = 0.0
    stop = anyio.Event()

    async def drive(client: SimulatedClient) -> None:
        while not stop.is_set():
            await client.step(violations)

    async def supervise() -> None:
        nonlocal killed_at
        await anyio.sleep(warm_s)
        killed_at = time.monotonic()
        kill()
        killed.append(killed_at)
        calm_since: float | None = None
        while time.monotonic() - start < limit_s:
            await anyio.sleep(0.1)
            failed = [c for c in simulated if c.first_failure is not None]
            if failed and all(c.recovered is not None for c in failed):
                calm_since = calm_since or time.monotonic()
                if time.monotonic() - calm_since >= settle_s:
                    break
        stop.set()

    async with anyio.create_task_group() as group:
        for client in simulated:
            group.start_soon(drive, client)
        group.start_soon(supervise)
    for http in https:
        await http.aclose()
    return Outcome(simulated, violations, killed_at, time.monotonic())


async def final_check(app: Any, outcome: Outcome) -> list[str]:
    """After recovery: every client's session is readable and holds its last acked state."""
    problems: list[str] = []
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    for client in outcome.clients:
        async with httpx2.AsyncClient(
            transport=transport, base_url=BASE, cookies=client.http.cookies
        ) as http:
            response = await http.get("/read")
        if response.status_code != 200:
            problems.append(f"client {client.index}: final read {response.status_code}")
            continue
        state = response.json()
        if not state:
            problems.append(f"client {client.index}: session gone after failover")
            continue
        client.check_state(state, problems)
    return problems
