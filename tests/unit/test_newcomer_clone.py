"""Issue 11 item 13: in a plain clone without ../shared beside it, `pytest` must not fail the
tests that read the shared reference registry: outside CI they skip with the reason shown;
under CI=true its absence still fails them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

TESTS = ("tests/unit/test_registry.py", "tests/unit/test_cli.py")
SELECT = "reference_registry or shared_reference or check_passes_the_reference"


def _clone_without_shared(tmp_path: Path) -> Path:
    clone = tmp_path / "clone" / "accountability-bot"  # no clone/shared beside it
    (clone / "tests" / "unit").mkdir(parents=True)
    shutil.copy(ROOT / "ownership.yaml", clone / "ownership.yaml")
    shutil.copy(ROOT / "pyproject.toml", clone / "pyproject.toml")
    for name in ("tests/__init__.py", "tests/conftest.py", "tests/unit/__init__.py", *TESTS):
        shutil.copy(ROOT / name, clone / name)
    shutil.copytree(ROOT / "tests" / "fixtures", clone / "tests" / "fixtures")
    return clone


def _pytest(clone: Path, *, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-k",
            SELECT,
            *TESTS,
        ],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("ci", [None, "false"])
def test_without_shared_the_reference_tests_skip_with_the_reason(
    tmp_path: Path, ci: str | None
) -> None:
    clone = _clone_without_shared(tmp_path)

    run = _pytest(clone, ci=ci)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 skipped" in run.stdout
    assert "shared reference registry" in run.stdout and "is absent" in run.stdout


def test_under_ci_a_missing_shared_registry_fails(tmp_path: Path) -> None:
    clone = _clone_without_shared(tmp_path)

    run = _pytest(clone, ci="true")

    assert run.returncode == 1, run.stdout + run.stderr
    assert "3 failed" in run.stdout
