"""YAML to data plus locations: what the loader returns and how it reports bad files."""

from __future__ import annotations

import datetime
import textwrap
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from policy_briefs import loader
from policy_briefs.corpus import load_corpus
from policy_briefs.errors import Problem, ValidationFailed, summarise
from policy_briefs.loader import load_yaml
from policy_briefs.project import Project
from policy_briefs.usercache import CACHE_ENV
from support.mini import MINI
from test_fuzz import TOKENS

# Well-formed pieces besides the fuzz test's troublemakers, so that many texts are clean.
PIECES = [
    "a: 1\n",
    "b:\n  - x\n  - y\n",
    "  c: d\n",
    "- e\n",
    "k: 'q'\n",
    'k: "v"\n',
    "? x\n",
    ": y\n",
    "x: >\n  folded\n  text\n",
    "y: |\n  lit\n",
    " # c\n",
    "1: one\n",
    "'1': one\n",
    "[a, b]",
    "{a: b}",
    "\r\n",
    "z: 2026-01-15\n",
    "yes",
    "0o17",
    "+.inf",
    "|-\n",
]


def load(tmp_path: Path, text: str | bytes, name: str = "doc.yaml"):
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(textwrap.dedent(text), "utf-8")
    else:
        path.write_bytes(text)
    return load_yaml(path, tmp_path)


def test_values_and_keys_are_located(tmp_path):
    doc, problems = load(
        tmp_path,
        """\
        theme:
          id: skills
        findings:
          - id: first
            evidence:
              - source: alpha
        """,
    )
    assert problems == []
    assert doc.display == "doc.yaml"
    assert doc.data["findings"][0]["evidence"][0]["source"] == "alpha"
    assert doc.locate(("findings", 0, "evidence", 0, "source")) == (6, 17)
    assert doc.locate(("findings", 0, "evidence", 0, "source"), key=True) == (6, 9)
    assert doc.locate(("theme", "id"), key=True) == (2, 3)
    # A path that does not exist points at its nearest existing parent.
    assert doc.locate(("findings", 0, "headline"), key=True) == (4, 5)
    problem = doc.problem(("theme", "id"), "bad id")
    assert str(problem) == "doc.yaml:2:7: error: bad id"


def test_duplicate_keys_are_errors_at_every_depth(tmp_path):
    _doc, problems = load(
        tmp_path,
        """\
        a: 1
        b:
          c: 1
          c: 2
        a: 3
        """,
    )
    assert [str(p) for p in problems] == [
        "doc.yaml:4:3: error: duplicate key 'c' (first at line 3); YAML keeps only the last "
        "one, so remove or rename one of them",
        "doc.yaml:5:1: error: duplicate key 'a' (first at line 1); YAML keeps only the last "
        "one, so remove or rename one of them",
    ]


def test_python_tags_are_refused(tmp_path):
    doc, problems = load(tmp_path, 'a: !!python/object/apply:os.system ["echo owned"]\n')
    assert doc is None
    assert len(problems) == 1
    assert str(problems[0]).startswith(
        "doc.yaml:1:4: error: YAML: could not determine a constructor for the tag"
    )
    assert "plain data" in problems[0].message


def test_aliases_are_walked_once(tmp_path):
    # Nine levels of nine aliases each would be 9**8 nodes if every alias were re-walked.
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    start = time.perf_counter()
    doc, problems = load(tmp_path, "\n".join(lines) + "\n")
    assert time.perf_counter() - start < 5  # generous: the point is not exponential
    # Expanded, that is 9**9 values: every later stage would walk them all, so it is refused.
    assert [p.message for p in problems] == [
        "YAML: more than 100,000 values once aliases (*name) are expanded; write the values "
        "out or use fewer aliases"
    ]
    doc, problems = load(tmp_path, "\n".join(lines[:4]) + "\n", "fewer.yaml")
    assert problems == [] and len(doc.data["l3"][0][0]) == 9

    _doc, problems = load(tmp_path, "a: &x {k: 1, k: 2}\nb: *x\nc: *x\n", "alias.yaml")
    assert len(problems) == 1, "an aliased mapping's duplicate key is reported once"


def test_utf8_with_byte_order_mark_loads(tmp_path):
    doc, problems = load(tmp_path, "\ufeffa: café\n".encode("utf-8"))
    assert problems == []
    assert doc.data == {"a": "café"}


def test_non_utf8_is_located_in_characters(tmp_path):
    doc, problems = load(
        tmp_path, "a: ok\nb: naïve café\n".encode()[:-6] + "café\n".encode("cp1252")
    )
    assert doc is None
    assert [str(p) for p in problems] == [
        "doc.yaml:2:13: error: file is not valid UTF-8 (byte 0xe9); save it as UTF-8 in your editor"
    ]


def test_empty_file_loads_as_nothing(tmp_path):
    doc, problems = load(tmp_path, "# only a comment\n")
    assert problems == []
    assert doc.data is None


def test_display_path_outside_the_root_stays_as_given(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n", "utf-8")
    doc, _ = load_yaml(path, tmp_path / "elsewhere")
    assert doc.display == str(path)


def test_mini_project_loads_cleanly():
    corpus, problems = load_corpus(Project.at(MINI))
    assert problems == []
    assert list(corpus.audiences) == ["federal", "sme"]
    assert list(corpus.themes) == ["networks", "strategy"]
    assert corpus.finding_theme == {
        "orders-through-networks": "networks",
        "commons-keeps-firms-competitive": "networks",
        "clusters-often-fail": "strategy",
    }
    assert corpus.publication.date == "2026-01-15"
    assert corpus.sources["beta-2021"].to_csl()["issued"] == {"date-parts": [[2021, 6, 1]]}


def test_unquoted_dates_become_iso_text(mini_project):
    path = mini_project / "findings" / "publication.yaml"
    path.write_text(
        path.read_text("utf-8").replace('date: "2026-01-15"', "date: 2026-01-15"), "utf-8"
    )
    corpus, problems = load_corpus(Project.at(mini_project))
    assert problems == []
    assert corpus.publication.date == "2026-01-15"


def test_theme_id_must_match_the_file_name(mini_project):
    path = mini_project / "findings" / "networks.yaml"
    path.rename(path.with_name("network.yaml"))
    _corpus, problems = load_corpus(Project.at(mini_project))
    assert [str(p) for p in problems] == [
        "findings/network.yaml:3:7: error: theme id 'networks' must equal the file name "
        "'network': rename one of them"
    ]


def test_problems_print_like_a_compiler_and_summarise():
    problems = [
        Problem("b.yaml", 2, 1, "warning", "w"),
        Problem("a.yaml", 9, 3, "error", "e"),
        Problem("a.yaml", 1, 1, "error", "e0"),
    ]
    assert str(problems[1]) == "a.yaml:9:3: error: e"
    assert summarise(problems) == "2 errors, 1 warning"
    assert summarise(problems[:1]) == "1 warning"
    assert summarise([]) == "no problems"
    failed = ValidationFailed(problems)
    assert [str(p) for p in failed.problems][:2] == [
        "a.yaml:1:1: error: e0",
        "a.yaml:9:3: error: e",
    ]
    assert str(failed) == "2 errors, 1 warning"


# --- the fast reader and the pure loader give one answer -------------------------------

REPO = Path(__file__).resolve().parent.parent


def _pure(path: Path, text: str):
    return loader._load_located(path, path.name, text)


def _agrees(path: Path, text: str) -> bool:
    """True when the fast reader read ``text``; asserts it read what the pure loader reads,
    with the same locations."""
    fast = loader.read_clean(text)
    if fast is loader.UNSURE:
        return False
    doc, problems = _pure(path, text)
    assert problems == [] and doc is not None, "the fast reader accepted a file with problems"
    assert fast == doc.data
    lazy = loader.Document(path, path.name, fast, unindexed=text)
    assert lazy.locate(()) == doc.locate(())
    assert (lazy.values, lazy.keys) == (doc.values, doc.keys)
    return True


def test_fast_reader_reads_every_shipped_and_fixture_file_as_the_pure_loader_does():
    files = sorted(REPO.glob("findings/*.yaml")) + sorted(REPO.glob("tests/projects/**/*.yaml"))
    assert files
    assert all(_agrees(path, path.read_text("utf-8")) for path in files)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(TOKENS + PIECES), min_size=1, max_size=30))
def test_fast_reader_never_disagrees_with_the_pure_loader(pieces):
    # Either it steps aside (UNSURE: the pure loader then answers) or it agrees exactly.
    _agrees(Path("doc.yaml"), "".join(pieces))


def test_nesting_that_would_crash_libyaml_is_located(tmp_path):
    # libyaml's composer recurses in C per level: 100,000 levels overflow its stack. The
    # fast reader reads events instead, and the pure loader stops at MAX_DEPTH.
    doc, problems = load(tmp_path, "[" * 200_000)
    assert doc is None
    assert [p.message for p in problems] == [
        f"nested more than {loader.MAX_DEPTH} levels deep; findings need only a few levels"
    ]


def test_clean_readings_are_remembered_and_dates_are_not(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    doc, _ = load(tmp_path, "a: [1, x]\nb: {c: null}\n")
    assert doc.data == {"a": [1, "x"], "b": {"c": None}}
    [entry] = (tmp_path / "cache" / "yaml").iterdir()
    again, problems = load(tmp_path, "a: [1, x]\nb: {c: null}\n", "again.yaml")
    assert problems == [] and again.data == doc.data
    assert again.locate(("b", "c")) == (2, 8)
    entry.write_text('{"data": {"a": "from the cache"}}', "utf-8")
    assert load(tmp_path, "a: [1, x]\nb: {c: null}\n", "third.yaml")[0].data == {
        "a": "from the cache"
    }
    # JSON would give a date back as text: such readings are not kept.
    doc, _ = load(tmp_path, "when: 2026-01-15\n", "dated.yaml")
    assert doc.data == {"when": datetime.date(2026, 1, 15)}
    assert len(list((tmp_path / "cache" / "yaml").iterdir())) == 1


def test_a_cached_reading_of_deep_text_cannot_crash_the_indexer(tmp_path, monkeypatch):
    # The user cache is trusted, but locating a problem must not hand libyaml's recursive
    # composer a text the fast reader would refuse, whatever the cache says about it.
    import hashlib

    from policy_briefs import usercache

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    text = "[" * 200_000
    key = hashlib.sha256(loader._CACHE_SALT + text.encode()).hexdigest()
    usercache.store("yaml", key, {"data": {"theme": 1}})
    doc, problems = load(tmp_path, text)
    assert problems == [] and doc.data == {"theme": 1}
    assert doc.locate(("theme",)) == (1, 1)
