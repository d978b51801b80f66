"""Kill rates per module from mutmut's results (run after ``scripts/mutation.sh``).

    python scripts/mutation_report.py            # the table of docs/testing.md
    python scripts/mutation_report.py --survivors sansio.cycle   # and each survivor's diff
    python scripts/mutation_report.py --all      # also the modules not run yet (their mutants)

A mutant counts as killed when a test failed or it timed out; "message only" survivors
change nothing but the text of a string literal (an error message), shown apart because a
test asserting messages word for word is rarely worth having.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants" / "src"
KILLED = {1, 3, 24, -24, 152, 255, 36}
SURVIVED = 0
NO_TESTS = {5, 33}
_STRING = re.compile(r""""(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'""")


def diff(name: str) -> tuple[list[str], list[str]]:
    """The removed and added lines of one mutant (``mutmut show``)."""
    shown = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "mutmut"), "show", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    removed = [line[1:] for line in shown if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in shown if line.startswith("+") and not line.startswith("+++")]
    return removed, added


def message_only(removed: list[str], added: list[str]) -> bool:
    def blank(line: str) -> str:
        return _STRING.sub('""', line).replace("None", '""')

    return [blank(x) for x in removed] == [blank(x) for x in added]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--survivors", nargs="*", help="list survivors of these modules")
    parser.add_argument("--all", action="store_true", help="also list modules not run yet")
    args = parser.parse_args(argv)
    print("| module | mutants run | killed | survived (message only) | no tests | kill rate |")
    print("|---|---|---|---|---|---|")
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = ".".join(meta.relative_to(MUTANTS).with_suffix("").with_suffix("").parts)
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        done = {name: code for name, code in codes.items() if code is not None}
        if not done:
            if args.all and codes:
                print(f"| {module.removeprefix('sessionary.')} | 0 of {len(codes)} | | | | |")
            continue
        tally = Counter(
            "killed"
            if c in KILLED
            else "survived"
            if c == SURVIVED
            else "no tests"
            if c in NO_TESTS
            else "other"
            for c in done.values()
        )
        survivors = [name for name, code in done.items() if code == SURVIVED]
        messages = [name for name in survivors if message_only(*diff(name))]
        rate = 100.0 * tally["killed"] / len(done)
        partial = "" if len(done) == len(codes) else f" of {len(codes)}"
        print(
            f"| {module.removeprefix('sessionary.')} | {len(done)}{partial} | {tally['killed']} |"
            f" {tally['survived']} ({len(messages)}) | {tally['no tests']} | {rate:.1f} % |"
        )
        if args.survivors is not None and any(module.endswith(m) for m in args.survivors):
            for name in survivors:
                if name not in messages:
                    removed, added = diff(name)
                    print(
                        f"    {name}: {' / '.join(removed).strip()} => {' / '.join(added).strip()}"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
