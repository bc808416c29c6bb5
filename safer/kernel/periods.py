"""Months, UK financial-year quarters (Q1 = April to June) and financial years, as pure
functions. A period is named by its first day; its grain says how long it is."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

__all__ = [
    "GRAIN_MONTHS",
    "Grain",
    "add_months",
    "fy_label",
    "fy_start",
    "month_label",
    "months_between",
    "parse_month",
    "period_label",
    "period_start",
    "quarter_label",
    "quarter_months",
    "quarter_start",
]

Grain = Literal["month", "quarter", "year"]
"""How long a period is: a calendar month, a financial-year quarter or a financial year."""

GRAIN_MONTHS: dict[Grain, int] = {"month": 1, "quarter": 3, "year": 12}

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def parse_month(text: str) -> dt.date:
    """Parse ``YYYY-MM`` to the first day of that month; raises ValueError otherwise."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def month_label(month: dt.date) -> str:
    """``2025-06`` for any date in June 2025."""
    return f"{month.year:04d}-{month.month:02d}"


def add_months(month: dt.date, count: int) -> dt.date:
    """First day of the month ``count`` months after ``month`` (negative goes back)."""
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every month from ``first`` to ``last`` inclusive."""
    months: list[dt.date] = []
    current = first.replace(day=1)
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    return months


def quarter_start(month: dt.date) -> dt.date:
    """First month of the financial-year quarter holding ``month`` (Apr, Jul, Oct or Jan)."""
    offset = (month.month - 4) % 3
    return add_months(month.replace(day=1), -offset)


def quarter_months(start: dt.date) -> list[dt.date]:
    """The three months of the quarter starting at ``start``."""
    first = quarter_start(start)
    return [add_months(first, i) for i in range(3)]


def quarter_label(month: dt.date) -> str:
    """``2025/26 Q1`` for April 2025; January to March belong to the year that began in April."""
    first = quarter_start(month)
    fy_start = first.year if first.month >= 4 else first.year - 1
    number = (first.month - 4) % 12 // 3 + 1
    return f"{fy_start}/{(fy_start + 1) % 100:02d} Q{number}"


def fy_start(day: dt.date) -> dt.date:
    """1 April of the financial year holding ``day``."""
    return dt.date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def fy_label(day: dt.date) -> str:
    """``2025/26`` for any day from April 2025 to March 2026."""
    first = fy_start(day).year
    return f"{first}/{(first + 1) % 100:02d}"


def period_start(day: dt.date, grain: Grain) -> dt.date:
    """The first day of the ``grain`` period holding ``day``."""
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return quarter_start(day)
    return fy_start(day)


def period_label(start: dt.date, grain: Grain) -> str:
    """``Jun 2025``, ``2025/26 Q1`` or ``2025/26``: a period as the digest names it."""
    if grain == "month":
        return f"{start:%b %Y}"
    if grain == "quarter":
        return quarter_label(start)
    return fy_label(start)
