"""Mutation testing of the Redis Lua scripts: does the test suite notice a changed decision?

Every ``Script`` in the tuples named ``*_SCRIPTS`` of :mod:`sessionary.backends.redis._layout` and
:mod:`sessionary.backends.redis._users` is scanned (outside comments and string literals) for
decision points, and each is mutated on its own:

* comparisons: ``>=`` ↔ ``>``, ``<=`` ↔ ``<``, ``==`` ↔ ``~=``;
* boolean operators: ``and`` ↔ ``or``, ``not`` dropped;
* integer constants: ``0`` → ``1``, ``1`` → ``0``, ``n`` → ``n + 1`` (not the indices of
  ``KEYS``/``ARGV`` nor byte codes: wiring, not decisions);
* ``math.min`` ↔ ``math.max``.

A mutant names a source *line* and a column, and is applied to every script holding that
line, so a helper shared by several scripts (``LUA_COMMON``) is one mutant, not one per
script. For each mutant the Redis store tests run in a fresh pytest process (``-x``, a
per-mutant timeout) with this file loaded as a plugin that patches the scripts in place
(source and SHA) before any test runs; a failing run kills the mutant. ::

    python scripts/mutate_lua.py --list                 # the mutants, numbered
    python scripts/mutate_lua.py                        # run them all (about 20-40 min)
    python scripts/mutate_lua.py --only 3 17 --verbose  # run some, show the failing test
    python scripts/mutate_lua.py --json results.json    # also write the verdicts

It reports killed / survived / timed out per mutant and the kill rate. Needs a Redis the
test suite can find or start (see tests/conftest.py). Survivors are listed with their line:
kill each with a test, or explain it as equivalent in docs/testing.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV = "SESSIONARY_LUA_MUTANT"
MODULES = ("sessionary.backends.redis._layout", "sessionary.backends.redis._users")
TESTS = [
    "tests/_async/test_store_contract.py",
    "tests/_async/test_user_index.py",
    "tests/_async/test_user_revocation.py",
    "tests/_async/test_users.py",
    "tests/_async/test_lock_and_events.py",
    "tests/shell/test_redis_store.py",
    "tests/shell/test_redis_lua_decisions.py",
    "tests/shell/test_redis_read_path.py",
    "tests/integration/test_sweeper.py",
]
# The Redis-backed tests: every store kind but these (the sweeper's have no "redis" in name;
# the SQL kinds run no Lua).
SELECTION = (
    "not memory and not sentinel and not cluster and not valkey and not sqlite and not postgres"
)

_SWAPS = {
    ">=": ">",
    ">": ">=",
    "<=": "<",
    "<": "<=",
    "==": "~=",
    "~=": "==",
    "and": "or",
    "or": "and",
}
# One alternation, longest first; words bounded so ``order`` or ``android`` never match.
_TOKEN = re.compile(
    r"""(?P<skip>--\[\[.*?\]\]|--[^\n]*|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|\[\[.*?\]\])"""
    r"""|(?P<op>>=|<=|==|~=|>|<)"""
    r"""|(?P<word>\b(?:and|or|not)\b)"""
    r"""|(?P<minmax>\bmath\.(?:min|max)\b)"""
    r"""|(?P<number>(?<![\w.])\d+(?![\w.]))""",
    re.DOTALL,
)


@dataclass(frozen=True)
class Mutant:
    """Replace ``old`` by ``new`` at ``column`` of every script line equal to ``line``."""

    line: str
    column: int
    old: str
    new: str

    def describe(self) -> str:
        text = self.line.strip()
        return f"{self.old!r} -> {self.new!r} in: {text[:90]}"


def _replacement(kind: str, text: str) -> str | None:
    if kind in ("op", "word"):
        return _SWAPS.get(text, "")  # "not" is dropped
    if kind == "minmax":
        return "math.max" if text == "math.min" else "math.min"
    if kind == "number":
        value = int(text)
        return {0: "1", 1: "0"}.get(value, str(value + 1))
    return None


def _is_address(source: str, match: re.Match[str]) -> bool:
    """An index (``KEYS[1]``, ``ARGV[5]``) or a byte code (``string.char(255)``): which value
    it names is wiring, checked by every test that runs the script at all, not a decision."""
    before = source[: match.start()].rstrip()
    return before.endswith(("[", "string.char(", "string.byte(m,"))


def script_objects() -> list[Any]:
    """Every ``Script`` of the ``*_SCRIPTS`` tuples of the store modules, once each."""
    import importlib  # noqa: PLC0415 - only where the package is importable

    seen: dict[int, Any] = {}
    for name in MODULES:
        module: ModuleType = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if attribute.endswith("_SCRIPTS") and isinstance(value, tuple):
                for script in value:
                    seen.setdefault(id(script), script)
    return list(seen.values())


def mutants(sources: list[str]) -> list[Mutant]:
    """Every mutant of these sources, each distinct line mutated once."""
    found: dict[tuple[str, int, str], Mutant] = {}
    for source in sources:
        offset = 0
        lines = source.split("\n")
        starts = []
        for line in lines:
            starts.append(offset)
            offset += len(line) + 1
        for match in _TOKEN.finditer(source):
            kind = match.lastgroup
            assert kind is not None
            new = _replacement(kind, match.group())
            if new is None or (kind == "number" and _is_address(source, match)):
                continue
            number = source.count("\n", 0, match.start())
            column = match.start() - starts[number]
            line = lines[number]
            mutant = Mutant(line, column, match.group(), new)
            found.setdefault((line, column, new), mutant)
    return list(found.values())


def apply(source: str, mutant: Mutant) -> str:
    """``source`` with ``mutant`` applied to every line it names (unchanged if none)."""
    lines = source.split("\n")
    for number, line in enumerate(lines):
        if line == mutant.line:
            end = mutant.column + len(mutant.old)
            assert line[mutant.column : end] == mutant.old
            lines[number] = line[: mutant.column] + mutant.new + line[end:]
    return "\n".join(lines)


def patch_scripts(mutant: Mutant) -> int:
    """Mutate the loaded scripts in place (source and SHA); returns how many changed."""
    import hashlib  # noqa: PLC0415

    changed = 0
    for script in script_objects():
        source = apply(script.source, mutant)
        if source != script.source:
            sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
            # Frozen dataclass: patched in place so every importer sees the mutant.
            object.__setattr__(script, "source", source)
            object.__setattr__(script, "sha", sha)
            changed += 1
    return changed


def pytest_configure(config: Any) -> None:
    """Plugin hook (``-p mutate_lua``): apply the mutant named in the environment."""
    encoded = os.environ.get(ENV)
    if encoded:
        mutant = Mutant(**json.loads(encoded))
        if patch_scripts(mutant) == 0:
            msg = f"mutant matches no script: {mutant.describe()}"
            raise RuntimeError(msg)


@dataclass
class Verdict:
    """The outcome of one mutant's test run."""

    number: int
    mutant: Mutant
    outcome: str  # killed, survived, timeout
    seconds: float
    detail: str = ""


def run_one(number: int, mutant: Mutant, *, timeout: float, python: str) -> Verdict:
    env = dict(os.environ)
    env[ENV] = json.dumps(asdict(mutant))
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "scripts"), env.get("PYTHONPATH")])
    )
    command = [python, "-m", "pytest", "-q", "-x", "-p", "mutate_lua", "-p", "no:randomly"]
    command += ["-k", SELECTION, *TESTS]
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return Verdict(number, mutant, "timeout", time.monotonic() - started)
    seconds = time.monotonic() - started
    failed = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    if result.returncode == 0:
        return Verdict(number, mutant, "survived", seconds)
    if result.returncode in (1, 2) and (failed or "failed" in result.stdout):
        return Verdict(number, mutant, "killed", seconds, failed[0] if failed else "")
    tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
    return Verdict(number, mutant, "error", seconds, " | ".join(tail))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--only", type=int, nargs="+", help="run only these mutant numbers")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    parser.add_argument("--json", type=Path, help="write the verdicts to this file")
    parser.add_argument("--verbose", action="store_true", help="name the killing test")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    scripts = script_objects()
    found = mutants([script.source for script in scripts])
    names = ", ".join(script.name for script in scripts)
    print(f"{len(found)} mutants in {len(scripts)} scripts ({names})")
    if args.list:
        for number, mutant in enumerate(found, 1):
            print(f"{number:4d}  {mutant.describe()}")
        return 0
    chosen = [(n, m) for n, m in enumerate(found, 1) if not args.only or n in args.only]
    verdicts = []
    for number, mutant in chosen:
        verdict = run_one(number, mutant, timeout=args.timeout, python=sys.executable)
        verdicts.append(verdict)
        line = f"{number:4d} {verdict.outcome:8s} {verdict.seconds:6.1f}s  {mutant.describe()}"
        if args.verbose and verdict.detail:
            line += f"\n        {verdict.detail}"
        print(line, flush=True)
    tally = {o: sum(v.outcome == o for v in verdicts) for o in ("killed", "survived", "timeout")}
    errors = len(verdicts) - sum(tally.values())
    decided = tally["killed"] + tally["timeout"]
    rate = 100.0 * decided / len(verdicts) if verdicts else 0.0
    print(
        f"killed {tally['killed']}, timed out {tally['timeout']}, survived {tally['survived']},"
        f" errors {errors}: kill rate {rate:.1f} % of {len(verdicts)}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(v) for v in verdicts], indent=1))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
