"""The ``sessionary`` command line (needs the ``cli`` extra: ``pip install -e ".[cli]"``).

``sessionary demo`` serves the demo web application; ``sessionary sessions`` and
``sessionary events`` operate a deployment's users and event stream; ``sessionary bench``
stresses a store with session operations and ``sessionary stats`` shows the health of a
Redis deployment.
The framework-free library never imports this package.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

_MISSING_EXTRA = (
    "sessionary's command line needs the 'cli' extra, which is not installed "
    '({missing}).\nInstall it from a checkout of sessionary with:  pip install -e ".[cli]"'
)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sessionary`` command (``python -m sessionary.cli`` works too)."""
    try:
        from sessionary.cli.commands import cli  # noqa: PLC0415 - optional extra
    except ImportError as exc:  # click, uvicorn or starlette missing
        print(_MISSING_EXTRA.format(missing=exc.name or exc), file=sys.stderr)
        raise SystemExit(1) from None
    cli.main(args=argv, prog_name="sessionary")
