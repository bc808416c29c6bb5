"""How a figure compares: values and changes in words, polarity-aware. Pure.

Counts, rates per 1,000 and times change by a percentage; proportions (rates) change by
percentage points, because "19% to 21%" is 2 points, not 10.5%.
"""

from __future__ import annotations

from dataclasses import dataclass

from safer.indicators.definitions import Indicator

__all__ = ["Change", "change", "format_change", "format_value"]


def format_value(indicator: Indicator, value: float | None) -> str:
    if value is None:
        return "n/a"
    if indicator.unit == "rate":
        return f"{value * 100:.1f}%"
    if indicator.unit == "per_1000":
        return f"{value:.2f} per 1,000"
    if indicator.unit == "ratio":
        return f"{value:.2f}"
    if indicator.unit == "seconds":
        return f"{value:.1f} s"
    return f"{value:,.0f}"


@dataclass(frozen=True)
class Change:
    """``amount`` is in percent, or in percentage points for rates; rounded as shown."""

    amount: float | None  # None: from zero, so no percentage exists
    points: bool
    better: bool | None  # None for a neutral indicator or no change

    @property
    def text(self) -> str:
        """'fell 12.0%', 'rose 2.1 points', 'was unchanged' or 'rose from none'."""
        if self.amount is None:
            return "rose from none"
        if self.amount == 0:
            return "was unchanged"
        verb = "rose" if self.amount > 0 else "fell"
        size = f"{abs(self.amount):.1f} points" if self.points else f"{abs(self.amount):.1f}%"
        return f"{verb} {size}"

    @property
    def short(self) -> str:
        """'+12.0%', '−2.1 pts', '0.0%' for a table cell."""
        if self.amount is None:
            return "new"
        sign = "+" if self.amount > 0 else "−" if self.amount < 0 else ""
        return f"{sign}{abs(self.amount):.1f}{' pts' if self.points else '%'}"


def format_change(indicator: Indicator, amount: float | None) -> str:
    """A change already measured (in percent, or points for a rate) as a table shows it:
    '−39.6%', '+1.2 pts'."""
    return Change(amount, indicator.unit == "rate", None).short


def change(indicator: Indicator, now: float | None, before: float | None) -> Change | None:
    """The change from ``before`` to ``now``, or None when either is missing."""
    if now is None or before is None:
        return None
    points = indicator.unit == "rate"
    if points:
        amount: float | None = round((now - before) * 100, 1)
    elif before:
        amount = round((now - before) / abs(before) * 100, 1)
    else:
        amount = 0.0 if now == 0 else None
    return Change(amount, points, _better(indicator, now - before))


def _better(indicator: Indicator, difference: float) -> bool | None:
    if indicator.polarity == "neutral" or difference == 0:
        return None
    return (difference > 0) == (indicator.polarity == "higher_is_better")
