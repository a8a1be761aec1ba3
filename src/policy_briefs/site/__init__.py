"""The published site: an index of the built briefs, a page per brief, an Atom feed."""

from __future__ import annotations

from pathlib import Path

from ..built import read_build
from ..project import Project
from .assemble import SiteReport, publish_site

__all__ = ["SiteReport", "publish", "publish_site"]


def publish(project: Project, out: Path | None = None, base_url: str | None = None) -> SiteReport:
    """Publish the last build of ``project`` as a static site (default: output/site)."""
    build = read_build(project.output_dir)
    return publish_site(
        project, build, out or project.output_dir / "site", build.site_url(base_url)
    )
