"""A frozen copy of the tool (code and packaged templates) for tests that compare builds.

Builds are keyed on the tool's own code and templates, so an edit to them between two
builds rightly makes the second one render again. Tests that compare two builds run a
copy taken when they start, so that edits made meanwhile in the working tree (by a
person, an editor's autosave) cannot change the outcome.

A pytest plugin (registered in conftest.py). A test module opts in with
``pytestmark = pytest.mark.usefixtures("frozen_templates")``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import policy_briefs
import policy_briefs.project as project_module
from policy_briefs import fingerprint
from policy_briefs.project import default_templates_dir

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def snapshot(into: Path) -> Path:
    """Copy the package, with its templates inside as in a wheel; returns the import root."""
    root = into / "tool"
    package = root / "policy_briefs"
    shutil.copytree(Path(policy_briefs.__file__).parent, package, ignore=_IGNORE)
    if not (package / "templates").is_dir():
        shutil.copytree(default_templates_dir(), package / "templates", ignore=_IGNORE)
    return root


def environ(root: Path, **extra: str) -> dict[str, str]:
    """Environment variables that make ``python -m policy_briefs`` run the snapshot."""
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "CI": "1", **extra}


@pytest.fixture(scope="module")
def tool(tmp_path_factory) -> Path:
    return snapshot(tmp_path_factory.mktemp("tool"))


@pytest.fixture
def frozen_templates(tool, monkeypatch):
    """Builds in this process use the packaged templates as they were when tests began."""
    monkeypatch.setattr(project_module, "PACKAGE_DIR", tool / "policy_briefs")
    monkeypatch.setattr(fingerprint, "PACKAGE_DIR", tool / "policy_briefs")
    fingerprint.software_environment.cache_clear()
    yield
    fingerprint.software_environment.cache_clear()
