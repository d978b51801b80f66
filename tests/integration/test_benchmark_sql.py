"""``python -m benchmarks.sql_compare`` runs and prints its tables (tiny counts, real servers).

It checks that the script still produces every row, and the two correctness figures that do
not depend on the machine: sessionary's SQL stores lose no update and undo no logout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sql_compare_measures_every_variant_and_sessionary_loses_nothing(
    postgres_url: str,
) -> None:
    command = [sys.executable, "-m", "benchmarks.sql_compare", "--url", postgres_url]
    result = subprocess.run(
        [*command, "--requests", "3", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for variant in ("sessionary-postgres", "sessionary-sqlite", "flask-session-sqlalchemy"):
        assert f"| flask | {variant} | read |" in out
    assert "| django | django-db | write |" in out
    assert "| sessionary-postgres | 0 | no |" in out
    assert "| sessionary-sqlite | 0 | no |" in out
