"""Checking the redis-py options given to ``from_url()``, when the store is constructed.

redis-py accepts unknown keyword arguments and fails later, or never: a standalone or
Sentinel pool passes them to each connection it creates (``TypeError`` at the first request,
a 500); the asyncio Cluster client's constructor, which the store runs on each event loop's
first use, raises ``TypeError`` then; the sync Cluster client drops them silently. So the
store checks them — and the options of the URL's query string — before it exists. The names
each redis-py class accepts are read from its signature: they follow the installed redis-py.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from redis.cluster import KWARGS_DISABLED_KEYS, REDIS_ALLOWED_KEYS
from redis.connection import parse_url

from sessionary.exceptions import ConfigurationError

__all__ = ["check_cluster_options", "check_pool_options", "keywords_of"]

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_PRIMARY_ONLY = ("load_balancing_strategy",)
"""redis-py's Cluster option that would send every read command to replicas, unchecked: a
replica can lag behind a logout, a revocation or a rotation. The store's own
``read_from_replicas=True`` reads sessions from replicas only when they are fresh enough
(``_replicas.py``)."""
_OFF = (None, False, "", "0", "false", "no", "off")
_INJECTED = frozenset({"connection_pool"})
"""Set by redis-py's Sentinel pool itself, taken by its connection class (``**kwargs``)."""


def keywords_of(cls: type) -> frozenset[str]:
    """The keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up its bases."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        names.update(p.name for p in parameters if p.kind in _NAMED)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            break
    names.discard("self")
    return frozenset(names)


def check_pool_options(pool: Any, url: str) -> None:
    """Refuse the options a standalone or Sentinel pool would pass to its connections."""
    accepted = keywords_of(pool.connection_class)
    _refuse(set(pool.connection_kwargs) - accepted - _INJECTED, accepted, url)


def check_cluster_options(
    cluster_class: type, node_url: str, options: Mapping[str, Any], *, store_url: str
) -> None:
    """Refuse what ``cluster_class.from_url(node_url, **options)`` would not take."""
    accepted = set(keywords_of(cluster_class))
    parameters = inspect.signature(cluster_class).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        # redis-py's sync client keeps, of its **kwargs, only these connection options.
        accepted |= set(REDIS_ALLOWED_KEYS) - set(KWARGS_DISABLED_KEYS)
    accepted.add("connection_class")  # from_url() turns it into ssl=True
    try:
        from_query: dict[str, Any] = parse_url(node_url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        msg = f"invalid Redis URL (scheme {_scheme(store_url)!r}): {exc}"
        raise ConfigurationError(msg) from exc
    _refuse((set(options) | set(from_query)) - accepted, accepted, store_url)
    for name in _PRIMARY_ONLY:
        value = options.get(name, from_query.get(name))
        if (value.lower() if isinstance(value, str) else value) not in _OFF:
            msg = (
                f"{name}={value!r} for a {_scheme(store_url)}:// store: redis-py would read "
                "from replicas unchecked (a replica can lag behind a logout, a revocation or "
                "a rotation); leave the option out and pass read_from_replicas=True to the "
                "store, which checks each replica's offset"
            )
            raise ConfigurationError(msg)


def _scheme(url: str) -> str:
    return url.split(":", 1)[0]


def _refuse(unknown: Iterable[str], accepted: Iterable[str], url: str) -> None:
    names = sorted(unknown)
    if not names:
        return
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, list(accepted), n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    noun = "option" if len(names) == 1 else "options"
    msg = f"unknown Redis {noun} {', '.join(hints)} for a {_scheme(url)}:// store"
    raise ConfigurationError(msg)
