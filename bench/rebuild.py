"""Rebuild timings on a generated project of 30 or more briefs.

    .venv/bin/python bench/rebuild.py [--briefs 30] [--runs 7] [--rounds 2] [--keep DIR]

The project is the real findings/ plus generated audiences: each reads the findings of
two or three themes, so one edited finding reaches some briefs and not others. Every
timing is the wall time of the full `briefs` command as a separate process, Python
start-up included. It prints:

- cold build (--jobs 1), and per brief;
- no-op rebuild (median and best of --runs) — target: under 0.3 s;
- an edit no brief shows (validation only) and an edit of one finding: how many briefs
  were rendered again and what that costs against the cold build's time per brief —
  target: no more than the briefs it touches;
- cold builds with --jobs 2 and --jobs 1, alternating, and the speed-up of the medians —
  target: at least 1.7x.

The tool (code and packaged templates) is copied first and the copy is timed, so edits
made in the working tree meanwhile cannot change what is measured. Other programs
compete for the same cores; the load average is printed with each figure.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BRIEFS = Path(sys.executable).parent / "briefs"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def snapshot_tool(into: Path) -> Path:
    """The package with its templates inside (as in a wheel); returns the import root.

    Compiled to bytecode, as pip does on install: without it every run would compile the
    package again when PYTHONDONTWRITEBYTECODE is set (a tenth of a second of start-up)."""
    import policy_briefs
    from policy_briefs.project import default_templates_dir

    package = into / "tool" / "policy_briefs"
    shutil.copytree(Path(policy_briefs.__file__).parent, package, ignore=IGNORE)
    if not (package / "templates").is_dir():
        shutil.copytree(default_templates_dir(), package / "templates", ignore=IGNORE)
    compileall.compile_dir(package, quiet=1)
    return package.parent


def snapshot_revision(revision: str, into: Path) -> Path:
    """The tool as it was at a git revision of this repository, laid out as snapshot_tool
    lays it out: the baseline that before/after figures are measured against."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src/policy_briefs", "templates"],
        capture_output=True,
        check=True,
    ).stdout
    unpacked = into / "baseline-src"
    unpacked.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(unpacked)], input=archive, check=True)
    package = into / "baseline" / "policy_briefs"
    shutil.copytree(unpacked / "src" / "policy_briefs", package)
    if not (package / "templates").is_dir():
        shutil.copytree(unpacked / "templates", package / "templates")
    compileall.compile_dir(package, quiet=1)
    return package.parent


def generate(project: Path, briefs: int, findings: Path = ROOT / "findings") -> None:
    """``findings`` (default: the repository's), with audiences added until there are
    ``briefs``."""
    shutil.copytree(findings, project / "findings")
    audiences_path = project / "findings" / "audiences.yaml"
    audiences_doc = yaml.safe_load(audiences_path.read_text("utf-8"))
    base = audiences_doc["audiences"]
    theme_files = {}
    for path in sorted((project / "findings").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text("utf-8"))
        if isinstance(doc, dict) and "theme" in doc:
            theme_files[path] = doc
    themes = sorted(theme_files, key=lambda p: theme_files[p]["theme"].get("order", 100))
    for n in range(len(base), briefs):
        model = base[n % len(base)]
        audience_id = f"{model['id']}-{n:02d}"
        audiences_doc["audiences"].append(
            {
                **model,
                "id": audience_id,
                "title": f"{model['title']} (group {n:02d})",
                "max_findings": 12,
            }
        )
        # Two or three themes per generated audience: an edit reaches only some briefs.
        picked = {themes[n % len(themes)], themes[(n * 3 + 1) % len(themes)]}
        if n % 3 == 0:
            picked.add(themes[(n * 5 + 2) % len(themes)])
        for path in picked:
            for finding in theme_files[path]["findings"]:
                relevance = finding.get("audiences") or {}
                template = relevance.get(model["id"]) or next(iter(relevance.values()), None)
                if template is not None:
                    relevance[audience_id] = dict(template)
    audiences_path.write_text(
        yaml.safe_dump(audiences_doc, sort_keys=False, allow_unicode=True, width=100), "utf-8"
    )
    for path, doc in theme_files.items():
        path.write_text(
            yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100), "utf-8"
        )


class Runner:
    def __init__(self, project: Path, tool: Path):
        self.project = project
        self.env = {
            **os.environ,
            "CI": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(tool), os.environ.get("PYTHONPATH")])),
        }

    def briefs(self, *args: str) -> float:
        start = time.perf_counter()
        result = subprocess.run(
            [str(BRIEFS), *args, "--project", str(self.project)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=3600,
        )
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"briefs {' '.join(args)} failed:\n{result.stderr}")
        return elapsed


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def changes(out: Path) -> dict:
    return json.loads((out / "changes.json").read_text("utf-8"))


def pick_finding(manifest: dict, total: int) -> tuple[str, int]:
    """A finding shown in some briefs but far from all: the edit the target is about."""
    counts: dict[str, int] = {}
    for entry in manifest["briefs"].values():
        for finding_id in entry["inputs"]["findings"]:
            counts[finding_id] = counts.get(finding_id, 0) + 1
    candidates = sorted((n, fid) for fid, n in counts.items() if 1 < n <= total // 3)
    n, finding_id = (
        candidates[len(candidates) // 2]
        if candidates
        else min((n, fid) for fid, n in counts.items())
    )
    return finding_id, n


def edit_headline(findings: Path, finding_id: str) -> None:
    for path in sorted(findings.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text("utf-8"))
        for finding in (doc or {}).get("findings", []) if isinstance(doc, dict) else []:
            if finding["id"] == finding_id:
                finding["headline"] = finding["headline"].rstrip(".") + " (revised)"
                path.write_text(
                    yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100), "utf-8"
                )
                return
    sys.exit(f"finding {finding_id} not found")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--briefs", type=int, default=30, help="briefs to generate (>= 3)")
    parser.add_argument("--runs", type=int, default=7, help="no-op rebuilds to time")
    parser.add_argument(
        "--rounds", type=int, default=2, help="cold builds per mode for the --jobs comparison"
    )
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: temp)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="briefs-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        tool = snapshot_tool(work)
        project = work / "project"
        generate(project, args.briefs)
        run = Runner(project, tool)
        out = project / "output"
        print(
            f"project: {project} ({args.briefs} briefs, PDF + HTML), "
            f"{os.cpu_count()} CPUs, {load()}"
        )

        cold = run.briefs("build", "--jobs", "1")
        manifest = json.loads((out / "manifest.json").read_text("utf-8"))
        total = len(manifest["briefs"])
        per_brief = cold / total
        print(
            f"cold build, --jobs 1:        {cold:7.2f} s  ({per_brief:.2f} s per brief, "
            f"{total} briefs)  [{load()}]"
        )

        times = [run.briefs("build") for _ in range(args.runs)]
        assert changes(out)["changed"] is False
        noop = statistics.median(times)
        print(
            f"no-op rebuild:               {noop:7.3f} s median, {min(times):.3f} s best "
            f"of {args.runs}  (target < 0.3 s: {'met' if noop < 0.3 else 'NOT met'})  "
            f"[{load()}]"
        )

        theme_file = next(
            p
            for p in sorted((project / "findings").glob("*.yaml"))
            if p.name not in ("audiences.yaml", "sources.yaml", "publication.yaml", "glossary.yaml")
        )
        theme_file.write_text(theme_file.read_text("utf-8") + "# reviewed\n", "utf-8")
        untouched = run.briefs("build")
        rendered = [b for b in changes(out)["briefs"] if b["rebuilt"]]
        print(
            f"edit no brief shows:         {untouched:7.2f} s  ({len(rendered)} briefs "
            f"rendered; validation and hashing only)  [{load()}]"
        )

        finding_id, shows = pick_finding(manifest, total)
        edit_headline(project / "findings", finding_id)
        edited = run.briefs("build")
        rendered = [b["slug"] for b in changes(out)["briefs"] if b["rebuilt"]]
        budget = untouched + len(rendered) * per_brief
        print(
            f"one finding edited:          {edited:7.2f} s  ({len(rendered)} of {total} "
            f"briefs rendered; '{finding_id}' is in {shows}; budget {budget:.2f} s = "
            f"validation + {len(rendered)} x {per_brief:.2f} s: "
            f"{'met' if edited <= budget * 1.1 and len(rendered) == shows else 'NOT met'})"
            f"  [{load()}]"
        )

        # Alternate the order so that a burst of load from elsewhere does not always
        # land on the same mode; compare medians.
        timings: dict[str, list[float]] = {"1": [], "2": []}
        for n in range(args.rounds):
            for jobs in ("2", "1") if n % 2 == 0 else ("1", "2"):
                target = work / f"out-jobs{jobs}"
                shutil.rmtree(target, ignore_errors=True)
                timings[jobs].append(run.briefs("build", "--jobs", jobs, "--out", str(target)))
        serial, parallel = (statistics.median(timings[j]) for j in ("1", "2"))
        speedup = serial / parallel
        rounds = ", ".join(
            f"{a:.1f}/{b:.1f}" for a, b in zip(timings["1"], timings["2"], strict=False)
        )
        print(
            f"cold build, --jobs 2:        {parallel:7.2f} s  vs --jobs 1 {serial:.2f} s "
            f"(medians of {args.rounds}; per round 1/2: {rounds}): {speedup:.2f}x  "
            f"(target >= 1.7x: {'met' if speedup >= 1.7 else 'NOT met'})  [{load()}]"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
