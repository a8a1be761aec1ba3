"""Cited policy briefs for several audiences from one set of structured findings.

The public API is what this module exports: the use cases of ``api`` (each returns a
report), the project, the options and the errors. Names are resolved on first use, so
``import policy_briefs`` stays cheap (a no-op build imports almost nothing).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "BriefsError",
    "BuildOptions",
    "Problem",
    "Project",
    "SendOptions",
    "ValidationFailed",
    "__version__",
    "build",
    "check",
    "diff",
    "inventory",
    "merge",
    "publish",
    "send",
    "write_schema",
]

_HOMES = {
    "BriefsError": "errors",
    "Problem": "errors",
    "ValidationFailed": "errors",
    "Project": "project",
    "BuildOptions": "build",
    "SendOptions": "deliver",
    "build": "api",
    "check": "api",
    "diff": "api",
    "inventory": "api",
    "merge": "api",
    "publish": "api",
    "send": "api",
    "write_schema": "api",
}


def __getattr__(name: str) -> Any:
    # The version is looked up on first use: importing importlib.metadata costs a large
    # share of a build that finds nothing to do.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("policy-briefs")
        except PackageNotFoundError:  # running from a source tree that was never installed
            value = "0.0.0"
        globals()["__version__"] = value
        return value
    if name in _HOMES:
        value = getattr(import_module(f".{_HOMES[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
