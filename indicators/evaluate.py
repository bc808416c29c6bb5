"""Judge each quarter's figure against the plan's target: pure functions, no I/O, no clock.

Statuses form a closed set that includes "could not tell": a figure is never judged on part of a
quarter, against a missing comparator, or on data that failed its checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from indicators.definitions import Indicator, Target
from safer.periods import add_months, month_label, quarter_label

__all__ = ["Evaluation", "Observation", "Status", "evaluate", "format_value"]


class Status(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    INCOMPLETE = "incomplete"  # fewer than three months loaded
    NOT_EVALUATED = "not_evaluated"  # no target, or nothing to compare with
    WITHHELD = "withheld"  # the data failed its checks


OFF_TRACK = frozenset({Status.AMBER, Status.RED})


@dataclass(frozen=True)
class Observation:
    indicator_id: str
    area_code: str
    period_start: dt.date
    months_loaded: int
    numerator: float
    denominator: float | None

    @property
    def value(self) -> float | None:
        if self.denominator is None:
            return self.numerator
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Evaluation:
    indicator_id: str
    area_code: str
    period_start: dt.date
    status: Status
    value: float | None
    comparator_value: float | None
    comparator_period: dt.date | None
    reason: str


def format_value(indicator: Indicator, value: float | None) -> str:
    if value is None:
        return "n/a"
    if indicator.unit == "rate":
        return f"{value * 100:.1f}%"
    return f"{value:,.0f}"


def evaluate(
    indicator: Indicator,
    target: Target | None,
    observations: Mapping[tuple[str, dt.date], Observation],
    withheld: Mapping[dt.date, str],
) -> list[Evaluation]:
    """One evaluation per observation; ``withheld`` maps a quarter start to the reason."""
    return [
        _evaluate_one(indicator, target, obs, observations, withheld)
        for obs in sorted(observations.values(), key=lambda o: (o.area_code, o.period_start))
    ]


def _evaluate_one(
    indicator: Indicator,
    target: Target | None,
    obs: Observation,
    observations: Mapping[tuple[str, dt.date], Observation],
    withheld: Mapping[dt.date, str],
) -> Evaluation:
    last_year = add_months(obs.period_start, -12)
    comparator = observations.get((obs.area_code, last_year))

    def result(status: Status, reason: str) -> Evaluation:
        return Evaluation(
            indicator.id,
            obs.area_code,
            obs.period_start,
            status,
            obs.value,
            comparator.value if comparator else None,
            last_year if comparator else None,
            reason,
        )

    if obs.period_start in withheld:
        return result(Status.WITHHELD, f"withheld: {withheld[obs.period_start]}")
    if obs.months_loaded < 3:
        last_month = add_months(obs.period_start, obs.months_loaded - 1)
        return result(
            Status.INCOMPLETE,
            f"only {obs.months_loaded} of 3 months loaded (to "
            f"{month_label(last_month)}); judged when the quarter is complete",
        )
    if target is None:
        return result(Status.NOT_EVALUATED, "monitoring only: the plan sets no target")
    if last_year in withheld:
        return result(
            Status.WITHHELD,
            f"withheld: {quarter_label(last_year)}, the comparison quarter, {withheld[last_year]}",
        )
    if comparator is None or comparator.months_loaded < 3 or comparator.value is None:
        return result(
            Status.NOT_EVALUATED,
            f"no complete figure for {quarter_label(last_year)} to compare with",
        )
    if obs.value is None:
        return result(Status.NOT_EVALUATED, "no crimes recorded, so no rate")
    return result(*judge(indicator, target, obs.value, comparator.value, last_year))


def judge(
    indicator: Indicator, target: Target, value: float, last: float, last_period: dt.date
) -> tuple[Status, str]:
    """Green when no worse than last year; amber within the tolerance; red beyond it."""
    compared = f"{format_value(indicator, last)} in {quarter_label(last_period)}"
    if value == last:
        return Status.GREEN, f"the same as {compared}"
    # Judged on the change as shown (one decimal place), so "1.0 points lower" is never red
    # against a 1-point tolerance because of binary floating point.
    if target.tolerance_unit == "points":
        change = round((value - last) * 100, 1)
        size = f"{abs(change):.1f} points"
    elif last:
        change = round((value - last) / last * 100, 1)
        size = f"{abs(change):.1f}%"
    else:
        change, size = float("inf"), "up from none:"
    word = _direction_word(indicator, change)
    text = (
        f"{size} {word} than {compared}"
        if last or target.tolerance_unit == "points"
        else (f"{format_value(indicator, value)} against none in {quarter_label(last_period)}")
    )
    worse_by = change if indicator.polarity == "lower_is_better" else -change
    if indicator.polarity == "neutral" or worse_by <= 0:
        return Status.GREEN, text
    unit = "%" if target.tolerance_unit == "percent" else " points"
    tolerance = f"{target.amber_tolerance:g}{unit}"
    if worse_by <= target.amber_tolerance:
        return Status.AMBER, f"{text}, within the {tolerance} tolerance"
    return Status.RED, f"{text}, beyond the {tolerance} tolerance"


def _direction_word(indicator: Indicator, change: float) -> str:
    if indicator.unit == "count":
        return "more" if change > 0 else "fewer"
    return "higher" if change > 0 else "lower"
