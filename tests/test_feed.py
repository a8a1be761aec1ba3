"""The Atom feed as a feed reader sees it (feedparser): a warning when there is no site
address, rel="self" when there is, and entry dates tied to the content, so a forced
rebuild that makes the same bytes does not move them."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from policy_briefs import api
from policy_briefs.build import BuildOptions
from policy_briefs.project import Project

HTML = ("html",)


def _feed(site: Path):
    parsed = feedparser.parse((site / "feed.xml").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def _build(project: Project, monkeypatch: pytest.MonkeyPatch, epoch: int, **options) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
    api.build(project, BuildOptions(formats=HTML, **options))


def test_no_site_address_is_warned_about(mini_project, cli, monkeypatch):
    monkeypatch.delenv("BRIEFS_SITE_URL", raising=False)
    assert cli("build", "--format", "html", "--project", mini_project).exit_code == 0
    result = cli("publish", "--project", mini_project)
    assert result.exit_code == 0, result.output
    assert "warning: no site address" in result.stderr and 'rel="self"' in result.stderr
    feed = _feed(mini_project / "output" / "site")
    assert not [link for link in feed.feed.links if link.rel == "self"]


def test_with_a_site_address_the_feed_names_itself(mini_project, cli, monkeypatch):
    monkeypatch.delenv("BRIEFS_SITE_URL", raising=False)
    assert cli("build", "--format", "html", "--project", mini_project).exit_code == 0
    url = "https://briefs.example.org/series/"
    result = cli("publish", "--project", mini_project, "--base-url", url)
    assert result.exit_code == 0 and "warning" not in result.stderr
    feed = _feed(mini_project / "output" / "site")
    selves = [link.href for link in feed.feed.links if link.rel == "self"]
    assert selves == [url + "feed.xml"]
    assert all(entry.link.startswith(url) for entry in feed.entries)


def test_a_forced_rebuild_with_the_same_bytes_keeps_the_entry_dates(
    mini_project, monkeypatch, tmp_path
):
    project = Project.at(mini_project)
    _build(project, monkeypatch, 1768435200)
    first = _feed(api.publish(project, tmp_path / "one").out)
    # A week later, a forced rebuild of unchanged inputs, published to a fresh folder
    # (as CI does): nothing carries the old dates but the build's own record.
    _build(project, monkeypatch, 1768435200 + 7 * 86400, force=True)
    again = _feed(api.publish(project, tmp_path / "two").out)
    dates = {e.id: (e.updated, e.published) for e in first.entries}
    assert dates and dates == {e.id: (e.updated, e.published) for e in again.entries}
    assert first.feed.updated == again.feed.updated

    # A real change dates its new entry at the build that made it.
    networks = mini_project / "findings" / "networks.yaml"
    text = networks.read_text("utf-8")
    networks.write_text(text.replace("Many orders now come through", "Many orders come through"))
    _build(project, monkeypatch, 1768435200 + 14 * 86400)
    later = _feed(api.publish(project, tmp_path / "three").out)
    moved = {e.id: e.updated for e in later.entries}.items() - {
        i: u for i, (u, _p) in dates.items()
    }.items()
    assert moved and all(u.startswith("2026-01-29") for _i, u in moved)
