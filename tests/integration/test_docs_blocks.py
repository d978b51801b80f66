"""The documentation's commands work as written.

* Every install command in README.md and docs/*.md installs from a checkout
  (``pip install -e ".[extra]"``): sessionary is not on a package index yet, and every extra
  it names exists in pyproject.toml.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def _extras() -> set[str]:
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["optional-dependencies"])


_PIP_INSTALL = re.compile(r"pip install ([^`\n]*)")
_FROM_CHECKOUT = re.compile(r"""-e\s+(['"])\.\[([a-z0-9_,-]+)\]\1""")


def test_install_commands_install_from_a_checkout() -> None:
    extras = _extras()
    problems = []
    for path in DOCS:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for found in _PIP_INSTALL.findall(line):
                command = re.split(r"&&|\|\||[;|#]", found)[0]
                packages = [token.strip("'\"") for token in command.split()]
                if any(re.match(r"sessionary($|[\[<>=~!])", name) for name in packages):
                    problems.append(
                        f"{_where(path, number)}: {command!r} installs sessionary from an "
                        'index, where it is not published: use pip install -e ".[extra]"'
                    )
                for _, names in _FROM_CHECKOUT.findall(command):
                    unknown = set(names.split(",")) - extras
                    if unknown:
                        problems.append(f"{_where(path, number)}: no extra {sorted(unknown)}")
    assert not problems, "\n".join(problems)
