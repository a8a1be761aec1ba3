"""No value from the inputs reaches any HTML as markup.

Every string field of the schema (and of stakeholders.yaml) is given a marker that would
become an element, or break out of an attribute, if it were copied into HTML unescaped:
``"'><xmarkX>``. The briefs are then built and published and the messages written; every
HTML output is parsed, and no ``xmark*`` element may exist in any of them: the HTML twin, the
PDF's source HTML, the site pages, the feed and the mail. The test also checks that the
markers did arrive, as text, so it cannot pass by leaving fields out. It goes through the
public commands, so it holds whatever formats the notes and bibliography.
"""

from __future__ import annotations

import email
import email.policy
import typing
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from policy_briefs.corpus import bare_type
from policy_briefs.deliver.stakeholders import StakeholdersFile
from policy_briefs.models import FILE_MODELS, THEME_MODEL

# Names of files and settings rather than text: a marker there only breaks the lookup.
NOT_TEXT = {"template", "citation_style", "snapshot", "email"}


def marker(n: int) -> str:
    return f"\"'>{element(n)}"


def element(n: int) -> str:
    # No hyphen: typographic processing turns one into a dash, which would hide the marker
    # from this test but not from a browser. No digits either: numbers in a figure must be
    # backed by a quote, and a marker's digits would not be.
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return f"<xmark{letters}>"


class Markers:
    """Marker number -> the field it was put in, e.g. 'networks.yaml findings[0].headline'."""

    def __init__(self):
        self.fields: dict[int, str] = {}

    def new(self, where: str) -> str:
        n = len(self.fields) + 1
        self.fields[n] = where
        return marker(n)


def _slots(model: type[BaseModel], data: dict, where: str):
    """(container, key, kind, where) for every string field of ``model`` under ``data``."""
    for name, info in model.model_fields.items():
        key = info.alias or name
        tp = bare_type(info.annotation)
        origin = typing.get_origin(tp)
        here = f"{where}.{key}"
        if tp is str:
            if key not in NOT_TEXT:
                yield data, key, "str", here
        elif origin is list and bare_type(typing.get_args(tp)[0]) is str:
            yield data, key, "list", here
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(data.get(key), dict):
            yield from _slots(tp, data[key], here)
        elif origin is list and isinstance(data.get(key), list):
            item = bare_type(typing.get_args(tp)[0])
            if isinstance(item, type) and issubclass(item, BaseModel):
                for i, value in enumerate(data[key]):
                    if isinstance(value, dict):
                        yield from _slots(item, value, f"{here}[{i}]")
        elif origin is dict and isinstance(data.get(key), dict):
            item = bare_type(typing.get_args(tp)[1])
            if isinstance(item, type) and issubclass(item, BaseModel):
                for k, value in data[key].items():
                    yield from _slots(item, value, f"{here}.{k}")


def inject(path: Path, model: type[BaseModel], markers: Markers) -> None:
    """Put a marker into every string field of the file that still validates with it."""
    data = yaml.safe_load(path.read_text("utf-8"))
    for container, key, kind, where in list(_slots(model, data, path.name)):
        missing = key not in container
        before = container.get(key)
        mark = markers.new(where)
        if kind == "list":
            container[key] = [*(before or []), f"Item {mark}"]
        elif key in ("URL", "url"):
            container[key] = f"https://example.org/{mark}"
        elif key == "DOI":
            container[key] = f"10.5555/{mark}"
        elif key == "locator":
            container[key] = f"{before or 'paragraph 2'} {mark}"
        else:
            container[key] = f"{before or 'Text'} {mark}"
        try:
            model.model_validate(data)
        except ValidationError:  # ids, dates, language tags: their patterns refuse markup
            if missing:
                del container[key]
            else:
                container[key] = before
            markers.fields[len(markers.fields)] += " (refused)"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


class Scan(HTMLParser):
    """Live marker elements, and markers present as text or attribute values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.live: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag.startswith("xmark"):
            self.live.add(tag)
        self.text += [v for _k, v in attrs if v]

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def scan(html: str, name: str) -> tuple[set[str], str]:
    parser = Scan()
    parser.feed(html)
    parser.close()
    return {f"{name}: <{tag}>" for tag in parser.live}, "\n".join(parser.text)


def found(text: str, markers: Markers) -> set[str]:
    # Case-blind: a title-case style may capitalise a marker's first letter.
    text = text.lower()
    return {where for n, where in markers.fields.items() if element(n) in text}


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    """The mini project with markers everywhere, built, published and sent to the outbox."""
    import shutil

    from typer.testing import CliRunner

    from policy_briefs.cli import app
    from support.mini import MINI

    project = Path(shutil.copytree(MINI, tmp_path_factory.mktemp("escaping") / "p"))
    # Marked quotes are no longer in the snapshots: build unverified (the briefs say so).
    (project / "briefs.toml").unlink()
    markers = Markers()
    for path in sorted((project / "findings").glob("*.yaml")):
        inject(path, FILE_MODELS.get(path.name, THEME_MODEL), markers)
    (project / "stakeholders.yaml").write_text(
        yaml.safe_dump(
            {
                "stakeholders": [
                    {
                        "name": "Ada Lovelace",
                        "organisation": "Office",
                        "email": "ada@example.gov",
                        "audiences": ["federal", "sme"],
                        "format": "html",
                    }
                ]
            }
        ),
        "utf-8",
    )
    inject(project / "stakeholders.yaml", StakeholdersFile, markers)

    runner = CliRunner()
    outputs: dict[str, str] = {}
    for args in (["build", "--format", "html"], ["publish"], ["send"]):
        result = runner.invoke(
            app,
            [*args, "--project", str(project)],
            catch_exceptions=False,
            env={"BRIEFS_FROM": "Briefs <briefs@example.org>", "BRIEFS_SMTP_HOST": None},
        )
        assert result.exit_code == 0, (args, result.output)
    out = project / "output"
    for path in sorted(out.glob("*.html")) + sorted((out / "site").rglob("*.html")):
        outputs[path.relative_to(out).as_posix()] = path.read_text("utf-8")
    for path in sorted((out / "outbox").rglob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for n, part in enumerate(message.walk()):
            if part.get_content_type() == "text/html":
                outputs[f"{path.relative_to(out).as_posix()}#{n}"] = part.get_content()
    assert any(name.startswith("outbox/") for name in outputs), "no message was written"

    # The PDF's source HTML: the same brief rendered for print, without WeasyPrint.
    from policy_briefs.project import Project
    from policy_briefs.selection import select
    from policy_briefs.templating import citations_for, jinja_environment, render_html
    from policy_briefs.validate import load_valid_corpus

    p = Project.at(project)
    corpus, _ = load_valid_corpus(p)
    env = jinja_environment(p)
    for audience in corpus.audiences:
        brief = select(corpus, audience)
        outputs[f"{audience}.pdf (source HTML)"] = render_html(
            env, brief, citations_for(brief, p), medium="print"
        )
    return project, markers, outputs


def test_no_marker_survives_as_markup_in_any_html(marked):
    _project, _markers, outputs = marked
    live = set()
    for name, html in outputs.items():
        live |= scan(html, name)[0]
    assert live == set(), "values reached HTML as markup"


def test_the_markers_did_reach_every_kind_of_output_as_text(marked):
    _project, markers, outputs = marked
    reached = {name: found(scan(html, name)[1], markers) for name, html in outputs.items()}
    twin = reached["federal.html"] | reached["sme.html"]
    # Values that pass through the citation processor, and the rest of the brief.
    for field in [
        "sources.yaml.sources[0].title",
        "sources.yaml.sources[0].author[0].family",
        "sources.yaml.sources[0].publisher",
        "sources.yaml.sources[0].container-title",
        "sources.yaml.sources[0].DOI",
        "sources.yaml.sources[0].medium",
        "networks.yaml.findings[0].evidence[0].locator",
        "networks.yaml.findings[0].headline",
        "networks.yaml.findings[0].summary",
        "networks.yaml.findings[0].figures[0].value",
        "networks.yaml.findings[0].figures[0].label",
        "networks.yaml.findings[0].audiences.federal.implication",
        "networks.yaml.findings[0].audiences.federal.actions",
        "networks.yaml.theme.title",
        "publication.yaml.publication.series",
        "publication.yaml.publication.contact",
        "publication.yaml.publication.licence",
        "audiences.yaml.audiences[0].title",
    ]:
        assert field in twin, f"{field} did not reach the HTML twin"
    print_html = reached["federal.pdf (source HTML)"]
    assert "networks.yaml.findings[0].evidence[0].locator" in print_html
    assert "sources.yaml.sources[0].title" in print_html
    assert "networks.yaml.findings[0].headline" in reached["site/index.html"] or any(
        "networks.yaml.findings[0].headline" in found_
        for name, found_ in reached.items()
        if name.startswith("site/")
    )
    mail = set().union(*(v for k, v in reached.items() if k.startswith("outbox/")))
    assert "audiences.yaml.audiences[0].title" in mail
    assert "publication.yaml.publication.series" in mail


def test_the_feed_holds_values_as_text(marked):
    project, markers, _ = marked
    feed = project / "output" / "site" / "feed.xml"
    root = ET.fromstring(feed.read_bytes())
    assert not [e.tag for e in root.iter() if "xmark" in e.tag]
    for element in root.iter():
        if element.get("type") in ("html", "xhtml"):
            assert scan(element.text or "", "feed")[0] == set()
    assert found(ET.tostring(root, encoding="unicode", method="text"), markers)


def test_links_from_data_are_only_web_addresses(marked):
    """A markdown link in a summary can only point to the web, never run script."""
    _project, _markers, outputs = marked
    for name, html in outputs.items():
        for scheme in ("javascript:", "vbscript:", "data:text/html"):
            assert f'href="{scheme}' not in html.lower(), name
