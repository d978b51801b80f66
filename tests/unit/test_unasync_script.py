"""scripts/unasync.py keeps its rules and the code honest: a substitution rule that matches
nothing and a hand-written ``sync_x`` twin of an ``async_x`` both fail ``--check``."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", ROOT / "scripts/unasync.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_rule_matches_something_in_the_sources(unasync: ModuleType) -> None:
    hits = [0] * len(unasync.SUBS)
    for source_dir, _ in unasync.DIRS:
        for source in source_dir.rglob("*.py"):
            unasync.unasync_text(source.read_text(), hits)
    assert unasync.unused_rules(hits) == []
    assert all(count > 0 for count in hits)


def test_a_rule_that_matches_nothing_is_reported(unasync: ModuleType) -> None:
    hits = [0] * len(unasync.SUBS)
    unasync.unasync_text("async def f() -> None:\n    await g()\n", hits)
    unused = unasync.unused_rules(hits)
    assert "async def" not in unused
    assert "await " not in unused
    assert r"redis\.asyncio" in unused  # nothing in that text imports redis


def test_the_library_has_no_hand_written_twins(unasync: ModuleType) -> None:
    assert unasync.handwritten_twins() == []


def test_a_hand_written_twin_is_found(unasync: ModuleType, tmp_path: Path) -> None:
    package = tmp_path / "src" / "pkg"
    (package / "_sync").mkdir(parents=True)
    (package / "helpers.py").write_text(
        "async def async_pause() -> None: ...\ndef sync_pause() -> None: ...\n"
        "class Pool:\n    def sync_flush(self) -> None: ...\n"
    )
    (package / "_async.py").write_text("async def async_flush() -> None: ...\n")
    (package / "_sync" / "gen.py").write_text("def sync_close() -> None: ...\n")
    (package / "io.py").write_text("async def async_close() -> None: ...\n")
    assert sorted(unasync.handwritten_twins(tmp_path)) == [
        "src/pkg/helpers.py: sync_flush",
        "src/pkg/helpers.py: sync_pause",
    ]


def test_check_passes_on_the_repository() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/unasync.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
