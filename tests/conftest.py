"""Shared fixtures: a fresh copy of the mini project, and the CLI run in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from policy_briefs.cli import app

PROJECTS = Path(__file__).parent / "projects"
MINI = PROJECTS / "mini"


@pytest.fixture
def mini_project(tmp_path: Path) -> Path:
    """A private copy of tests/projects/mini that a test may change freely."""
    return Path(shutil.copytree(MINI, tmp_path / "mini"))


@pytest.fixture
def cli():
    """Run `briefs ARGS...` in-process; the result has .exit_code, .stdout and .stderr."""
    runner = CliRunner()

    def run(*args: str | Path):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run
