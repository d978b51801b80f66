"""Every ``sessionary`` command's ``--help`` reads as plain text: no click escapes, no reST.

Rendered with click's runner at two widths, so a rewrapped example block shows either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from sessionary.cli.commands import cli

# reST/Sphinx markup that a docstring written for the API docs would leak into the help.
_MARKUP = re.compile(r"``|::|:[a-z]+:`|`")


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


def _resolve(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


COMMANDS = list(_commands(cli))
LEAVES = [path for path in COMMANDS if not isinstance(_resolve(path), click.Group)]


def _help(path: tuple[str, ...], width: int) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=width)
    assert result.exit_code == 0, result.output
    return result.output


def _examples(text: str) -> list[str]:
    """The lines of the ``Examples:`` block (up to the next blank line)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Examples:")
    block = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        block.append(line)
    return block


@pytest.mark.parametrize("width", [60, 100])
@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "sessionary")
def test_help_is_plain_text(path: tuple[str, ...], width: int) -> None:
    text = _help(path, width)
    name = " ".join(("sessionary", *path))
    assert "\\b" not in text, f"{name} --help shows a literal \\b:\n{text}"
    assert "\b" not in text, f"{name} --help leaks click's no-rewrap marker:\n{text}"
    markup = _MARKUP.search(text)
    assert markup is None, f"{name} --help shows markup {markup.group()!r}:\n{text}"


@pytest.mark.parametrize("width", [60, 100])
@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_command_shows_examples_one_per_line(path: tuple[str, ...], width: int) -> None:
    text = _help(path, width)
    name = " ".join(("sessionary", *path))
    assert "Examples:" in text, f"{name} --help has no Examples block:\n{text}"
    examples = _examples(text)
    assert examples, f"{name} --help has an empty Examples block:\n{text}"
    for line in examples:
        assert f"{line.strip()} ".startswith(f"{name} "), f"{name}: {line!r} is not an example"
        assert line.count("sessionary ") == 1, f"{name}: two examples on one line: {line!r}"
