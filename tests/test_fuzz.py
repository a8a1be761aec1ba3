"""Property: whatever a findings file holds, `briefs check` answers with located problems.

Random and adversarial YAML (deep nesting, aliases, tags, control and invisible
characters, broken UTF-8, plausible findings with wrong types) goes into one file of a
valid project, and the check must end with exit 0 or 1 and print only
``path:line:column: severity: message`` lines before its summary: never an internal
error (exit 70), never a traceback. Examples are derandomized so a run is repeatable;
raise ``max_examples`` locally to search harder.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from policy_briefs.cli import app
from support.mini import MINI

LOCATED = re.compile(r"^[^\n:]+:\d+:\d+: (error|warning): \S")
FILES = [
    "networks.yaml",
    "sources.yaml",
    "audiences.yaml",
    "publication.yaml",
    "glossary.yaml",
    "extra-theme.yaml",
]

# Pieces of YAML syntax and troublesome characters, glued together at random.
TOKENS = [
    "\n",
    "  ",
    "- ",
    ": ",
    "? ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "#",
    "'",
    '"',
    "|",
    ">-",
    "&a ",
    "*a",
    "*b",
    "&b ",
    "!!str ",
    "!!binary ",
    "!!python/object:os.system ",
    "!!set ",
    "!!omap ",
    "!!timestamp ",
    "!<tag:yaml.org,2002:int> ",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "<<: *a\n",
    "\t",
    "\\0",
    "\\x1b",
    "\\u202e",
    "\x85",
    "\u2028",
    "\ufeff",
    "\u200b",
    "\u202e",
    "~",
    "null",
    "2026-13-45",
    '"2026-02-30"',
    "9" * 40,
    "1e999",
    ".nan",
    "0x_",
    "theme",
    "findings",
    "id",
    "headline",
    "evidence",
    "source",
    "locator",
    "quote",
    "audiences",
    "sources",
    "publication",
    "paragraph 2",
    "alpha-2020",
    "federal",
    "snapshot: ../../etc/hostname",
    "template: ../x.html",
    "citation_style: /etc/x",
    "<script>x</script>",
    "\x00",
    "\x7f",
]

scalars = st.one_of(
    st.text(max_size=40),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.sampled_from(
        [
            "federal",
            "sme",
            "alpha-2020",
            "paragraph 2",
            "2026-01-15",
            "x" * 300,
            "\u202eevil",
            "a\u2028b",
            "line\nbreak",
            "../../etc/passwd",
        ]
    ),
)
keys = st.one_of(
    st.sampled_from(
        [
            "theme",
            "findings",
            "id",
            "title",
            "headline",
            "summary",
            "evidence",
            "source",
            "locator",
            "quote",
            "audiences",
            "figures",
            "contrasts",
            "sources",
            "publication",
            "glossary",
            "series",
            "publisher",
            "date",
            "snapshot",
            "template",
            "citation_style",
            "priority",
            "implication",
        ]
    ),
    st.text(max_size=12),
)
data = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=30,
)


VALID = ["networks.yaml", "sources.yaml", "audiences.yaml", "publication.yaml", "glossary.yaml"]
ADVERSARIAL = st.sampled_from(
    [
        "2026-02-30",
        "0000-01-01",
        "2026-13",
        "9999-12-31",
        "paragraph 0",
        "paragraph 99999999999999999999",
        "page ∞",
        "...",
        "!!!",
        "*",
        "`",
        "[x](javascript:alert(1))",
        "<b>x</b>",
        "&amp;",
        "{{ 7*7 }}",
        "{% if %}",
        "%s %d",
        "\\",
        "\u0000",
        "\u202e",
        "SME SMEs SME's",
        "a" * 300,
        "one two three four five six seven eight nine ten " * 4,
        "",
        " ",
    ]
)
# Mostly strings that pass the schema's types, so rendering gets to see them.
values = st.one_of(
    ADVERSARIAL,
    ADVERSARIAL,
    ADVERSARIAL,
    st.text(max_size=30),
    st.integers(-5, 10**6),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=5)),
)


def _leaves(value, container=None, key=None):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, value, k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, value, i)
    elif container is not None:
        yield container, key


@st.composite
def documents(draw) -> tuple[str, bytes]:
    """A file name in findings/ and what it holds."""
    name = draw(st.sampled_from(FILES))
    kind = draw(st.sampled_from(["data", "tokens", "mutated", "values", "values", "bytes", "deep"]))
    if kind == "values":
        # A valid file whose values are replaced: reaches cross-checks and rendering.
        name = draw(st.sampled_from(VALID))
        doc = yaml.safe_load((MINI / "findings" / name).read_text("utf-8"))
        leaves = list(_leaves(doc))
        for _ in range(draw(st.integers(1, 6))):
            container, key = draw(st.sampled_from(leaves))
            container[key] = draw(values)
        text = yaml.safe_dump(doc, allow_unicode=True)
    elif kind == "data":
        text = yaml.safe_dump(draw(data), allow_unicode=draw(st.booleans()))
    elif kind == "tokens":
        text = "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=60)))
    elif kind == "mutated":
        text = (MINI / "findings" / "networks.yaml").read_text("utf-8")
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at + draw(st.integers(0, 5)) :]
    elif kind == "deep":
        depth = draw(st.integers(1, 400))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("- ", "")]))
        text = "a: " + opener * depth + "x" + closer * depth + "\n"
        if opener == "- ":
            text = "".join("  " * i + "- \n" for i in range(depth)) + "  " * depth + "- x\n"
    else:
        return name, draw(st.binary(max_size=200))
    return name, text.encode("utf-8", errors="surrogatepass")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return Path(shutil.copytree(MINI, tmp_path_factory.mktemp("fuzz") / "p"))


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=documents())
def test_any_findings_file_gives_located_problems_only(project, document):
    name, content = document
    path = project / "findings" / name
    original = path.read_bytes() if path.exists() else None
    path.write_bytes(content)
    try:
        result = CliRunner().invoke(
            app, ["check", "--project", str(project)], catch_exceptions=False
        )
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_bytes(original)
    assert result.exit_code in (0, 1), result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    problems = [
        line
        for line in lines
        if not line.startswith(("reading grade", " ")) and " brief: " not in line
    ][:-1]
    assert all(LOCATED.match(line) for line in problems), result.output
    if result.exit_code == 1:
        assert any(": error: " in line for line in problems), result.output
