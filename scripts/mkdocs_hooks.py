"""mkdocs hooks: the site's home page is README.md and its changelog CHANGELOG.md.

So neither drifts from its copy on the repository page. ``mkdocs.yml`` names this file under
``hooks:``. The README links to ``docs/x.md`` (right on a repository page); on the site those
pages sit beside the home page, so the prefix goes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
_DOCS_LINK = re.compile(r"\]\(docs/")


def home_page() -> str:
    """README.md as the site's ``index.md`` (links into ``docs/`` made relative)."""
    return _DOCS_LINK.sub("](", (ROOT / "README.md").read_text(encoding="utf-8"))


def on_files(files: Files, config: Any) -> Files:
    """Add the generated home page and the changelog."""
    files.append(File.generated(config, "index.md", content=home_page()))
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "changelog.md", content=changelog))
    return files
