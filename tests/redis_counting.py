"""redis-py clients that record every command they send, to assert round-trip budgets.

They count on the client's connections, where every command is packed and written, so a
command sent through a pipeline or written straight to a pooled connection (the Redis
store's read path, which packs its commands itself: they are read back from the bytes
written) counts like one sent by ``execute_command``. The connection handshake
(``HELLO``, ``CLIENT SETINFO``, ``SELECT`` ...) is not counted.

* ``sent``: command names in the order they were packed;
* ``round_trips``: how many writes carried them (a pipeline, or the read path's
  ``HGETALL`` with its epoch ``GET``, is one).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import redis.asyncio

from sessionary.stores import RedisStore


def _name(command: Any) -> str:
    if isinstance(command, bytes):
        command = command.decode()
    return str(command).upper()


def _packed_names(payload: Any) -> list[str]:
    """The command names in a payload the store packed itself: the read path sends a tuple
    of one ``bytes`` object of Redis protocol arrays; redis-py's own packers send lists of
    chunks, whose commands were counted when they were packed."""
    if not isinstance(payload, tuple):
        return []
    (packed,) = payload
    names: list[str] = []
    lines = packed.split(b"\r\n")
    index = 0
    while index < len(lines) - 1:
        assert lines[index][:1] == b"*", packed
        arguments = int(lines[index][1:])
        names.append(_name(lines[index + 2]))  # the first bulk string: "$len", then the name
        index += 1 + 2 * arguments
    return names


class AsyncCountingRedis(redis.asyncio.Redis):
    """An asyncio client that appends each command name to ``self.sent``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []
        self.round_trips = 0
        recorder = self
        base: Any = self.connection_pool.connection_class

        class Counted(base):  # type: ignore[misc]
            _handshake = False

            async def on_connect_check_health(self, *args: Any, **kwargs: Any) -> None:
                self._handshake = True
                try:
                    await super().on_connect_check_health(*args, **kwargs)
                finally:
                    self._handshake = False

            def pack_command(self, *args: Any) -> Any:
                if not self._handshake:
                    recorder.sent.append(_name(args[0]))
                return super().pack_command(*args)

            async def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
                if not self._handshake:
                    recorder.sent.extend(_packed_names(args[0]))
                    recorder.round_trips += 1
                await super().send_packed_command(*args, **kwargs)

        self.connection_pool.connection_class = Counted


class CountingRedis(redis.Redis):
    """A sync client that appends each command name to ``self.sent``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []
        self.round_trips = 0
        recorder = self
        base: Any = self.connection_pool.connection_class

        class Counted(base):  # type: ignore[misc]
            _handshake = False

            def on_connect_check_health(self, *args: Any, **kwargs: Any) -> None:
                self._handshake = True
                try:
                    super().on_connect_check_health(*args, **kwargs)
                finally:
                    self._handshake = False

            # redis-py's sync connection packs a single command without pack_command.
            def send_command(self, *args: Any, **kwargs: Any) -> None:
                if not self._handshake:
                    recorder.sent.append(_name(args[0]))
                super().send_command(*args, **kwargs)

            def pack_commands(self, commands: Any) -> Any:
                commands = list(commands)
                recorder.sent.extend(_name(command[0]) for command in commands)
                return super().pack_commands(commands)

            def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
                if not self._handshake:
                    recorder.sent.extend(_packed_names(args[0]))
                    recorder.round_trips += 1
                super().send_packed_command(*args, **kwargs)

        self.connection_pool.connection_class = Counted


@contextmanager
def counted_store(url: str, prefix: str) -> Iterator[tuple[RedisStore, CountingRedis]]:
    """A sync Redis store on a :class:`CountingRedis`, its scripts loaded; its keys deleted
    afterwards."""
    client = CountingRedis.from_url(url)
    assert isinstance(client, CountingRedis)
    store = RedisStore(client, prefix=prefix)
    store.warm_up()
    try:
        yield store, client
    finally:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()
