"""Mapping redis-py exceptions to sessionary's store errors, at the store boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sessionary.exceptions import StoreError, StoreTimeoutError, StoreUnavailableError

__all__ = ["mapped_redis_errors"]


@contextmanager
def mapped_redis_errors(operation: str) -> Iterator[None]:
    """Re-raise redis-py errors as ``StoreTimeoutError``/``StoreUnavailableError``/``StoreError``.

    Works around ``await`` expressions too: the mapping happens when the exception leaves
    the ``with`` block.
    """
    try:
        yield
    except RedisTimeoutError as exc:
        msg = f"Redis did not answer in time ({operation})"
        raise StoreTimeoutError(msg) from exc
    except (RedisConnectionError, OSError) as exc:
        msg = f"Redis is unavailable ({operation}: {type(exc).__name__})"
        raise StoreUnavailableError(msg) from exc
    except RedisError as exc:
        msg = f"Redis refused {operation}: {exc}"
        raise StoreError(msg) from exc
