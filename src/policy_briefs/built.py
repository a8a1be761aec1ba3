"""The last build as the site and delivery use it: the manifest read strictly, every
listed file present, and the publication it was built for.

Publishing and sending work from the build's outputs, never from findings/: what readers
get is exactly what was built, byte for byte, and the manifest's sha256 says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import manifest
from .errors import BriefsError
from .manifest import BriefEntry, Manifest, ManifestError
from .models import Publication

SITE_URL_ENV = "BRIEFS_SITE_URL"


@dataclass
class Build:
    out_dir: Path
    manifest: Manifest
    publication: Publication
    briefs: list[BriefEntry]

    @property
    def manifest_path(self) -> Path:
        return manifest.path_in(self.out_dir)

    def get(self, slug: str) -> BriefEntry | None:
        return next((b for b in self.briefs if b.slug == slug), None)

    def read(self, brief: BriefEntry, fmt: str) -> bytes:
        """A built file's bytes, refused unless they are the ones the build recorded."""
        return brief.files[fmt].read(self.out_dir)

    def audience_title(self, audience_id: str) -> str:
        return self.manifest.audience_title(audience_id)

    @property
    def audiences(self) -> list[str]:
        return list(self.manifest.audiences)

    def site_url(
        self, override: str | None = None, env: Mapping[str, str] | None = None
    ) -> str | None:
        """Where the published site lives: the option, BRIEFS_SITE_URL, publication.url."""
        env = os.environ if env is None else env
        url = override or env.get(SITE_URL_ENV) or self.publication.url
        if not url:
            return None
        if not re.match(r"^https?://[^\s/]+\S*$", url):
            raise BriefsError(f"site address '{url}' is not an http(s) URL")
        return url if url.endswith("/") else url + "/"


def read_build(out_dir: Path) -> Build:
    """The last build in ``out_dir``, or an error telling the user to build (again)."""
    from pydantic import ValidationError

    from .files import recover_output

    recover_output(out_dir)  # a build a crash cut short: finish it first
    recorded = manifest.read(out_dir, strict=True)
    path = manifest.path_in(out_dir)
    try:
        publication = Publication.model_validate(recorded.publication)
    except ValidationError:
        raise ManifestError(
            f"{path} does not record the publication's details (written by "
            "an older version, or edited); run `briefs build --force`"
        ) from None
    briefs = []
    for entry in recorded.briefs.values():
        if not entry.files:
            continue
        for record in entry.files.values():
            if not record.location(out_dir).is_file():
                raise ManifestError(
                    f"{record.location(out_dir)} is listed in "
                    f"{manifest.MANIFEST_FILE} but missing; "
                    "run `briefs build` again"
                )
        briefs.append(entry)
    if not briefs:
        raise ManifestError(f"{path} lists no briefs: run `briefs build` first")
    return Build(out_dir, recorded, publication, briefs)
