"""The digest's fixed words: status labels, where a target comes from, periods and counts.

Pure. Kept in one place so the HTML and the plain-text parts, the subject and the ledger say
the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Sequence

from safer.indicators.definitions import Origin
from safer.indicators.status import Status
from safer.kernel.periods import Grain

__all__ = [
    "ORIGIN_MARKS",
    "ORIGIN_WORDS",
    "STATUS_LABELS",
    "capital",
    "join",
    "ordinal",
    "period_noun",
    "plural",
]

STATUS_LABELS = {
    Status.GREEN: "On track",
    Status.AMBER: "Slightly off track",
    Status.RED: "Off track",
    Status.INCOMPLETE: "Quarter incomplete",
    Status.NOT_EVALUATED: "Not judged",
    Status.WITHHELD: "Withheld",
}

ORIGIN_WORDS: dict[Origin, str] = {
    "published": "the plan's published target",
    "national_standard": "a national standard, not a target the plan publishes",
    "local_reading": "local reading of the plan's aim, not a published target",
}
"""Said beside every judgement, so a local reading is never taken for a published target."""

ORIGIN_MARKS: dict[Origin, str] = {
    "published": "",
    "national_standard": "‡",
    "local_reading": "†",
}
"""The summary table's mark for a target the plan does not publish, explained under it."""


def period_noun(grain: Grain) -> str:
    """'quarter' or 'year': what one judged period is called."""
    return "year" if grain == "year" else grain


def plural(count: int, noun: str) -> str:
    """'1 quarter', '4 quarters'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def ordinal(number: int) -> str:
    """'1st', '2nd', '3rd', '4th', '11th', '22nd'."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{_SUFFIXES.get(number % 10, 'th')}"


_SUFFIXES = {1: "st", 2: "nd", 3: "rd"}


def capital(text: str) -> str:
    """The first letter capitalised, unless the text starts with a domain name
    ("data.police.uk street file"), which is written as it is."""
    first = text.split(" ", 1)[0]
    return text if "." in first.rstrip(".") else text[:1].upper() + text[1:]


def join(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
