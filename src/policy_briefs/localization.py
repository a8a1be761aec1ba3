"""Dates and numbers in the brief's language, by Babel (CLDR data).

One long date style per locale, the one CSL's locale files use too (en-US
"November 22, 2026", en-GB "22 November 2026"), so the cover, the colophon and the notes
agree; digit grouping per locale ("64,000" in en-US, "64 000" in fr-FR) wherever the
analysts wrote a grouped number.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal

DEFAULT = "en-US"


@lru_cache(maxsize=32)
def _locale(tag: str | None) -> Locale:
    try:
        return Locale.parse((tag or DEFAULT).replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        # A language CLDR lacks (the schema allows any BCP 47 tag): its base language,
        # else the default, rather than failing a build over a date.
        base = (tag or DEFAULT).split("-")[0]
        try:
            return Locale.parse(base)
        except (UnknownLocaleError, ValueError):
            return Locale.parse(DEFAULT.replace("-", "_"))


def long_date(value: str, locale: str | None = DEFAULT) -> str:
    """'2026-11-22' as 'November 22, 2026' (en-US); partial dates as far as they go."""
    parts = [int(p) for p in str(value).split("-")]
    where = _locale(locale)
    if len(parts) == 3:
        return format_date(dt.date(*parts), format="long", locale=where)
    if len(parts) == 2:
        return format_skeleton("yMMMM", dt.date(parts[0], parts[1], 1), locale=where)
    return str(parts[0])


# A whole number written with thousands groups: "64 000", "64,000", "1 000 000". The
# separator is the same throughout; a decimal part after it is left as written, since
# "1,000.5" and "1.000,5" cannot be told apart without knowing the writer's locale.
_GROUPED = re.compile(r"(?<![\d.,])\d{1,3}([ \u00a0\u202f,])\d{3}(?:\1\d{3})*(?![\d]|[.,]\d)")


def format_numbers(text: str, locale: str | None = DEFAULT) -> str:
    """Grouped whole numbers in ``text`` regrouped the way ``locale`` writes them."""
    where = _locale(locale)

    def regroup(match: re.Match) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return format_decimal(int(digits), locale=where)

    return _GROUPED.sub(regroup, text)


def format_value(value: float, decimals: int, locale: str | None = DEFAULT) -> str:
    """A measured value with a fixed number of decimals, grouped and signed the way
    ``locale`` writes numbers: 17.3, 1,250.0, −4 (a minus sign, not a hyphen)."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    text = format_decimal(value, format=pattern, locale=_locale(locale))
    return text.replace("-", "\u2212")
