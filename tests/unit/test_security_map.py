"""docs/security.md maps every security requirement (R1-R85) to tests that exist.

Every requirement maps to a passing test or to a documented, reasoned
exception. This keeps the published table honest as tests are renamed: every test it cites
must exist (the suite itself proves they pass), every row states a status, and a row without
a test must say why (an exception, or a documentation-only requirement).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "security.md"
REQUIREMENTS = 85
ROW = re.compile(r"^\| (R\d+) \|(.*)\|\s*$")
CITED_TEST = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^`]*\])?`")
CITED_FILE = re.compile(r"`(tests/[\w/]+\.py)`")
STATUSES = ("met", "partial", "exception")


def _rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} appears twice"
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split(" | ")]
    return rows


def test_every_requirement_has_exactly_one_row_in_order() -> None:
    assert list(_rows()) == [f"R{n}" for n in range(1, REQUIREMENTS + 1)]


def test_every_row_states_a_status_and_a_proof_or_a_reason() -> None:
    for requirement, cells in _rows().items():
        status = cells[-1]
        assert status.startswith(STATUSES), f"{requirement}: status {status!r}"
        proof = cells[-2]
        if not CITED_TEST.search(proof) and not CITED_FILE.search(proof):
            reasoned = "exception" in status or proof == "documentation"
            assert reasoned, f"{requirement}: no test cited and no reason given"


def test_every_cited_test_exists() -> None:
    missing = []
    cited = 0
    for requirement, cells in _rows().items():
        row = " | ".join(cells)
        for path, name in CITED_TEST.findall(row):
            cited += 1
            source = ROOT / path
            found = source.is_file() and re.search(
                rf"^(?:async )?def {name}\(", source.read_text(encoding="utf-8"), re.MULTILINE
            )
            if not found:
                missing.append(f"{requirement}: {path}::{name}")
        missing += [
            f"{requirement}: {path}"
            for path in CITED_FILE.findall(row)
            if not (ROOT / path).is_file()
        ]
    assert missing == []
    assert cited >= 200  # the table cites over two hundred tests: the pattern found them
