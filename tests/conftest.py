"""Shared fixtures. The helpers live in tests/support/ as pytest plugins: the mini
project and its session build (support.mini), the project's own shipped briefs
(support.shipped_briefs) and a frozen copy of the tool (support.frozen_tool)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from policy_briefs.cli import app

pytest_plugins = [
    "support.mini",
    "support.shipped_briefs",
    "support.frozen_tool",
    "support.usercache",
]


@pytest.fixture
def cli():
    """Run `briefs ARGS...` in-process; the result has .exit_code, .stdout and .stderr."""
    runner = CliRunner()

    def run(*args: str | Path):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run


# Fixtures whose set-up renders PDFs: a test using one is "slow" without saying so.
_RENDERING = {"mini_build", "rendered", "built", "briefs", "tool", "frozen_templates"}
# ... and those that start headless Chromium.
_BROWSER = {"axe"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they cost, so the inner loop can run `-m "not slow"`."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _BROWSER:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        elif names & _RENDERING:
            item.add_marker(pytest.mark.slow)
