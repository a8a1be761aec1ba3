"""Cited policy briefs for several audiences from one set of structured findings."""


def __getattr__(name: str) -> str:
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
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
