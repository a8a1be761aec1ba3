"""stakeholders.yaml: every mistake is a located error, and nothing is sent or written."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_briefs.deliver.stakeholders import address_problem, load_stakeholders
from policy_briefs.errors import BriefsError

ROOT = Path(__file__).resolve().parent.parent
AUDIENCES = ["federal", "regional", "sme"]


def load(tmp_path: Path, text: str):
    path = tmp_path / "stakeholders.yaml"
    path.write_text(text, "utf-8")
    return load_stakeholders(path, tmp_path, AUDIENCES)


def only_problem(tmp_path: Path, text: str) -> str:
    people, problems = load(tmp_path, text)
    assert len(problems) == 1, problems
    return str(problems[0])


def test_the_committed_example_is_valid_for_the_shipped_audiences():
    import yaml

    audiences = yaml.safe_load((ROOT / "findings" / "audiences.yaml").read_text())["audiences"]
    people, problems = load_stakeholders(
        ROOT / "stakeholders.example.yaml", ROOT, [a["id"] for a in audiences]
    )
    assert problems == []
    assert len(people) >= 3
    assert {p.format for p in people} >= {"pdf", "both"}


def test_a_good_file_loads(tmp_path):
    people, problems = load(
        tmp_path,
        """\
stakeholders:
  - name: Ada Lovelace
    organisation: Engines
    email: Ada@Example.gov
    audiences: [federal, sme]
    format: both
  - name: Zoë Åberg
    email: zoe@bücher.example
    audiences: [regional]
""",
    )
    assert problems == []
    assert [(p.email, p.key, p.audiences, p.attachments) for p in people] == [
        ("Ada@Example.gov", "ada@example.gov", ("federal", "sme"), ("pdf", "html")),
        ("zoe@bücher.example", "zoe@bücher.example", ("regional",), ("pdf",)),
    ]
    assert str(people[1].address) == "Zoë Åberg <zoe@bücher.example>"


@pytest.mark.parametrize(
    "value",
    [
        "ada at example.gov",
        "ada@",
        "@example.gov",
        "ada@example",
        "ada@@example.gov",
        "ada@exa mple.gov",
        "Ada <ada@example.gov>",
        "ada@example.gov, bob@example.gov",
        "ada..x@example.gov",
        "ada@[192.0.2.1]",
        "ädä@example.gov",
        "ada@-bad-.gov",
    ],
)
def test_bad_addresses_are_refused(value):
    assert address_problem(value) is not None


def test_a_bad_address_is_located(tmp_path):
    message = only_problem(
        tmp_path,
        """\
stakeholders:
  - name: Ada Lovelace
    email: ada at example.gov
    audiences: [federal]
""",
    )
    assert message == (
        "stakeholders.yaml:3:12: error: stakeholders[0].email: "
        "'ada at example.gov' is not a valid e-mail address"
    )


@pytest.mark.parametrize(
    "field,value,line,column",
    [
        ("name", '"Ada\\nBcc: all@example.org"', 2, 11),
        ("email", '"ada@example.gov\\r\\nBcc: all@example.org"', 3, 12),
        ("organisation", '"Engines\\rX-Evil: 1"', 4, 19),
    ],
)
def test_line_breaks_that_would_inject_headers_are_refused(tmp_path, field, value, line, column):
    values = {"name": "Ada", "email": "ada@example.gov", "organisation": "Engines"}
    values[field] = value
    message = only_problem(
        tmp_path,
        f"""\
stakeholders:
  - name: {values["name"]}
    email: {values["email"]}
    organisation: {values["organisation"]}
    audiences: [federal]
""",
    )
    assert message.startswith(
        f"stakeholders.yaml:{line}:{column}: error: stakeholders[0].{field}: "
    )
    assert "line break" in message


def test_an_unknown_audience_is_located_with_a_suggestion(tmp_path):
    message = only_problem(
        tmp_path,
        """\
stakeholders:
  - name: Ada
    email: ada@example.gov
    audiences: [federal, regonal]
""",
    )
    assert message == (
        "stakeholders.yaml:4:26: error: stakeholders[0].audiences[1]: "
        "unknown audience 'regonal' (a typo? did you mean 'regional'?)"
    )
    message = only_problem(
        tmp_path,
        """\
stakeholders:
  - name: Ada
    email: ada@example.gov
    audiences:
      - treasury
""",
    )
    assert message.startswith(
        "stakeholders.yaml:5:9: error: stakeholders[0].audiences[0]: "
        "unknown audience 'treasury'; audiences in "
    )


def test_a_duplicate_recipient_points_at_the_first(tmp_path):
    message = only_problem(
        tmp_path,
        """\
stakeholders:
  - name: Ada
    email: ada@example.gov
    audiences: [federal]
  - name: Ada Lovelace
    email: ADA@example.gov
    audiences: [sme]
""",
    )
    assert message == (
        "stakeholders.yaml:6:12: error: stakeholders[1].email: duplicate "
        "recipient 'ADA@example.gov' (first listed at line 3); merge their "
        "audiences"
    )


def test_schema_mistakes_are_located(tmp_path):
    people, problems = load(
        tmp_path,
        """\
stakeholders:
  - name: Ada
    emial: ada@example.gov
    audiences: [federal]
    format: docx
""",
    )
    messages = sorted(str(p) for p in problems)
    assert messages == [
        "stakeholders.yaml:2:5: error: stakeholders[0].email: required field 'email' is missing",
        "stakeholders.yaml:3:5: error: stakeholders[0].emial: unknown field 'emial' "
        "(a typo? did you mean 'email'?)",
        "stakeholders.yaml:5:13: error: stakeholders[0].format: Input should be 'pdf', "
        "'html' or 'both', not 'docx'",
    ]
    assert people == []


def test_an_empty_or_shapeless_file_is_refused(tmp_path):
    assert "expected a mapping" in only_problem(tmp_path, "- ada@example.gov\n")
    assert "stakeholders" in only_problem(tmp_path, "stakeholders: []\n")


def test_a_missing_file_says_how_to_start(tmp_path):
    with pytest.raises(BriefsError, match="copy stakeholders.example.yaml"):
        load_stakeholders(tmp_path / "stakeholders.yaml", tmp_path, AUDIENCES)


def test_send_reports_every_problem_and_writes_nothing(mini_project, cli):
    (mini_project / "stakeholders.yaml").write_text(
        """\
stakeholders:
  - name: Ada
    email: ada@example
    audiences: [federal]
  - name: Bob
    email: bob@example.org
    audiences: [regional]
""",
        "utf-8",
    )
    assert cli("build", "--project", mini_project, "--format", "html").exit_code == 0
    result = cli("send", "--project", mini_project)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "stakeholders.yaml:3:12: error: stakeholders[0].email: 'ada@example' domain "
        "'example' is not a full domain name such as example.org",
        "stakeholders.yaml:7:17: error: stakeholders[1].audiences[0]: unknown audience "
        "'regional'; audiences in findings/audiences.yaml: federal, sme",
        "2 errors; nothing was written",
    ]
    assert not (mini_project / ".briefs").exists()
    assert not (mini_project / "output" / "outbox").exists()
