"""Every test session gets its own user cache (syllable table, citations, readings), so
no test reads what an earlier run or the developer's own `briefs` left behind. Set at
configure time, before any fixture builds, and inherited by the `briefs` subprocesses
tests start."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from policy_briefs.usercache import CACHE_ENV

_made: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    folder = tempfile.mkdtemp(prefix="briefs-test-cache-")
    _made.append(folder)
    os.environ[CACHE_ENV] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _made:
        shutil.rmtree(folder, ignore_errors=True)
