"""YAML to data plus locations: what the loader returns and how it reports bad files."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from policy_briefs.corpus import load_corpus
from policy_briefs.errors import Problem, ValidationFailed, summarise
from policy_briefs.loader import load_yaml
from policy_briefs.project import Project
from support.mini import MINI


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
