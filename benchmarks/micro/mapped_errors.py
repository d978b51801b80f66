"""The cost of ``mapped_redis_errors`` around a call that raises nothing.

docs/benchmarks.md (*Hot-path changes*): the store's error mapping is a plain context-manager
class, not ``@contextmanager``. This times one ``with`` of each (the generator form rebuilt
here with the same body) with ``timeit``::

    python -m benchmarks.micro.mapped_errors --loops 200000

prints µs per ``with`` for both: the best of ``--repeat`` runs of ``--loops`` loops.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Iterator
from contextlib import contextmanager

from sessionary.backends.redis._errors import mapped_redis_errors


@contextmanager
def generator_form(operation: str) -> Iterator[None]:
    """What the class replaced: a generator-based context manager, ``try: yield`` with the
    mapping in its ``except`` clauses (here delegated, as only the no-error path is timed)."""
    try:
        yield
    except Exception as exc:
        mapped_redis_errors(operation).__exit__(type(exc), exc, exc.__traceback__)
        raise


def _class_form() -> None:
    with mapped_redis_errors("load"):
        pass


def _generator_form() -> None:
    with generator_form("load"):
        pass


def measure(*, loops: int, repeat: int) -> dict[str, float]:
    """µs per ``with`` of each form."""
    return {
        name: min(timeit.repeat(body, number=loops, repeat=repeat)) / loops * 1e6
        for name, body in (("class", _class_form), ("@contextmanager", _generator_form))
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for name, micros in measure(loops=args.loops, repeat=args.repeat).items():
        print(f"mapped_redis_errors as {name}: {micros:.2f} µs per with")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
