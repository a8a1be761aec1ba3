"""Where the time goes, in one run: rendering, `briefs check`, builds, shards.

    .venv/bin/python bench/pipeline.py [--briefs 30] [--runs 5] [--keep DIR] [--baseline main]

Prints, each figure with the load average when it was taken:

- pipeline overhead per shipped brief: the whole in-memory render (PDF and HTML twin)
  against WeasyPrint alone on the very same print HTML with the same options, as the
  median of per-pair CPU ratios like the design tax below (target <= 1.15x); a brief
  whose first layout ends on a nearly empty page is laid out again set tighter, and is
  then also timed against WeasyPrint making the same two layouts;
- design tax per brief: WeasyPrint on the print HTML as styled, against the same HTML
  with its stylesheets removed (both with the pipeline's options and shared fonts), in
  pairs of runs (at least 7), garbage collected off the clock before each run; the
  median of the per-pair ratios of CPU time (this process only, so other programs on
  the machine count less), and of wall time (target <= 1.5x);
- `briefs check` on the shipped findings (cold user cache, then warm; target <= 1 s)
  and on 500 and 5,000 findings (copies under new ids; target 5,000 <= 2 s on the first
  run, whose findings are in no cache, and <= 500 MB), with each run's peak RSS, and
  5,000 with an empty user cache, as on a CI machine;
- builds of 30 briefs: cold, no-op, one finding edited, and the --jobs 2 speed-up;
- shard + merge: the 30 briefs in 3 shards (each a cold build), merged, and checked
  byte for byte against one cold build.

Command timings come with their CPU time (user + system, worker processes included),
which competing programs inflate far less than wall time. With ``--baseline REV`` the
tool as it was at that git revision is timed too, alternated with this one, for the
check and no-op figures: before and after from one run.

Everything runs on copies, with a frozen copy of the tool (bench/rebuild.py) and a user
cache of its own. The findings are the repository's; when they do not pass `briefs check`
(an edit under way), the copy gets the corrections the check itself names (paragraph
locators, max_findings) and the bench says so. Other programs compete for the same
cores: compare figures taken under similar load.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rebuild import (  # noqa: E402  (bench/ is not a package)
    BRIEFS,
    ROOT,
    edit_headline,
    generate,
    load,
    pick_finding,
    snapshot_revision,
    snapshot_tool,
)

_LOCATOR = re.compile(
    r"^(findings/[^:]+):(\d+):\d+: error: evidence\[\d+\]\.locator: the quote is in "
    r"paragraph (\d+) .* not '(\d+)'$"
)
_OVERFULL = re.compile(r"^findings/audiences\.yaml:(\d+):\d+: error: max_findings: (\d+) findings")


class Tool:
    """Runs the frozen `briefs` as a separate process: wall time, CPU time and peak RSS.

    CPU time (user + system, workers included) is what other programs on the machine
    cannot inflate much: compare it when the load average is high."""

    def __init__(self, tool: Path, cache: Path):
        self.cpu = 0.0  # of the last run, worker processes included
        self.main_cpu = 0.0  # of the last run's own process (and the children it waited for)
        _adopt_orphans()
        self.env = {
            **os.environ,
            "CI": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(tool), os.environ.get("PYTHONPATH")])),
            "BRIEFS_CACHE_DIR": str(cache),
            "SOURCE_DATE_EPOCH": "1700000000",  # so shard and whole builds compare exactly
        }

    def run(self, *args: str | Path, ok=(0,)) -> tuple[float, float, str]:
        """(seconds, peak RSS in MB, stderr) of `briefs ARGS`.

        The peak comes from GNU time when there is one: a child forked from this process
        (which holds WeasyPrint) would count this process's pages until it execs."""
        gnu_time = shutil.which("time", path="/usr/bin:/bin")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with tempfile.TemporaryDirectory() as tmp:
            peak_file = Path(tmp) / "peak"
            prefix = [gnu_time, "-f", "%M", "-o", str(peak_file)] if gnu_time else []
            with open(Path(tmp) / "err", "w+b") as err:
                start = time.perf_counter()
                process = subprocess.Popen(
                    [*prefix, str(BRIEFS), *map(str, args)],
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    env=self.env,
                )
                _pid, status, usage = os.wait4(process.pid, 0)
                elapsed = time.perf_counter() - start
                self.main_cpu = usage.ru_utime + usage.ru_stime
                _reap_orphans()
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                self.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                err.seek(0)
                stderr = err.read().decode("utf-8", "replace")
            peak_kb = usage.ru_maxrss
            if gnu_time and peak_file.is_file():
                lines = peak_file.read_text().split()
                peak_kb = int(lines[-1]) if lines and lines[-1].isdigit() else peak_kb
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            sys.exit(f"briefs {' '.join(map(str, args))} exited {code}:\n{stderr[-3000:]}")
        return elapsed, peak_kb / 1024, stderr


def _adopt_orphans() -> None:
    """Become the reaper of this process's orphaned descendants (Linux), so that the CPU
    time of rendering workers, children of a fork server that nobody waits for, is
    counted in this process's children's time once they are reaped."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap_orphans() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def shipped_project(into: Path, tool: Tool) -> Path:
    """The repository's findings and settings; corrected as the check says if it fails."""
    project = into / "shipped"
    shutil.copytree(ROOT / "findings", project / "findings")
    settings = (ROOT / "briefs.toml").read_text("utf-8")
    found = re.search(r'^sources_dir\s*=\s*"([^"]+)"', settings, re.M)
    if found:
        where = (ROOT / found.group(1)).resolve()
        settings = settings.replace(found.group(0), f'sources_dir = "{where}"')
    (project / "briefs.toml").write_text(settings, "utf-8")
    _seconds, _rss, stderr = tool.run("check", "--project", project, ok=(0, 1))
    fixes = 0
    for line in stderr.splitlines():
        if m := _LOCATOR.match(line):
            path = project / m.group(1)
            lines = path.read_text("utf-8").splitlines(keepends=True)
            row = int(m.group(2)) - 1
            lines[row] = lines[row].replace(f"paragraph {m.group(4)}", f"paragraph {m.group(3)}")
            path.write_text("".join(lines), "utf-8")
            fixes += 1
        elif m := _OVERFULL.match(line):
            path = project / "findings" / "audiences.yaml"
            lines = path.read_text("utf-8").splitlines(keepends=True)
            row = int(m.group(1)) - 1
            lines[row] = re.sub(r"max_findings: \d+", f"max_findings: {m.group(2)}", lines[row])
            path.write_text("".join(lines), "utf-8")
            fixes += 1
    if fixes:
        print(
            f"note: the shipped findings fail `briefs check`; measured on a copy with the "
            f"{fixes} corrections the check names (locators, max_findings)"
        )
    tool.run("check", "--project", project)  # must pass now
    return project


def grown(project: Path, into: Path, total: int, per_file: int = 60) -> Path:
    """The project with its findings copied under new ids until there are ``total``.

    Copies are low priority for every audience, so the briefs stay the shipped ones while
    loading, validation, verification and selection see every finding. The copies of a
    theme go to theme files of their own (``<theme>-copyN.yaml``) of ``per_file`` findings
    or so, as a large project keeps its findings in many files of a few dozen findings,
    not in a few files of megabytes."""
    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(project, into, ignore=shutil.ignore_patterns("output"))
    themes = {}
    for path in sorted((into / "findings").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text("utf-8"))
        if isinstance(doc, dict) and "findings" in doc:
            themes[path] = doc
    count = sum(len(doc["findings"]) for doc in themes.values())
    pending: dict[Path, list] = {path: [] for path in themes}

    def flush(path: Path, n: int) -> None:
        theme = {**themes[path]["theme"], "id": f"{path.stem}-copy{n}"}
        (path.parent / f"{theme['id']}.yaml").write_text(
            yaml.safe_dump(
                {"theme": theme, "findings": pending[path]},
                sort_keys=False,
                allow_unicode=True,
                width=1000,
            ),
            "utf-8",
        )
        pending[path] = []

    n = 0
    while count < total:
        n += 1
        for path, doc in themes.items():
            for finding in doc["findings"]:
                if count >= total:
                    break
                twin = copy.deepcopy(finding)
                twin["id"] = f"{finding['id']}-copy{n}"
                for contrast in twin.get("contrasts", []):
                    contrast["finding"] = f"{contrast['finding']}-copy{n}"
                for relevance in twin.get("audiences", {}).values():
                    relevance["priority"] = "low"
                pending[path].append(twin)
                count += 1
            if len(pending[path]) >= per_file:
                flush(path, n)
    for path in themes:
        if pending[path]:
            flush(path, n)
    return into


# -- rendering, in this process ---------------------------------------------------------


def _paired_ratios(styled, bare, pairs: int) -> tuple[list[float], list[float], list[float]]:
    """(styled CPU s, bare CPU s, wall ratios) of ``pairs`` pairs of runs, one of each in
    turn, the one to go first alternating. Before each run the garbage of the last is
    collected off the clock, so no run pays for another's. The figure is the median of
    the per-pair ratios: a burst of load from elsewhere spoils one pair, not the median."""
    import gc

    styled_cpu: list[float] = []
    bare_cpu: list[float] = []
    wall_ratios: list[float] = []
    for pair in range(pairs):
        timed: dict[str, tuple[float, float]] = {}
        order = (("styled", styled), ("bare", bare))
        for name, fn in order if pair % 2 == 0 else order[::-1]:
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            fn()
            timed[name] = (time.perf_counter() - start, time.process_time() - cpu)
        styled_cpu.append(timed["styled"][1])
        bare_cpu.append(timed["bare"][1])
        wall_ratios.append(timed["styled"][0] / timed["bare"][0])
    return styled_cpu, bare_cpu, wall_ratios


def pipeline_and_design(project_dir: Path, pairs: int = 7) -> None:
    import weasyprint

    from policy_briefs.pages import last_page_is_sparse, page_fill
    from policy_briefs.pdf import PDF_VARIANT, AllowlistFetcher, shared_fonts
    from policy_briefs.project import Project
    from policy_briefs.render import render_brief
    from policy_briefs.selection import select
    from policy_briefs.templating import citations_for, jinja_environment, render_html
    from policy_briefs.validate import load_valid_corpus

    project = Project.at(project_dir)
    corpus, _ = load_valid_corpus(project)
    for audience_id in corpus.audiences:
        brief = select(corpus, audience_id)
        env = jinja_environment(project)
        html = render_html(env, brief, citations_for(brief, project), medium="print")
        unstyled = re.sub(r"<style\b.*?</style>", "", html, flags=re.S)
        unstyled = re.sub(r"<link\b[^>]*rel=\"?stylesheet[^>]*>", "", unstyled)

        def weasy(text: str = html) -> None:
            weasyprint.HTML(
                string=text,
                base_url=str(project.template_dirs[0]) + "/",
                url_fetcher=AllowlistFetcher(project.template_dirs),
            ).render(pdf_variant=PDF_VARIANT, font_config=shared_fonts()).write_pdf(
                pdf_variant=PDF_VARIANT,
                pdf_identifier=hashlib.md5(b"bench").hexdigest().encode(),
                uncompressed_pdf=False,
            )

        def whole(brief=brief) -> None:
            render_brief(project, brief, ("pdf", "html"), identifier="bench")

        def lay_out(text: str):
            return weasyprint.HTML(
                string=text,
                base_url=str(project.template_dirs[0]) + "/",
                url_fetcher=AllowlistFetcher(project.template_dirs),
            ).render(pdf_variant=PDF_VARIANT, font_config=shared_fonts())

        # A brief whose first layout ends on a nearly empty page is laid out a second time,
        # set tighter (pdf.lay_out): WeasyPrint is then also timed making both layouts.
        first = lay_out(html)
        refit = last_page_is_sparse(first.pages)
        tight = render_html(env, brief, citations_for(brief, project), medium="print", fit="tight")

        def both_layouts(normal: str = html, tight: str = tight) -> None:
            lay_out(normal)
            weasy(tight)

        whole()  # warm: fonts, compiled templates, formatted citations
        weasy(unstyled)
        whole_cpu, alone_cpu, wall_ratios = _paired_ratios(whole, weasy, pairs)
        ratios = [a / b for a, b in zip(whole_cpu, alone_cpu, strict=True)]
        overhead = statistics.median(ratios)
        print(
            f"  {audience_id:<10} pipeline {overhead:.2f}x WeasyPrint alone, CPU, median of "
            f"{pairs} paired runs (each {min(ratios):.2f}-{max(ratios):.2f}x; "
            f"{statistics.median(whole_cpu):.2f} s vs {statistics.median(alone_cpu):.2f} s), "
            f"{statistics.median(wall_ratios):.2f}x wall "
            f"(target <= 1.15x: {'met' if overhead <= 1.15 else 'NOT met'})  [{load()}]"
        )
        if refit:
            whole_cpu, both_cpu, _ = _paired_ratios(whole, both_layouts, pairs)
            ratios = [a / b for a, b in zip(whole_cpu, both_cpu, strict=True)]
            print(
                f"  {'':<10} laid out twice: the first layout's last page is "
                f"{page_fill(first.pages[-1]):.0%} full, so the brief is set tighter; against "
                f"WeasyPrint making the same two layouts ({statistics.median(both_cpu):.2f} s "
                f"CPU): {statistics.median(ratios):.2f}x"
            )
        styled_cpu, bare_cpu, wall_ratios = _paired_ratios(
            weasy, lambda text=unstyled: weasy(text), pairs
        )
        ratios = [a / b for a, b in zip(styled_cpu, bare_cpu, strict=True)]
        tax = statistics.median(ratios)
        print(
            f"  {audience_id:<10} design tax {tax:.2f}x CPU, median of {pairs} paired runs "
            f"(each {min(ratios):.2f}-{max(ratios):.2f}x; {statistics.median(styled_cpu):.2f} s "
            f"styled vs {statistics.median(bare_cpu):.2f} s unstyled), "
            f"{statistics.median(wall_ratios):.2f}x wall "
            f"(target <= 1.5x: {'met' if tax <= 1.5 else 'NOT met'})  [{load()}]"
        )


# -- check ------------------------------------------------------------------------------


def _timed(tool: Tool, *args: str | Path, ok=(0,)) -> tuple[float, float, float, int]:
    """(seconds, CPU seconds, peak MB, exit code) of one run."""
    try:
        seconds, rss, _ = tool.run(*args, ok=ok)
    except SystemExit:
        return float("nan"), float("nan"), float("nan"), 1
    return seconds, tool.cpu, rss, 0


def _versus(base: tuple[float, float, float, int] | None) -> str:
    if base is None:
        return ""
    if base[3]:
        return "; before: refused (over the limits of that version)"
    return f"; before: {base[0]:.2f} s, {base[1]:.2f} s CPU, {base[2]:.0f} MB"


def checks(tool: Tool, project: Path, work: Path, runs: int, baseline: Tool | None) -> None:
    seconds, rss, _ = tool.run("check", "--project", project)
    print(f"  shipped, cold user cache:  {seconds:6.2f} s  {rss:5.0f} MB  [{load()}]")
    at = ("check", "--project", project)
    # Alternated with the baseline, so a burst of load lands on both alike.
    warm, before = [], []
    for _ in range(runs):
        warm.append(_timed(tool, *at))
        if baseline is not None:
            before.append(_timed(baseline, *at))
    median = statistics.median(s for s, *_ in warm)
    cpu = statistics.median(c for _, c, *_ in warm)
    was = ""
    if before:
        was = (
            f"; before: {statistics.median(s for s, *_ in before):.2f} s, "
            f"{statistics.median(c for _, c, *_ in before):.2f} s CPU"
        )
    print(
        f"  shipped, warm:             {median:6.2f} s  {cpu:5.2f} s CPU "
        f"{max(r for *_, r, _ in warm):5.0f} MB (median of {runs}; target <= 1 s: "
        f"{'met' if median <= 1 else 'NOT met'}{was})  [{load()}]"
    )
    theme = next(
        p
        for p in sorted((project / "findings").glob("*.yaml"))
        if "findings:" in p.read_text("utf-8")
    )
    text = theme.read_text("utf-8")
    theme.write_text(text.replace("  summary: ", "  summary: Revised. ", 1), "utf-8")
    seconds, rss, _ = tool.run("check", "--project", project)
    theme.write_text(text, "utf-8")
    print(f"  shipped, one theme edited: {seconds:6.2f} s  {rss:5.0f} MB  [{load()}]")
    for total in (500, 5000):
        big = grown(project, work / f"findings-{total}", total)
        first = _timed(tool, "check", "--project", big)
        base = _timed(baseline, "check", "--project", big, ok=(0,)) if baseline else None
        again = _timed(tool, "check", "--project", big)
        if math.isnan(first[0]) or math.isnan(again[0]):
            sys.exit(f"briefs check failed on {total} findings")
        verdict = ""
        if total == 5000:
            # Judged on the first run: a CI run or a new clone starts with a cold cache.
            # Wall or CPU time, the lower, as for rendering: other programs inflate wall.
            met = min(first[0], first[1]) <= 2 and max(first[2], again[2]) <= 500
            verdict = f" (target <= 2 s on the first run, <= 500 MB: {'met' if met else 'NOT met'})"
        print(
            f"  {total:>5} findings:           {first[0]:6.2f} s  {first[1]:5.2f} s CPU "
            f"{first[2]:5.0f} MB first, {again[0]:.2f} s {again[1]:.2f} s CPU "
            f"{again[2]:.0f} MB again{verdict}{_versus(base)}  [{load()}]"
        )
    # The first runs above share the user cache the shipped checks filled (syllable
    # table, compiled templates, formatted citations); a CI machine starts with none.
    empty = copy.copy(tool)
    empty.env = {**tool.env, "BRIEFS_CACHE_DIR": str(work / "empty-cache")}
    seconds, cpu, rss, _ = _timed(empty, "check", "--project", big)
    print(
        f"   5000 findings, empty user cache (as on CI): {seconds:.2f} s  {cpu:.2f} s CPU "
        f"{rss:.0f} MB  [{load()}]"
    )


# -- builds -----------------------------------------------------------------------------


def builds(
    tool: Tool, shipped: Path, work: Path, briefs: int, runs: int, baseline: Tool | None
) -> None:
    project = work / "thirty"
    generate(project, briefs, shipped / "findings")
    shutil.copy(shipped / "briefs.toml", project / "briefs.toml")
    out = project / "output"
    at = ("--project", project)

    cold, rss, _ = tool.run("build", "--jobs", "1", *at)
    total = len(json.loads((out / "manifest.json").read_text("utf-8"))["briefs"])
    per_brief = cold / total
    print(
        f"  cold, --jobs 1:       {cold:7.2f} s  ({per_brief:.2f} s per brief, {total} "
        f"briefs, {rss:.0f} MB)  [{load()}]"
    )
    # The baseline's no-op needs its own manifest: it builds into a copy first.
    base_at = ()
    if baseline is not None:
        base_out = work / "thirty-baseline-out"
        shutil.copytree(out, base_out)
        base_at = ("--out", base_out, *at)
        try:
            baseline.run("build", "--jobs", "2", *base_at)
        except SystemExit:
            # An older revision may refuse today's project (a file kind it did not know).
            print("  (the baseline refuses this project: no before figure for the no-op)")
            baseline = None
    noops, before = [], []
    for _ in range(runs):
        noops.append(_timed(tool, "build", *at))
        if baseline is not None:
            before.append(_timed(baseline, "build", *base_at))
    noop = statistics.median(s for s, *_ in noops)
    was = ""
    if before:
        was = (
            f"; before: {statistics.median(s for s, *_ in before):.3f} s, "
            f"{statistics.median(c for _, c, *_ in before):.3f} s CPU"
        )
    print(
        f"  no-op:                {noop:7.3f} s median of {runs}, best "
        f"{min(s for s, *_ in noops):.3f} s, "
        f"{statistics.median(c for _, c, *_ in noops):.3f} s CPU "
        f"(target <= 0.3 s: {'met' if noop <= 0.3 else 'NOT met'}{was})  [{load()}]"
    )
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    finding_id, shows = pick_finding(manifest, total)
    edit_headline(project / "findings", finding_id)
    edited, _, _ = tool.run("build", *at)
    rendered = [
        b for b in json.loads((out / "changes.json").read_text("utf-8"))["briefs"] if b["rebuilt"]
    ]
    print(
        f"  one finding edited:   {edited:7.2f} s  ({len(rendered)} of {total} briefs "
        f"rendered; '{finding_id}' is in {shows})  [{load()}]"
    )

    # Cold builds of the edited project, both modes, alternated: the speed-up of --jobs 2.
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for jobs in ("2", "1"):
        target = work / f"whole-jobs{jobs}"
        timings[jobs] = tool.run("build", "--jobs", jobs, "--out", target, *at)[0]
        cpu[jobs] = tool.cpu
        if jobs == "2":
            serial = tool.main_cpu  # what the building process does while workers render
    speedup = timings["1"] / timings["2"]
    print(
        f"  cold, --jobs 2:       {timings['2']:7.2f} s vs --jobs 1 {timings['1']:.2f} s: "
        f"{speedup:.2f}x (target >= 1.7x: {'met' if speedup >= 1.7 else 'NOT met'})"
        f"  [{load()}]"
    )
    # On a busy machine wall time says little about two workers; CPU time says how much
    # work each mode does. With two idle cores, --jobs 2 takes about what its building
    # process does (validation, hashing, writing; in part while workers start) plus half
    # of what its workers do.
    estimate = cpu["1"] / (serial + (cpu["2"] - serial) / 2)
    print(
        f"  CPU, --jobs 2:        {cpu['2']:7.2f} s vs --jobs 1 {cpu['1']:.2f} s "
        f"({cpu['2'] / cpu['1']:.2f}x the work; {serial:.2f} s in the building process): "
        f"about {estimate:.2f}x faster on two idle cores"
    )

    # Three shards, each a cold build as on its own CI machine, then the merge.
    shard_times = []
    for k in (1, 2, 3):
        target = work / f"shard{k}"
        shard_times.append(
            tool.run("build", "--jobs", "1", "--shard", f"{k}/3", "--out", target, *at)[0]
        )
    merged = work / "merged"
    try:
        merge_time = tool.run(
            "merge", *(work / f"shard{k}" for k in (1, 2, 3)), "--out", merged, *at
        )[0]
    except SystemExit:
        print(
            f"  3 shards:             {max(shard_times):7.2f} s slowest shard (sum "
            f"{sum(shard_times):.2f} s); this version has no `briefs merge`"
        )
        return
    whole = work / "whole-jobs1"
    same = all(
        (merged / p.name).read_bytes() == p.read_bytes()
        for p in whole.iterdir()
        if p.suffix in (".pdf", ".html")
    )
    entries = [
        json.loads((d / "manifest.json").read_text("utf-8"))["briefs"] for d in (merged, whole)
    ]
    print(
        f"  3 shards + merge:     {max(shard_times):7.2f} s slowest shard (each "
        f"{', '.join(f'{t:.2f}' for t in shard_times)} s) + merge {merge_time:.2f} s vs one "
        f"machine --jobs 1 {timings['1']:.2f} s; briefs byte-identical to one build: "
        f"{'yes' if same and entries[0] == entries[1] else 'NO'}  [{load()}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--briefs", type=int, default=30, help="briefs for the build figures")
    parser.add_argument("--runs", type=int, default=5, help="repetitions of the quick figures")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: temp)")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also time the tool at this git revision (e.g. main), alternated with this one",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["render", "check", "build"],
        help="leave a section out",
    )
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="briefs-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        tool_root = snapshot_tool(work)
        tool = Tool(tool_root, work / "user-cache")
        baseline = None
        if args.baseline:
            baseline = Tool(snapshot_revision(args.baseline, work), work / "baseline-cache")
        print(f"work: {work}; {os.cpu_count()} CPUs, {load()}")
        shipped = shipped_project(work, tool)
        if "render" not in args.skip:
            print("rendering, per shipped brief (in this process):")
            os.environ["BRIEFS_CACHE_DIR"] = str(work / "user-cache")
            pipeline_and_design(shipped, max(args.runs, 7))
        if "check" not in args.skip:
            print("briefs check:")
            checks(tool, shipped, work, args.runs, baseline)
        if "build" not in args.skip:
            print(f"briefs build, {args.briefs} briefs:")
            builds(tool, shipped, work, args.briefs, args.runs, baseline)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
