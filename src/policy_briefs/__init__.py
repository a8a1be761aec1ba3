"""Cited policy briefs for several audiences from one set of structured findings."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("policy-briefs")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
