"""`briefs sources archive` and `briefs sources check` against a loopback web site.

Every request goes to a server on 127.0.0.1 started here (tests/support/site_server.py), never to
the internet. Timeouts and waits are shrunk so the slow and flaky pages cost little.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from policy_briefs.archive.extract import ExtractionError, extract
from policy_briefs.archive.fetch import Fetcher, FetchSettings, user_agent
from policy_briefs.archive.store import archive_source, update_source_entry
from policy_briefs.archive.watch import check_sources
from policy_briefs.files import sha256_file
from policy_briefs.project import Project
from support.mini import MINI
from support.site_server import ARTICLE_BODY, CHANGED_BODY, Site, page, start

UA = "policy-briefs/test (+mailto:briefs@example.org)"


def fast(**overrides) -> FetchSettings:
    """Settings for tests: sub-second timeouts, no waiting between tries or requests."""
    values = dict(
        timeout=0.5,
        deadline=2.0,
        attempts=3,
        backoff=0.0,
        max_wait=0.0,
        host_interval=0.0,
        max_bytes=100_000,
        user_agent=UA,
    )
    return FetchSettings(**(values | overrides))


@pytest.fixture(scope="module")
def server():
    site = Site()
    httpd, base = start(site)
    yield site, base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def site(server) -> Site:
    server[0].reset()
    return server[0]


@pytest.fixture
def base(server, site) -> str:
    return server[1]


def fetch(url: str, **overrides):
    with Fetcher(fast(**overrides)) as fetcher:
        return fetcher.fetch(url)


# --- fetch --------------------------------------------------------------------------


def test_a_page_is_fetched_with_a_polite_user_agent_and_robots_read_once(site, base):
    with Fetcher(fast()) as fetcher:
        first = fetcher.fetch(f"{base}/article")
        second = fetcher.fetch(f"{base}/missing")
    assert first.ok and first.status == 200 and first.final_url == f"{base}/article"
    assert not first.redirected and first.content_type == "text/html"
    assert first.retrieved.tzinfo is not None and b"shared supplier" in first.body
    assert second.status == 404 and second.error is None
    assert site.hits["/robots.txt"] == 1, "robots.txt is cached per host"
    assert set(site.agents) == {UA}


def test_the_default_user_agent_names_the_program_and_version():
    from policy_briefs import __version__

    assert user_agent() == f"policy-briefs/{__version__}"
    assert user_agent("briefs@example.org").endswith("(+mailto:briefs@example.org)")
    assert user_agent("https://example.org/briefs").endswith("(+https://example.org/briefs)")


def test_a_redirect_chain_is_recorded_hop_by_hop(site, base):
    result = fetch(f"{base}/old")
    assert result.ok and result.final_url == f"{base}/moved/article"
    assert [(h.url, h.status, h.location) for h in result.hops] == [
        (f"{base}/old", 301, f"{base}/older"),
        (f"{base}/older", 301, f"{base}/moved/article"),
    ]


@pytest.mark.parametrize("path,status", [("/missing", 404), ("/removed", 410)])
def test_gone_pages_are_answers_not_errors(site, base, path, status):
    result = fetch(f"{base}{path}")
    assert result.status == status and result.error is None and not result.ok
    assert site.hits[path] == 1, "a 404 or 410 is not tried again"


def test_a_failing_server_is_tried_again_with_backoff_then_reported(site, base):
    waits: list[float] = []
    with Fetcher(fast(backoff=0.01, max_wait=5.0), sleep=waits.append) as fetcher:
        result = fetcher.fetch(f"{base}/down")
    assert result.status == 503 and result.attempts == 3 and site.hits["/down"] == 3
    # Retry-After: 120 is honoured but capped by max_wait.
    assert waits == [5.0, 5.0]


def test_backoff_doubles_between_tries(site, base):
    waits: list[float] = []
    site.flaky_failures = 2
    with Fetcher(fast(backoff=0.01, max_wait=1.0, attempts=4), sleep=waits.append) as fetcher:
        result = fetcher.fetch(f"{base}/flaky")
    assert result.ok and result.attempts == 3
    assert waits == pytest.approx([0.01, 0.02])


def test_a_server_that_recovers_is_read_on_the_next_try(site, base):
    result = fetch(f"{base}/flaky")
    assert result.ok and result.attempts == 2 and site.hits["/flaky"] == 2


def test_a_slow_server_times_out_quickly(site, base):
    started = time.monotonic()
    result = fetch(f"{base}/slow", timeout=0.3, attempts=2)
    assert result.error_kind == "timeout" and "timed out" in result.error
    assert result.status is None and result.attempts == site.hits["/slow"] == 2
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
def test_a_body_over_the_size_limit_is_refused(site, base, path):
    result = fetch(f"{base}{path}")
    assert result.error_kind == "too-large" and not result.body


def test_robots_txt_is_obeyed_and_the_page_never_requested(site, base):
    result = fetch(f"{base}/private/page")
    assert result.error_kind == "robots" and "robots.txt" in result.error
    assert site.hits["/private/page"] == 0


def test_an_unreachable_robots_txt_means_nothing_is_fetched(site, base):
    site.robots_status = 503
    result = fetch(f"{base}/article", attempts=1)
    assert result.error_kind == "server" and "robots.txt" in result.error
    assert site.hits["/article"] == 0


def test_a_missing_robots_txt_allows_everything(site, base):
    site.robots_status = 404
    assert fetch(f"{base}/article").ok


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "notaurl"])
def test_only_http_and_https_are_fetched(url):
    result = fetch(url)
    assert result.error_kind == "url" and "http" in result.error


def test_a_redirect_to_another_scheme_or_a_loop_is_refused(site, base):
    assert fetch(f"{base}/to-file").error_kind == "url"
    looping = fetch(f"{base}/loop", max_redirects=3)
    assert looping.error_kind == "redirects" and site.hits["/loop"] == 4


def test_a_closed_port_is_a_connection_failure():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = fetch(f"http://127.0.0.1:{port}/x", attempts=1)
    assert result.error_kind == "connection" and result.status is None


def test_requests_to_one_host_are_spaced(site, base):
    waits: list[float] = []
    with Fetcher(fast(host_interval=0.5), sleep=waits.append) as fetcher:
        fetcher.fetch(f"{base}/article")
        fetcher.fetch(f"{base}/article")
    assert waits and all(0 < w <= 0.5 for w in waits)


# --- extract ------------------------------------------------------------------------


def test_the_main_text_is_kept_and_the_furniture_dropped():
    out = extract(page(ARTICLE_BODY), "text/html", "utf-8", "http://127.0.0.1/a")
    assert out.extractor.startswith("trafilatura ")
    paragraphs = [line for line in out.text.splitlines() if line]
    assert paragraphs[0] == "Alpha Institute: Notes on Regional Making"
    assert paragraphs[1] == (
        "Regional toolmakers reported that 42 percent of orders now "
        "arrive through shared supplier networks. That share was 12 percent in 2011, "
        "18 percent in 2014 and 27 percent in 2017."
    )
    assert "\u201ca shared industrial commons\u201d" in paragraphs[2]
    for furniture in ("Home", "Become a member", "Contact us", "2020 Alpha"):
        assert furniture not in out.text
    assert out.text.endswith("\n") and "\n\n" in out.text
    assert extract(page(ARTICLE_BODY), "text/html", "utf-8") == extract(
        page(ARTICLE_BODY), "text/html", "utf-8"
    ), "the same page gives the same text"


def test_plain_text_is_kept_and_other_documents_refused():
    out = extract(b"One.\r\n\r\nTwo  words.\n", "text/plain", None)
    assert out.text == "One.\n\nTwo words.\n" and out.extractor == "plain text"
    with pytest.raises(ExtractionError, match="application/pdf"):
        extract(b"%PDF-1.7", "application/pdf")
    with pytest.raises(ExtractionError, match="no main text"):
        extract(b"<html><body></body></html>", "text/html")


# --- archive ------------------------------------------------------------------------

SOURCES_WITH_COMMENTS = """\
# yaml-language-server: $schema=schema.json
# The bibliography. Keep entries in the order they were added.
sources:
  - id: alpha-2020   # the institute's notes
    type: report
    title: Notes on Regional Making
    author:
      - {literal: Alpha Institute}
    publisher: Alpha Institute
    issued: "2020-03"
    URL: {alpha_url}
    snapshot: alpha.txt  # archived by hand
    # beta is the magazine review

  - id: beta-2021
    type: article-magazine
    title: Review of Cluster Policy
    author:
      - {{family: Beta, given: Ann}}
    container-title: 'Policy Review'
    issued: "2021-06-01"
    DOI: 10.1234/beta.2021
    snapshot: beta.txt
    body: [3, 5]
# end of the bibliography
"""


def with_sources(project: Path, alpha_url: str) -> Path:
    path = project / "findings" / "sources.yaml"
    path.write_text(
        SOURCES_WITH_COMMENTS.replace("{alpha_url}", alpha_url)
        .replace("{{", "{")
        .replace("}}", "}"),
        encoding="utf-8",
    )
    return path


def test_archive_stores_the_text_and_records_provenance_in_place(site, base, mini_project):
    sources_yaml = with_sources(mini_project, f"{base}/old")
    before = sources_yaml.read_text("utf-8")
    folder = mini_project / "sources"
    report = archive_source(Project.at(mini_project), "alpha-2020", folder, settings=fast())

    # The hand-made alpha.txt differs, so it is kept and a dated file is written.
    assert (folder / "alpha.txt").read_text("utf-8").startswith("Alpha Institute: Notes")
    date = report.provenance.retrieved[:10]
    assert report.snapshot == folder / f"alpha-2020-{date}.txt" and report.written
    assert report.previous == "alpha.txt" and report.missing_quotes == []
    assert len(report.hops) == 2

    entry = yaml.safe_load(sources_yaml.read_text("utf-8"))["sources"][0]
    prov = entry["provenance"]
    assert entry["snapshot"] == report.snapshot.name and entry["accessed"] == date
    assert prov["url"] == f"{base}/old" and prov["final_url"] == f"{base}/moved/article"
    assert prov["status"] == 200 and prov["sha256"] == sha256_file(report.snapshot)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", prov["retrieved"])
    assert prov["extractor"].startswith("trafilatura ")

    # Only the alpha entry changed; every comment, quote style and line elsewhere stays.
    after = sources_yaml.read_text("utf-8")
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    removed = [line for line in before.splitlines() if line not in after.splitlines()]
    assert removed == ["    snapshot: alpha.txt  # archived by hand"]
    assert added[:4] == [
        f'    accessed: "{date}"',  # after URL, where CSL fields stand
        f"    snapshot: {report.snapshot.name}  # archived by hand",
        "    provenance:",
        f"      url: {base}/old",
    ]
    assert added[-1].startswith("      extractor: trafilatura ")
    for kept in (
        "# The bibliography. Keep entries in the order they were added.",
        "  - id: alpha-2020   # the institute's notes",
        "    # beta is the magazine review",
        "    container-title: 'Policy Review'",
        "      - {family: Beta, given: Ann}",
        "# end of the bibliography",
    ):
        assert kept in after.splitlines()
    # The comment before beta still stands right before beta, after the new keys.
    lines = after.splitlines()
    assert lines.index("    # beta is the magazine review") == lines.index("  - id: beta-2021") - 2


def test_the_archived_project_passes_check_and_an_edited_snapshot_is_caught(
    site, base, mini_project, cli
):
    with_sources(mini_project, f"{base}/article")
    folder = mini_project / "sources"
    report = archive_source(Project.at(mini_project), "alpha-2020", folder, settings=fast())
    # The extracted text starts with the page's title, so paragraphs count from there until
    # the source's body says where its own text starts.
    result = cli("check", "--project", mini_project, "--sources-dir", folder)
    assert result.exit_code == 1
    assert "the quote is in paragraph 2 of the body of" in result.stderr
    sources_yaml = mini_project / "findings" / "sources.yaml"
    text = sources_yaml.read_text("utf-8")
    lines = report.snapshot.read_text("utf-8").splitlines()
    first = next(n for n, t in enumerate(lines, 1) if t.startswith("Regional toolmakers"))
    sources_yaml.write_text(
        text.replace(
            "  - id: beta-2021", f"    body: [{first}, {len(lines)}]\n\n  - id: beta-2021", 1
        ),
        "utf-8",
    )
    result = cli("check", "--project", mini_project, "--sources-dir", folder)
    assert result.exit_code == 0, result.output

    report.snapshot.write_text(
        report.snapshot.read_text("utf-8") + "An added line.\n", encoding="utf-8"
    )
    result = cli("check", "--project", mini_project, "--sources-dir", folder)
    assert result.exit_code == 1
    text = (mini_project / "findings" / "sources.yaml").read_text("utf-8").splitlines()
    line = next(i for i, t in enumerate(text, 1) if t.strip().startswith("sha256:"))
    assert re.search(
        rf"^findings/sources\.yaml:{line}:\d+: error: snapshot "
        rf"'{re.escape(report.snapshot.name)}' .*no longer matches its provenance "
        r"record.*run `briefs sources archive alpha-2020`",
        result.stderr,
        re.M,
    )


def test_archiving_the_same_text_again_writes_nothing_new(site, base, mini_project):
    with_sources(mini_project, f"{base}/article")
    folder = mini_project / "sources"
    first = archive_source(Project.at(mini_project), "alpha-2020", folder, settings=fast())
    files = sorted(folder.iterdir())
    second = archive_source(Project.at(mini_project), "alpha-2020", folder, settings=fast())
    assert second.snapshot == first.snapshot and not second.written
    assert sorted(folder.iterdir()) == files


def test_replace_overwrites_the_named_snapshot(site, base, mini_project):
    with_sources(mini_project, f"{base}/article")
    folder = mini_project / "sources"
    report = archive_source(
        Project.at(mini_project), "alpha-2020", folder, replace=True, settings=fast()
    )
    assert report.snapshot == folder / "alpha.txt" and report.replaced == "alpha.txt"
    assert "Members of the survey panel" in (folder / "alpha.txt").read_text("utf-8")
    assert sorted(p.name for p in folder.iterdir()) == ["alpha.txt", "beta.txt"]


def test_a_changed_page_is_archived_beside_the_old_snapshot_and_lost_quotes_named(
    site, base, mini_project
):
    with_sources(mini_project, f"{base}/changing")
    folder = mini_project / "sources"
    first = archive_source(Project.at(mini_project), "alpha-2020", folder, settings=fast())
    site.changing = page(CHANGED_BODY)
    second = archive_source(Project.at(mini_project), "alpha-2020", folder, settings=fast())
    assert second.snapshot != first.snapshot and first.snapshot.is_file()
    assert second.snapshot.name.startswith(f"{first.snapshot.stem}-")
    assert [q.finding for q in second.missing_quotes] == ["orders-through-networks"]


def test_a_url_given_for_a_source_without_one_is_recorded(site, base, mini_project):
    sources_yaml = with_sources(mini_project, f"{base}/article")
    report = archive_source(
        Project.at(mini_project),
        "beta-2021",
        mini_project / "sources",
        f"{base}/plain",
        settings=fast(),
    )
    entry = yaml.safe_load(sources_yaml.read_text("utf-8"))["sources"][1]
    assert report.url_added and entry["URL"] == f"{base}/plain"
    assert entry["provenance"]["extractor"] == "plain text"
    keys = list(entry)
    assert keys.index("URL") == keys.index("DOI") + 1


def test_archive_into_an_empty_sources_folder_uses_the_id(site, base, mini_project):
    sources_yaml = with_sources(mini_project, f"{base}/article")
    sources_yaml.write_text(
        sources_yaml.read_text("utf-8").replace(
            "    snapshot: alpha.txt  # archived by hand\n", ""
        ),
        encoding="utf-8",
    )
    folder = mini_project / "elsewhere"
    report = archive_source(Project.at(mini_project), "alpha-2020", folder, settings=fast())
    assert report.snapshot == folder / "alpha-2020.txt" and report.previous is None


def test_update_keeps_a_file_without_comments_byte_for_byte_outside_the_entry(tmp_path):
    path = tmp_path / "sources.yaml"
    original = textwrap.dedent("""\
        sources:
        - id: one
          type: report
          title: "One: a title with a colon"
          URL: https://example.org/one
        - id: two
          type: webpage
          title: Two
        """)
    path.write_text(original, encoding="utf-8")
    update_source_entry(path, 1, "two", {"accessed": "2026-01-02", "snapshot": "two.txt"})
    assert path.read_text("utf-8") == original + '  accessed: "2026-01-02"\n  snapshot: two.txt\n'


@pytest.mark.parametrize(
    "args,message",
    [
        (["nope-2020"], "no source 'nope-2020'"),
        (["alpha-202"], "did you mean 'alpha-2020'"),
        (["beta-2021"], "source 'beta-2021' has no URL"),
    ],
)
def test_archive_refuses_unknown_or_address_less_sources(
    site, base, mini_project, cli, args, message
):
    with_sources(mini_project, f"{base}/article")
    result = cli("sources", "archive", *args, "--project", mini_project, "--timeout", "0.5")
    assert result.exit_code == 1 and message in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "path,message",
    [
        ("/missing", "HTTP 404; nothing archived"),
        ("/private/page", "robots.txt does not allow"),
        ("/report.pdf", "cannot take text from a 'application/pdf' response"),
        ("/slow", "timed out after 0.5 s"),
    ],
)
def test_archive_failures_are_messages_and_change_nothing(
    site, base, mini_project, cli, path, message
):
    sources_yaml = with_sources(mini_project, f"{base}{path}")
    before = sources_yaml.read_text("utf-8")
    files = sorted((mini_project / "sources").iterdir())
    result = cli(
        "sources",
        "archive",
        "alpha-2020",
        "--project",
        mini_project,
        "--timeout",
        "0.5",
        "--retries",
        "0",
    )
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert sources_yaml.read_text("utf-8") == before
    assert sorted((mini_project / "sources").iterdir()) == files


def test_the_archive_command_prints_the_snapshot_and_what_it_did(site, base, mini_project, cli):
    with_sources(mini_project, f"{base}/old")
    result = cli(
        "sources",
        "archive",
        "alpha-2020",
        "--project",
        mini_project,
        "--sources-dir",
        mini_project / "sources",
        "--timeout",
        "0.5",
    )
    assert result.exit_code == 0, result.output
    snapshot = Path(result.stdout.strip())
    assert snapshot.name.startswith("alpha-2020-") and snapshot.is_file()
    assert f"{base}/old: HTTP 301 -> {base}/older" in result.stderr
    assert "alpha.txt, which is kept" in result.stderr
    assert "updated source 'alpha-2020'" in result.stderr
    assert site.agents[0].endswith("(+mailto:briefs@example.org)"), "contact from publication"


# --- check (the watcher) ------------------------------------------------------------

WATCH_SOURCES = {
    "ok": "/article",
    "moved": "/old",
    "missing": "/missing",
    "removed": "/removed",
    "down": "/down",
    "slow": "/slow",
    "private": "/private/page",
    "changed": "/changing",
    "furniture": "/furniture",
    "unlisted": None,
}
QUOTE = "42 percent of orders now arrive through shared supplier networks"


def watch_project(root: Path, base: str) -> Path:
    (root / "findings").mkdir(parents=True)
    sources = ["sources:"]
    findings = ["theme: {id: watch, title: Watch}", "findings:"]
    for name, path in WATCH_SOURCES.items():
        sources += [f"  - id: {name}", "    type: webpage", f"    title: {name.title()}"]
        if path:
            sources.append(f"    URL: {base}{path}")
        findings += [
            f"  - id: finding-{name}",
            "    headline: A claim",
            "    summary: A claim.",
            "    evidence:",
            f"      - source: {name}",
            "        locator: paragraph 2",
            f'        quote: "{QUOTE}"',
            "        stance: reports",
        ]
    for name in ("audiences.yaml", "publication.yaml"):
        shutil.copy(MINI / "findings" / name, root / "findings" / name)
    (root / "findings" / "sources.yaml").write_text("\n".join(sources) + "\n", "utf-8")
    (root / "findings" / "watch.yaml").write_text("\n".join(findings) + "\n", "utf-8")
    return root


def test_check_reports_each_source_and_each_quote(site, base, tmp_path):
    project = Project.at(watch_project(tmp_path / "p", base))
    site.changing = page(CHANGED_BODY)
    lines: list[str] = []
    report = check_sources(project, settings=fast(timeout=0.3, attempts=2), progress=lines.append)
    by_id = {s.id: s for s in report.sources}
    assert {i: s.status for i, s in by_id.items()} == {
        "ok": "reachable",
        "moved": "redirected",
        "missing": "gone",
        "removed": "gone",
        "down": "failing",
        "slow": "failing",
        "private": "disallowed",
        "changed": "reachable",
        "furniture": "reachable",
        "unlisted": "no-url",
    }
    assert by_id["moved"].final_url == f"{base}/moved/article"
    assert by_id["down"].http_status == 503 and "timed out" in by_id["slow"].error
    assert by_id["ok"].quotes[0].present is True
    assert by_id["moved"].quotes[0].present is True
    assert by_id["furniture"].quotes[0].present and by_id["furniture"].quotes[0].outside_main_text
    for name in ("missing", "down", "slow", "private", "unlisted"):
        assert by_id[name].quotes[0].present is None, name
    vanished = by_id["changed"].quotes[0]
    assert vanished.present is False and "half of their orders now come" in vanished.closest
    assert [(s.id, q.finding) for s, q in report.vanished] == [("changed", "finding-changed")]
    assert report.failed and site.hits["/private/page"] == 0
    assert len(lines) == 9, "one progress line per source with a URL"

    # The vanished quote is a located error at the quote; lost pages are warnings.
    errors = [p for p in report.problems if p.severity == "error"]
    assert len(errors) == 1 and errors[0].path == "findings/watch.yaml"
    assert "no longer on" in errors[0].message and "'changed'" in errors[0].message
    watch_lines = (tmp_path / "p" / "findings" / "watch.yaml").read_text().splitlines()
    assert QUOTE in watch_lines[errors[0].line - 1]
    warned = [p.message.split(";")[0] for p in report.problems if p.severity == "warning"]
    assert sorted(warned) == [
        "URL: the page is gone (HTTP 404)",
        "URL: the page is gone (HTTP 410)",
        f"URL: the page moved to {base}/moved/article",
    ]


def test_check_knows_when_the_text_changed_since_it_was_archived(site, base, mini_project):
    with_sources(mini_project, f"{base}/changing")
    project = Project.at(mini_project)
    archive_source(project, "alpha-2020", mini_project / "sources", settings=fast())
    same = check_sources(project, settings=fast(), only=["alpha-2020"])
    assert same.sources[0].changed_since_archive is False and not same.failed
    site.changing = page(CHANGED_BODY)
    changed = check_sources(project, settings=fast(), only=["alpha-2020"])
    assert changed.sources[0].changed_since_archive is True and changed.failed


def test_the_check_command_exits_1_only_when_a_quote_vanished(site, base, tmp_path, cli):
    root = watch_project(tmp_path / "p", base)
    args = (
        "sources",
        "check",
        "--project",
        root,
        "--timeout",
        "0.3",
        "--retries",
        "0",
        "--interval",
        "0",
    )
    result = cli(*args)
    assert result.exit_code == 0, result.output  # down, gone, slow: reported, not failed
    report_file = root / "output" / "sources-report.json"
    data = json.loads(report_file.read_text("utf-8"))
    assert data["ok"] is True and data["summary"]["failing"] == 2
    assert data["summary"]["quotes_vanished"] == 0
    assert "moved: redirected to" in result.stderr and "down: failing: " in result.stderr

    site.changing = page(CHANGED_BODY)
    out = tmp_path / "report.json"
    result = cli(*args, "--json-report", out, "--json")
    assert result.exit_code == 1
    assert "quotes vanished from their sources in: finding-changed" in result.stderr
    assert re.search(
        r"^findings/watch\.yaml:\d+:\d+: error: evidence\[0\]\.quote: no longer "
        r"on ",
        result.stderr,
        re.M,
    )
    printed = json.loads(result.stdout)
    assert printed == json.loads(out.read_text("utf-8"))
    assert printed["vanished"] == [
        {
            "source": "changed",
            "finding": "finding-changed",
            "evidence": 0,
            "quote": QUOTE,
            "url": f"{base}/changing",
        }
    ]
    changed = next(s for s in printed["sources"] if s["id"] == "changed")
    assert changed["quotes"][0]["present"] is False
    moved = next(s for s in printed["sources"] if s["id"] == "moved")
    assert [r["status"] for r in moved["redirects"]] == [301, 301]


def test_check_only_some_sources_and_refuse_unknown_ones(site, base, tmp_path, cli):
    root = watch_project(tmp_path / "p", base)
    result = cli("sources", "check", "--project", root, "--source", "ok", "--interval", "0")
    assert result.exit_code == 0 and "1 source: 1 reachable" in result.stderr
    assert site.hits["/missing"] == 0
    result = cli("sources", "check", "--project", root, "--source", "nope")
    assert result.exit_code == 1 and "no source 'nope'" in result.stderr


def test_a_page_whose_text_cannot_be_read_is_reported_not_failed(site, base, tmp_path):
    root = watch_project(tmp_path / "p", base)
    sources = root / "findings" / "sources.yaml"
    sources.write_text(sources.read_text("utf-8").replace("/article", "/report.pdf"), "utf-8")
    report = check_sources(Project.at(root), settings=fast(), only=["ok"])
    (check,) = report.sources
    assert check.status == "reachable" and check.quotes[0].present is None
    assert "page text not read" in check.describe() and not report.failed
