"""Shared fixtures: a fresh copy of the mini project, and the CLI run in-process."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from policy_briefs.cli import app

PROJECTS = Path(__file__).parent / "projects"
MINI = PROJECTS / "mini"

# A federal-only finding a test can append to the mini project's networks.yaml.
FEDERAL_FINDING = """\
  - id: networks-need-brokers
    headline: Networks work best with a broker who knows the firms
    summary: Shared networks depend on someone who matches orders to firms.
    confidence: low
    evidence:
      - source: alpha-2020
        locator: paragraph 2
        quote: "42 percent of orders now arrive through shared supplier networks"
    audiences:
      federal:
        priority: low
        implication: Paying for brokers may multiply what networks achieve.
        actions:
          - Fund network brokers.
"""


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


@contextmanager
def weasyprint_log() -> Iterator[list[logging.LogRecord]]:
    """WeasyPrint's warnings and errors while the block runs, captured independently of
    the build's own report so tests can check that report against it."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
