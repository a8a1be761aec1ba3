"""Hostile and broken inputs: every one ends as a located problem, never an internal error,
a hang, or a read outside the project (see SECURITY.md).

Limits are exercised with small values patched in, not with files of their real size.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from policy_briefs import loader
from policy_briefs.confine import OutsideRoot, confined, confinement_problem, is_inside
from policy_briefs.errors import Problem
from policy_briefs.loader import load_yaml

SECRET = "SECRET-CONTENT-do-not-echo"


def load(tmp_path: Path, text: str | bytes, name: str = "doc.yaml"):
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, "utf-8")
    else:
        path.write_bytes(text)
    return load_yaml(path, tmp_path)


def messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def secret_outside(tmp_path: Path) -> Path:
    """A file outside the project whose content must never be shown."""
    outside = tmp_path / "elsewhere"
    outside.mkdir(exist_ok=True)
    path = outside / "secret.txt"
    path.write_text(f"{SECRET}\n{{{{ broken\n", "utf-8")
    return path


# --- the confinement helper -------------------------------------------------------------


@pytest.mark.parametrize(
    "relative",
    [
        "/etc/hostname",
        "../secret.txt",
        "a/../../secret.txt",
        "C:\\Windows\\x",
        "\\\\host\\share",
        "",
        "nul\0byte",
        ".",
    ],
)
def test_confined_refuses_paths_that_leave_the_root(tmp_path, relative):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(OutsideRoot) as caught:
        confined(root, relative, what="snapshot", where=("findings/sources.yaml", 7, 15))
    problem = caught.value.problem
    assert (problem.path, problem.line, problem.column) == ("findings/sources.yaml", 7, 15)
    assert problem.message.startswith(f"snapshot '{relative}' ")
    assert problem.message.endswith("; it must stay inside root/")


def test_confined_follows_symlinks_and_allows_what_stays_inside(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "inner").symlink_to(root / "a.txt")
    (root / "out").symlink_to(secret_outside(tmp_path))
    (root / "loop").symlink_to(root / "loop")
    where = ("x", 1, 1)
    assert confined(root, "sub/../a.txt", what="f", where=where) == (root / "a.txt").resolve()
    assert confined(root, "sub/inner", what="f", where=where) == (root / "a.txt").resolve()
    assert confined(root, "not-yet.txt", what="f", where=where) == (root / "not-yet.txt").resolve()
    _path, problem = confinement_problem(root, "out", what="style", where=where)
    assert "leads outside it (through '..' or a symbolic link)" in problem.message
    assert SECRET not in problem.message
    _path, problem = confinement_problem(root, "loop", what="style", where=where)
    assert problem is not None and problem.severity == "error"
    assert is_inside(root / "sub" / "inner", [root]) and not is_inside(root / "out", [root])


# --- the loader: every YAML failure is located ------------------------------------------


def test_nul_byte_in_a_file_is_located(tmp_path):
    doc, problems = load(tmp_path, b"theme:\n  id: x\x00y\n")
    assert doc is None
    assert messages(problems) == [
        "doc.yaml:2:8: error: YAML: the file contains the control character U+0000, which "
        "YAML does not allow; remove it"
    ]


def test_control_characters_written_as_escapes_are_errors(tmp_path):
    _doc, problems = load(tmp_path, 'a: "ok\\0x"\nb: "esc\\e[31m"\nc: "tab\\tok"\n')
    assert [(p.line, p.severity) for p in problems] == [(1, "error"), (2, "error")]
    assert "U+0000" in problems[0].message and "U+001B" in problems[1].message


def test_deep_nesting_is_located_not_a_recursion_error(tmp_path):
    _doc, problems = load(tmp_path, "a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert messages(problems) == [
        f"doc.yaml:1:{3 + loader.MAX_DEPTH}: error: nested more than {loader.MAX_DEPTH} levels "
        "deep; findings need only a few levels"
    ]


def test_depth_limit_applies_to_block_style(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "MAX_DEPTH", 3)
    doc, problems = load(tmp_path, "a:\n  b:\n    c: 1\n")
    assert problems == [] and doc.data == {"a": {"b": {"c": 1}}}
    _doc, problems = load(tmp_path, "a:\n  b:\n    c:\n      d: 1\n")
    assert messages(problems) == [
        "doc.yaml:4:7: error: nested more than 3 levels deep; findings need only a few levels"
    ]


def test_file_size_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 64)
    doc, problems = load(tmp_path, "a: " + "x" * 100 + "\n")
    assert doc is None
    assert messages(problems) == [
        "doc.yaml:1:1: error: file is 104 bytes; findings files may be at most 64 bytes "
        "(split it into smaller files)"
    ]


def test_field_length_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "MAX_FIELD_CHARS", 20)
    _doc, problems = load(tmp_path, "short: twenty characters ok\nlong:\n  - " + "y" * 21 + "\n")
    assert messages(problems) == [  # 'twenty characters ok' has exactly 20
        "doc.yaml:3:5: error: value is 21 characters long; a value may be at most 20 (say it "
        "in fewer words, or split it)"
    ]


def test_aliases_that_contain_themselves_are_refused(tmp_path):
    _doc, problems = load(tmp_path, "a: &a [1, *a]\n")
    assert messages(problems) == [
        "doc.yaml:1:4: error: YAML: an alias refers to the value that contains it"
    ]


@pytest.mark.parametrize(
    "text, line, column, fragment",
    [
        ("date: 2026-13-45\n", 1, 7, "ValueError: month must be in 1..12"),
        ("n: " + "9" * 5000 + "\n", 1, 4, "ValueError: Exceeds the limit"),
        ("? [a, b]\n: c\n", 1, 3, "found unhashable key"),
        ("b: !!binary 'a'\n", 1, 4, "failed to decode base64"),
        ("a: *nowhere\n", 1, 4, "found undefined alias"),
        ("a: !!python/name:os.system x\n", 1, 4, "could not determine a constructor"),
    ],
)
def test_construction_errors_are_located(tmp_path, text, line, column, fragment):
    doc, problems = load(tmp_path, text)
    assert doc is None
    assert len(problems) == 1, problems
    assert (problems[0].line, problems[0].column) == (line, column)
    assert fragment in problems[0].message


def test_non_regular_files_are_refused_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    doc, problems = load_yaml(tmp_path / "pipe.yaml", tmp_path)  # would block if opened
    assert doc is None
    assert messages(problems) == [
        "pipe.yaml:1:1: error: is a named pipe (FIFO), not a file; expected a text file"
    ]
    (tmp_path / "dir.yaml").mkdir()
    assert messages(load_yaml(tmp_path / "dir.yaml", tmp_path)[1]) == [
        "dir.yaml:1:1: error: is a folder, not a file; expected a text file"
    ]
    (tmp_path / "dev.yaml").symlink_to("/dev/zero")
    [problem] = load_yaml(tmp_path / "dev.yaml", tmp_path)[1]
    assert problem.message == "is a device, not a file; expected a text file"


# --- Unicode hygiene ----------------------------------------------------------------------


def test_bidi_and_zero_width_characters_are_warnings(tmp_path):
    doc, problems = load(
        tmp_path,
        'a: "Costs fell \\u202egnisir\\u202c"\nb: "zero\\u200bwidth"\nc: "ordinary text, ok"\n',
    )
    assert doc is not None and doc.data["a"].startswith("Costs fell")
    assert [(p.line, p.severity) for p in problems] == [(1, "warning"), (2, "warning")]
    assert "U+202E RIGHT-TO-LEFT OVERRIDE (character 12 of the value)" in problems[0].message
    assert "U+200B ZERO WIDTH SPACE" in problems[1].message


def _replace(path: Path, old: str, new: str) -> int:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")
    return text[: text.index(old)].count("\n") + 1


def test_invisible_characters_in_a_headline_fail_a_strict_check(cli, mini_project):
    path = mini_project / "findings" / "networks.yaml"
    line = _replace(
        path, "headline: Many orders now come", 'headline: "Many orders now \\u2067come'
    )
    _replace(
        path, "shared supplier networks\n    summary", 'shared supplier networks"\n    summary'
    )
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 0, result.output
    assert f"findings/networks.yaml:{line}:15: warning: text contains U+2067 " in result.output
    strict = cli("check", "--strict", "--project", mini_project)
    assert strict.exit_code == 1
    assert f"findings/networks.yaml:{line}:15: error: text contains U+2067 " in strict.output


@pytest.mark.parametrize(
    "file, old, new, field",
    [
        (
            "publication.yaml",
            "publisher: ",
            'publisher: "Evil\\u2028Bcc: x@example.org" #',
            "publisher",
        ),
        ("publication.yaml", "series: ", 'series: "A\\r\\nBcc: x@example.org" #', "series"),
        ("audiences.yaml", "title: ", 'title: "Federal\\nBcc: x@example.org" #', "title"),
    ],
)
def test_fields_that_reach_mail_headers_are_one_line(cli, mini_project, file, old, new, field):
    line = _replace(mini_project / "findings" / file, old, new)
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert f"findings/{file}:{line}:" in result.output
    assert "contains a line break or control character" in result.output
    assert "this text is used in mail headers" in result.output


@pytest.mark.parametrize(
    "file, old, new, message",
    [
        (
            "publication.yaml",
            'date: "2026-01-15"',
            'date: "2026-02-30"',
            "publication.date: '2026-02-30' is not a calendar date (day is out of range for month)",
        ),
        (
            "publication.yaml",
            'date: "2026-01-15"',
            'date: "0000-01-01"',
            "publication.date: '0000-01-01' is not a calendar date (year 0 is out of range)",
        ),
        (
            "sources.yaml",
            'issued: "2020-03"',
            'issued: "2020-13"',
            "sources[0].issued: '2020-13' is not a calendar date (month must be in 1..12)",
        ),
    ],
)
def test_impossible_dates_are_located_not_internal_errors(
    cli, mini_project, file, old, new, message
):
    line = _replace(mini_project / "findings" / file, old, new)
    for command in (("check",), ("build", "--format", "html")):
        result = cli(*command, "--project", mini_project)
        assert result.exit_code == 1, result.output
        assert f"findings/{file}:{line}:" in result.output and message in result.output


def test_a_custom_title_with_a_line_break_is_refused(cli, mini_project):
    result = cli(
        "build",
        "federal",
        "--theme",
        "networks",
        "--format",
        "html",
        "--title",
        "Briefs\nBcc: x@example.org",
        "--project",
        mini_project,
    )
    assert result.exit_code == 1
    assert "--title contains a line break" in result.stderr
    assert not (mini_project / "output").exists()


# --- paths from inputs stay inside the project ----------------------------------------------


@pytest.mark.parametrize("snapshot", ["../../elsewhere/secret.txt", "ABSOLUTE", "link.txt"])
def test_snapshots_stay_inside_the_sources_folder(cli, mini_project, tmp_path, snapshot):
    secret = secret_outside(tmp_path)
    (mini_project / "sources" / "link.txt").symlink_to(secret)
    name = str(secret) if snapshot == "ABSOLUTE" else snapshot
    line = _replace(
        mini_project / "findings" / "sources.yaml", "snapshot: alpha.txt", f"snapshot: {name}"
    )
    result = cli("check", "--project", mini_project, "--sources-dir", mini_project / "sources")
    assert result.exit_code == 1
    assert f"findings/sources.yaml:{line}:15: error: snapshot '{name}' " in result.output
    assert "it must stay inside sources/" in result.output
    assert SECRET not in result.output


def test_findings_files_may_not_link_outside_the_project(cli, mini_project, tmp_path):
    (mini_project / "findings" / "extra.yaml").symlink_to(secret_outside(tmp_path))
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert (
        "findings/extra.yaml:1:1: error: findings file 'findings/extra.yaml' leads "
        "outside it (through '..' or a symbolic link); it must stay inside mini/"
    ) in result.output
    assert SECRET not in result.output


def test_templates_may_not_link_outside_their_folder(cli, mini_project, tmp_path):
    templates = mini_project / "templates"
    templates.mkdir()
    (templates / "federal.html").symlink_to(secret_outside(tmp_path))
    for command in (("check",), ("build", "federal", "--format", "html")):
        result = cli(*command, "--project", mini_project)
        assert result.exit_code == 1, result.output
        assert "template 'federal.html' leads outside it" in result.output
        assert SECRET not in result.output
    assert not (mini_project / "output").exists()


def test_a_partial_linked_outside_is_refused_while_rendering(cli, mini_project, tmp_path):
    templates = mini_project / "templates"
    templates.mkdir()
    (templates / "federal.html").write_text(
        '{% extends "default:federal.html" %}{% block extra %}{% include "_x.html" %}'
        "{% endblock %}",
        "utf-8",
    )
    (templates / "_x.html").symlink_to(secret_outside(tmp_path))
    result = cli("build", "federal", "--format", "html", "--project", mini_project)
    assert result.exit_code == 1, result.output
    assert "template '_x.html' leads outside it" in result.output
    assert SECRET not in result.output


def test_the_template_folder_itself_may_not_link_outside(cli, mini_project, tmp_path):
    secret_outside(tmp_path)
    (mini_project / "templates").symlink_to(tmp_path / "elsewhere")
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert "templates:1:1: error: template folder 'templates' leads outside it" in result.output


def test_citation_styles_stay_inside_templates_styles(cli, mini_project, tmp_path):
    styles = mini_project / "templates" / "styles"
    styles.mkdir(parents=True)
    (styles / "house.csl").symlink_to(secret_outside(tmp_path))
    path = mini_project / "findings" / "audiences.yaml"
    line = _replace(path, "citation_style: apa", "citation_style: house")
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert (
        f"findings/audiences.yaml:{line}:21: error: citation style 'house.csl' leads outside it"
    ) in result.output
    _replace(path, "citation_style: house", "citation_style: ../../elsewhere/secret")
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert (
        f"findings/audiences.yaml:{line}:21: error: audiences[1].citation_style: "
        "'../../elsewhere/secret' is not a style name"
    ) in result.output
    assert SECRET not in result.output


# --- the no-op shortcut hides nothing; nothing hangs ------------------------------------------


def test_a_folder_named_like_a_findings_file_fails_build_after_a_clean_build(cli, mini_project):
    assert cli("build", "--format", "html", "--project", mini_project).exit_code == 0
    (mini_project / "findings" / "empty.yaml").mkdir()
    for command in ("check", "build"):
        args = (command, "--format", "html") if command == "build" else (command,)
        result = cli(*args, "--project", mini_project)
        assert result.exit_code == 1, (command, result.output)
        assert "findings/empty.yaml:1:1: error: is a folder, not a file" in result.output


@pytest.mark.parametrize("command", [("check",), ("build", "--format", "html")])
def test_a_fifo_among_the_findings_does_not_hang(mini_project, command):
    os.mkfifo(mini_project / "findings" / "pipe.yaml")
    os.mkfifo(mini_project / "findings" / "pipe.txt")  # not read, but hashed by a build
    done = subprocess.run(
        [sys.executable, "-m", "policy_briefs", *command, "--project", str(mini_project)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1, done.stderr
    assert (
        "findings/pipe.yaml:1:1: error: is a named pipe (FIFO), not a file"
        in done.stdout + done.stderr
    )


def test_findings_size_is_bounded_as_a_whole(cli, mini_project, monkeypatch):
    from policy_briefs import corpus

    monkeypatch.setattr(corpus, "MAX_FINDINGS_BYTES", 1000)
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert "findings:1:1: error: the findings files hold" in result.output
    assert "at most 1,000 are read" in result.output


def test_slow_reading_of_files_with_problems_is_bounded(cli, mini_project, monkeypatch):
    # Files with problems go through the pure-Python parser for their messages; past a
    # budget, later ones are named but not read, so many bad files cannot stall a check.
    from policy_briefs import corpus

    for name in ("networks.yaml", "strategy.yaml"):
        path = mini_project / "findings" / name
        path.write_text(path.read_text("utf-8") + "oops: [\n", "utf-8")
    monkeypatch.setattr(corpus, "MAX_CAREFUL_BYTES", 1)
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if ": error: " in line]
    assert lines[0].startswith("findings/networks.yaml:") and "YAML syntax" in lines[0]
    assert lines[1].startswith("findings/strategy.yaml:1:1: error: not read: this file has a")
    assert len(lines) == 2
    monkeypatch.undo()
    result = cli("check", "--project", mini_project)
    assert sum("YAML syntax" in line for line in result.output.splitlines()) == 2


# --- the PDF URL fetcher decides from the URL alone -------------------------------------------


@pytest.fixture
def fetch_case(tmp_path):
    root = tmp_path / "project"
    templates = root / "templates"
    (templates / "img").mkdir(parents=True)
    (templates / "logo.png").write_bytes(b"png")
    (templates / "img" / "x y.png").write_bytes(b"png")
    (templates / "out.png").symlink_to(secret_outside(tmp_path))
    os.mkfifo(templates / "pipe.css")
    return root, templates


def _odd_urls(templates: Path) -> dict[str, bool]:
    """URL -> whether it may be fetched."""
    t = templates.as_posix()
    return {
        f"file://{t}/logo.png": True,
        f"file:{t}/logo.png": True,
        f"FILE://{t}/logo.png": True,
        f"file://{t}/logo.png?v=1#top": True,
        f"file://{t}/img/x%20y.png": True,
        f"file://{t}/img/../logo.png": True,
        "data:text/css,p{color:red}": True,
        "file:logo.png": False,
        "file:templates/logo.png": False,
        "file:./logo.png": False,
        "file:../project/templates/logo.png": False,
        f"file://localhost{t}/logo.png": False,
        f"file://host{t}/logo.png": False,
        f"file:////{t}/logo.png": False,
        f"file://{t}/%2e%2e/%2e%2e/elsewhere/secret.txt": False,
        f"file://{t}/out.png": False,
        f"file://{t}/pipe.css": False,
        f"file://{t}/img": False,
        f"file://{t}/logo.png%00.css": False,
        "file:///etc/hostname": False,
        "file:/etc/hostname": False,
        "http://example.invalid/x.png": False,
        "//example.invalid/x.png": False,
        "ftp://example.invalid/x": False,
    }


def test_the_fetchers_verdict_is_the_same_from_any_working_directory(fetch_case, monkeypatch):
    from weasyprint.urls import URLFetchingError

    from policy_briefs.pdf import AllowlistFetcher

    root, templates = fetch_case
    cases = _odd_urls(templates)
    fetcher = AllowlistFetcher([templates])
    for cwd in (templates, templates / "img", root, root.parent, Path("/"), Path("/etc")):
        monkeypatch.chdir(cwd)
        verdicts = {}
        for url in cases:
            try:
                fetcher.check(url)
                verdicts[url] = True
            except URLFetchingError:
                verdicts[url] = False
        assert verdicts == cases, f"from {cwd}"


def test_the_fetcher_reads_what_it_checked(fetch_case, monkeypatch):
    from weasyprint.urls import URLFetchingError

    from policy_briefs.pdf import AllowlistFetcher

    root, templates = fetch_case
    fetcher = AllowlistFetcher([templates])
    monkeypatch.chdir(templates)
    response = fetcher.fetch(f"file:{templates.as_posix()}/img/x%20y.png")
    assert response.read() == b"png"
    response.close()
    with pytest.raises(URLFetchingError, match="names a host"):
        fetcher.fetch(f"file://localhost{templates.as_posix()}/logo.png")
    with pytest.raises(URLFetchingError, match="not an absolute file path"):
        fetcher.fetch("file:logo.png")  # from inside templates/: the old fetcher allowed it


def test_validation_finds_templates_as_the_template_environment_does(mini_project, tmp_path):
    # Validation looks templates up without Jinja (Project.template_file); rendering uses
    # the environment. Both must find the same names, and refuse the same links out.
    import jinja2

    from policy_briefs.project import Project
    from policy_briefs.templating import jinja_environment

    templates = mini_project / "templates"
    (templates / "parts").mkdir(parents=True)
    (templates / "parts" / "own.html").write_text("own", "utf-8")
    (templates / "federal.html").write_text("override", "utf-8")
    (templates / "away.html").symlink_to(secret_outside(tmp_path))
    project = Project.at(mini_project)
    env = jinja_environment(project)
    names = [
        "federal.html",
        "default:federal.html",
        "default:parts/own.html",
        "parts/own.html",
        "./parts//own.html",
        "base.html",
        "missing.html",
        "../federal.html",
        "parts/../federal.html",
        "default:",
        "away.html",
    ]
    for name in names:
        try:
            env.get_template(name)
            found: object = True
        except jinja2.TemplateNotFound:
            found = False
        except OutsideRoot as exc:
            found = exc.problem.message
        try:
            mine: object = project.template_file(name) is not None
        except OutsideRoot as exc:
            mine = exc.problem.message
        assert mine == found, name
    assert project.template_file("federal.html") == templates / "federal.html"
