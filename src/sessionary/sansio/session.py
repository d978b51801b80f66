"""The :class:`Session` mapping handed to request handlers.

It *is* a ``dict`` (a subclass), so code written for Starlette's, Flask's or Django's
sessions keeps working: ``json.dumps(session)``, ``JSONResponse(session)``, orjson,
``session | {...}``, ``session |= {...}``, ``popitem()`` (newest first), ``copy()`` (a plain
``dict``) and equality with a ``dict`` behave as they do on a ``dict``. Underneath it records
exactly what the handler did:

* values are decoded when the session is loaded, so a record holding a value that does not
  decode is refused as a whole (:class:`~sessionary.exceptions.DecodeError`) instead of
  serving a session with a field silently missing;
* each assignment is encoded at once, so an unserializable value raises ``TypeError`` on
  the line that assigned it (R50);
* nested mutation (``session["cart"].append(x)``) needs no ``modified = True`` ritual: at
  commit every mutable value the handler could have reached is re-encoded and compared with
  the bytes that were loaded;
* keys whose state the handler observed *and* then changed are reported for the store's
  field-level compare-and-set, so concurrent writers of disjoint keys never conflict.

Every ``dict`` method that reads or writes goes through the tracking below; the stored
values live in the ``dict`` itself, so serializers that read a ``dict``'s storage directly
(orjson, ``json``'s C encoder) see exactly what the handler sees.

Lifecycle requests (:meth:`login`, :meth:`reauthenticate`, :meth:`elevate`, :meth:`rotate`,
:meth:`logout`) are recorded here and carried out by the cycle at commit. Server-side metadata
(user, auth time, timestamps) is read-only for the handler.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar, overload

from sessionary.codecs import decode_value
from sessionary.codecs.base import Codec
from sessionary.exceptions import (
    ReauthenticationRequiredError,
    SessionClosedError,
    SessionStateError,
)

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

__all__ = ["Delta", "Lifecycle", "Session"]

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
_MAX_USER_ID_LENGTH = 256


class _Unavailable:
    """Stands in the storage of a session whose store is down.

    ``json``'s C encoder writes ``{}`` for an empty ``dict`` without calling any method;
    with this entry present it asks :meth:`Session.items`, which raises the store error.
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
        # Names only, as Session's repr: values may hold tokens the application stored (R79).
        return (
            f"Delta(attributes={sorted(self.attributes)}, delete={self.delete}, "
            f"expected={sorted(self.expected)}, size={self.size})"
        )


@dataclass(slots=True)
class Lifecycle:
    """Lifecycle requests the handler made, for the cycle to carry out."""

    destroy_loaded: bool
    """Destroy the record this session was loaded from (logout)."""
    rotate: bool
    """Issue a new ID (login, privilege change)."""
    auth_changed: bool
    """``user_id``/``auth_time`` were set by :meth:`Session.login`."""
    user_id: str | None
    auth_time: int | None


class Session(dict[str, Any]):
    """A session's attributes, with change tracking. See the module docstring."""

    __slots__ = (
        "_accessed",
        "_auth_time",
        "_closed",
        "_codec",
        "_destroy_loaded",
        "_dirty",
        "_end_reason",
        "_error",
        "_is_new",
        "_late_destroy",
        "_loaded_auth_time",
        "_loaded_user_id",
        "_meta_changed",
        "_now",
        "_raw",
        "_read",
        "_read_only",
        "_ref",
        "_refused",
        "_rotate",
        "_rotate_requested",
        "_user_id",
        "_written",
    )

    def __init__(
        self,
        codec: Codec,
        raw: Mapping[str, bytes] | None = None,
        *,
        now: int = 0,
        is_new: bool = True,
        user_id: str | None = None,
        auth_time: int | None = None,
        error: BaseException | None = None,
        ref: str | Callable[[], str] | None = None,
        end_reason: str | None = None,
        read_only: BaseException | None = None,
    ) -> None:
        """Build a session; ``raw`` values are decoded now (``DecodeError`` if one fails)."""
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
        self._now = now
        self._is_new = is_new
        self._user_id = user_id
        self._auth_time = auth_time
        self._loaded_user_id = user_id
        self._loaded_auth_time = auth_time
        self._error = error
        self._read_only = read_only
        """Raised by every write: the read-only view served while the store is down."""
        self._refused = False
        """Set once the load error was raised to the handler (the request is refused)."""
        self._ref = ref
        self._end_reason = end_reason
        self._accessed = False
        self._closed = False
        self._rotate = False
        self._rotate_requested = False
        """:meth:`rotate` or :meth:`elevate` was called (not only implied by a login)."""
        self._destroy_loaded = False
        self._late_destroy = False
        self._meta_changed = False
        self._dirty = False
        """Set when something may have changed: a write, a delete, or a mutable value read."""

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

    __hash__ = None

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

    def __repr__(self) -> str:
        if self._error is not None:
            return "<Session unavailable>"
        state = "new" if self._is_new else "loaded"
        return f"<Session {state} keys={sorted(dict.keys(self))!r}>"

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

    def __ior__(self, other: Any) -> Session:  # type: ignore[misc,override]
        self.update(other)
        return self

    def clear(self) -> None:
        """Remove every attribute (blind deletes: no compare-and-set)."""
        self._check_writable()
        dict.clear(self)
        self._written.clear()
        self._dirty = True

    # ------------------------------------------------------------------ Starlette compatibility
    @property
    def accessed(self) -> bool:
        """Whether the handler looked at the session (drives ``Vary: Cookie``)."""
        return self._accessed

    def mark_accessed(self) -> None:
        """Record that the response depends on the session; raises if the store is down."""
        self._check()

    @property
    def modified(self) -> bool:
        """Whether committing would write anything (computes the delta)."""
        return bool(self._destroy_loaded or self._rotate or self._meta_changed or self.delta())

    # ------------------------------------------------------------------ lifecycle
    @property
    def is_new(self) -> bool:
        """``True`` when no stored record backs this session (yet)."""
        return self._is_new

    @property
    def user_id(self) -> str | None:
        """The logged-in user, or ``None`` for an anonymous session."""
        self._check()
        return self._user_id

    @property
    def auth_time(self) -> dt.datetime | None:
        """When the user last authenticated (UTC), or ``None``."""
        self._check()
        if self._auth_time is None:
            return None
        return dt.datetime.fromtimestamp(self._auth_time / 1000, tz=dt.timezone.utc)

    @property
    def ref(self) -> str | None:
        """This session's handle in device lists (``UserSession.ref``); ``None`` if new."""
        ref = self._ref
        if callable(ref):  # computed on first use: most requests never ask
            ref = self._ref = ref()
        return ref

    @property
    def end_reason(self) -> str | None:
        """Why the session the client presented is no longer valid, if it just ended.

        ``"expired_idle"``, ``"expired_absolute"``, ``"revoked"`` (``revoke_user`` or
        ``revoke_session``) or ``"evicted"`` (``max_sessions_per_user``); ``None`` otherwise.
        Lets the application say *why* the user must sign in again.
        """
        return self._end_reason

    def login(self, user_id: str | int, *, auth_time: dt.datetime | None = None) -> None:
        """Record an authentication: rotates the ID, sets the user and the auth time.

        Logging in as a *different* user than the current one first clears the attributes,
        so nothing leaks from one account to the next (as Django's ``auth.login`` does).
        """
        self._check_writable()
        uid = str(user_id)
        if not uid or len(uid) > _MAX_USER_ID_LENGTH or not uid.isprintable():
            msg = f"user_id must be 1-{_MAX_USER_ID_LENGTH} printable characters"
            raise ValueError(msg)
        if self._user_id is not None and self._user_id != uid:
            self.clear()
        self._user_id = uid
        self._auth_time = self._now if auth_time is None else int(auth_time.timestamp() * 1000)
        self._meta_changed = True
        self._rotate = True

    def require_recent_auth(self, max_age: float | dt.timedelta) -> None:
        """Raise unless the user authenticated within ``max_age`` (seconds or a timedelta).

        Guard sensitive operations with it; on
        :class:`~sessionary.exceptions.ReauthenticationRequiredError` ask for the password
        again and call :meth:`login` (which records a fresh ``auth_time``).
        """
        self._check()
        limit_s = max_age.total_seconds() if isinstance(max_age, dt.timedelta) else max_age
        if isinstance(limit_s, bool) or not isinstance(limit_s, int | float) or limit_s <= 0:
            msg = "max_age must be a positive number of seconds or a timedelta"
            raise ValueError(msg)
        if self._user_id is None or self._auth_time is None:
            raise ReauthenticationRequiredError(limit_s, None)
        age_s = (self._now - self._auth_time) / 1000
        if age_s > limit_s:
            raise ReauthenticationRequiredError(limit_s, age_s)

    def rotate(self) -> None:
        """Issue a new ID at commit (privilege change); the old ID stops working at once.

        Also the way to say "this change must not be rolled back" (a role removed, a one-time
        token spent). With :class:`~sessionary.CookieStore` the old cookie stops working only
        when the cookie store has a revocation store; without one, every earlier copy stays
        valid until it expires (see ``docs/security.md``, R55).
        """
        self._check_writable()
        self._rotate = True
        self._rotate_requested = True

    def elevate(self) -> None:
        """Record a privilege change (a role granted, sudo mode): a new ID at commit (R6).

        The same as :meth:`rotate`, named for the case: the data stays, the old ID stops
        working at once (with the cookie store, only with a revocation store: see
        :meth:`rotate`), the CSRF token follows the new ID. The absolute deadline does not
        move: only :meth:`reauthenticate` (or :meth:`login`) can extend it.
        """
        self.rotate()

    def reauthenticate(self, *, auth_time: dt.datetime | None = None) -> None:
        """Record that the signed-in user proved their identity again (R6, R39).

        Call it after checking the password (or another factor) again, for example on
        :class:`~sessionary.exceptions.ReauthenticationRequiredError`. Like :meth:`login` for
        the same user: the data stays, the ID rotates at commit, ``auth_time`` becomes now (or
        ``auth_time``) and the absolute deadline restarts — the only way to extend it.
        Raises :class:`~sessionary.exceptions.SessionStateError` on an anonymous session.
        """
        self._check_writable()
        if self._user_id is None:
            msg = "reauthenticate() needs a signed-in session; call login() instead"
            raise SessionStateError(msg)
        self.login(self._user_id, auth_time=auth_time)

    def logout(self) -> None:
        """Destroy the stored session and clear the cookie at commit.

        With :class:`~sessionary.CookieStore`, copies of the cookie die too only when it has
        a revocation store (see :meth:`rotate`).

        The mapping becomes a new, empty, anonymous session: anything written afterwards
        (a flash message, say) is stored under a fresh ID.

        Called after the response headers were sent (a streaming response), the stored
        session is still ended — once the response is over — but the cookie cannot be
        cleared any more: :class:`~sessionary.exceptions.SessionClosedError` says so.
        """
        if self._closed and self._error is None and self._read_only is None:
            if not self._is_new:
                self._late_destroy = True
            msg = (
                "logout() after the response headers were sent: the session is ended on "
                "the server once the response is over, but its cookie could not be "
                "cleared; call logout() before the response starts"
            )
            raise SessionClosedError(msg)
        self._check_writable()
        if not self._is_new:
            self._destroy_loaded = True
        self._raw = {}
        dict.clear(self)
        self._written = {}
        self._read = set()
        self._is_new = True
        self._ref = None
        self._user_id = None
        self._auth_time = None
        self._rotate = False
        self._rotate_requested = False
        self._meta_changed = False

    def discard_changes(self) -> None:
        """Forget what the handler changed, keeping only what security requires.

        Used when the request failed (an exception, a 5xx): its writes are not committed.
        A logout and an explicit :meth:`rotate`/:meth:`elevate` are kept (a failed request
        must not keep an ID alive that the application decided to end); a :meth:`login`
        and every attribute change are dropped, and so is anything written after a logout.
        """
        if self._destroy_loaded:
            dict.clear(self)
            self._written.clear()
            self._dirty = False
            return
        rotate = self._rotate_requested
        dict.clear(self)
        store = dict.__setitem__
        for name, data in self._raw.items():
            store(self, name, decode_value(data))
        self._written.clear()
        self._read.clear()
        self._dirty = False
        self._user_id = self._loaded_user_id
        self._auth_time = self._loaded_auth_time
        self._meta_changed = False
        self._rotate = rotate

    # ------------------------------------------------------------------ for the cycle
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
    def late_destroy(self) -> bool:
        """``True`` when :meth:`logout` was called after the headers were sent."""
        return self._late_destroy

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

    @property
    def lifecycle(self) -> Lifecycle:
        """The lifecycle requests made by the handler."""
        return Lifecycle(
            self._destroy_loaded, self._rotate, self._meta_changed, self._user_id, self._auth_time
        )

    def require_available(self) -> None:
        """Raise the load error, if any (used by adapters that need the session)."""
        if self._error is not None:
            raise self._error
