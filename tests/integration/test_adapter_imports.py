"""Adapters import their framework lazily and name the extra to install when it is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

FRAMEWORKS = (
    "starlette",
    "fastapi",
    "flask",
    "werkzeug",
    "django",
    "aiohttp",
    "uvicorn",
    "litestar",
    "quart",
)
ADAPTER_EXTRAS = {
    "sessionary.integrations.fastapi": ("fastapi", "sessionary[fastapi]"),
    "sessionary.integrations.flask": ("flask", "sessionary[flask]"),
    "sessionary.integrations.aiohttp": ("aiohttp", "sessionary[aiohttp]"),
    "sessionary.integrations.django": ("django", "sessionary[django]"),
    "sessionary.integrations.litestar": ("litestar", "sessionary[litestar]"),
    "sessionary.integrations.quart": ("quart", "sessionary[quart]"),
}


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_sessionary_imports_no_framework() -> None:
    result = run_python(
        f"""
        import sys
        import sessionary, sessionary.stores, sessionary.sansio.cycle
        from sessionary.stores import MemoryStore, AsyncMemoryStore
        loaded = sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)
        print(",".join(loaded))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("module", sorted(ADAPTER_EXTRAS))
def test_a_missing_framework_names_the_extra(module: str) -> None:
    framework, extra = ADAPTER_EXTRAS[module]
    result = run_python(
        f"""
        import sys
        sys.modules[{framework!r}] = None  # as if the framework were not installed
        try:
            import {module}
        except ImportError as exc:
            print(exc)
        else:
            print("imported without error")
        """
    )
    assert result.returncode == 0, result.stderr
    assert extra in result.stdout, result.stdout
