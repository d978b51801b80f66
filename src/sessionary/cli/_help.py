"""Help text shared by the commands: an ``Examples:`` block click prints verbatim."""

from __future__ import annotations

__all__ = ["examples"]


def examples(*commands: str) -> str:
    r"""An epilog listing ``commands``, one per line.

    Click rewraps help paragraphs unless their first line is a lone ``\b`` (backspace)
    character, which it then drops. Written in a docstring, the marker only works if the
    docstring is not raw, and a raw one (which linters ask for) prints ``\b`` literally, so the
    examples are built here in code instead.
    """
    lines = "\n".join(f"  {command}" for command in commands)
    return f"\b\nExamples:\n{lines}"
