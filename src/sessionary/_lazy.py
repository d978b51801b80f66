"""Names a package hands on, imported on first use (PEP 562 module ``__getattr__``).

A package face such as :mod:`sessionary` or :mod:`sessionary.stores` exports names defined
in modules that load heavy or optional libraries (asyncio, redis-py). Importing the face
must not load them: ``import sessionary.sansio.ops`` imports the package ``sessionary``
first, and ``sessionary.stores`` works without redis-py installed. So the face maps each
name to the module that defines it, and :func:`lazy_exports` builds the face's
``__getattr__``: the module is imported when the name is asked for (``from sessionary
import SessionConfig``; once imported, a module is a dictionary lookup away).

A face names its homes as strings: it imports nothing from them, so the layers below it
(``stores`` under the backends and the I/O shell) keep pointing down. Type checkers read the
face's ``TYPE_CHECKING`` imports, or its stub, instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

__all__ = ["LazyExports", "lazy_exports"]

EXTRAS = {
    "redis": ("redis-py", "redis"),
    "psycopg": ("psycopg", "postgres"),
    "psycopg_pool": ("psycopg", "postgres"),
}
"""The optional libraries a face may hand on: by import name, the library and its extra."""


class LazyExports:
    """The ``__getattr__`` of a package face: each name of :attr:`homes` from its module."""

    __slots__ = ("homes", "module")

    def __init__(self, module: str, homes: Mapping[str, str]) -> None:
        self.module = module
        """The face's name."""
        self.homes: Mapping[str, str] = dict(homes)
        """Each name the face hands on, and the module that defines it."""

    def __call__(self, name: str) -> Any:
        """The value of ``name``, imported from its home module.

        A name the face does not hand on raises :class:`AttributeError`, as for any module.
        When the home needs an optional library that is not installed, the
        :class:`ImportError` names the extra to install.
        """
        home = self.homes.get(name)
        if home is None:
            msg = f"module {self.module!r} has no attribute {name!r}"
            raise AttributeError(msg)
        try:
            return getattr(importlib.import_module(home), name)
        except ImportError as exc:
            extra = EXTRAS.get((exc.name or "").split(".")[0])
            if extra is None:
                raise
            msg = f"{name} needs {extra[0]}: pip install 'sessionary[{extra[1]}]'"
            raise ImportError(msg, name=exc.name) from exc


def lazy_exports(module: str, homes: Mapping[str, str]) -> LazyExports:
    """The ``__getattr__`` of package ``module``, which hands on each name of ``homes``.

    ``homes`` maps an exported name to the module that defines it.
    """
    return LazyExports(module, homes)
