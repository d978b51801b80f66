"""Mapping redis-py exceptions to sessionary's store errors, at the store boundary."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import (
    AskError,
    ClusterDownError,
    ClusterError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sessionary.exceptions import StoreError, StoreTimeoutError, StoreUnavailableError

__all__ = ["TRANSITIONAL", "mapped_redis_errors"]

TRANSITIONAL = (
    ClusterDownError,  # CLUSTERDOWN, and MASTERDOWN (a replica lost its primary)
    TryAgainError,  # TRYAGAIN: a slot is being migrated
    AskError,  # MOVED/ASK left over after the client's own redirections
    SlotNotCoveredError,  # the client's slot map has a hole (a primary just failed)
    ClusterError,
    ReadOnlyError,  # a write reached a primary that was just demoted to a replica
)
"""Errors of a topology in transition (failover, resharding): the store is *unavailable*."""


@contextmanager
def mapped_redis_errors(operation: str) -> Iterator[None]:
    """Re-raise redis-py errors as ``StoreTimeoutError``/``StoreUnavailableError``/``StoreError``.

    Failover and resharding errors (:data:`TRANSITIONAL`) count as unavailability (503), not
    as a refusal: they go away once the topology settles.

    Works around ``await`` expressions too: the mapping happens when the exception leaves
    the ``with`` block.
    """
    try:
        yield
    except RedisTimeoutError as exc:
        msg = f"Redis did not answer in time ({operation})"
        raise StoreTimeoutError(msg) from exc
    except (RedisConnectionError, OSError, *TRANSITIONAL) as exc:
        msg = f"Redis is unavailable ({operation}: {type(exc).__name__})"
        raise StoreUnavailableError(msg) from exc
    except RedisClusterException as exc:  # not a RedisError: cluster client failures
        msg = f"Redis Cluster is unavailable ({operation}: {type(exc).__name__})"
        raise StoreUnavailableError(msg) from exc
    except AttributeError as exc:
        # redis-py's asyncio Cluster client can disconnect a connection another task is
        # writing to while it refreshes its slot map (seen under failover: "'NoneType' object
        # has no attribute 'writelines'"). A connection failure, not a bug of the caller.
        if not _raised_inside_redis_py(exc):
            raise
        msg = f"Redis connection failed mid-command ({operation}: {exc})"
        raise StoreUnavailableError(msg) from exc
    except RedisError as exc:
        msg = f"Redis refused {operation}: {exc}"
        raise StoreError(msg) from exc


_REDIS_PACKAGE = f"{os.sep}redis{os.sep}"


def _raised_inside_redis_py(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc``'s traceback is in the redis-py package."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return _REDIS_PACKAGE in tb.tb_frame.f_code.co_filename
