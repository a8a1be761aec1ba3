"""Distribution: the published site and feed, and change-aware delivery to stakeholders.

What readers get are exactly the files the last `briefs build` wrote (checked against
output/manifest.json); findings/ only supplies names, dates and headlines around them.
"""

from pathlib import Path

from ..project import Project
from .built import read_build
from .send import SendOptions, SendReport, send_briefs
from .series import load_series
from .site import SiteReport, publish_site

__all__ = ["SendOptions", "SendReport", "SiteReport", "publish", "publish_site", "send_briefs"]


def publish(project: Project, out: Path | None = None,
            base_url: str | None = None) -> SiteReport:
    """Publish the last build of ``project`` as a static site (default: output/site)."""
    build = read_build(project.output_dir)
    series = load_series(project)
    return publish_site(project, build, series, out or project.output_dir / "site",
                        series.site_url(base_url))
