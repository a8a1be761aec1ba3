"""The input schema: one pydantic model per kind of thing an analyst writes.

Field docstrings are the documentation: they become the JSON Schema descriptions that
editors show while typing (``findings/schema.json``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

SCHEMA_FILE = "schema.json"

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]
Text = Annotated[str, Field(min_length=1)]

# Characters that end a line somewhere: in a mail header (CR, LF), in Python's and
# browsers' idea of a line (NEL, U+2028, U+2029), or any other control character.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def one_line(value: str) -> str:
    # Checked where the text is written, not where a message is sent: these fields
    # become mail headers (Subject, Reply-To), where a line break starts a new header.
    hit = _LINE_BREAKING.search(value)
    if hit:
        raise ValueError(
            f"contains a line break or control character (U+{ord(hit.group()):04X}, "
            f"character {hit.start() + 1}); this text is used in mail headers, "
            "so keep it on one line"
        )
    return value


HeaderText = Annotated[str, Field(min_length=1), AfterValidator(one_line)]
"""Text that may reach a mail header: one line, no control characters."""
Priority = Literal["high", "medium", "low"]
PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2}


def _date_to_text(value: Any) -> Any:
    # YAML reads an unquoted 2026-11-22 as a date; keep dates as ISO text throughout.
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _real_date(value: str) -> str:
    # The pattern admits 2026-02-30 and 2026-13; templates and the citation processor
    # turn dates into calendar dates, so an impossible one must stop here, located.
    parts = [int(p) for p in value.split("-")]
    try:
        dt.date(parts[0], *(parts[1:] + [1, 1])[:2])
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a calendar date ({exc})") from None
    return value


IsoDate = Annotated[
    str,
    BeforeValidator(_date_to_text),
    Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$", description="YYYY, YYYY-MM or YYYY-MM-DD"),
    AfterValidator(_real_date),
]
FullDate = Annotated[
    str,
    BeforeValidator(_date_to_text),
    Field(pattern=r"^\d{4}-\d{2}-\d{2}$"),
    AfterValidator(_real_date),
]


def _timestamp_to_text(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 2026-11-22T10:00:00Z as a datetime; keep it as UTC text.
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="seconds") + "Z"
    return value


UtcTimestamp = Annotated[
    str,
    BeforeValidator(_timestamp_to_text),
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
        description="UTC date and time, YYYY-MM-DDTHH:MM:SSZ",
    ),
]

# CSL locator labels (CSL 1.0.2 "locator" terms) that a citation may carry.
LOCATOR_LABELS = (
    "act",
    "appendix",
    "article-locator",
    "book",
    "canon",
    "chapter",
    "column",
    "elocation",
    "equation",
    "figure",
    "folio",
    "issue",
    "line",
    "note",
    "opus",
    "page",
    "paragraph",
    "part",
    "rule",
    "scene",
    "section",
    "sub-verbo",
    "supplement",
    "table",
    "timestamp",
    "title-locator",
    "verse",
    "version",
    "volume",
)
LOCATOR_RE = re.compile(r"^(?P<label>[a-z-]+)\s+(?P<value>\S.*)$")

# What a source does with a claim. The first two state it as the source's own fact or
# result; the others put it in someone's mouth, so a brief must say whose and when.
Stance = Literal["reports", "finds", "argues", "contends", "proposes", "plans", "lists"]
FACT_STANCES = ("reports", "finds")
STANCE_HELP = {
    "reports": "data or events the source reports as fact (a survey count, an event held)",
    "finds": "a result of the source's own study or analysis",
    "argues": "the author's own opinion or advocacy",
    "contends": "a view the source attributes to others, or a contested claim",
    "proposes": "a recommendation or proposal",
    "plans": "a stated goal or plan of a government or organisation",
    "lists": "an agenda, topic or theme list (the source names it, it does not assert it)",
}

LineRange = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, populate_by_name=True)


class Name(Model):
    """A person (family and given names) or an organisation (literal)."""

    family: str | None = None
    """Family name of a person."""
    given: str | None = None
    """Given names of a person."""
    literal: str | None = None
    """Full name of an organisation, used instead of family/given."""

    @model_validator(mode="after")
    def _one_form(self) -> Name:
        if not (self.family or self.literal):
            raise ValueError("a name needs 'family' (a person) or 'literal' (an organisation)")
        return self


class Provenance(Model):
    """How a source's snapshot was made: written by `briefs sources archive`, not by hand."""

    url: str = Field(pattern=r"^https?://\S+$")
    """The address that was fetched."""
    final_url: str = Field(pattern=r"^https?://\S+$")
    """The address the page was served from, after any redirects."""
    status: int = Field(ge=100, le=599)
    """HTTP status of the final response."""
    retrieved: UtcTimestamp
    """When the page was fetched, in UTC."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the snapshot file as stored; `briefs check` refuses a file that differs."""
    extractor: Text
    """Program and version that turned the page into text, e.g. 'trafilatura 2.3.1'."""


class Source(Model):
    """A bibliography entry in CSL fields, plus the archived text quotes are checked against."""

    id: Id
    """Short, stable identifier that evidence cites, e.g. 'brookings-2012-regions'."""
    type: Literal[
        "article",
        "article-journal",
        "article-magazine",
        "article-newspaper",
        "book",
        "chapter",
        "document",
        "post",
        "post-weblog",
        "report",
        "speech",
        "webpage",
    ]
    """CSL item type."""
    title: Text
    """Title as published."""
    title_short: str | None = Field(None, alias="title-short")
    """Short title for later notes (note styles), at most four words: key words of the
    main title, e.g. 'Advancing Advanced Manufacturing'."""
    author: list[Name] = []
    """Authors, in order."""
    editor: list[Name] = []
    """Editors, in order."""
    container_title: str | None = Field(None, alias="container-title")
    """The book, journal or website the item is part of."""
    publisher: str | None = None
    """Publisher or the organisation that issued the item."""
    publisher_place: str | None = Field(None, alias="publisher-place")
    """City of publication."""
    issued: IsoDate | None = None
    """Publication date: YYYY, YYYY-MM or YYYY-MM-DD. Omit for undated pages."""
    accessed: IsoDate | None = None
    """Date the online item was consulted."""
    DOI: str | None = Field(None, pattern=r"^10\.\d{4,9}/\S+$")
    """Digital Object Identifier, without the https://doi.org/ prefix."""
    ISBN: str | None = None
    """ISBN of the book."""
    URL: str | None = Field(None, pattern=r"^https?://\S+$")
    """Web address of the item."""
    genre: str | None = None
    """Kind of item in words, e.g. 'Blog post'."""
    medium: str | None = None
    """Medium, if not text."""
    note: str | None = None
    """Any further bibliographic note."""
    snapshot: str | None = None
    """File name of the archived source text in the sources folder (--sources-dir)."""
    body: LineRange | None = None
    """First and last line (1-based) of the snapshot that hold this item's own text; the
    rest (menus, adverts, sign-up forms) is neither counted by locators nor quotable.
    Default: the whole snapshot."""
    sections: dict[str, LineRange] = {}
    """Named parts of the body and their line ranges, e.g. {abstract: [7, 7]}; a locator
    'section abstract' points into one."""
    provenance: Provenance | None = None
    """Where and when the snapshot was fetched, and its checksum (`briefs sources archive`)."""

    def to_csl(self) -> dict[str, Any]:
        """This source as CSL-JSON, the input of the citation processor."""
        data = self.model_dump(
            by_alias=True, exclude_none=True, exclude={"snapshot", "body", "sections", "provenance"}
        )
        for key in ("author", "editor"):
            if not data.get(key):
                data.pop(key, None)
        for key in ("issued", "accessed"):
            if key in data:
                data[key] = {"date-parts": [[int(p) for p in data[key].split("-")]]}
        return data


class Evidence(Model):
    """A citation: where in a source the finding comes from, with a short verbatim quote."""

    source: Id
    """Id of the cited source in sources.yaml."""
    locator: str = Field(pattern=LOCATOR_RE.pattern)
    """Where in the source: 'paragraph N' (the N-th paragraph of the source's body; a list
    belongs to the paragraph that introduces it) or 'section NAME' (a part named in the
    source's sections), or another CSL label such as 'page 12'."""
    quote: Text
    """A short verbatim span of the source (under about 30 words), not clipped of the
    reporting or hedging words around it."""
    stance: Stance
    """What the source does with the claim: reports (data or events), finds (a study's
    result), argues (the author's opinion), contends (a view attributed to others or a
    contested claim), proposes (a recommendation), plans (a stated goal or plan), lists
    (an agenda or topic list)."""
    speaker: str | None = Field(None, min_length=1)
    """Who makes the claim when it is not the source's author, e.g. 'the MIT Production in
    the Innovation Economy commission' in a blog post that reports its report."""
    as_of: IsoDate | None = None
    """When the described plan, event or survey dates from, if not the source's date."""

    @property
    def locator_label(self) -> str:
        return self._locator()["label"]

    @property
    def locator_value(self) -> str:
        return self._locator()["value"]

    def _locator(self) -> re.Match[str]:
        found = LOCATOR_RE.match(self.locator)
        assert found is not None  # the field's pattern is this expression
        return found


# A chart is a small series read at a glance: fewer than two points is no series, more
# than two dozen no longer fits a column of a letter page with its value labels.
MIN_CHART_POINTS = 2
MAX_CHART_POINTS = 24
MAX_CHART_LABEL = 16
# Beyond this magnitude a value label no longer fits beside its bar; no brief's series
# needs more (a unit such as 'billion' in the base keeps numbers small).
MAX_CHART_VALUE = 1e12


def _label_to_text(value: Any) -> Any:
    # An unquoted year (2011) is read by YAML as a number; a point's label is its name.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


ChartLabel = Annotated[
    str,
    BeforeValidator(_label_to_text),
    Field(min_length=1, max_length=MAX_CHART_LABEL),
    AfterValidator(one_line),
    # Editors must accept the unquoted year that the loader accepts.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": MAX_CHART_LABEL},
                {"type": "integer"},
            ]
        }
    ),
]


class ChartPoint(Model):
    """One value of a chart's series."""

    label: ChartLabel
    """What the value belongs to, as shown under it: a year ('2011'), a period or a group;
    one line, at most 16 characters."""
    value: float = Field(allow_inf_nan=False, ge=-MAX_CHART_VALUE, le=MAX_CHART_VALUE)
    """The number, in the chart's unit, exactly as the cited passage gives it (17.3 for
    '17.3 million' when the unit is 'million'); `briefs check` looks for it in the quotes."""


class Chart(Model):
    """A small data series drawn as a bar or line chart under the key number.

    Every value must stand in a quote of this finding's evidence from the figure's source,
    so a chart shows only what its cited passages say. Chart only values of one measure on
    one base: shares of different totals do not belong on one axis."""

    kind: Literal["bar", "line"] = "bar"
    """'bar' for values of separate groups or years (bars start at zero); 'line' for one
    measure over time."""
    title: Annotated[str, Field(min_length=1, max_length=120), AfterValidator(one_line)]
    """The chart's title: what it shows, e.g. 'Orders through shared networks, 2011-2020'.
    Also its accessible name."""
    base: Annotated[str, Field(min_length=1, max_length=120), AfterValidator(one_line)]
    """What the numbers are of, with their unit in words, shown under the title, e.g.
    'US manufacturing employment, millions' or 'share of orders, percent'."""
    unit: Annotated[str, Field(max_length=12), AfterValidator(one_line)] = ""
    """The unit after each number: a symbol ('%') is written on the chart (42%); a word
    ('million') in its description and data table, the base saying it on the chart."""
    category: (
        Annotated[str, Field(min_length=1, max_length=40), AfterValidator(one_line)] | None
    ) = None
    """What the point labels name, e.g. 'Year' or 'Region': the heading of the data
    table's first column (default 'Label')."""
    points: list[ChartPoint] = Field(min_length=MIN_CHART_POINTS, max_length=MAX_CHART_POINTS)
    """The series in reading order (oldest first for a time series): 2 to 24 points with
    distinct labels."""


class Figure(Model):
    """A key number shown as a stat call-out, optionally with a chart of its series."""

    value: Text
    """The number as displayed, e.g. '64 000', '7%' or 'one-third'."""
    label: Text
    """What the number counts, completing a sentence that starts with the value."""
    source: Id
    """Id of the source that gives the number."""
    locator: str | None = Field(None, pattern=LOCATOR_RE.pattern)
    """Where in the source the number appears, e.g. 'paragraph 6'."""
    chart: Chart | None = None
    """A small series the number belongs to, drawn as an accessible chart with its data
    table, e.g. {kind: line, title: ..., base: ..., unit: '%', points: [{label: '2011',
    value: 12}, ...]}. Each value must stand in a quote from the figure's source (at its
    locator, which the chart's source line cites)."""


class Relevance(Model):
    """What a finding means for one audience."""

    priority: Priority = "medium"
    """How prominent the finding is in this audience's brief."""
    implication: Text
    """What the finding means for this reader, in their terms."""
    actions: list[Text] = []
    """Concrete recommended actions for this reader, grounded in the evidence."""


class Contrast(Model):
    """A link to a finding that disagrees with this one."""

    finding: Id
    """Id of the finding that disagrees."""
    note: Text
    """How the two disagree, in one sentence."""


class Finding(Model):
    """One thing the evidence shows, in the analyst's own words."""

    id: Id
    """Unique id across all theme files."""
    headline: Text
    """The claim in one short sentence."""
    summary: Text
    """Two to four sentences; inline markdown (*em*, **strong**, links), no HTML."""
    confidence: Literal["high", "medium", "low"] = "medium"
    """How strongly the cited evidence supports the finding."""
    evidence: list[Evidence] = Field(min_length=1)
    """Citations that support the finding; at least one."""
    figures: list[Figure] = []
    """Key numbers from the evidence, shown as stat call-outs."""
    audiences: dict[Id, Relevance] = {}
    """Audience id to what the finding means for that reader; only these audiences receive it."""
    contrasts: list[Contrast] = []
    """Findings that disagree with this one, so a brief can show both sides."""


class Theme(Model):
    """A group of findings, shown as a section of the brief."""

    id: Id
    """Theme id; must equal the file name without .yaml."""
    title: Text
    """Section heading in the brief."""
    order: int = 100
    """Position of the theme in briefs, smallest first."""
    summary: str | None = None
    """One sentence on what the theme covers."""


class ThemeFile(Model):
    """A theme file: findings/<theme-id>.yaml."""

    theme: Theme
    """The theme these findings belong to."""
    findings: list[Finding] = Field(min_length=1)
    """The findings of this theme."""


class SourcesFile(Model):
    """findings/sources.yaml: the bibliography."""

    sources: list[Source] = Field(min_length=1)
    """Every source that evidence may cite."""


class Audience(Model):
    """A kind of reader, with the template and conventions of their brief."""

    id: Id
    """Audience id, used in findings and on the command line."""
    title: HeaderText
    """Who the brief is for, as shown on its cover (and in mail subjects: one line)."""
    reader: Text
    """Description of the reader and what they need."""
    brief_title: HeaderText | None = None
    """The brief's argued title: the claim it makes to this reader, in a line. It leads
    the cover and is the PDF's title; without it, the title is 'Series: Audience'."""
    argument: Text | None = None
    """The brief's takeaway in a sentence or two, printed under the title on the cover (the
    standfirst). Without it, the cover describes the reader."""
    template: Text
    """Template file of the brief, looked up in templates/ then the packaged defaults."""
    citation_style: str = Field(
        "chicago-notes-bibliography", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )
    """CSL style name (e.g. 'apa') or a .csl file under templates/styles/."""
    reading_grade: float | None = Field(None, gt=0, le=20)
    """Target Flesch-Kincaid grade for the brief's prose; over it is a warning."""
    max_findings: int | None = Field(None, ge=1)
    """Most findings in the brief; the highest-priority ones are kept."""
    takeaways: int = Field(4, ge=1, le=10)
    """How many key takeaways the brief opens with."""
    current_within_years: int | None = Field(None, ge=1, le=100)
    """Evidence older than this many years before the brief's date is dated: the brief
    shows such a finding 'as of' its year, and `briefs check` asks for the year in its text."""


class AudiencesFile(Model):
    """findings/audiences.yaml: the readers briefs are made for."""

    audiences: list[Audience] = Field(min_length=1)
    """Each audience gets its own brief."""


class Publication(Model):
    """The series every brief belongs to."""

    series: HeaderText
    """Name of the brief series (in mail subjects: one line)."""
    publisher: HeaderText
    """Organisation publishing the briefs (PDF author; in mail headers: one line)."""
    contact: HeaderText | None = None
    """Contact address shown on the brief (the Reply-To of mail: one line)."""
    licence: str | None = None
    """Licence of the briefs, e.g. 'CC BY 4.0'."""
    language: str = Field("en-US", pattern=r"^[a-zA-Z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    """Document language as a BCP 47 tag."""
    date: FullDate
    """Publication date printed on briefs and stored in the PDF (keeps builds reproducible)."""
    version: str = Field("1.0", pattern=r"^[0-9]+(\.[0-9]+)*$")
    """Edition of the series, e.g. '1.0'. Its first number is the major version of every
    brief (a brief's version is MAJOR.MINOR, its minor counting the brief's own content
    changes; see README, 'Versions'): raise it to start every brief again at MAJOR.0."""
    keywords: list[str] = []
    """PDF keywords."""
    url: str | None = Field(None, pattern=r"^https?://\S+$")
    """Public address where the briefs are published."""
    unsubscribe_url: str | None = Field(None, pattern=r"^https://[^\s<>]+$")
    """One-click unsubscribe address (https) for mail: each message's List-Unsubscribe
    gives it with the recipient's address added as the query parameter ``email``, and
    announces one-click removal (List-Unsubscribe-Post, RFC 8058), so the address must
    accept a POST and unsubscribe without further questions. Without it, messages offer
    only a mailto: unsubscribe to the publication's contact address."""


class Edition(Model):
    """A declared brief beyond the audiences' standard ones: one audience's findings,
    narrowed to some themes and/or findings, with a title argued for that selection.
    `briefs build` keeps it current like the standard briefs; publish and send treat it
    like them."""

    slug: Id
    """The brief's name: its files are <slug>.pdf and <slug>.html, and `briefs build
    <slug>` builds it alone. Must differ from every audience id and other edition."""
    audience: Id
    """Id of the audience the brief is written for (audiences.yaml): its template,
    citation style, reading grade and the findings' implications for that reader."""
    themes: list[Id] = []
    """Only findings of these themes (theme file names without .yaml)."""
    findings: list[Id] = []
    """Only these findings (with themes too, a finding must be in both lists' reach:
    listed here and of one of the themes)."""
    title: HeaderText
    """The brief's argued title: the claim it makes about this selection, in a line. It
    leads the cover, is the PDF's title and the mail subject (one line)."""
    argument: Text
    """The takeaway in a sentence or two, printed under the title on the cover; it must
    hold for the findings this edition selects."""
    max_findings: int | None = Field(None, ge=1)
    """Most findings in the brief, the highest-priority ones kept (default: the
    audience's max_findings when the edition names no findings, else no limit)."""

    @model_validator(mode="after")
    def _narrowed(self) -> Edition:
        if not (self.themes or self.findings):
            raise ValueError(
                "an edition selects findings: give 'themes', 'findings' or both "
                "(the audience's full brief is built anyway)"
            )
        return self


class EditionsFile(Model):
    """findings/editions.yaml: declared briefs beyond one per audience."""

    editions: list[Edition] = []
    """Each edition is built, published and sent like an audience's brief."""


class PublicationFile(Model):
    """findings/publication.yaml: series metadata."""

    publication: Publication
    """Series metadata."""


class GlossaryEntry(Model):
    """A term of art or acronym the briefs use."""

    term: Text
    """The term as it appears in text, e.g. 'SMEs'."""
    expansion: Text
    """What the term stands for, e.g. 'small and medium-sized enterprises'."""
    definition: Text
    """A plain-language definition."""
    acronym: bool = True
    """True: spelled out on first use in each brief."""


class GlossaryFile(Model):
    """findings/glossary.yaml: acronyms and terms of art."""

    glossary: list[GlossaryEntry]
    """Every acronym and term of art the findings use."""


# The reserved file names of findings/; every other *.yaml file there is a theme.
FILE_MODELS: dict[str, type[Model]] = {
    "sources.yaml": SourcesFile,
    "audiences.yaml": AudiencesFile,
    "publication.yaml": PublicationFile,
    "glossary.yaml": GlossaryFile,
    "editions.yaml": EditionsFile,
}
THEME_MODEL = ThemeFile


def json_schema() -> dict[str, Any]:
    """One JSON Schema for every findings file; each kind is told apart by its top-level key."""
    kinds = Union[  # noqa: UP007
        SourcesFile, AudiencesFile, PublicationFile, GlossaryFile, EditionsFile, ThemeFile
    ]
    schema = TypeAdapter(kinds).json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Policy briefs findings file",
        "description": "Generated by `briefs schema`; do not edit by hand.",
        **schema,
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
