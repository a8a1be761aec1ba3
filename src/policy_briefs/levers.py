"""Recommended actions sorted into the policy levers a government can pull.

The sorting reads only the words of each action as the analysts wrote it: nothing is
added to an action, and one that names no lever's words falls to the last lever, the
general one. The lever named earliest in an action takes it, because a directive names
its object first ("Judge federal policy against ... capital investment" is about policy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Lever:
    id: str
    title: str
    description: str
    pattern: re.Pattern


def _words(*stems: str) -> re.Pattern:
    return re.compile(r"(?<![\w-])(?:" + "|".join(stems) + r")", re.IGNORECASE)


# Order breaks ties between words at the same place in an action.
LEVERS: tuple[Lever, ...] = (
    Lever(
        "rd-portfolio",
        "R&D portfolio",
        "What federal research and development funds, and how it is reviewed as a whole.",
        _words(
            r"R&D",
            r"research",
            r"foresight",
            r"indicator",
            r"analys",
            r"portfolio",
            r"emerging production technolog",
            r"diffusion",
        ),
    ),
    Lever(
        "investment",
        "Investment",
        "Where federal money and the private capital it draws in should go.",
        _words(r"invest", r"fund", r"financ", r"capital"),
    ),
    Lever(
        "partnerships",
        "Partnerships",
        "How agencies, regions, firms, colleges and international bodies work together.",
        _words(
            r"partner",
            r"interagency",
            r"multi-agency",
            r"network",
            r"links\b",
            r"regional cluster",
            r"cluster initiative",
            r"regions?\b",
            r"international",
            r"collaborat",
            r"convening",
        ),
    ),
    Lever(
        "programs",
        "Programs",
        "How federal programs are designed, delivered and judged.",
        _words(
            r"program",
            r"institute",
            r"competition",
            r"training",
            r"education",
            r"workforce",
            r"polic",
            r"measure",
        ),
    ),
)


def lever_of(action: str, levers: tuple[Lever, ...] = LEVERS) -> Lever:
    """The lever whose words come first in the action; the last lever if none does."""
    found = [
        (m.start(), n) for n, lever in enumerate(levers) if (m := lever.pattern.search(action))
    ]
    return levers[min(found)[1]] if found else levers[-1]


def by_lever(recommendations, levers: tuple[Lever, ...] = LEVERS) -> list[tuple[Lever, list]]:
    """``(item, action)`` pairs grouped by lever, levers in their order, empty ones left out.

    Within a lever the pairs keep the order they came in (the brief's priority order).
    """
    groups: dict[str, list] = {lever.id: [] for lever in levers}
    for item, action in recommendations:
        groups[lever_of(action, levers).id].append((item, action))
    return [(lever, groups[lever.id]) for lever in levers if groups[lever.id]]
