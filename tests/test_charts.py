"""Charts of a key figure's series: the drawing (ticks, labels, escaping, determinism),
the model's bounds, the evidence behind every value, and the chart as a reader meets it
in the PDF (drawn, tagged as a Figure with Alt text) and the HTML twin (SVG image with a
title, a description and a data table)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pikepdf
import pytest
from pydantic import ValidationError

from policy_briefs.charts import Palette, nice_number, render_chart, summary, value_axis
from policy_briefs.models import Chart
from support.edits import edit, problems

SVG = "{http://www.w3.org/2000/svg}"
NETWORKS = "findings/networks.yaml"


def chart(**fields) -> Chart:
    data = {
        "kind": "bar",
        "title": "Orders through networks, 2011-2020",
        "base": "Share of orders, percent",
        "unit": "%",
        "points": [
            {"label": 2011, "value": 12},
            {"label": 2014, "value": 18},
            {"label": 2017, "value": 27},
            {"label": 2020, "value": 42},
        ],
    }
    return Chart.model_validate(data | fields)


def drawing(c: Chart, ident: str = "c1") -> ET.Element:
    """The SVG, parsed as XML: it must be well-formed whatever its text says."""
    return ET.fromstring(str(render_chart(c, ident).svg))


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


# --- ticks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "zero", "ticks"),
    [
        ([12, 42], True, (0, 10, 20, 30, 40, 50)),
        ([12, 42], False, (10, 20, 30, 40, 50)),
        ([17.3, 11.5], False, (10, 12.5, 15, 17.5)),
        ([0.1, 0.37], True, (0, 0.1, 0.2, 0.3, 0.4)),
        ([-3, 4], True, (-5, -2.5, 0, 2.5, 5)),
        ([5, 5], True, (0, 1, 2, 3, 4, 5)),
        ([0, 0], True, (0, 0.25, 0.5, 0.75, 1)),
        ([999, 1001], False, (999, 999.5, 1000, 1000.5, 1001)),
    ],
)
def test_ticks_are_nice_numbers_covering_the_data(values, zero, ticks):
    axis = value_axis(values, include_zero=zero)
    assert axis.ticks == pytest.approx(ticks)
    assert axis.low <= min(values) and axis.high >= max(values)


@pytest.mark.parametrize("high", [0.0013, 0.37, 1, 7, 42, 99, 101, 1234.5, 64000, 3.2e9, 1e12])
def test_ticks_are_evenly_spaced_distinct_and_few(high):
    for low in (0, high / 3, -high / 2):
        axis = value_axis([low, high], include_zero=False)
        steps = {round(b - a, 12) for a, b in zip(axis.ticks, axis.ticks[1:], strict=False)}
        assert len(steps) == 1, axis.ticks
        step = steps.pop()
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 2.5, 5), step
        assert 3 <= len(axis.ticks) <= 11, axis.ticks
        assert axis.low <= low and axis.high >= high
        labels = [f"{t:.{axis.decimals}f}" for t in axis.ticks]
        assert len(set(labels)) == len(labels), labels


def test_nice_numbers():
    assert [nice_number(v, round_it=True) for v in (1.2, 1.9, 3, 4, 8)] == [1, 2, 2.5, 5, 10]
    assert [nice_number(v, round_it=False) for v in (1.2, 2.1, 3, 7)] == [2, 2.5, 5, 10]


# --- the drawing --------------------------------------------------------------------------


def test_a_bar_chart_draws_a_bar_and_a_value_label_for_each_point():
    root = drawing(chart())
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").get("id") == "c1-title"
    assert root.find(f"{SVG}desc").get("id") == "c1-desc"
    assert len(root.findall(f"{SVG}rect")) == 4
    shown = texts(root)
    for label in ("2011", "2014", "2017", "2020", "12%", "18%", "27%", "42%", "0%", "50%"):
        assert label in shown
    # Taller bars for larger values, all standing on the zero line.
    bars = root.findall(f"{SVG}rect")
    heights = [float(b.get("height")) for b in bars]
    assert heights == sorted(heights) and heights[0] > 0
    bottoms = {round(float(b.get("y")) + float(b.get("height")), 2) for b in bars}
    assert len(bottoms) == 1


def test_a_line_chart_joins_its_points_in_order():
    root = drawing(chart(kind="line"))
    path = root.find(f"{SVG}path").get("d")
    assert path.startswith("M") and path.count("L") == 3
    assert len(root.findall(f"{SVG}circle")) == 4
    xs = [float(c.get("cx")) for c in root.findall(f"{SVG}circle")]
    assert xs == sorted(xs)


def test_negative_bars_hang_below_zero():
    root = drawing(chart(points=[{"label": "A", "value": -4}, {"label": "B", "value": 6}], unit=""))
    zero = [line for line in root.findall(f"{SVG}line") if line.get("stroke-width") == "1"]
    assert len(zero) == 1
    zero_y = float(zero[0].get("y1"))
    low, high = root.findall(f"{SVG}rect")
    assert float(low.get("y")) == pytest.approx(zero_y)
    assert float(high.get("y")) + float(high.get("height")) == pytest.approx(zero_y)
    assert "\u22124" in texts(root), "a minus sign, not a hyphen"


def test_crowded_series_keep_labels_apart():
    points = [
        {"label": f"Q{i % 4 + 1} {2000 + i // 4}", "value": 1000 + i * 37.5} for i in range(24)
    ]
    root = drawing(chart(points=points, unit=""))
    shown = texts(root)
    categories = [p["label"] for p in points if p["label"] in shown]
    assert 2 <= len(categories) < 24 and points[-1]["label"] in categories
    values = [t for t in shown if re.fullmatch(r"[\d,]+\.\d", t)]
    assert 2 <= len(values) < 24, "value labels thinned to first, last, lowest and highest"
    assert root.get("class") == "chart-svg", "too crowded for larger text on a phone"


def test_a_roomy_chart_may_enlarge_its_text_on_a_phone():
    assert drawing(chart()).get("class") == "chart-svg chart-roomy"
    wide = [{"label": f"Region {i}", "value": 1000 * i + 0.5} for i in range(1, 9)]
    assert drawing(chart(points=wide)).get("class") == "chart-svg"


def test_word_units_are_said_in_the_description_not_on_the_marks():
    c = chart(
        unit="million",
        base="US manufacturing employment, millions",
        points=[{"label": 2000, "value": 17.3}, {"label": 2010, "value": 11.5}],
        kind="line",
    )
    rendered = render_chart(c, "c")
    assert not [t for t in texts(ET.fromstring(str(rendered.svg))) if "million" in t]
    assert rendered.rows == (("2000", "17.3\u00a0million"), ("2010", "11.5\u00a0million"))
    assert "US manufacturing employment" in rendered.summary


def test_the_description_summarises_the_series():
    words = summary(chart())
    assert words.startswith("Bar chart of share of orders, percent. 4 values, 2011 to 2020")
    assert "first 12% (2011), last 42% (2020)" in words
    assert "lowest 12% (2011), highest 42% (2020)" in words
    flat = chart(points=[{"label": "a", "value": 3}, {"label": "b", "value": 3}])
    assert summary(flat).endswith("every value is the same.")


def test_numbers_follow_the_brief_language():
    c = chart(points=[{"label": "a", "value": 1250.5}, {"label": "b", "value": 2000}], unit="")
    assert render_chart(c, "c", locale="en-US").rows[0][1] == "1,250.5"
    assert render_chart(c, "c", locale="de-DE").rows[0][1] == "1.250,5"


def test_labels_keep_the_decimals_the_source_wrote():
    c = chart(points=[{"label": "a", "value": 0.00125}, {"label": "b", "value": 17}], unit="")
    assert [v for _, v in render_chart(c, "c").rows] == ["0.00125", "17"]
    alike = chart(points=[{"label": "a", "value": 17.3}, {"label": "b", "value": 12}], unit="")
    assert [v for _, v in render_chart(alike, "c").rows] == ["17.3", "12.0"]


def test_every_text_is_escaped():
    hostile = '<script>alert("x")</script> & "quotes"'
    c = chart(
        title=hostile,
        base="</desc><a href='javascript:x'>",
        points=[{"label": "<b>&amp;", "value": 1}, {"label": '"><x', "value": 2}],
    )
    svg = str(render_chart(c, "c").svg)
    assert "<script" not in svg and "<a " not in svg and "<b>" not in svg
    root = ET.fromstring(svg)  # well-formed
    assert root.find(f"{SVG}title").text == hostile
    assert root.find(f"{SVG}desc").text.startswith("Bar chart of </desc><a href='javascript:x'>.")
    assert {"<b>&amp;", '"><x'} <= set(texts(root))


def test_the_same_chart_draws_the_same_bytes():
    assert render_chart(chart(), "c").svg == render_chart(chart(), "c").svg
    assert render_chart(chart(kind="line"), "c") == render_chart(chart(kind="line"), "c")


def test_the_palette_is_read_from_the_stylesheet():
    css = ":root {\n  --navy: #102030;\n  --ink: #ABCDEF;\n  --rule: var(--navy);\n}"
    palette = Palette.from_css(css)
    assert palette.navy == "#102030" and palette.ink == "#abcdef"
    assert palette.rule == Palette().rule, "a var() it cannot resolve keeps the default"
    root = ET.fromstring(str(render_chart(chart(), "c", palette=palette).svg))
    assert {r.get("fill") for r in root.findall(f"{SVG}rect")} == {"#102030"}
    shipped = Palette.from_css((Path(__file__).parents[1] / "templates" / "brief.css").read_text())
    assert shipped == Palette(), "the defaults are the shipped stylesheet's colours"


# --- the model's bounds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"points": [{"label": "a", "value": 1}]}, "at least 2 items"),
        ({"points": [{"label": str(i), "value": i} for i in range(25)]}, "at most 24 items"),
        ({"points": [{"label": "a", "value": "nan"}, {"label": "b", "value": 1}]}, "finite"),
        ({"points": [{"label": "a", "value": float("inf")}, {"label": "b", "value": 1}]}, "finite"),
        ({"points": [{"label": "a", "value": 1e13}, {"label": "b", "value": 1}]}, "less than"),
        ({"points": [{"label": "x" * 17, "value": 1}, {"label": "b", "value": 1}]}, "at most 16"),
        ({"points": [{"label": "a\nb", "value": 1}, {"label": "b", "value": 1}]}, "line break"),
        ({"kind": "pie"}, "'bar' or 'line'"),
        ({"title": ""}, "at least 1"),
        ({"unit": "a very long unit"}, "at most 12"),
    ],
)
def test_the_model_bounds_a_chart(change, message):
    with pytest.raises(ValidationError, match=message):
        chart(**change)


# --- every value from the cited passage --------------------------------------------------


def line_of(project: Path, rel: str, text: str) -> int:
    lines = (project / rel).read_text("utf-8").splitlines()
    hits = [n + 1 for n, line in enumerate(lines) if text in line]
    assert len(hits) == 1, text
    return hits[0]


def test_the_fixture_chart_passes_strict_checks(mini_project):
    assert problems(mini_project, strict=True) == []


def test_a_value_not_in_the_cited_passage_is_a_located_error(mini_project):
    edit(mini_project, NETWORKS, "{label: 2014, value: 18}", "{label: 2014, value: 19}")
    found = [p for p in problems(mini_project) if "chart" in p]
    line = line_of(mini_project, NETWORKS, "value: 19")
    column = (mini_project / NETWORKS).read_text("utf-8").splitlines()[line - 1].index("19") + 1
    assert found == [
        f"{NETWORKS}:{line}:{column}: error: figures[0].chart.points[1].value: 19 is in no "
        "quote from 'alpha-2020' in this finding; every value of a chart must stand in the "
        "cited passage: add the evidence that gives it, with the passage's words"
    ]


def test_values_should_stand_at_the_place_the_chart_cites(mini_project):
    # The chart's source line cites the figure's locator: a quote elsewhere in the source
    # backs the number but not the citation.
    edit(
        mini_project,
        NETWORKS,
        "        locator: paragraph 1\n        chart:",
        "        locator: paragraph 2\n        chart:",
    )
    found = [p for p in problems(mini_project) if "chart.points" in p and ".value" in p]
    assert len(found) == 4 and all(": warning: " in p for p in found)
    assert "is quoted from 'alpha-2020', but not at 'paragraph 2'" in found[0]
    assert len([p for p in problems(mini_project, strict=True) if ": error: " in p]) >= 4


def test_a_value_backed_only_by_a_quote_that_is_not_in_the_source_fails(mini_project):
    # The quote carries the value, but the archived source does not say it.
    edit(mini_project, NETWORKS, "18 percent in 2014 and 27", "19 percent in 2014 and 27")
    edit(mini_project, NETWORKS, "{label: 2014, value: 18}", "{label: 2014, value: 19}")
    found = problems(mini_project)
    assert [p for p in found if "evidence[1].quote: not found in alpha.txt" in p]
    assert not [p for p in found if "chart" in p]


def test_a_label_naming_a_year_the_passage_does_not_is_a_warning(mini_project):
    edit(mini_project, NETWORKS, "{label: 2011, value: 12}", "{label: 2012, value: 12}")
    found = [p for p in problems(mini_project) if "chart" in p]
    assert len(found) == 1 and ": warning: figures[0].chart.points[0].label: 2012" in found[0]
    assert [p for p in problems(mini_project, strict=True) if "chart" in p and ": error: " in p]


def test_two_points_with_one_label_are_an_error(mini_project):
    edit(mini_project, NETWORKS, "{label: 2014, value: 18}", "{label: 2011, value: 18}")
    found = [p for p in problems(mini_project) if "chart" in p]
    assert len(found) == 1
    assert "points[1].label: '2011' is also the label of points[0]" in found[0]
    assert found[0].startswith(
        f"{NETWORKS}:{line_of(mini_project, NETWORKS, 'label: 2011, value: 18')}:"
    )


def test_a_bad_series_is_reported_at_its_place_by_the_command(cli, mini_project):
    edit(mini_project, NETWORKS, "- {label: 2017, value: 27}", "- {label: 2017, value: .nan}")
    edit(mini_project, NETWORKS, "kind: bar", "kind: pie")
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1 and "Traceback" not in result.output
    nan = line_of(mini_project, NETWORKS, "value: .nan")
    pie = line_of(mini_project, NETWORKS, "kind: pie")
    assert f"{NETWORKS}:{nan}:" in result.stderr and "finite" in result.stderr
    assert f"{NETWORKS}:{pie}:" in result.stderr and "'bar' or 'line'" in result.stderr


# --- in the briefs ------------------------------------------------------------------------


class _Chart(HTMLParser):
    """The chart figure of an HTML page: SVG attributes, ids, table cells with scopes."""

    def __init__(self):
        super().__init__()
        self.svg: dict = {}
        self.ids: set[str] = set()
        self.scopes: list[tuple[str, str | None]] = []
        self.in_details = False
        self.caption = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "svg":
            self.svg = a
        elif tag == "details" and "chart-data" in (a.get("class") or ""):
            self.in_details = True
        elif tag == "th" and self.in_details:
            self.scopes.append((tag, a.get("scope")))
        elif tag == "caption" and self.in_details:
            self.caption = True


def test_the_html_twin_shows_an_image_with_a_name_description_and_data_table(mini_build):
    html = (mini_build.out / "federal.html").read_text("utf-8")
    page = _Chart()
    page.feed(html)
    assert page.svg["role"] == "img"
    for ident in page.svg["aria-labelledby"].split():
        assert ident in page.ids
    assert page.caption and page.scopes[:2] == [("th", "col"), ("th", "col")]
    assert [s for _, s in page.scopes[2:]] == ["row"] * 4
    assert "<summary>Data for this chart</summary>" in html
    assert "<td>27%</td>" in html


def test_the_pdf_draws_the_chart_and_tags_it_as_a_figure_with_alt_text(mini_build):
    for slug in ("federal", "sme"):
        pdf_path = mini_build.out / f"{slug}.pdf"
        text = subprocess.run(
            ["pdftotext", str(pdf_path), "-"], check=True, capture_output=True, text=True
        ).stdout
        words = " ".join(text.split())
        assert "Orders through shared supplier networks, 2011–2020" in words
        for label in ("12%", "18%", "27%", "42%", "2011", "2017"):
            assert label in words, (slug, label)
        with pikepdf.open(pdf_path) as pdf:
            figures = []
            stack = [pdf.Root.StructTreeRoot.K]
            while stack:
                node = stack.pop()
                if isinstance(node, pikepdf.Array):
                    stack.extend(node)
                elif isinstance(node, pikepdf.Dictionary) and "/S" in node:
                    if node.S == "/Figure":
                        figures.append(node)
                    if "/K" in node:
                        stack.append(node.K)
            assert len(figures) == 1, slug
            alt = str(figures[0].Alt)
            assert alt.startswith("Orders through shared supplier networks, 2011–2020. Bar chart")
            assert "first 12% (2011), last 42% (2020)" in alt
            assert "/BBox" in figures[0].A
    assert not [r for r in mini_build.log if r.levelname in ("WARNING", "ERROR")]


@pytest.mark.slow
@pytest.mark.parametrize("slug", ["federal", "sme"])
def test_the_pdfs_with_a_chart_pass_both_pdf_ua_checkers(mini_build, slug):
    pdf = str(mini_build.out / f"{slug}.pdf")
    done = subprocess.run(
        [_tool("outloud"), "--json", "-", "--fail-on", "never", pdf],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)["results"][0]
    assert result["error"] is None
    assert result["counts"]["error"] == 0 and result["counts"]["warning"] == 0, result["findings"]
    done = subprocess.run(
        [_tool("pdfua"), "check", "--format", "json", pdf], capture_output=True, text=True
    )
    report = json.loads(done.stdout)
    assert report["summary"]["errors"] == 0 and report["summary"]["warnings"] == 0, report
    assert report["summary"]["rules_run"] >= 10


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed (pip install -e '.[test]')"
    return found
