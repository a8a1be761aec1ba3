"""Bad input: one located message, exit 1, and the previous output/ left exactly as it was.

Each test copies the mini project, plants one fault, and runs `briefs build` over an
output/ folder that already holds files. Expected locations are computed from the
planted text, so they stay exact if the fixture project grows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from policy_briefs.files import NEXT_FINISHES
from support.edits import edit


def folder_state(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with its SHA-256; the build lock's
    empty file aside (a build takes it before rendering, and it is no output)."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".briefs.lock"
    }


def where(project: Path, rel: str, line_text: str, at: str | None = None) -> str:
    """``rel:line:col`` of ``at`` (default: the line's first non-blank) on the line holding
    ``line_text``."""
    lines = (project / rel).read_text("utf-8").splitlines()
    matches = [n for n, line in enumerate(lines) if line_text in line]
    assert len(matches) == 1, f"{line_text!r} must be on exactly one line of {rel}"
    line = lines[matches[0]]
    column = line.index(at) if at is not None else len(line) - len(line.lstrip())
    return f"{rel}:{matches[0] + 1}:{column + 1}"


@pytest.fixture
def failing_build(cli, mini_project: Path, monkeypatch):
    """Run `briefs build` in the project over an existing output/; check nothing changed."""
    output = mini_project / "output"
    output.mkdir()
    (output / "federal.pdf").write_bytes(b"%PDF-1.7 previous build\n")
    (output / "federal.html").write_text("<p>previous</p>\n", "utf-8")
    (output / "manifest.json").write_text('{"briefs": {}}\n', "utf-8")
    (output / "site").mkdir()
    (output / "site" / "index.html").write_text("<p>site</p>\n", "utf-8")
    before = folder_state(output)
    # Template problems are reported relative to the working directory, as compilers do.
    monkeypatch.chdir(mini_project)

    def run() -> str:
        result = cli("build", "--project", mini_project)
        assert result.exit_code == 1, result.output
        assert folder_state(output) == before, "output/ changed after a failed build"
        assert "Traceback" not in result.output
        assert result.stdout == "", "a failed build lists no written files"
        return result.stderr

    return run


def assert_reported(stderr: str, location: str, message: str) -> None:
    expected = f"{location}: error: {message}"
    assert expected in stderr, f"expected\n  {expected}\nin\n{stderr}"
    assert stderr.rstrip().endswith("nothing was written")


NETWORKS = "findings/networks.yaml"


def test_yaml_syntax_error(mini_project, failing_build):
    edit(mini_project, NETWORKS, "  title: Supplier networks", "  title: [Supplier networks")
    stderr = failing_build()
    assert_reported(
        stderr,
        where(mini_project, NETWORKS, "  order: 1", at=":"),
        "YAML syntax: a [list] is not closed with ']' before this point; close it, or put "
        "text that starts with '[' in quotes (parser: while parsing a flow sequence started "
        "at line 4: expected ',' or ']', but got ':')",
    )
    assert "1 error; nothing was written" in stderr


def test_colon_in_unquoted_text_gets_a_hint(mini_project, failing_build):
    edit(
        mini_project, NETWORKS, "headline: Many orders now come", "headline: Many orders: now come"
    )
    stderr = failing_build()
    assert_reported(
        stderr,
        where(mini_project, NETWORKS, "Many orders: now", at=": now"),
        "YAML syntax: a ': ' inside unquoted text; put the text in quotes "
        "(parser: mapping values are not allowed here)",
    )


def test_wrong_type(mini_project, failing_build):
    edit(mini_project, NETWORKS, "  order: 1", "  order: first")
    assert_reported(
        failing_build(),
        where(mini_project, NETWORKS, "order: first", at="first"),
        "theme.order: Input should be a valid integer",
    )


def test_wrong_shape_says_what_it_got(mini_project, failing_build):
    edit(mini_project, "findings/strategy.yaml", "        actions: []", "        actions: none")
    assert_reported(
        failing_build(),
        where(mini_project, "findings/strategy.yaml", "actions: none", at="none"),
        "findings[0].audiences.sme.actions: Input should be a valid list (got text)",
    )


def test_missing_field(mini_project, failing_build):
    edit(
        mini_project,
        NETWORKS,
        "    headline: Many orders now come through shared supplier networks\n",
        "",
    )
    assert_reported(
        failing_build(),
        where(mini_project, NETWORKS, "- id: orders-through-networks", at="id"),
        "findings[0].headline: required field 'headline' is missing",
    )


def test_unknown_field_suggests_the_close_match(mini_project, failing_build):
    edit(mini_project, NETWORKS, "    confidence: high", "    confidance: high")
    assert_reported(
        failing_build(),
        where(mini_project, NETWORKS, "confidance: high", at="confidance"),
        "findings[0].confidance: unknown field 'confidance' (a typo? did you mean 'confidence'?)",
    )


def test_duplicate_finding_id(mini_project, failing_build):
    strategy = "findings/strategy.yaml"
    edit(mini_project, strategy, "  - id: clusters-often-fail", "  - id: orders-through-networks")
    first = where(mini_project, NETWORKS, "- id: orders-through-networks", at="id")
    assert_reported(
        failing_build(),
        where(mini_project, strategy, "- id: orders-through-networks", at="orders"),
        f"duplicate finding id 'orders-through-networks' (first defined at "
        f"{first.rsplit(':', 1)[0]})",
    )


def test_duplicate_source_id(mini_project, failing_build):
    sources = "findings/sources.yaml"
    first = where(mini_project, sources, "- id: alpha-2020", at="id")
    edit(mini_project, sources, "  - id: beta-2021", "  - id: alpha-2020")
    second = where(mini_project, sources, "title: Review of Cluster Policy")
    line = int(second.split(":")[1]) - 2  # the id is two lines above the title
    assert_reported(
        failing_build(),
        f"{sources}:{line}:9",
        f"duplicate source id 'alpha-2020' (first defined at {first.rsplit(':', 1)[0]})",
    )


def test_duplicate_yaml_key(mini_project, failing_build):
    edit(
        mini_project,
        NETWORKS,
        "    confidence: high\n",
        "    confidence: high\n    confidence: low\n",
    )
    first = where(mini_project, NETWORKS, "confidence: high").split(":")[1]
    assert_reported(
        failing_build(),
        where(mini_project, NETWORKS, "confidence: low", at="confidence"),
        f"duplicate key 'confidence' (first at line {first}); YAML keeps only the last one",
    )


def test_citation_of_an_unknown_source(mini_project, failing_build):
    edit(
        mini_project,
        "findings/strategy.yaml",
        "      - source: beta-2021\n        locator: paragraph 1",
        "      - source: beta-2012\n        locator: paragraph 1",
    )
    assert_reported(
        failing_build(),
        where(mini_project, "findings/strategy.yaml", "source: beta-2012", at="beta-2012"),
        "evidence[0].source: unknown source 'beta-2012' (did you mean 'beta-2021'?)",
    )


def test_audience_naming_a_missing_template(mini_project, failing_build):
    audiences = "findings/audiences.yaml"
    edit(mini_project, audiences, "template: sme.html", "template: smb.html")
    assert_reported(
        failing_build(),
        where(mini_project, audiences, "template: smb.html", at="smb"),
        "template 'smb.html' not found in templates/ or the packaged defaults",
    )


def write_template(project: Path, name: str, body: str) -> None:
    folder = project / "templates"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(body, "utf-8")


def test_template_syntax_error(mini_project, failing_build):
    write_template(
        mini_project,
        "federal.html",
        '{% extends "default:base.html" %}\n'
        "{% block extra %}\n"
        "{% if brief.custom %}\n"
        "{% endblock %}\n",
    )
    assert_reported(
        failing_build(),
        "templates/federal.html:4:1",
        "template syntax: Encountered unknown tag 'endblock'",
    )


def test_template_syntax_error_in_a_partial(mini_project, failing_build):
    write_template(
        mini_project,
        "federal.html",
        '{% extends "default:base.html" %}\n'
        '{% block extra %}{% include "_aside.html" %}{% endblock %}\n',
    )
    write_template(mini_project, "_aside.html", "<aside>\n{{ brief.title }\n</aside>\n")
    assert_reported(failing_build(), "templates/_aside.html:2:1", "template syntax: unexpected '}'")


def test_template_not_in_utf8_is_located_not_a_crash(mini_project, failing_build):
    write_template(
        mini_project,
        "federal.html",
        '{% extends "default:base.html" %}\n'
        '{% block extra %}{% include "_aside.html" %}{% endblock %}\n',
    )
    (mini_project / "templates" / "_aside.html").write_bytes(b"<aside>\n  Caf\xe9</aside>\n")
    assert_reported(
        failing_build(),
        "templates/_aside.html:2:6",
        "the template is not UTF-8 text (byte 0xe9); save it as UTF-8",
    )


def test_undefined_variable_in_a_template(mini_project, failing_build):
    write_template(
        mini_project,
        "federal.html",
        '{% extends "default:base.html" %}\n'
        "{% block extra %}\n"
        "<p>{{ brief.audience.title }}</p>\n"
        "<p>{{ sponsor.name }}</p>\n"
        "{% endblock %}\n",
    )
    assert_reported(
        failing_build(), "templates/federal.html:4:1", "template: 'sponsor' is undefined"
    )


def test_non_utf8_file(mini_project, failing_build):
    path = mini_project / "findings/glossary.yaml"
    path.write_bytes(path.read_bytes() + "  - term: Café\n".encode("latin-1"))
    lines = path.read_bytes().split(b"\n")
    line = next(n for n, text in enumerate(lines, 1) if b"Caf" in text)
    assert_reported(
        failing_build(), f"findings/glossary.yaml:{line}:14", "file is not valid UTF-8 (byte 0xe9)"
    )


def test_empty_project(tmp_path, cli, monkeypatch):
    project = tmp_path / "empty"
    (project / "output").mkdir(parents=True)
    (project / "output" / "keep.pdf").write_bytes(b"%PDF previous")
    before = folder_state(project)
    result = cli("build", "--project", project)
    assert result.exit_code == 1
    assert "findings:1:1: error: no findings files here" in result.stderr
    assert "--project DIR" in result.stderr
    assert folder_state(project) == before


def test_empty_findings_files(mini_project, failing_build):
    for path in (mini_project / "findings").glob("*.yaml"):
        path.write_text("", "utf-8")
    stderr = failing_build()
    assert_reported(
        stderr,
        f"{NETWORKS}:1:1",
        "the file is empty: it needs the top-level key(s) theme and findings",
    )
    assert_reported(
        stderr,
        "findings/sources.yaml:1:1",
        "the file is empty: it needs the top-level key(s) sources",
    )


def test_every_problem_is_reported_at_once(mini_project, failing_build):
    edit(mini_project, NETWORKS, "    confidence: high", "    confidance: high")
    edit(mini_project, "findings/strategy.yaml", "  order: 2", "  order: second")
    stderr = failing_build()
    assert "confidance" in stderr and "theme.order" in stderr
    assert "2 errors; nothing was written" in stderr


def test_unknown_audience_on_the_command_line(cli, mini_project):
    result = cli("build", "fedral", "--project", mini_project)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "error: unknown audience or edition 'fedral'; did you mean 'federal'? "
        "(audiences: federal, sme; editions: sme-supplier-networks)"
    )
    assert not (mini_project / "output").exists()


def test_unknown_theme_filter(cli, mini_project):
    result = cli("build", "federal", "--theme", "network", "--project", mini_project)
    assert result.exit_code == 1
    assert "error: unknown theme 'network'; did you mean 'networks'?" in result.stderr
    assert not (mini_project / "output").exists()


def test_text_from_yaml_is_escaped(cli, mini_project, tmp_path):
    edit(
        mini_project,
        NETWORKS,
        "summary: Toolmakers said 42 percent of their orders arrive through *shared* networks.",
        "summary: 'Toolmakers said 42 percent <script>alert(1)</script> arrive through "
        '*shared* <b onclick="x()">networks</b>.\'',
    )
    edit(
        mini_project,
        NETWORKS,
        "headline: Many orders now come through shared supplier networks",
        "headline: Many orders <i>now</i> come through shared networks & more",
    )
    out = tmp_path / "out"
    result = cli("build", "federal", "--format", "html", "--out", out, "--project", mini_project)
    assert result.exit_code == 0, result.output
    html = (out / "federal.html").read_text("utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b onclick" not in html and "&lt;b onclick=" in html
    assert "<em>shared</em>" in html
    assert "Many orders &lt;i&gt;now&lt;/i&gt; come through shared networks &amp; more" in html


def test_unknown_locator_label(mini_project, failing_build):
    edit(mini_project, NETWORKS, "locator: paragraph 2", "locator: para 2")
    assert_reported(
        failing_build(),
        where(mini_project, NETWORKS, "locator: para 2", at="para"),
        "evidence[0].locator: 'para' is not a locator label (did you mean 'paragraph'?)",
    )


# --- atomic writes: a failure while writing damages nothing -----------------------------


def test_failure_while_writing_leaves_every_file_whole(cli, mini_project, monkeypatch):
    import errno
    import os

    output = mini_project / "output"
    first = cli("build", "--format", "html", "--project", mini_project)
    assert first.exit_code == 0, first.output
    old = {
        name: (output / name).read_bytes() for name in ("federal.html", "sme.html", "manifest.json")
    }
    # Change what both briefs show, so the next build writes both again.
    edit(mini_project, "findings/strategy.yaml", "did not deliver.", "did not deliver jobs.")

    real_replace = os.replace
    calls = []

    def failing_replace(src, dst, *args, **kwargs):
        if Path(dst).parent != output:  # the user cache, say: not what this test is about
            return real_replace(src, dst, *args, **kwargs)
        calls.append(Path(dst).name)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(src), None, str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_replace)
    result = cli("build", "--format", "html", "--project", mini_project)
    monkeypatch.undo()

    assert result.exit_code == 74
    assert "Traceback" not in result.output
    # The first replace puts the journal down, so the build stands: the next command
    # finishes it, and until then a reader sees no mix of old and new.
    assert calls[0] == ".briefs-journal.json"
    assert f"error: No space left on device; {NEXT_FINISHES}: {output / calls[1]}" in (
        result.stderr
    )
    assert cli("diff", "--project", mini_project).exit_code == 0
    assert not [p.name for p in output.iterdir() if p.name.endswith(".tmp")]
    assert not (output / ".briefs-journal.json").exists()
    now = {name: (output / name).read_bytes() for name in old}
    # The new build whole: its manifest, and the edit in the brief that shows it.
    assert now["manifest.json"] != old["manifest.json"]
    assert b"did not deliver jobs." in now["federal.html"]
    assert all(now[n].rstrip().endswith(b"</html>") for n in ("federal.html", "sme.html"))
    assert cli("build", "--format", "html", "--project", mini_project).exit_code == 0
    assert {name: (output / name).read_bytes() for name in old} == now  # nothing left to do


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    import os

    from policy_briefs.files import write_atomic

    target = tmp_path / "brief.pdf"
    target.write_bytes(b"old complete file")

    def full_disk(_fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        write_atomic(target, b"new file that never lands")
    monkeypatch.undo()
    assert target.read_bytes() == b"old complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["brief.pdf"]

    write_atomic(target, "new text")
    assert target.read_bytes() == b"new text"
    assert oct(target.stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize(
    "rel, old, new, at, message",
    [
        (
            "findings/sources.yaml",
            "{family: Beta, given: Ann}",
            "{given: Ann}",
            "{given",
            "sources[1].author[0]: a name needs 'family' (a person) or 'literal' (an organisation)",
        ),
        (
            NETWORKS,
            "        priority: high\n        implication: Support",
            "        priority: urgent\n        implication: Support",
            "urgent",
            "findings[0].audiences.federal.priority: Input should be 'high', 'medium' or 'low', "
            "not 'urgent'",
        ),
        (
            "findings/sources.yaml",
            "DOI: 10.1234/beta.2021",
            "DOI: https://doi.org/10.1234/beta.2021",
            "https",
            "sources[1].DOI: 'https://doi.org/10.1234/beta.2021' is not a DOI",
        ),
        (
            "findings/sources.yaml",
            "URL: https://alpha.example.org/notes",
            "URL: alpha.example.org/notes",
            "alpha.example",
            "sources[0].URL: 'alpha.example.org/notes' is not a web address",
        ),
        (
            "findings/sources.yaml",
            'issued: "2020-03"',
            "issued: March 2020",
            "March",
            "sources[0].issued: 'March 2020' is not a date: write YYYY, YYYY-MM or YYYY-MM-DD",
        ),
    ],
    ids=["validator", "choice", "doi", "url", "date"],
)
def test_schema_messages_speak_plainly(cli, mini_project, rel, old, new, at, message):
    edit(mini_project, rel, old, new)
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    line_text = next(line for line in new.splitlines() if at in line)
    assert f"{where(mini_project, rel, line_text, at=at)}: error: {message}" in result.stderr
    assert "Value error" not in result.stderr


def test_a_check_leaves_the_collector_as_it_found_it(mini_project):
    # The corpus is frozen out of the collector's sight while it is checked (a large
    # project's objects are not scanned again and again), then handed back to it; a
    # caller's own freeze is left alone.
    import gc

    from policy_briefs import api
    from policy_briefs.project import Project

    assert gc.get_freeze_count() == 0
    assert api.check(Project.at(mini_project)).ok
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert api.check(Project.at(mini_project)).ok
        # Not unfrozen, nothing more frozen; a frozen object the check lets go of (a
        # cache entry replaced) leaves the count, so it may be a little lower.
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
