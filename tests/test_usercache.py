"""The user cache: pure results kept between runs, keyed by everything they depend on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policy_briefs import csl, usercache
from policy_briefs.citations import Citations, find_style
from policy_briefs.corpus import load_corpus
from policy_briefs.errors import BriefsError
from policy_briefs.models import Evidence
from policy_briefs.project import Project
from support.mini import MINI


def _formatted(style: str = "chicago-notes-bibliography", locator: str = "paragraph 2"):
    corpus, _ = load_corpus(Project.at(MINI))
    path = find_style(style, Project.at(MINI).template_dirs)
    assert path is not None
    cit = Citations(corpus.sources, csl.load_style(path), language="en-US")
    cit.cite(Evidence.model_construct(source="alpha-2020", locator=locator, quote="q"))
    return [str(n.text) for n in cit.notes()], cit.bibliography()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(usercache.CACHE_ENV, str(folder))
    return folder


def _failing_pandoc(monkeypatch, tmp_path: Path) -> None:
    """pandoc's version as before, but any run of it fails: only a cache hit succeeds."""
    exe = tmp_path / "pandoc"
    exe.write_text("#!/bin/sh\necho 'must not run' >&2; exit 9\n")
    exe.chmod(0o755)
    _real, version = csl.pandoc()
    monkeypatch.setattr(csl, "pandoc", lambda: (exe, version))


def test_pandoc_formats_the_same_citations_once(cache, monkeypatch, tmp_path):
    first = _formatted()
    assert list((cache / "citations").glob("*.json"))
    _failing_pandoc(monkeypatch, tmp_path)
    assert _formatted() == first
    # Another locator is another input: pandoc must run, and here it fails.
    with pytest.raises(BriefsError, match="must not run"):
        _formatted(locator="paragraph 3")


def test_an_edited_style_is_formatted_again(cache, monkeypatch, tmp_path):
    _formatted()
    style = Path(str(find_style("chicago-notes-bibliography", Project.at(MINI).template_dirs)))
    project_style = tmp_path / "templates" / "styles" / style.name
    project_style.parent.mkdir(parents=True)
    project_style.write_text(style.read_text("utf-8") + "\n<!-- edited -->\n", "utf-8")
    corpus, _ = load_corpus(Project.at(MINI))
    _failing_pandoc(monkeypatch, tmp_path)
    cit = Citations(corpus.sources, csl.load_style(project_style), language="en-US")
    cit.cite(Evidence.model_construct(source="alpha-2020", locator="paragraph 2", quote="q"))
    with pytest.raises(BriefsError, match="must not run"):
        cit.notes()


def test_a_damaged_entry_is_formatted_again(cache):
    first = _formatted()
    for entry in (cache / "citations").glob("*.json"):
        entry.write_text("{not json", "utf-8")
    assert _formatted() == first


@pytest.mark.parametrize("value", ["off", "0", ""])
def test_off_means_no_cache_at_all(monkeypatch, value, tmp_path):
    monkeypatch.setenv(usercache.CACHE_ENV, value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert usercache.cache_dir() is None
    usercache.store("kind", "abc123", {"x": 1})
    assert usercache.load("kind", "abc123") is None
    assert _formatted()[0]
    assert not (tmp_path / "xdg").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_cache_only_costs_time(monkeypatch, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    monkeypatch.setenv(usercache.CACHE_ENV, str(folder))
    try:
        assert usercache.cache_dir() is None
        assert _formatted()[0]
    finally:
        folder.chmod(0o700)


def test_keys_are_plain_names_not_paths(cache):
    usercache.store("kind", "../escape", {"x": 1})
    assert usercache.load("kind", "../escape") is None
    assert not (cache.parent / "escape.json").exists()


def test_the_cache_keeps_itself_small(cache, monkeypatch):
    monkeypatch.setattr(usercache, "MAX_ENTRIES", 10)
    for n in range(25):
        usercache.store("kind", f"key{n}", n)
    kept = list((cache / "kind").glob("*.json"))
    assert 5 <= len(kept) <= 10
    assert usercache.load("kind", "key24") == 24, "the newest entry stays"
