"""The project's own briefs (findings/ at the repository root), rendered once per test run.

Rendering three PDFs is the slow part, so it happens once and every pytest-xdist worker
shares the result: the first worker to take the lock builds, the others wait and read.
A pytest plugin (registered in conftest.py): any test may ask for the ``briefs`` fixture.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest
import yaml
from filelock import FileLock

from policy_briefs.build import BuildOptions, build
from policy_briefs.corpus import Corpus, load_corpus
from policy_briefs.project import Project
from support.mini import weasyprint_log

ROOT = Path(__file__).resolve().parents[2]
AUDIENCES = ("federal", "regional", "sme")
# The project's declared editions: built with the audiences' briefs, held to the same checks.
EDITIONS = tuple(
    e["slug"]
    for e in yaml.safe_load((ROOT / "findings" / "editions.yaml").read_text("utf-8"))["editions"]
)


@dataclass
class Briefs:
    out: Path
    log: dict[str, list[str]]  # slug -> WeasyPrint warnings and errors while rendering it
    corpus: Corpus

    def pdf(self, slug: str) -> pikepdf.Pdf:
        return pikepdf.open(self.out / f"{slug}.pdf")

    def html(self, slug: str) -> str:
        return (self.out / f"{slug}.html").read_text("utf-8")

    def pages_text(self, slug: str, *, raw: bool = False) -> list[str]:
        """Each page's words; ``raw`` keeps the order they were drawn in, not the layout."""
        args = ["pdftotext", *(["-raw"] if raw else []), str(self.out / f"{slug}.pdf"), "-"]
        output = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        return [" ".join(page.split()) for page in output.split("\f")[:-1]]

    def manifest(self) -> dict:
        return json.loads((self.out / "manifest.json").read_text("utf-8"))


def _render(out: Path) -> dict[str, list[str]]:
    with weasyprint_log() as records:
        report = build(Project.at(ROOT), BuildOptions(out_dir=out))
    log = {item.brief.slug: list(item.messages) for item in report.briefs}
    log["(logger)"] = [f"{r.levelname}: {r.getMessage()}" for r in records]
    return log


@pytest.fixture(scope="session")
def briefs(tmp_path_factory, request) -> Briefs:
    shared = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # an xdist worker: share with the others
        shared = shared.parent
    out = shared / "project-briefs"
    done = shared / "project-briefs.json"
    with FileLock(str(shared / "project-briefs.lock")):
        if not done.is_file():
            log = _render(out)
            done.write_text(json.dumps(log), "utf-8")
    corpus, problems = load_corpus(Project.at(ROOT))
    assert not [p for p in problems if p.severity == "error"]
    return Briefs(out, json.loads(done.read_text("utf-8")), corpus)


def heading_levels_in_html(html: str) -> list[int]:
    return [int(level) for level in re.findall(r"<h([1-6])\b", html)]
