"""A ``dict`` that records what the code holding it did: the data half of a session.

:class:`TrackedDict` *is* a ``dict`` (a subclass), so code written for Starlette's, Flask's
or Django's sessions keeps working: ``json.dumps``, ``JSONResponse``, orjson, ``|``, ``|=``,
``popitem()`` (newest first), ``copy()`` (a plain ``dict``) and equality behave as they do
on a ``dict``. Underneath it records exactly what the handler did:

* values are decoded when it is built, so a record holding a value that does not decode is
  refused as a whole (:class:`~sessionary.exceptions.DecodeError`) instead of serving a
  session with a field silently missing;
* each assignment is encoded at once, so an unserializable value raises ``TypeError`` on
  the line that assigned it (R50);
* nested mutation (``session["cart"].append(x)``) needs no ``modified = True`` ritual: at
  commit every mutable value the handler could have reached is re-encoded and compared with
  the bytes that were loaded;
* keys whose state the handler observed *and* then changed are reported for the store's
  field-level compare-and-set, so concurrent writers of disjoint keys never conflict.

Every ``dict`` method that reads or writes goes through the tracking below; the stored
values live in the ``dict`` itself, so serializers that read a ``dict``'s storage directly
(orjson, ``json``'s C encoder) see exactly what the handler sees. The session's lifecycle
(login, logout, rotation) is :class:`~sessionary.sansio.session.Session`'s, built on this.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar, overload

from sessionary.codecs import decode_value
from sessionary.codecs.base import Codec
from sessionary.exceptions import SessionClosedError

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

    from typing_extensions import Self

__all__ = ["Delta", "TrackedDict"]

_K = TypeVar("_K")
_V = TypeVar("_V")
_MISSING: Any = object()
# Values of these types cannot change in place, so reading them never needs a re-encode.
_IMMUTABLE = frozenset(
    {
        str,
        int,
        float,
        bool,
        type(None),
        bytes,
        frozenset,
        Decimal,
        uuid.UUID,
        dt.datetime,
        dt.date,
        dt.time,
        dt.timedelta,
    }
)


class _Unavailable:
    """Stands in the storage of a session whose store is down.

    ``json``'s C encoder writes ``{}`` for an empty ``dict`` without calling any method;
    with this entry present it asks :meth:`TrackedDict.items`, which raises the store error.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<session unavailable>"


_UNAVAILABLE_KEY = "\x00sessionary-unavailable"


@dataclass(slots=True)
class Delta:
    """What changed in a session's attributes since it was loaded."""

    attributes: dict[str, bytes]
    delete: tuple[str, ...]
    expected: dict[str, bytes | None]
    size: int
    """Encoded size of the attributes after the change (names plus values)."""

    def __bool__(self) -> bool:
        return bool(self.attributes or self.delete)

    def __repr__(self) -> str:
        # Names only: the values are what the application stored (tokens included, R79).
        return (
            f"Delta(attributes={sorted(self.attributes)!r}, delete={self.delete!r}, "
            f"expected={sorted(self.expected)!r}, size={self.size})"
        )


class _ObservedDict(dict[str, Any]):
    """The reading half of :class:`TrackedDict`: guards, reads, views, copies, operators."""

    __slots__ = (
        "_accessed",
        "_closed",
        "_codec",
        "_dirty",
        "_error",
        "_raw",
        "_read",
        "_read_only",
        "_refused",
        "_written",
    )

    def __init__(
        self,
        codec: Codec,
        raw: Mapping[str, bytes] | None = None,
        *,
        error: BaseException | None = None,
        read_only: BaseException | None = None,
    ) -> None:
        """Build it; ``raw`` values are decoded now (``DecodeError`` if one fails)."""
        super().__init__()
        self._codec = codec
        self._raw: Mapping[str, bytes] = raw if raw is not None else {}
        if raw:
            store = dict.__setitem__
            for name, data in raw.items():
                store(self, name, decode_value(data))
        if error is not None:
            dict.__setitem__(self, _UNAVAILABLE_KEY, _Unavailable())
        self._written: dict[str, bytes] = {}
        self._read: set[str] = set()
        self._error = error
        self._read_only = read_only
        """Raised by every write: the read-only view served while the store is down."""
        self._refused = False
        """Set once the load error was raised to the handler (the request is refused)."""
        self._accessed = False
        self._closed = False
        self._dirty = False
        """Set when something may have changed: a write, a delete, or a mutable value read."""

    def __repr__(self) -> str:
        # Names only, never values: they may be tokens (R79), and reading them is no access.
        if self._error is not None:
            return f"<{type(self).__name__} unavailable>"
        return f"<{type(self).__name__} keys={sorted(dict.keys(self))!r}>"

    # ------------------------------------------------------------------ guards
    def _check(self) -> None:
        if self._error is not None:
            self._refused = True
            raise self._error
        self._accessed = True

    def _check_writable(self) -> None:
        self._check()
        if self._read_only is not None:
            raise self._read_only
        if self._closed:
            msg = "the session was changed after the response headers were sent"
            raise SessionClosedError(msg)

    def _observe_all(self) -> None:
        """The handler may see every value (a view, a copy): each key counts as read."""
        self._check()
        self._read.update(dict.keys(self))
        self._dirty = True  # a mutable value may now be changed in place

    # ------------------------------------------------------------------ reading
    def __getitem__(self, key: str) -> Any:
        self._check()
        self._read.add(key)  # observing absence is a read too (compare-and-set on "absent")
        value = dict.__getitem__(self, key)  # KeyError propagates, like dict
        if type(value) not in _IMMUTABLE:
            self._dirty = True  # the handler may mutate it in place: compare at commit
        return value

    @overload
    def get(self, key: str, default: None = None, /) -> Any: ...

    @overload
    def get(self, key: str, default: Any, /) -> Any: ...

    def get(self, key: str, default: Any = None, /) -> Any:
        """Return the value for ``key``, or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        self._check()
        if not isinstance(key, str):
            return False
        self._read.add(key)
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        self._check()
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        self._check()
        return dict.__reversed__(self)

    def __len__(self) -> int:
        self._check()
        return dict.__len__(self)

    def keys(self) -> dict_keys[str, Any]:
        """A view of the names (like ``dict.keys``)."""
        self._check()
        return dict.keys(self)

    def values(self) -> dict_values[str, Any]:
        """A view of the values (like ``dict.values``)."""
        self._observe_all()
        return dict.values(self)

    def items(self) -> dict_items[str, Any]:
        """A view of the (name, value) pairs (like ``dict.items``)."""
        self._observe_all()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        """A shallow copy as a plain ``dict`` (like ``dict(session)``)."""
        self._observe_all()
        return dict(dict.items(self))

    def __copy__(self) -> dict[str, Any]:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        from copy import deepcopy  # noqa: PLC0415 - rarely used

        return deepcopy(self.copy(), memo)

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return (dict, (self.copy(),))

    def __eq__(self, other: object) -> bool:
        self._observe_all()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # mutable, as a dict

    @overload
    def __or__(self, other: dict[str, Any], /) -> dict[str, Any]: ...

    @overload
    def __or__(self, other: dict[_K, _V], /) -> dict[str | _K, Any | _V]: ...

    def __or__(self, other: Any, /) -> Any:
        if not isinstance(other, dict):
            return NotImplemented
        merged: dict[Any, Any] = self.copy()
        merged.update(other)
        return merged

    @overload
    def __ror__(self, other: dict[str, Any], /) -> dict[str, Any]: ...

    @overload
    def __ror__(self, other: dict[_K, _V], /) -> dict[str | _K, Any | _V]: ...

    def __ror__(self, other: Any, /) -> Any:
        if not isinstance(other, dict):
            return NotImplemented
        merged: dict[Any, Any] = dict(other)
        merged.update(self.copy())
        return merged


class TrackedDict(_ObservedDict):
    """A ``dict`` of encodable values that tracks reads and writes. See the module doc."""

    __slots__ = ()

    # ------------------------------------------------------------------ writing
    def __setitem__(self, key: str, value: Any) -> None:
        if type(key) is not str:
            msg = f"session keys must be str, not {type(key).__name__}"
            raise TypeError(msg)
        self._check_writable()
        self._written[key] = self._codec.encode(value)  # raises TypeError early (R50)
        dict.__setitem__(self, key, value)
        self._dirty = True

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        dict.__delitem__(self, key)
        self._written.pop(key, None)
        self._dirty = True

    def setdefault(self, key: str, default: Any = None, /) -> Any:
        """Return ``session[key]``, first setting it to ``default`` if absent."""
        try:
            return self[key]
        except KeyError:
            self[key] = default
            return default

    @overload
    def pop(self, key: str, /) -> Any: ...

    @overload
    def pop(self, key: str, default: Any, /) -> Any: ...

    def pop(self, key: str, default: Any = _MISSING, /) -> Any:
        """Remove ``key`` and return its value (or ``default``; ``KeyError`` without one)."""
        self._check_writable()
        try:
            value = self[key]
        except KeyError:
            if default is _MISSING:
                raise
            return default
        del self[key]
        return value

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the most recently inserted (name, value) pair, as ``dict`` does."""
        self._check_writable()
        if not dict.__len__(self):
            msg = "popitem(): session is empty"
            raise KeyError(msg)
        key = next(dict.__reversed__(self))
        return key, self.pop(key)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Set several values at once (a mapping, pairs, and/or keyword arguments)."""
        self._check_writable()
        pairs: Iterable[tuple[Any, Any]]
        if isinstance(other, Mapping):
            pairs = ((k, other[k]) for k in other)
        elif hasattr(other, "keys"):
            pairs = ((k, other[k]) for k in other.keys())  # noqa: SIM118 - dict.update's protocol
        else:
            pairs = other
        for key, value in pairs:
            self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def __ior__(self, other: Any) -> Self:  # type: ignore[misc,override]
        self.update(other)
        return self

    def clear(self) -> None:
        """Remove every attribute (blind deletes: no compare-and-set)."""
        self._check_writable()
        dict.clear(self)
        self._written.clear()
        self._dirty = True

    def _reset(self, raw: Mapping[str, bytes]) -> None:
        """Hold exactly ``raw`` again, as loaded: no change, nothing read."""
        self._raw = raw
        dict.clear(self)
        store = dict.__setitem__
        for name, data in raw.items():
            store(self, name, decode_value(data))
        self._written.clear()
        self._read.clear()
        self._dirty = False

    # ------------------------------------------------------------------ for the cycle
    @property
    def accessed(self) -> bool:
        """Whether the handler looked at the session (drives ``Vary: Cookie``)."""
        return self._accessed

    def mark_accessed(self) -> None:
        """Record that the response depends on the session; raises if the store is down."""
        self._check()

    def delta(self) -> Delta:
        """Compute the attribute changes since load (re-encodes reachable mutable values)."""
        if not self._dirty:
            return Delta({}, (), {}, 0)  # only immutable values were read: nothing changed
        raw = self._raw
        written = self._written
        encode = self._codec.encode
        changed: dict[str, bytes] = {}
        size = 0
        for key, value in dict.items(self):
            encoded = written.get(key)
            if encoded is None:
                stored = raw.get(key)
                if stored is not None and type(value) in _IMMUTABLE:
                    size += len(key.encode()) + len(stored)  # read only: unchanged
                    continue
                encoded = encode(value)
            elif type(value) not in _IMMUTABLE:
                encoded = encode(value)  # written, then possibly mutated in place
            if raw.get(key) != encoded:
                changed[key] = encoded
            size += len(key.encode()) + len(encoded)
        delete = tuple(k for k in raw if not dict.__contains__(self, k))
        read = self._read
        expected = {k: raw.get(k) for k in (*changed, *delete) if k in read}
        return Delta(changed, delete, expected, size)

    def encoded(self) -> Delta:
        """Every attribute, encoded: the whole session as a delta from nothing.

        For the cycle moving a session to a new record (re-keying on re-authentication).
        """
        encode = self._codec.encode
        attributes = {name: encode(value) for name, value in dict.items(self)}
        size = sum(len(name.encode()) + len(data) for name, data in attributes.items())
        return Delta(attributes, (), {}, size)

    def close(self) -> None:
        """Forbid further changes (called once the response headers are on their way)."""
        self._closed = True

    @property
    def unavailable(self) -> bool:
        """``True`` when the store failed to load this session."""
        return self._error is not None

    @property
    def read_only(self) -> bool:
        """``True`` for the read-only view served while the store is down."""
        return self._read_only is not None

    @property
    def error(self) -> BaseException | None:
        """The error that made this session unavailable, if any."""
        return self._error

    @property
    def refused(self) -> bool:
        """``True`` once the handler touched an unavailable session (and got the error)."""
        return self._refused

    def require_available(self) -> None:
        """Raise the load error, if any (used by adapters that need the session)."""
        if self._error is not None:
            raise self._error
