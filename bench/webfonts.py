"""What embedding fonts in the HTML pages costs, in one run.

    .venv/bin/python bench/webfonts.py [--runs 5]

Prints, for each shipped brief's HTML twin (rendered once, in memory):

- the twin without and with its fonts: bytes, and the time to embed them with a cold
  user cache (every face subset afresh) and a warm one (target: warm <= 0.05 s a page);
- the time of the HTML render alone, and the ratio of a render with fonts (warm cache)
  to one without, measured alternately in the same run. The HTML render takes tens of
  milliseconds against seconds for the PDF, so the warm cost is what matters.
- the site's first-page pictures: time per PDF.

The user cache is a temporary folder of its own. Other programs compete for the same
cores: compare the ratios, which are measured under the same load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _median_time(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    cache = tempfile.mkdtemp(prefix="webfonts-bench-")
    os.environ["BRIEFS_CACHE_DIR"] = cache

    from policy_briefs.corpus import load_corpus
    from policy_briefs.project import Project
    from policy_briefs.selection import select
    from policy_briefs.templating import citations_for, jinja_environment, render_html
    from policy_briefs.webfonts import BRIEF_FACES, embed_fonts

    project = Project.at(ROOT)
    corpus, problems = load_corpus(project)
    if any(p.severity == "error" for p in problems):
        print("the shipped findings do not load; run `briefs check`", file=sys.stderr)
        return 1
    env = jinja_environment(project)
    print(f"load average {os.getloadavg()[0]:.2f}; {runs} runs each, medians")
    columns = ("bytes", "+fonts", "cold s", "warm s", "html s", "ratio")
    print(f"{'brief':10}", *(f"{c:>9}" if "bytes" in c or "+" in c else f"{c:>7}" for c in columns))
    for audience in corpus.audiences:
        brief = select(corpus, audience)
        citations = citations_for(brief, project)

        def plain(brief=brief, citations=citations):
            return render_html(env, brief, citations, medium="screen")

        page = plain()
        start = time.perf_counter()
        with_fonts, warnings = embed_fonts(page, BRIEF_FACES)
        cold = time.perf_counter() - start
        if warnings:
            print(*warnings, sep="\n", file=sys.stderr)
        warm = _median_time(lambda page=page: embed_fonts(page, BRIEF_FACES), runs)
        # A and B alternated, so both see the same load.
        a, b = [], []
        for _ in range(runs):
            start = time.perf_counter()
            plain()
            a.append(time.perf_counter() - start)
            start = time.perf_counter()
            embed_fonts(plain(), BRIEF_FACES)
            b.append(time.perf_counter() - start)
        ratio = statistics.median(b) / statistics.median(a)
        print(
            f"{audience:10} {len(page.encode()):>9,} {len(with_fonts.encode()):>9,} "
            f"{cold:>7.2f} {warm:>7.3f} {statistics.median(a):>7.3f} {ratio:>5.2f}x"
        )

    out = ROOT / "output"
    pdfs = sorted(out.glob("*.pdf"))
    if pdfs:
        from policy_briefs.site.thumbnails import first_page

        per = [_median_time(lambda p=p: first_page(p.read_bytes(), p.name), runs) for p in pdfs]
        print(f"first-page pictures: {statistics.median(per):.3f} s a PDF ({len(pdfs)} in output/)")
    else:
        print("first-page pictures: no PDFs in output/ (run `briefs build` first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
