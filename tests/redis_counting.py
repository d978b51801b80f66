"""redis-py clients that record every command they send, to assert round-trip budgets."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio


class AsyncCountingRedis(redis.asyncio.Redis):
    """An asyncio client that appends each command name to ``self.sent``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(str(args[0]).upper())
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


class CountingRedis(redis.Redis):
    """A sync client that appends each command name to ``self.sent``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(str(args[0]).upper())
        return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
