"""Judge one figure against one target form: green, amber or red with a plain-English reason.

Every form reduces to an *aimed level* (the threshold, last year's figure, the baseline moved by
the aimed change, the rest of the force, the national figure) and a gap: how far the figure is
on the wrong side of that level, in the target's tolerance unit. No gap is green; a gap within
the tolerance is amber; beyond it, red. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from safer.indicators.changes import change, format_value
from safer.indicators.definitions import (
    BaselineChange,
    Indicator,
    National,
    RestOfForce,
    RestOfForceChange,
    SamePeriodLastYear,
    Target,
    Threshold,
)
from safer.indicators.status import Status

__all__ = ["Comparators", "Judgement", "judge"]


@dataclass(frozen=True)
class Comparators:
    """What a quarter can be compared with; None where it does not exist or is incomplete."""

    period: str
    last_year: float | None
    last_year_period: str
    baseline: float | None
    baseline_period: str | None
    rest_of_force: float | None
    same_period: str = "the same quarter last year"
    """How a year-on-year comparison is worded: a quarter's, or a year's ("the year before")."""
    rest_now: float | None = None
    """The rest of the force (the force without the area) in the period, in any unit."""
    rest_last_year: float | None = None


@dataclass(frozen=True)
class Judgement:
    status: Status
    reason: str
    comparator: float | None


def judge(indicator: Indicator, target: Target, value: float, c: Comparators) -> Judgement:
    """The status of ``value`` against ``target``; NOT_EVALUATED when its comparator is missing."""
    if isinstance(target, Threshold):
        return _threshold(indicator, target, value)
    if isinstance(target, SamePeriodLastYear):
        where = f"in {c.last_year_period}"
        return _relative(indicator, target, value, c.last_year, where, c.same_period)
    if isinstance(target, BaselineChange):
        return _baseline(indicator, target, value, c)
    if isinstance(target, RestOfForce):
        return _relative(indicator, target, value, c.rest_of_force, "in the rest of the force")
    if isinstance(target, RestOfForceChange):
        return _change_against_rest(indicator, target, value, c)
    if isinstance(target, National):
        return _relative(indicator, target, value, target.value, f"nationally ({target.as_at})")
    return Judgement(Status.NOT_EVALUATED, "monitoring only: the plan sets no target", None)


def _threshold(indicator: Indicator, target: Threshold, value: float) -> Judgement:
    level = target.at_least if target.at_least is not None else target.at_most
    assert level is not None  # the model guarantees one bound
    short = level - value if target.at_least is not None else value - level
    status, band = _band(indicator, target, short, level)
    word = "meets" if status is Status.GREEN else "misses"
    relation = "at least" if target.at_least is not None else "at most"
    reason = f"{format_value(indicator, value)} {word} the target of {relation} "
    return Judgement(status, reason + format_value(indicator, level) + band, level)


def _relative(
    indicator: Indicator,
    target: Target,
    value: float,
    comparator: float | None,
    where: str,
    same_period: str | None = None,
) -> Judgement:
    """Against a comparator; ``same_period`` words a year-on-year change ("the year before")."""
    if comparator is None:
        return Judgement(Status.NOT_EVALUATED, f"no complete figure {where} to compare with", None)
    sign = -1.0 if indicator.polarity == "lower_is_better" else 1.0
    short = 0.0 if indicator.polarity == "neutral" else sign * (comparator - value)
    status, band = _band(indicator, target, short, comparator)
    shown = format_value(indicator, comparator)
    if same_period is not None:
        moved = change(indicator, value, comparator)
        assert moved is not None
        reason = f"{moved.text} on {same_period} ({shown} {where})"
    else:
        reason = f"{format_value(indicator, value)} against {shown} {where}"
    return Judgement(status, reason + band, comparator)


def _change_against_rest(
    indicator: Indicator, target: RestOfForceChange, value: float, c: Comparators
) -> Judgement:
    """The area's change on last year against the rest of the force's; the gap is in points
    of change, on the wrong side for the indicator's polarity."""
    mine = change(indicator, value, c.last_year)
    rest = change(indicator, c.rest_now, c.rest_last_year)
    if mine is None or mine.amount is None:
        why = f"no complete figure in {c.last_year_period} to measure the change on"
        return Judgement(Status.NOT_EVALUATED, why, None)
    if rest is None or rest.amount is None:
        why = f"no change for the rest of the force since {c.last_year_period} to compare with"
        return Judgement(Status.NOT_EVALUATED, why, None)
    sign = -1.0 if indicator.polarity == "lower_is_better" else 1.0
    worse = 0.0 if indicator.polarity == "neutral" else sign * (rest.amount - mine.amount)
    # In points of change: _band reads a short of 0.01 as one point.
    status, band = _band(indicator, target, worse / 100, 0.0)
    reason = f"{mine.text} on {c.same_period}; the rest of the force {rest.text}"
    return Judgement(status, reason + band, rest.amount)


def _baseline(
    indicator: Indicator, target: BaselineChange, value: float, c: Comparators
) -> Judgement:
    if c.baseline is None:
        where = f"for {c.baseline_period}" if c.baseline_period else "for the baseline year"
        return Judgement(Status.NOT_EVALUATED, f"no complete figure {where} to compare with", None)
    aimed = c.baseline * (1 + target.change_percent / 100)
    sign = -1.0 if indicator.polarity == "lower_is_better" else 1.0
    short = 0.0 if indicator.polarity == "neutral" else sign * (aimed - value)
    status, band = _band(indicator, target, short, aimed)
    moved = change(indicator, value, c.baseline)
    assert moved is not None
    aim = f"{abs(target.change_percent):g}% {'fewer' if target.change_percent < 0 else 'more'}"
    reason = (
        f"{moved.text} on {c.baseline_period} ({format_value(indicator, c.baseline)}); aim: {aim}"
    )
    return Judgement(status, reason + band, aimed)


def _band(indicator: Indicator, target: Target, short: float, level: float) -> tuple[Status, str]:
    """Green/amber/red from how far short of ``level`` the figure is (negative: better)."""
    gap = _in_unit(indicator, target.tolerance_unit, short, level)
    if gap is not None and gap <= 0:
        return Status.GREEN, " — better than plan" if gap < 0 else " — on plan"
    tolerance = _tolerance_text(indicator, target)
    if gap is not None and gap <= target.amber_tolerance:
        return Status.AMBER, f" — worse than plan, within the {tolerance} tolerance"
    return Status.RED, f" — worse than plan, beyond the {tolerance} tolerance"


def _in_unit(indicator: Indicator, unit: str, short: float, level: float) -> float | None:
    """The shortfall as the tolerance is written, rounded as shown (so 1.0 is never > 1)."""
    if unit == "points":
        return round(short * 100, 1)
    if unit == "percent":
        if level == 0:
            return None if short > 0 else round(short, 6)
        return round(short / abs(level) * 100, 1)
    return round(short, 6)


def _tolerance_text(indicator: Indicator, target: Target) -> str:
    if target.tolerance_unit == "points":
        return f"{target.amber_tolerance:g}-point"
    if target.tolerance_unit == "percent":
        return f"{target.amber_tolerance:g}%"
    return format_value(indicator, target.amber_tolerance)
