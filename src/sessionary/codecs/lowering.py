"""The one encoding walk both codecs share: the type allowlist, subclasses, and the limits.

:class:`Lowering` reduces a session value to what a codec's format holds natively, checking
:data:`~sessionary.codecs.limits.LIMITS` before each step down, so both codecs accept exactly
the same values (docs/security.md R49, R50, R52) and nothing is written that a decoder would refuse.
A codec subclasses it and says only how it writes the types its format lacks: integers beyond
64 bits, non-finite floats, tuples and sets, mappings, and the leaf types (bytes, datetime,
date, time, timedelta, UUID, Decimal).

Subclasses of ``str``/``int``/``float``/``list``/``dict`` (``StrEnum``, ``IntEnum``,
``OrderedDict``…) are written as their base type. Everything else raises
:class:`~sessionary.exceptions.UnserializableValueError`: there is no ``repr`` and no pickle
fallback.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sessionary.codecs.limits import LIMITS, decimal_fits, int_fits
from sessionary.exceptions import UnserializableValueError

__all__ = ["MAX_NATIVE_INT", "MIN_NATIVE_INT", "Lowering", "encode_with"]

MIN_NATIVE_INT = -(2**63)
MAX_NATIVE_INT = 2**64 - 1
"""Integers both formats hold natively; others go through :meth:`Lowering.big_int`."""
_LEAVES = frozenset({dt.datetime, dt.date, dt.time, dt.timedelta, uuid.UUID})
_CONTAINERS = frozenset({list, dict, tuple, set, frozenset})
_MAX_STR, _MAX_ITEMS, _MAX_DEPTH = LIMITS.max_str, LIMITS.max_items, LIMITS.max_depth
_ALLOWED = (
    "use JSON types, datetime, date, time, timedelta, UUID, Decimal, bytes, tuple, set or frozenset"
)


def _refuse(msg: str) -> UnserializableValueError:
    return UnserializableValueError(msg)


def ordered(items: set[Any] | frozenset[Any]) -> list[Any]:
    """Set items, sorted where possible so that equal sets encode to equal bytes."""
    try:
        return sorted(items)
    except (TypeError, ArithmeticError):  # mixed types; Decimal('NaN') refuses to be ordered
        return list(items)


class Lowering:
    """One encoding pass (see the module docstring); a codec overrides the hooks."""

    __slots__ = ()

    def lower(self, value: Any, depth: int) -> Any:  # noqa: PLR0911, PLR0912 - one dispatch table
        """Return ``value`` in the codec's native types; ``depth`` is its container depth."""
        kind = type(value)
        if kind is str:
            if len(value) > _MAX_STR:
                raise _refuse(f"a string is longer than {_MAX_STR} characters")
            return value
        if kind is int:
            if MIN_NATIVE_INT <= value <= MAX_NATIVE_INT:
                return value
            if not int_fits(value):
                raise _refuse(f"an integer has more than {LIMITS.max_int_digits} digits")
            return self.big_int(value)
        if kind is bool or value is None:
            return value
        if kind is float:
            return value if math.isfinite(value) else self.non_finite(value)
        if kind in _CONTAINERS:
            if depth > _MAX_DEPTH:
                raise _refuse(f"value nested deeper than {_MAX_DEPTH} levels")
            if len(value) > _MAX_ITEMS:
                raise _refuse(f"a container has more than {_MAX_ITEMS} items")
            depth += 1
            lower = self.lower
            if kind is dict:
                for key in value:
                    if type(key) is not str:
                        return self.mapping(value, depth)
                    if len(key) > _MAX_STR:
                        raise _refuse(f"a string is longer than {_MAX_STR} characters")
                return self.str_mapping({k: lower(v, depth) for k, v in value.items()})
            if kind is list:
                return [lower(item, depth) for item in value]
            items = value if kind is tuple else ordered(value)
            return self.sequence(kind, [lower(item, depth) for item in items])
        if kind is bytes or kind is bytearray:
            if len(value) > _MAX_STR:
                raise _refuse(f"a bytes value is longer than {_MAX_STR} bytes")
            return self.leaf(value if kind is bytes else bytes(value))
        if kind is Decimal:
            if not decimal_fits(value):
                msg = (
                    f"a Decimal has more than {LIMITS.max_int_digits} digits or an exponent "
                    f"beyond ±{LIMITS.max_decimal_exponent}"
                )
                raise _refuse(msg)
            return self.leaf(value)
        if kind in _LEAVES:
            return self.leaf(value)
        # Subclasses of the plain types are kept as their base type.
        if isinstance(value, str):
            return self.lower(str.__str__(value), depth)  # str() of a (str, Enum) gives "E.A"
        if isinstance(value, int):
            return self.lower(int(value), depth)
        if isinstance(value, float):
            return self.lower(float(value), depth)
        if isinstance(value, dict):
            return self.lower(dict(value), depth)
        if isinstance(value, list):
            return self.lower(list(value), depth)
        msg = f"values of type {kind.__qualname__} cannot be stored in a session; {_ALLOWED}"
        raise _refuse(msg)

    def mapping(self, value: dict[Any, Any], depth: int) -> Any:
        """A ``dict`` with a key that is not a ``str``; its keys and values sit at ``depth``."""
        lower = self.lower
        return {lower(k, depth): lower(v, depth) for k, v in value.items()}

    def str_mapping(self, converted: dict[str, Any]) -> Any:
        """A ``dict`` whose keys are all ``str``, its values lowered already."""
        return converted

    def big_int(self, value: int) -> Any:
        """An ``int`` beyond 64 bits (within the digit limit)."""
        raise NotImplementedError

    def non_finite(self, value: float) -> Any:
        """``nan``, ``inf`` or ``-inf``."""
        raise NotImplementedError

    def sequence(self, kind: type, items: list[Any]) -> Any:
        """A tuple, set or frozenset (``kind``) whose ``items`` are lowered already."""
        raise NotImplementedError

    def leaf(self, value: Any) -> Any:
        """bytes, datetime, date, time, timedelta, UUID or Decimal (within the limits)."""
        raise NotImplementedError


def encode_with(lowering: Lowering, value: Any, dump: Callable[[Any], bytes]) -> bytes:
    """``dump(lowering.lower(value))``; every failure is an ``UnserializableValueError``."""
    try:
        return dump(lowering.lower(value, 0))
    except UnserializableValueError:
        raise
    except RecursionError:  # only if the caller's own stack is nearly exhausted
        msg = "value is nested too deeply for the current stack"
        raise UnserializableValueError(msg) from None
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
        # A lone surrogate in a string, a tzinfo whose utcoffset() fails…
        msg = f"value cannot be encoded ({type(exc).__name__}: {exc})"
        raise UnserializableValueError(msg) from None
