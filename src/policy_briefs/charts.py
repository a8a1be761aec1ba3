"""A figure's data series as an accessible inline SVG chart: no browser, no network.

The SVG is drawn here, in Python, so the PDF (WeasyPrint's own SVG renderer) and the HTML
twin show the same chart. WeasyPrint applies no document CSS inside an inline SVG, so
colours are presentation attributes taken from the brief's stylesheet (its ``:root``
custom properties, see Palette.from_css). Accessibility: the SVG is an image
(``role="img"``) named by its ``<title>`` and described by its ``<desc>``, a summary of
the series; the template adds the data as a table. Every text drawn is escaped, and
the output depends on the chart alone, so builds stay byte-reproducible.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

from .localization import format_value
from .models import Chart

# The drawing's own coordinate system; the SVG scales to the width of its column, so
# these sizes are proportions: 640 units span the text column (about 178 mm on Letter).
WIDTH = 640
HEIGHT = 200
FONT = "Inter, sans-serif"
FONT_SIZE = 11.5
TOP = 20  # room for the value label above the tallest bar
BOTTOM = 26  # the category labels
# Width of a character, as a share of the font size: digits of Inter are 0.6 em wide,
# most letters narrower, so labels measured this way never overlap.
CHAR_EM = 0.6
TARGET_TICKS = 5
# Values keep the decimals the source wrote (up to this many), so a label never rounds
# a number away from the passage it was checked against.
MAX_DECIMALS = 6
# How much a stylesheet may enlarge a chart's text on a narrow screen (.chart-roomy).
ROOMY_SCALE = 1.7


@dataclass(frozen=True)
class Palette:
    """The brief's colours the chart uses, named as in brief.css."""

    ink: str = "#1b2431"  # value labels
    muted: str = "#4a5563"  # tick and category labels
    navy: str = "#12355b"  # bars and the line
    rule: str = "#c3cedb"  # grid lines
    paper: str = "#ffffff"  # the ring around a line's points

    @classmethod
    def from_css(cls, css: str) -> Palette:
        """The palette from a stylesheet's custom properties (``--navy: #12355b``); a
        colour it does not set, or sets to something other than a hex colour, keeps its
        default (a ``var()`` cannot be resolved here)."""
        found: dict[str, str] = {}
        for name in cls.__dataclass_fields__:
            match = re.search(rf"--{name}\s*:\s*(#[0-9a-fA-F]{{3,8}})\s*[;}}]", css)
            if match:
                found[name] = match.group(1).lower()
        return cls(**found)


# -- numbers -----------------------------------------------------------------------------


def nice_number(value: float, *, round_it: bool) -> float:
    """1, 2, 2.5 or 5 times a power of ten near ``value`` (Heckbert's nice numbers, with
    2.5 for quarter steps): rounded to the nearest, or else the next at or above."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    fraction = value / 10**exponent
    steps = (1, 2, 2.5, 5, 10)
    if round_it:
        bounds = (1.5, 2.25, 3.5, 7.5)
        nice = next((s for s, b in zip(steps, bounds, strict=False) if fraction < b), 10)
    else:
        nice = next(s for s in steps if fraction <= s + 1e-9)
    return nice * 10**exponent


@dataclass(frozen=True)
class Axis:
    """The value axis: its ticks, evenly spaced nice numbers covering the data."""

    ticks: tuple[float, ...]
    decimals: int

    @property
    def low(self) -> float:
        return self.ticks[0]

    @property
    def high(self) -> float:
        return self.ticks[-1]


def value_axis(values: list[float], *, include_zero: bool) -> Axis:
    """Nice ticks from below the smallest value to above the largest."""
    low, high = min(values), max(values)
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    if low == high:
        # One value: an axis around it (or from zero to one when it is zero).
        low, high = (0.0, 1.0) if low == 0 else (min(0.0, low), max(0.0, high))
    step = nice_number(nice_number(high - low, round_it=False) / (TARGET_TICKS - 1), round_it=True)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    # As many decimals as the step needs, so no two ticks read alike (2.5 needs one more).
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if round(step * 10**decimals, 6) % 1:
        decimals += 1
    ticks = tuple(round(i * step, decimals) + 0.0 for i in range(first, last + 1))
    return Axis(ticks, decimals)


def decimals_of(values: list[float]) -> list[int]:
    """Decimals to show each value with: the series alike (12.0 beside 17.3) when its
    values differ by at most one decimal place, else each as written (0.00125, 17)."""
    places = [
        min(MAX_DECIMALS, max(0, -int(Decimal(repr(v)).normalize().as_tuple().exponent)))
        for v in values
    ]
    if max(places) - min(places) <= 1:
        return [max(places)] * len(values)
    return places


def format_values(values: list[float], unit: str, locale: str | None) -> list[str]:
    """Each value as text in the brief's language, with its unit ('' for none)."""
    return [
        with_unit(format_value(v, d, locale), unit)
        for v, d in zip(values, decimals_of(values), strict=True)
    ]


def is_symbol(unit: str) -> bool:
    """'%' is written on the chart after each number; a word such as 'million' is not."""
    return bool(unit) and not any(c.isalpha() for c in unit)


def with_unit(number: str, unit: str) -> str:
    """A number and its unit in prose: '42%', '17.3 million'."""
    if not unit:
        return number
    return number + unit if is_symbol(unit) else f"{number}\u00a0{unit}"


# -- the chart ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedChart:
    """What a template needs to show a chart: the SVG, its summary and its data."""

    svg: Markup
    summary: str
    rows: tuple[tuple[str, str], ...]  # (label, value with its unit), in series order


def summary(chart: Chart, locale: str | None = None) -> str:
    """The series in a sentence or two: kind, first and last, lowest and highest."""
    values = [p.value for p in chart.points]
    shown = format_values(values, chart.unit, locale)

    def say(index: int) -> str:
        return f"{shown[index]} ({chart.points[index].label})"

    first, last = 0, len(values) - 1
    low = min(range(len(values)), key=lambda i: (values[i], i))
    high = max(range(len(values)), key=lambda i: (values[i], -i))
    kind = "Bar chart" if chart.kind == "bar" else "Line chart"
    base = chart.base
    # "Share of orders" reads "share of orders" mid-sentence; "US output" keeps its capitals.
    if base[:1].isupper() and not base[1:2].isupper():
        base = base[0].lower() + base[1:]
    text = (
        f"{kind} of {base}. {len(values)} values, {chart.points[first].label} to "
        f"{chart.points[last].label}: first {say(first)}, last {say(last)}"
    )
    if values[low] == values[high]:
        return text + "; every value is the same."
    return text + f"; lowest {say(low)}, highest {say(high)}."


def render_chart(
    chart: Chart, ident: str, *, palette: Palette | None = None, locale: str | None = None
) -> RenderedChart:
    """The chart as SVG (``ident`` prefixes its element ids), with its summary and rows."""
    palette = palette or Palette()
    words = summary(chart, locale)
    shown = format_values([p.value for p in chart.points], chart.unit, locale)
    rows = tuple((p.label, text) for p, text in zip(chart.points, shown, strict=True))
    svg = _svg(chart, ident, palette, locale, words)
    return RenderedChart(svg, words, rows)


def _n(value: float) -> str:
    """A coordinate, rounded so output is byte-stable and short."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    return len(text) * size * CHAR_EM


def _centre(x: float, content: str) -> float:
    """A centred label's x, moved in from the drawing's edges so none is cut off."""
    half = _text_width(content) / 2 + 1
    return min(max(x, half), WIDTH - half)


def _text(x: float, y: float, content: str, *, fill: str, anchor: str = "middle", bold=False):
    if anchor == "middle":
        x = _centre(x, content)
    weight = ' font-weight="600"' if bold else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{escape(fill)}"'
        f"{weight}>{escape(content)}</text>"
    )


def _svg(chart: Chart, ident: str, palette: Palette, locale: str | None, words: str) -> Markup:
    values = [p.value for p in chart.points]
    # Bars are measured from zero, so their axis starts there; a line may start nearer
    # its data, but not when that would make a modest change look steep.
    low, high = min(values), max(values)
    include_zero = chart.kind == "bar" or low <= 0 <= high or (low > 0 and low <= high / 2)
    include_zero = include_zero or (high < 0 and high >= low / 2)
    axis = value_axis(values, include_zero=include_zero)
    mark_unit = chart.unit if is_symbol(chart.unit) else ""
    tick_labels = [with_unit(format_value(t, axis.decimals, locale), mark_unit) for t in axis.ticks]
    value_labels = format_values(values, mark_unit, locale)

    left = max(_text_width(t) for t in tick_labels) + 10
    right = 8.0
    plot_w = WIDTH - left - right
    # A negative bar's value label hangs below it: room for it above the category labels.
    below = FONT_SIZE + 4 if chart.kind == "bar" and low < 0 else 0
    plot_top, plot_bottom = TOP, HEIGHT - BOTTOM - below
    band = plot_w / len(values)

    def y_of(value: float) -> float:
        return plot_bottom - (value - axis.low) / (axis.high - axis.low) * (plot_bottom - plot_top)

    def x_of(index: int) -> float:
        return left + band * (index + 0.5)

    # Category labels: every one when they fit their band, else every k-th (the data
    # table lists them all), always including the last.
    widest = max(_text_width(p.label) for p in chart.points)
    every = max(1, math.ceil((widest + 6) / band))
    last = len(values) - 1

    # Value labels on every point when they fit; else on the last, first, highest and
    # lowest, in that order, each where it clears those already placed (the data table
    # and the description give every value).
    label_room = max(_text_width(v) for v in value_labels) + 4
    labelled: set[int] = set()
    taken: list[tuple[float, float]] = []
    if label_room <= band:
        labelled = set(range(len(values)))
    else:
        for i in (last, 0, values.index(max(values)), values.index(min(values))):
            centre, half = _centre(x_of(i), value_labels[i]), label_room / 2
            if all(abs(centre - other) >= half + other_half for other, other_half in taken):
                labelled.add(i)
                taken.append((centre, half))

    # On a phone the drawing is half its print width: a stylesheet may enlarge the text
    # (class chart-roomy) when every label would still clear its neighbours.
    roomy = every == 1 and len(labelled) == len(values)
    roomy = roomy and max(widest + 6, label_room) * ROOMY_SCALE <= band
    ids = f"{escape(ident)}-title {escape(ident)}-desc"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" '
        f'class="chart-svg{" chart-roomy" if roomy else ""}" role="img" '
        f'aria-labelledby="{ids}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" font-family="{FONT}" font-size="{FONT_SIZE}">',
        f'<title id="{escape(ident)}-title">{escape(chart.title)}</title>',
        f'<desc id="{escape(ident)}-desc">{escape(words)}</desc>',
    ]
    # Grid lines at the ticks, the zero line stronger: the only frame the chart needs.
    for tick, label in zip(axis.ticks, tick_labels, strict=True):
        y = y_of(tick)
        colour = palette.muted if tick == 0 else palette.rule
        width = "1" if tick == 0 else "0.6"
        out.append(
            f'<line x1="{_n(left)}" x2="{_n(WIDTH - right)}" y1="{_n(y)}" y2="{_n(y)}" '
            f'stroke="{escape(colour)}" stroke-width="{width}"/>'
        )
        out.append(_text(left - 6, y + FONT_SIZE * 0.35, label, fill=palette.muted, anchor="end"))

    for i, point in enumerate(chart.points):
        if i % every == 0 and (i == last or last - i >= every) or i == last:
            out.append(_text(x_of(i), HEIGHT - 8, point.label, fill=palette.muted))

    zero = y_of(min(max(0.0, axis.low), axis.high))
    if chart.kind == "bar":
        # Bars a little narrower than their gaps are wide look like data, not blocks.
        bar_w = min(band * 0.62, 56.0)
        for i, value in enumerate(values):
            y = y_of(value)
            top, height = min(y, zero), abs(zero - y)
            out.append(
                f'<rect x="{_n(x_of(i) - bar_w / 2)}" y="{_n(top)}" width="{_n(bar_w)}" '
                f'height="{_n(height)}" fill="{escape(palette.navy)}"/>'
            )
            if i in labelled:
                ly = y - 5 if value >= 0 else y + FONT_SIZE + 3
                out.append(_text(x_of(i), ly, value_labels[i], fill=palette.ink, bold=True))
    else:
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{_n(x_of(i))} {_n(y_of(v))}" for i, v in enumerate(values)
        )
        out.append(
            f'<path d="{path}" fill="none" stroke="{escape(palette.navy)}" stroke-width="2.25" '
            'stroke-linejoin="round" stroke-linecap="round"/>'
        )
        for i, value in enumerate(values):
            out.append(
                f'<circle cx="{_n(x_of(i))}" cy="{_n(y_of(value))}" r="3.5" '
                f'fill="{escape(palette.navy)}" stroke="{escape(palette.paper)}" '
                'stroke-width="1.5"/>'
            )
            if i in labelled:
                out.append(
                    _text(x_of(i), y_of(value) - 8, value_labels[i], fill=palette.ink, bold=True)
                )
    out.append("</svg>")
    return Markup("".join(out))
