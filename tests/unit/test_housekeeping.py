"""House rules that a reviewer would otherwise have to remember.

* Code cites only files inside the repository: no design notes kept elsewhere (the security
  requirements are ``docs/security.md``'s R-numbers), no relative path out of the tree, no
  tracker numbers (an issue number means nothing to a reader of the code).
* The 0.1.0 aliases of the exception tree are gone: one name per error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sessionary
import sessionary.exceptions

ROOT = Path(__file__).resolve().parents[2]
CODE_FOLDERS = ("src", "scripts", "benchmarks", "examples", "tests", "contrib", ".ci")

# Written in pieces so that this file does not match itself.
_OUTSIDE_NOTES = "|".join(("SECUR" + "ITY", "ARCHI" + "TECTURE", "ST" + "YLE", "REA" + "DING"))
CITATION = re.compile(
    rf"(?<![/\w])(?:{_OUTSIDE_NOTES})\.md"  # a top-level note not in this repository
    r"|\.\./" + "shared"  # the shared folder beside the checkout
    r"|\b[Ii]ssue ?#?\d+"  # a tracker number
)


def code_files() -> list[Path]:
    files: list[Path] = []
    for folder in CODE_FOLDERS:
        base = ROOT / folder
        if base.is_file():
            files.append(base)
        elif base.is_dir():
            files += [p for p in base.rglob("*") if p.is_file() and p.suffix in {".py", ".sh", ""}]
    return sorted(p for p in files if "__pycache__" not in p.parts)


def test_code_cites_nothing_outside_the_repository_and_no_tracker_number() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in code_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if CITATION.search(line)
    ]
    assert offences == []


@pytest.mark.parametrize(
    "line",
    [
        "# see " + "SECUR" + "ITY.md R5",
        '"""As ' + "ARCHI" + 'TECTURE.md §4 says."""',
        "# from ../" + "shared/notes",
        "# fixed in issue" + " 7",
        "# see #" + "12 (issue #" + "12)",
    ],
)
def test_the_rule_catches_outside_citations(line: str) -> None:
    assert CITATION.search(line)


@pytest.mark.parametrize("line", ["# R5 in docs/security.md", "# docs/architecture.md"])
def test_the_rule_allows_the_repositorys_own_docs(line: str) -> None:
    assert not CITATION.search(line)


@pytest.mark.parametrize("alias", ["ConfigError", "SessionBackendError"])
def test_the_old_exception_aliases_are_gone(alias: str) -> None:
    assert not hasattr(sessionary, alias)
    assert not hasattr(sessionary.exceptions, alias)
    assert alias not in sessionary.__all__
