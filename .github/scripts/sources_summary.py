"""The sources report (`briefs sources check`, JSON) as Markdown for the job summary.

Usage: python sources_summary.py output/sources-report.json >> "$GITHUB_STEP_SUMMARY"

Page addresses and server errors come from the web: every cell is escaped, so a page
cannot inject Markdown or HTML into the summary.
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

STATUSES = ("reachable", "redirected", "gone", "failing", "disallowed", "no-url")


def cell(value: object) -> str:
    text = " ".join(str("" if value is None else value).split())
    return html.escape(text, quote=False).replace("|", "&#124;").replace("`", "&#96;")


def summary(report: dict) -> str:
    counts = report.get("summary", {})
    parts = [f"{counts[s]} {s}" for s in STATUSES if counts.get(s)]
    lines = [
        "## Sources",
        "",
        f"Checked {cell(report.get('checked'))}: {', '.join(parts) or 'no sources'}; "
        f"{counts.get('quotes_vanished', 0)} of {counts.get('quotes', 0)} quotes vanished.",
        "",
    ]
    vanished = report.get("vanished") or []
    if vanished:
        lines += [
            "### Quotes no longer on their page",
            "",
            "| Finding | Source | Quote | Page |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {cell(v.get('finding'))} | {cell(v.get('source'))} | {cell(v.get('quote'))} "
            f"| {cell(v.get('url'))} |"
            for v in vanished
        ]
        lines.append("")
    troubled = [
        s
        for s in report.get("sources") or []
        if s.get("status") in ("gone", "failing", "disallowed")
    ]
    if troubled:
        lines += ["### Pages to look at", "", "| Source | Status | Detail |", "| --- | --- | --- |"]
        lines += [
            f"| {cell(s.get('id'))} | {cell(s.get('status'))} "
            f"| {cell(s.get('error') or s.get('http_status') or s.get('final_url'))} |"
            for s in troubled
        ]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: sources_summary.py REPORT.json", file=sys.stderr)
        return 2
    try:
        report = json.loads(Path(argv[0]).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        print(f"::warning::the sources report cannot be read: {exc}")
        return 0
    if not isinstance(report, dict):
        print("::warning::the sources report is not a JSON object")
        return 0
    sys.stdout.write(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
