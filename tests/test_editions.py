"""Declared editions (findings/editions.yaml) and drafts (--theme/--finding).

An edition is built, kept current, counted, sharded, published and sent like an
audience's brief; a draft is marked as one and never published or sent.
"""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from policy_briefs.build import BuildOptions, build
from policy_briefs.deliver import SendOptions, send_briefs
from policy_briefs.errors import BriefsError
from policy_briefs.project import Project
from support.edits import edit

EDITION = "sme-supplier-networks"
EDITIONS = "findings/editions.yaml"
HTML = ("html",)


def manifest(root: Path) -> dict:
    return json.loads((root / "output" / "manifest.json").read_text("utf-8"))["briefs"]


def write_editions(root: Path, body: str) -> None:
    (root / EDITIONS).write_text("editions:\n" + body, "utf-8")


# --- validation ------------------------------------------------------------------------


def test_unknown_names_in_an_edition_are_located_with_a_suggestion(cli, mini_project):
    write_editions(
        mini_project,
        "  - slug: sme-nets\n"
        "    audience: smee\n"
        "    themes: [network]\n"
        "    findings: [orders-through-network]\n"
        "    title: Networks\n"
        "    argument: Networks help.\n",
    )
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert (
        "findings/editions.yaml:3:15: error: audience: unknown audience 'smee' (did you mean "
        "'sme'?); audiences are listed in audiences.yaml"
    ) in lines
    assert any(
        line.startswith("findings/editions.yaml:4:14: error: themes[0]: unknown theme 'network'")
        and "did you mean 'networks'?" in line
        for line in lines
    ), lines
    assert any(
        line.startswith("findings/editions.yaml:5:16: error: findings[0]: unknown finding")
        and "did you mean 'orders-through-networks'?" in line
        for line in lines
    ), lines


def test_duplicate_and_clashing_slugs_are_errors(cli, mini_project):
    entry = (
        "  - slug: {slug}\n    audience: sme\n    themes: [networks]\n"
        "    title: Networks\n    argument: Networks help.\n"
    )
    write_editions(mini_project, entry.format(slug="sme-nets") + entry.format(slug="sme-nets"))
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert (
        "findings/editions.yaml:7:11: error: duplicate edition slug 'sme-nets' "
        "(first defined at findings/editions.yaml:2)"
    ) in result.stderr
    write_editions(mini_project, entry.format(slug="federal"))
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert (
        "findings/editions.yaml:2:11: error: slug: 'federal' is the slug of the audience "
        "brief 'federal'"
    ) in result.stderr


def test_an_edition_must_select_findings_its_audience_receives(cli, mini_project):
    write_editions(
        mini_project,
        "  - slug: sme-commons\n    audience: sme\n"
        "    findings: [commons-keeps-firms-competitive]\n"
        "    title: Commons\n    argument: The commons helps.\n",
    )
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert (
        "findings/editions.yaml:4:16: error: findings[0]: finding "
        "'commons-keeps-firms-competitive' has no entry for audience 'sme'"
    ) in result.stderr
    write_editions(
        mini_project,
        "  - slug: sme-everything\n    audience: sme\n    title: All\n    argument: All of it.\n",
    )
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert (
        "findings/editions.yaml:2:5: error: editions[0]: an edition selects findings: give "
        "'themes', 'findings' or both"
    ) in result.stderr


def test_the_schema_describes_editions():
    from policy_briefs.models import json_schema

    schema = json.dumps(json_schema())
    assert "EditionsFile" in schema and "The brief's argued title" in schema


# --- build ------------------------------------------------------------------------------


def test_a_declared_edition_is_built_counted_and_kept_current(cli, mini_project):
    first = cli("build", "--format", "html", "--project", mini_project)
    assert first.exit_code == 0, first.output
    entry = manifest(mini_project)[EDITION]
    assert entry["edition"] is True and entry["draft"] is False
    assert entry["findings"] == ["orders-through-networks"]
    html = (mini_project / "output" / f"{EDITION}.html").read_text("utf-8")
    assert "Supplier networks bring small plants orders" in html
    assert "42 percent of their orders arrive through shared supplier networks" in html
    assert "Draft" not in html
    again = cli("build", "--format", "html", "--project", mini_project)
    assert "3 of 3 briefs up to date" in again.stderr

    # A finding only the audience brief shows changes: the edition stays as it was.
    edit(mini_project, "findings/strategy.yaml", "did not deliver.", "did not deliver jobs.")
    report = build(Project.at(mini_project), BuildOptions(formats=HTML))
    assert [b.brief.slug for b in report.briefs] == ["federal", "sme"]
    assert report.kept == [EDITION]

    # Its own finding changes: a stale edition is rebuilt by a plain `briefs build`.
    edit(
        mini_project,
        "findings/networks.yaml",
        "Joining a network can bring you orders.",
        "Joining a network can bring you new orders.",
    )
    report = build(Project.at(mini_project), BuildOptions(formats=HTML))
    assert EDITION in [b.brief.slug for b in report.briefs]
    html = (mini_project / "output" / f"{EDITION}.html").read_text("utf-8")
    assert "Joining a network can bring you new orders." in html


def test_build_selects_an_edition_by_slug_and_shards_include_editions(mini_project, tmp_path):
    project = Project.at(mini_project)
    report = build(project, BuildOptions(audiences=[EDITION], formats=HTML))
    assert [b.brief.slug for b in report.briefs] == [EDITION]
    shares = [
        [
            b.brief.slug
            for b in build(
                project, BuildOptions(formats=HTML, shard=(k, 2), out_dir=tmp_path / f"s{k}")
            ).briefs
        ]
        for k in (1, 2)
    ]
    assert sorted(shares[0] + shares[1]) == ["federal", "sme", EDITION]


def test_an_edition_no_longer_declared_is_dropped_by_a_full_build(mini_project):
    project = Project.at(mini_project)
    build(project, BuildOptions(formats=HTML))
    (mini_project / EDITIONS).unlink()
    build(project, BuildOptions(audiences=["sme"], formats=HTML))  # partial: keeps it
    assert EDITION in manifest(mini_project)
    report = build(project, BuildOptions(formats=HTML))
    assert EDITION not in manifest(mini_project)
    assert not (mini_project / "output" / f"{EDITION}.html").exists()
    assert report.changes is not None
    change = report.changes.get(EDITION)
    assert change is not None and change.status == "removed"


def test_an_edition_with_a_filter_or_a_draft_named_like_it_is_refused(cli, mini_project):
    result = cli("build", EDITION, "--theme", "networks", "--project", mini_project)
    assert result.exit_code == 1
    assert f"'{EDITION}' is a declared edition" in result.stderr
    write_editions(
        mini_project,
        "  - slug: sme-networks\n    audience: sme\n    themes: [networks]\n"
        "    title: Networks\n    argument: Networks bring orders.\n",
    )
    result = cli("build", "sme", "--theme", "networks", "--project", mini_project)
    assert result.exit_code == 1
    assert "would be named 'sme-networks', the slug of a declared edition" in result.stderr
    assert not (mini_project / "output").exists()


# --- drafts -----------------------------------------------------------------------------


@pytest.fixture
def with_draft(mini_project, cli) -> Path:
    """The mini project built in full (HTML), then a draft from one theme."""
    assert cli("build", "--format", "html", "--project", mini_project).exit_code == 0
    result = cli(
        "build", "sme", "--theme", "strategy", "--format", "html", "--project", mini_project
    )
    assert result.exit_code == 0, result.output
    return mini_project


def test_a_draft_is_marked_in_the_manifest_and_on_the_brief(with_draft):
    entry = manifest(with_draft)["sme-strategy"]
    assert entry["draft"] is True and entry["custom"] is True and entry["edition"] is False
    html = (with_draft / "output" / "sme-strategy.html").read_text("utf-8")
    assert html.count("Draft — not for distribution.") == 2  # cover and colophon
    assert "Draft of" in html and "(draft)" in html


def test_a_draft_is_never_published(with_draft, cli, tmp_path):
    site = tmp_path / "site"
    result = cli("publish", "--project", with_draft, "--out", site)
    assert result.exit_code == 0, result.output
    assert not (site / "briefs" / "sme-strategy.html").exists()
    assert (site / "briefs" / f"{EDITION}.html").is_file()
    index = (site / "index.html").read_text("utf-8")
    feed = (site / "feed.xml").read_text("utf-8")
    assert "sme-strategy" not in index and "sme-strategy" not in feed
    assert EDITION in index and EDITION in feed


def test_a_draft_an_older_site_listed_disappears(with_draft, cli, tmp_path):
    # An older version of the tool published custom briefs: their entries in the
    # site's history are not carried into a site built from a manifest that calls
    # them drafts.
    site = tmp_path / "site"
    assert cli("publish", "--project", with_draft, "--out", site).exit_code == 0
    history = json.loads((site / "versions.json").read_text("utf-8"))
    fake = dict(history[0], slug="sme-strategy", title="Old custom brief")
    fake["files"] = {"html": {"path": "briefs/sme-strategy.html", "bytes": 10}}
    (site / "briefs" / "sme-strategy.html").write_text("old", "utf-8")
    (site / "versions.json").write_text(json.dumps([*history, fake]), "utf-8")
    assert cli("publish", "--project", with_draft, "--out", site).exit_code == 0
    assert "sme-strategy" not in (site / "feed.xml").read_text("utf-8")
    assert "sme-strategy" not in (site / "versions.json").read_text("utf-8")
    assert not list(site.rglob("sme-strategy*"))


def test_drafts_alone_are_not_published(cli, mini_project, tmp_path):
    assert cli("build", "sme", "--theme", "strategy", "--project", mini_project).exit_code == 0
    result = cli("publish", "--project", mini_project, "--out", tmp_path / "site")
    assert result.exit_code == 1
    assert "lists only drafts" in result.stderr


STAKEHOLDERS = """\
stakeholders:
  - name: Sam Small
    email: sam@example.com
    audiences: [sme]
    format: html
"""


def test_a_draft_is_never_mailed_even_by_name(with_draft, tmp_path):
    (with_draft / "stakeholders.yaml").write_text(STAKEHOLDERS, "utf-8")
    outbox = tmp_path / "outbox"
    env = {"BRIEFS_FROM": "Policy Unit <briefs@example.org>"}
    with pytest.raises(BriefsError, match="'sme-strategy' is a draft .* never sent"):
        send_briefs(
            Project.at(with_draft),
            SendOptions(briefs=["sme-strategy"], outbox=outbox),
            env=env,
        )
    assert not outbox.exists() or not any(outbox.iterdir())
    report = send_briefs(Project.at(with_draft), SendOptions(outbox=outbox), env=env)
    sent = sorted(p.name for p in outbox.iterdir())
    assert report.ok and len(sent) == 2, sent
    assert not any("sme-strategy" in name for name in sent)
    (edition,) = [p for p in outbox.iterdir() if EDITION in p.name]
    message = email.message_from_bytes(edition.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Supplier networks bring small plants orders (version 1.0)"
    text = message.get_body(("plain",)).get_content()
    assert '"Supplier networks bring small plants orders" (version 1.0, January 15, 2026)' in text


def test_the_cli_refuses_to_send_a_draft_without_a_traceback(with_draft, cli, monkeypatch):
    (with_draft / "stakeholders.yaml").write_text(STAKEHOLDERS, "utf-8")
    monkeypatch.setenv("BRIEFS_FROM", "Policy Unit <briefs@example.org>")
    result = cli("send", "--brief", "sme-strategy", "--project", with_draft)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "is a draft (made with --theme/--finding) and drafts are never sent" in result.stderr


def test_a_custom_entry_of_an_older_manifest_counts_as_a_draft(with_draft):
    from policy_briefs import manifest as manifest_module

    path = with_draft / "output" / "manifest.json"
    data = json.loads(path.read_text("utf-8"))
    for entry in data["briefs"].values():
        entry.pop("draft")
        entry.pop("edition")
    recorded = manifest_module.parse(data, path, strict=True)
    assert recorded.briefs["sme-strategy"].draft is True
    assert recorded.briefs["sme"].draft is False
    # Without its edition flag an edition's entry is custom too: a draft until rebuilt.
    assert recorded.briefs[EDITION].draft is True


def test_list_and_check_show_editions(cli):
    from support.mini import MINI

    listed = cli("list", "--project", MINI).stdout.splitlines()
    assert "Editions (1)" in listed
    assert any(line.split()[:2] == [EDITION, "sme"] for line in listed)
    checked = cli("check", "--project", MINI)
    assert f"{EDITION} brief: 1 finding" in checked.stderr


def test_the_shipped_project_declares_a_fair_edition():
    root = Path(__file__).resolve().parent.parent
    project = Project.at(root)
    from policy_briefs.validate import load_valid_corpus

    corpus, _ = load_valid_corpus(project)
    assert corpus.editions, "findings/editions.yaml declares no edition"
    from policy_briefs.selection import plan_briefs

    for slug, edition in corpus.editions.items():
        (brief,) = plan_briefs(corpus, names=[slug])
        assert brief.argued and brief.argument == edition.argument
        assert brief.items and not brief.draft
