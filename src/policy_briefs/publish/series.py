"""The project facts that pages and messages show beside the built briefs.

Publication metadata and audience titles come from findings/; finding headlines too,
with a content hash per finding so a message can say which findings were edited. The
briefs themselves always come from the build (see built.py).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..corpus import load_corpus
from ..errors import BriefsError, ValidationFailed
from ..models import Audience, Publication
from ..project import Project

SITE_URL_ENV = "BRIEFS_SITE_URL"


@dataclass
class Series:
    publication: Publication
    audiences: dict[str, Audience]
    # finding id -> (headline, sha256 of the finding as written)
    findings: dict[str, tuple[str, str]] = field(default_factory=dict)

    def audience_title(self, audience_id: str) -> str:
        audience = self.audiences.get(audience_id)
        return audience.title if audience else audience_id

    def headline(self, finding_id: str) -> str:
        return self.findings.get(finding_id, (finding_id, ""))[0]

    def site_url(self, override: str | None = None,
                 env: Mapping[str, str] | None = None) -> str | None:
        """Where the published site lives: the option, BRIEFS_SITE_URL, publication.url."""
        env = os.environ if env is None else env
        url = override or env.get(SITE_URL_ENV) or self.publication.url
        if not url:
            return None
        if not re.match(r"^https?://[^\s/]+\S*$", url):
            raise BriefsError(f"site address '{url}' is not an http(s) URL")
        return url if url.endswith("/") else url + "/"


def load_series(project: Project) -> Series:
    """Publication and audiences must load; a broken theme file only costs its headlines."""
    corpus, problems = load_corpus(project)
    if corpus.publication is None or not corpus.audiences:
        raise ValidationFailed([p for p in problems if p.severity == "error"]
                               or problems)
    findings = {
        fid: (finding.headline,
              hashlib.sha256(finding.model_dump_json().encode()).hexdigest())
        for fid, finding in corpus.findings.items()
    }
    return Series(corpus.publication, dict(corpus.audiences), findings)
