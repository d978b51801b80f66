"""An asyncio event loop in a background thread, for drivers of async frameworks.

The conformance :class:`~tests.conformance.driver.Driver` protocol is synchronous; async
adapters run their app and test client on this loop and block on the results.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from tests.conformance.driver import Reply, Request, WebSocketReply

T = TypeVar("T")


class LoopThread:
    """Runs coroutines on a private event loop from synchronous code."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run one coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def gather(self, awaitables: Sequence[Awaitable[T]], timeout: float = 120) -> list[T]:
        """Run awaitables concurrently on the loop; results in order."""

        async def together() -> list[T]:
            return list(await asyncio.gather(*awaitables))

        return self.run(together(), timeout)


class LoopDriver:
    """Base of the async frameworks' drivers: subclasses define :meth:`send`."""

    serves_websockets = False
    socket_origin = ""

    def __init__(self, loop: LoopThread) -> None:
        self._loop = loop

    async def send(self, request: Request) -> Reply:
        """Send one request on the loop (framework specific)."""
        raise NotImplementedError

    def request(self, request: Request) -> Reply:
        """Send one request."""
        return self._loop.run(self.send(request))

    def concurrently(self, requests: Sequence[Request]) -> list[Reply]:
        """Send all requests as concurrent tasks."""
        return self._loop.gather([self.send(r) for r in requests])

    def websocket(self, request: Request) -> WebSocketReply:
        """Drivers of adapters that serve WebSockets define this."""
        raise NotImplementedError(self.websocket.__doc__)


@contextmanager
def loop_thread() -> Iterator[LoopThread]:
    """Start a loop thread; stop it (and close the loop) on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="conformance-loop", daemon=True)
    thread.start()
    try:
        yield LoopThread(loop)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
