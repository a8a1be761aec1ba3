"""The fixture project tests/projects/mini: its path, a finding tests can add to it, its
build made once per session (read-only for tests: copy it to change it), and a capture of
WeasyPrint's log. A pytest plugin, registered in conftest.py."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from policy_briefs.build import BuildOptions, BuildReport, build
from policy_briefs.project import Project

PROJECTS = Path(__file__).resolve().parent.parent / "projects"
MINI = PROJECTS / "mini"

# A federal-only finding a test can append to the mini project's networks.yaml.
FEDERAL_FINDING = """\
  - id: networks-need-brokers
    headline: Networks work best with a broker who knows the firms
    summary: Shared networks depend on someone who matches orders to firms.
    confidence: low
    evidence:
      - source: alpha-2020
        locator: paragraph 1
        quote: "42 percent of orders now arrive through shared supplier networks"
        stance: reports
    audiences:
      federal:
        priority: low
        implication: Paying for brokers may multiply what networks achieve.
        actions:
          - Fund network brokers.
"""


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


@pytest.fixture
def mini_project(tmp_path: Path) -> Path:
    """A private copy of tests/projects/mini that a test may change freely."""
    return Path(shutil.copytree(MINI, tmp_path / "mini"))


@dataclass(frozen=True)
class MiniBuild:
    """The mini project as built once: a copy at ``root`` with its output/ folder."""

    root: Path
    report: BuildReport
    log: list[logging.LogRecord]  # WeasyPrint's own log while it rendered

    @property
    def out(self) -> Path:
        return self.root / "output"

    def copy(self, into: Path) -> Path:
        """A private copy of the built project that a test may change."""
        return Path(shutil.copytree(self.root, into / "mini", symlinks=True))


@pytest.fixture(scope="session")
def mini_build(tmp_path_factory) -> MiniBuild:
    """tests/projects/mini built once per session (per xdist worker): PDF and HTML."""
    root = Path(shutil.copytree(MINI, tmp_path_factory.mktemp("mini-build") / "mini"))
    with weasyprint_log() as records:
        report = build(Project.at(root), BuildOptions())
    return MiniBuild(root, report, records)
