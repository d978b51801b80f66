"""scripts/mutate_lua.py finds the decision points of every Lua script, and only those.

The full run (a pytest process per mutant) takes tens of minutes; this checks its parts.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from sessionary.backends.redis._layout import ALL_SCRIPTS
from sessionary.backends.redis._users import USER_SCRIPTS

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mutate_lua.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutate_lua", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutate_lua"] = module
    spec.loader.exec_module(module)
    return module


def test_every_script_is_found_and_has_mutants(tool: ModuleType) -> None:
    scripts = tool.script_objects()
    assert {s.name for s in scripts} == {s.name for s in (*ALL_SCRIPTS, *USER_SCRIPTS)}
    mutants = tool.mutants([s.source for s in scripts])
    mutated = {s.name for s in scripts if any(tool.apply(s.source, m) != s.source for m in mutants)}
    # ``discard`` decides nothing (one DEL of a record the core refused): nothing to mutate.
    assert {s.name for s in scripts} - mutated == {"discard"}


def test_comments_strings_and_indices_are_never_mutated(tool: ModuleType) -> None:
    source = "\n".join(
        [
            "-- if a >= b and not c then return 1 end",
            "local s = 'x >= y or 2'",
            'local t = "a == b"',
            "local k = KEYS[1] .. ARGV[2] .. string.char(255)",
            "if now >= limit and not done then return 7 end",
        ]
    )
    found = [(m.old, m.new) for m in tool.mutants([source])]
    assert found == [(">=", ">"), ("and", "or"), ("not", ""), ("7", "8")]


@pytest.fixture
def restored(tool: ModuleType) -> Iterator[None]:
    """Put every script's source and SHA back after the test (they are patched in place)."""
    saved = [(script, script.source, script.sha) for script in tool.script_objects()]
    yield
    for script, source, sha in saved:
        object.__setattr__(script, "source", source)
        object.__setattr__(script, "sha", sha)


@pytest.mark.usefixtures("restored")
def test_a_mutant_patches_source_and_sha_of_each_script_holding_its_line(
    tool: ModuleType,
) -> None:
    scripts = tool.script_objects()
    shared = next(m for m in tool.mutants([scripts[0].source]) if m.old == "~=")
    holders = [s for s in scripts if shared.line in s.source.split("\n")]
    assert tool.patch_scripts(shared) == len(holders) > 1  # a shared helper: one mutant
    for script in holders:
        assert shared.line not in script.source.split("\n")
        assert script.sha == hashlib.sha1(script.source.encode(), usedforsecurity=False).hexdigest()
