"""The documentation site builds with warnings as errors, covers every page, and its
configuration reference is generated from ``SessionConfig`` (never hand-copied)."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sessionary.config import CookieOptions, SessionConfig
from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 180  # a loaded 2-core machine imports mkdocs and griffe slowly


def _nav_pages(entries: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import mkdocs  # noqa: F401, PLC0415 - the docs extra
    except ImportError:
        unavailable("mkdocs is not installed (the docs extra)")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert build.returncode == 0, build.stderr
    return out


def test_the_nav_lists_every_page_of_docs() -> None:
    import yaml  # noqa: PLC0415 - installed with mkdocs

    class Loader(yaml.SafeLoader):
        """Safe, with mkdocs.yml's ``!!python/name:`` tags read as plain text."""

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: suffix)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)
    listed = set(_nav_pages(config["nav"]))
    pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    # index.md is README.md, changelog.md is CHANGELOG.md (scripts/mkdocs_hooks.py)
    assert listed == pages | {"index.md", "changelog.md"}


def test_the_home_page_is_the_readme_with_working_links(site: Path) -> None:
    home = (site / "index.html").read_text()
    assert "Distributed HTTP sessions for Python" in home
    assert 'src="img/demo-counter-1280.png"' in home
    assert 'href="docs/' not in home  # README's links into docs/ point beside the home page
    assert 'href="adapters/#options-named-alike"' in home
    assert (site / "img" / "demo-counter-1280.png").is_file()


@pytest.mark.parametrize("settings", [SessionConfig, CookieOptions])
def test_every_setting_is_in_the_generated_reference(site: Path, settings: type) -> None:
    page = (site / "configuration" / "index.html").read_text()
    for setting in dataclasses.fields(settings):
        if setting.init:
            assert f'id="sessionary.config.{settings.__name__}.{setting.name}"' in page, (
                setting.name
            )


def test_the_changelog_page_is_changelog_md_in_keep_a_changelog_shape(site: Path) -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert versions[0] == "[Unreleased]"
    for version in versions[1:]:  # a release: "[1.2.3] - 2027-01-31"
        assert re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", version), version
    kinds = re.findall(r"^### (.+)$", text, re.MULTILINE)
    assert kinds
    assert set(kinds) <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    page = (site / "changelog" / "index.html").read_text()
    assert "Unreleased" in page
    assert "strict_transport_security" in page
