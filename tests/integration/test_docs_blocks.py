"""The documentation's code works as written.

* Every fenced Python block of README.md and docs/*.md runs as a program of its own (a fresh
  interpreter, the repository as working directory, ``SESSION_SECRET`` set to a strong random
  secret, ``redis://localhost:6379/0`` pointed at a Redis server of the test's own, so the
  library's default key prefix meets no other test's keys). An application the block builds
  then answers one ``GET /`` through its framework's test client
  (``tests/integration/docs_driver.py``, appended by the test, not part of the docs).
  Tracebacks name the Markdown file, and their line numbers are the Markdown file's.
* A block is left out only with ``<!-- docs-test: skip (reason) -->`` on the line before its
  fence; the reason is reported as the test's skip reason. Bash and other blocks are not run.
* Every install command installs from a checkout (``pip install -e ".[extra]"``):
  sessionary is not on a package index yet, and every extra it names exists in pyproject.toml.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LOCAL_REDIS = "redis://localhost:6379/0"
RUN_TIMEOUT_S = 120  # generous: a loaded 2-core machine imports a framework slowly
DRIVER = """

# ---- appended by tests/integration/test_docs_blocks.py (not in the docs)
from tests.integration.docs_driver import drive as _docs_drive

_docs_drive(globals())
"""

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_MARKER = re.compile(r"^<!--\s*docs-test:\s*skip\s*\((?P<reason>.+)\)\s*-->$")


def _where(path: Path, line: int) -> str:
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{name}:{line}"


@dataclass(frozen=True)
class Block:
    """A fenced code block: where its opening fence is, its language, code and skip reason."""

    path: Path
    line: int
    language: str
    code: str
    skip: str | None

    @property
    def where(self) -> str:
        return _where(self.path, self.line)


def extract(path: Path) -> tuple[list[Block], list[str]]:
    """The fenced blocks of a Markdown file, and what is wrong with its fences or markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        end = index + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence[0] * len(fence))
            and not lines[end].strip(fence[0]).strip()
        ):
            end += 1
        if end == len(lines):
            problems.append(f"{_where(path, index + 1)}: this code block is never closed")
            break
        language = opening["info"].lower()
        skip = None
        before = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
        if "docs-test" in before:
            marker = _MARKER.match(before)
            if marker is None:
                problems.append(
                    f"{_where(path, index)}: write the marker as "
                    "<!-- docs-test: skip (reason) --> on the line before the fence"
                )
            elif language not in ("python", "py"):
                problems.append(f"{_where(path, index)}: a skip marker on a {language!r} block")
            else:
                skip = marker["reason"].strip()
        code = "\n".join(
            line[indent:] if line[:indent].isspace() else line for line in lines[index + 1 : end]
        )
        blocks.append(Block(path, index + 1, language, code + "\n", skip))
        index = end + 1
    return blocks, problems


def _collect() -> tuple[list[Block], list[str]]:
    blocks: list[Block] = []
    problems: list[str] = []
    for path in DOCS:
        found, wrong = extract(path)
        blocks += found
        problems += wrong
    return blocks, problems


BLOCKS, PROBLEMS = _collect()
PYTHON_BLOCKS = [block for block in BLOCKS if block.language in ("python", "py")]


def test_code_blocks_and_markers_are_well_formed() -> None:
    assert not PROBLEMS, "\n".join(PROBLEMS)
    assert PYTHON_BLOCKS, "no Python block found in README.md or docs/*.md"


def test_the_extractor_reads_markers_and_reports_broken_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n```python\nprint(1)\n```\n\n"
        "<!-- docs-test: skip (serves forever) -->\n```python\nserve()\n```\n\n"
        "```bash\nls\n```\n\n"
        "<!-- docs-test: skip -->\n```python\nx = 1\n```\n\n"
        "  ```python\n  indented = True\n  ```\n\n"
        "```python\nnever_closed()\n"
    )
    blocks, problems = extract(page)
    assert [(b.line, b.language, b.code, b.skip) for b in blocks] == [
        (3, "python", "print(1)\n", None),
        (8, "python", "serve()\n", "serves forever"),
        (12, "bash", "ls\n", None),
        (17, "python", "x = 1\n", None),
        (21, "python", "indented = True\n", None),
    ]
    assert problems == [
        f"{page}:16: write the marker as <!-- docs-test: skip (reason) --> on the line before "
        "the fence",
        f"{page}:25: this code block is never closed",
    ]


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(
            block,
            id=block.where,
            # A block the docs mark as not runnable here (it names a host of the reader's):
            # not a missing service, so it is skipped even where services are required.
            marks=() if block.skip is None else pytest.mark.skip(reason=block.skip),
        )
        for block in PYTHON_BLOCKS
    ],
)
def test_python_block_runs_as_written(
    block: Block, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    code = block.code
    if LOCAL_REDIS in code:
        code = code.replace(LOCAL_REDIS, request.getfixturevalue("private_redis"))
    # Named after the Markdown file and padded so a traceback's line numbers are the file's.
    script = tmp_path / f"{block.path.name}.py"
    script.write_text("\n" * block.line + code + DRIVER, encoding="utf-8")
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "SESSION_SECRET": secrets.token_urlsafe(32), "PYTHONPATH": python_path}
    try:
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"{block.where}: the Python block did not finish within {RUN_TIMEOUT_S} s "
            "(a block that serves forever needs <!-- docs-test: skip (reason) -->)"
        )
    print(result.stdout)  # the driver's "docs-driver: <framework> GET / -> <status>" lines
    if result.returncode != 0:
        pytest.fail(
            f"{block.where}: the Python block failed (exit {result.returncode}); "
            f"line numbers below are {block.path.name}'s:\n{result.stderr[-4000:]}"
        )


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
