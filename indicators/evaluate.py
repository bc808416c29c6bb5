"""Evaluate every quarter of an indicator for every area: pure functions, no I/O, no clock.

For each area and quarter: the figure, its comparisons (previous quarter, same quarter last
year, rolling 12 months against the 12 before, the rest of the force), the status against the
plan in force for that quarter with a plain-English reason, and the SPC signal on the monthly
series up to the quarter's last month. A figure is never judged on part of a quarter, against a
missing comparator, or on data that failed its checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from safer.indicators.changes import format_value
from safer.indicators.definitions import (
    BaselineChange,
    Indicator,
    Plan,
    RestOfForce,
    RestOfForceChange,
    SamePeriodLastYear,
    Target,
    Threshold,
    plan_for,
)
from safer.indicators.spc import Direction, SpcPoint, SpcResult, SpcRules, describe, spc
from safer.indicators.status import OFF_TRACK, Status
from safer.indicators.targets import Comparators, judge
from safer.kernel.periods import GRAIN_MONTHS, Grain, add_months, month_label, period_label

__all__ = [
    "OFF_TRACK",
    "FORCE_IS_CONTEXT",
    "Context",
    "Evaluation",
    "Measured",
    "Observation",
    "Status",
    "evaluate",
    "format_value",
]

Key = tuple[str, dt.date]

FORCE_IS_CONTEXT = (
    "the plan compares each partnership with the rest of the force; "
    "the force figure is shown for context"
)
"""Why the force's own figure is not judged where the plan compares partnerships with it."""


@dataclass(frozen=True)
class Observation:
    indicator_id: str
    area_code: str
    period_start: dt.date
    months_loaded: int
    numerator: float
    denominator: float | None
    pending: float | None = None
    """The cohort's units left out of both because they have no outcome yet (None when the
    indicator is not an outcome cohort)."""
    denominator_note: str | None = None
    """What the denominator is, in words ("mid-2021 population")."""

    @property
    def value(self) -> float | None:
        if self.denominator is None:
            return self.numerator
        return self.numerator / self.denominator if self.denominator else None

    @property
    def pending_share(self) -> float | None:
        """The share of the cohort with no outcome yet: pending / (with an outcome + pending)."""
        if self.pending is None or self.denominator is None:
            return None
        whole = self.denominator + self.pending
        return self.pending / whole if whole else None


@dataclass(frozen=True)
class Measured:
    periods: Mapping[Key, Observation]
    """The periods judged: quarters, or financial years for a yearly indicator."""
    series: Mapping[Key, Observation]
    """The figures SPC runs on, at the source's grain (months where the source is monthly)."""
    grain: Grain = "month"
    """The series' grain."""

    @property
    def evaluated_grain(self) -> Grain:
        return "year" if self.grain == "year" else "quarter"


@dataclass(frozen=True)
class Context:
    """Everything an evaluation needs besides the figures."""

    plans: tuple[Plan, ...]
    force_code: str
    withheld: Mapping[dt.date, str]
    """Quarter start → why its data is withheld."""
    spc_rules: SpcRules = SpcRules()
    warnings: Mapping[tuple[str, dt.date], str] = field(default_factory=dict)
    """(area code or ``*`` for every area, quarter start) → a data warning shown beside it."""
    ghosts: Mapping[tuple[str, str], frozenset[dt.date]] = field(default_factory=dict)
    """(indicator, area code or ``*`` for every area) → the months whose points are ghosted:
    shown, left out of every SPC calculation (``[[indicators.ghosts]]``)."""
    pending_margin: float = 0.05
    """Outcome cohorts whose shares still awaiting an outcome differ by more than this
    fraction are not compared (``[indicators] pending_margin_points``)."""
    spc_latest: int | None = None
    """Read SPC for each area's latest this-many periods only (None: every period). The reading
    of an earlier period is its chart as it stood then, which nothing but that period's own
    digest shows; a national run skips it for forces without a plan (safer.national)."""


@dataclass(frozen=True)
class Evaluation:
    indicator_id: str
    area_code: str
    period_start: dt.date
    status: Status
    reason: str
    value: float | None
    months_loaded: int = 3
    previous_quarter: float | None = None
    last_year: float | None = None
    rolling_12: float | None = None
    previous_rolling_12: float | None = None
    rest_of_force: float | None = None
    comparator: float | None = None
    """The level the status was judged against (threshold, last year, aim, …)."""
    plan_id: str | None = None
    target_form: str | None = None
    spc_variation: str = "not_enough_data"
    spc_assurance: str = "not_enough_data"
    spc_text: str = ""
    data_warning: str | None = None
    pending_share: float | None = None
    """An outcome rate's cohort: the share of its crimes with no outcome yet (left out)."""
    comparison_pending_share: float | None = None
    """The same share in the period it is compared with (last year's, the baseline's)."""
    denominator_note: str | None = None
    """What a rate per head divides by ("mid-2021 population")."""
    spc_points: tuple[SpcPoint, ...] = field(default=(), repr=False)
    """The points the SPC reading used, oldest first, each with its period: the digest charts
    them. Not stored (measure._EVALUATION_COLUMNS), so re-runs compare as before."""
    grain: Grain = "quarter"
    """The judged period's grain: ``quarter`` or ``year``."""
    series_grain: Grain = "month"
    """The grain of the SPC points."""

    @property
    def period_label(self) -> str:
        return period_label(self.period_start, self.grain)


def evaluate(indicator: Indicator, measured: Measured, ctx: Context) -> list[Evaluation]:
    """One evaluation per area and quarter measured, ordered by area then quarter."""
    ordered = sorted(measured.periods.values(), key=lambda o: (o.area_code, o.period_start))
    read = _spc_read(ordered, ctx.spc_latest)
    return [
        _evaluate_one(indicator, measured, ctx, obs, i in read) for i, obs in enumerate(ordered)
    ]


def _spc_read(ordered: list[Observation], latest: int | None) -> range | set[int]:
    """Indexes into ``ordered`` (by area, then period) whose SPC is read."""
    if latest is None:
        return range(len(ordered))
    return {
        i
        for i, obs in enumerate(ordered)
        if i + latest >= len(ordered) or ordered[i + latest].area_code != obs.area_code
    }


_NOT_READ = "SPC: read for each area's latest periods only in a national run"


def _evaluate_one(
    indicator: Indicator, measured: Measured, ctx: Context, obs: Observation, read_spc: bool
) -> Evaluation:
    plan = plan_for(ctx.plans, _plan_day(obs, measured.evaluated_grain))
    target = plan.target_for(indicator.id) if plan else None
    periods = measured.periods
    last_year = _complete(periods.get((obs.area_code, add_months(obs.period_start, -12))))
    # A year's previous period is last year, already shown; a quarter's is the one before.
    previous = None
    if measured.evaluated_grain == "quarter":
        previous = _complete(periods.get((obs.area_code, add_months(obs.period_start, -3))))
    rolling, before = _rolling(indicator, measured, obs)
    ghosted = ctx.ghosts.get((indicator.id, "*"), frozenset()) | ctx.ghosts.get(
        (indicator.id, obs.area_code), frozenset()
    )
    series, spc_text = (
        _spc(indicator, measured, obs, target, ctx.spc_rules, ghosted)
        if read_spc
        else (None, _NOT_READ)
    )
    unread = "not_enough_data" if read_spc else "not_read"
    status, reason, comparator = _status(indicator, measured, ctx, obs, plan, target)
    compared = _compared(measured, obs, target)
    return Evaluation(
        indicator_id=indicator.id,
        area_code=obs.area_code,
        period_start=obs.period_start,
        status=status,
        reason=reason,
        value=obs.value,
        months_loaded=obs.months_loaded,
        previous_quarter=previous.value if previous else None,
        last_year=last_year.value if last_year else None,
        rolling_12=rolling,
        previous_rolling_12=before,
        rest_of_force=_rest_of_force(indicator, periods, ctx.force_code, obs),
        comparator=comparator,
        plan_id=plan.id if plan else None,
        target_form=target.form if target else None,
        spc_variation=series.variation if series else unread,
        spc_assurance=series.assurance if series else unread,
        spc_text=spc_text,
        data_warning=_warning(ctx, obs),
        pending_share=obs.pending_share,
        comparison_pending_share=compared.pending_share if compared else None,
        denominator_note=obs.denominator_note,
        spc_points=series.points if series else (),
        grain=measured.evaluated_grain,
        series_grain=measured.grain,
    )


def _plan_day(obs: Observation, grain: Grain) -> dt.date:
    """The day whose plan judges the period: a quarter's first day; a financial year's last,
    so that a year is judged by the plan that governed most of it when plans change midyear."""
    if grain == "year":
        return add_months(obs.period_start, 12) - dt.timedelta(days=1)
    return obs.period_start


def _warning(ctx: Context, obs: Observation) -> str | None:
    found = [
        ctx.warnings[key]
        for key in (("*", obs.period_start), (obs.area_code, obs.period_start))
        if key in ctx.warnings
    ]
    return "; ".join(found) or None


def _complete(obs: Observation | None) -> Observation | None:
    """Only a whole period is compared: a quarter of three months (a year always has 12)."""
    return obs if obs is not None and obs.months_loaded >= 3 else None


def _status(
    indicator: Indicator,
    measured: Measured,
    ctx: Context,
    obs: Observation,
    plan: Plan | None,
    target: Target | None,
) -> tuple[Status, str, float | None]:
    if obs.period_start in ctx.withheld:
        return Status.WITHHELD, f"withheld: {ctx.withheld[obs.period_start]}", None
    if _complete(obs) is None:
        last = month_label(_last_point(measured, obs))
        return (
            Status.INCOMPLETE,
            f"only {obs.months_loaded} of 3 months loaded (to {last}); "
            "judged when the quarter is complete",
            None,
        )
    if plan is None:
        return Status.NOT_EVALUATED, "no Police and Crime Plan in force for this quarter", None
    if target is None:
        return Status.NOT_EVALUATED, f"monitoring only: {plan.name} sets no target", None
    if isinstance(target, RestOfForce | RestOfForceChange) and obs.area_code == ctx.force_code:
        return Status.NOT_EVALUATED, FORCE_IS_CONTEXT, None
    held = _comparison_withheld(target, obs.period_start, ctx.withheld, measured.evaluated_grain)
    if held:
        return Status.WITHHELD, held, None
    if obs.value is None:
        return Status.NOT_EVALUATED, "no figure: nothing to divide by", None
    unlike = _unlike_cohorts(measured, obs, target, ctx.pending_margin)
    if unlike:
        return Status.NOT_EVALUATED, unlike, None
    comparators = _comparators(measured, ctx.force_code, indicator, obs, target)
    found = judge(indicator, target, obs.value, comparators)
    return found.status, found.reason, found.comparator


def _compared(measured: Measured, obs: Observation, target: Target | None) -> Observation | None:
    """The whole period ``obs`` is compared with over time: the baseline's, or last year's."""
    if isinstance(target, BaselineChange):
        other = _baseline_period(target, obs.period_start)
    else:
        other = add_months(obs.period_start, -12)
    return _complete(measured.periods.get((obs.area_code, other)))


def _unlike_cohorts(
    measured: Measured, obs: Observation, target: Target, margin: float
) -> str | None:
    """Why an outcome rate is not compared with another period: their cohorts were seen at
    ages so different that the shares still awaiting an outcome differ by more than
    ``margin``. Leaving pending crimes out of both corrects most, not all, of that: which
    crimes resolve first is not random. A comparison with the rest of the force is of the
    same period, seen at the same age."""
    if not isinstance(target, SamePeriodLastYear | BaselineChange):
        return None
    other = _compared(measured, obs, target)
    now, then = obs.pending_share, other.pending_share if other else None
    if now is None or then is None or other is None or abs(now - then) <= margin:
        return None
    grain = measured.evaluated_grain
    return (
        f"{_share(then)} of {period_label(other.period_start, grain)}'s crimes were "
        f"still awaiting an outcome against {_share(now)} of "
        f"{period_label(obs.period_start, grain)}'s, more than {100 * margin:g} points apart: "
        "the two are not yet comparable"
    )


def _share(value: float) -> str:
    return f"{100 * value:.1f}%"


def _comparison_withheld(
    target: Target, start: dt.date, withheld: Mapping[dt.date, str], grain: Grain
) -> str | None:
    other = None
    if isinstance(target, SamePeriodLastYear | RestOfForceChange):
        other = add_months(start, -12)
    elif isinstance(target, BaselineChange):
        other = _baseline_period(target, start)
    if other is None or other not in withheld:
        return None
    label = period_label(other, grain)
    return f"withheld: {label}, the comparison {_noun(grain)}: {withheld[other]}"


def _noun(grain: Grain) -> str:
    return "year" if grain == "year" else "quarter"


def _baseline_period(target: BaselineChange, start: dt.date) -> dt.date:
    """The same quarter (or the year itself) in the baseline financial year; Q4 falls in the
    following January."""
    year = target.baseline_year + (1 if start.month < 4 else 0)
    return dt.date(year, start.month, 1)


def _comparators(
    measured: Measured, force: str, indicator: Indicator, obs: Observation, target: Target
) -> Comparators:
    grain = measured.evaluated_grain
    last_start = add_months(obs.period_start, -12)
    last = _complete(measured.periods.get((obs.area_code, last_start)))
    baseline_start = (
        _baseline_period(target, obs.period_start) if isinstance(target, BaselineChange) else None
    )
    baseline = (
        _complete(measured.periods.get((obs.area_code, baseline_start))) if baseline_start else None
    )
    return Comparators(
        period=period_label(obs.period_start, grain),
        last_year=last.value if last else None,
        last_year_period=period_label(last_start, grain),
        baseline=baseline.value if baseline else None,
        baseline_period=period_label(baseline_start, grain) if baseline_start else None,
        rest_of_force=_rest_of_force(indicator, measured.periods, force, obs),
        same_period="the year before" if grain == "year" else "the same quarter last year",
        rest_now=_rest(measured.periods, force, obs),
        rest_last_year=_rest(measured.periods, force, last) if last else None,
    )


def _rest(quarters: Mapping[Key, Observation], force: str, obs: Observation) -> float | None:
    """The force without this area in a whole period, for any unit: a count's rest is a count,
    which only a change may be compared with (a level of a count is the size of a place)."""
    return _without(_complete(quarters.get((force, obs.period_start))), obs)


def _rest_of_force(
    indicator: Indicator, quarters: Mapping[Key, Observation], force: str, obs: Observation
) -> float | None:
    """The force without this area: as a level, only meaningful for rates and rates per head."""
    if indicator.unit not in ("rate", "per_1000", "ratio"):
        return None
    return _without(quarters.get((force, obs.period_start)), obs)


def _without(force: Observation | None, obs: Observation) -> float | None:
    """``force``'s figure without ``obs``'s numerator and denominator."""
    if force is None or obs.area_code == force.area_code:
        return None
    numerator = force.numerator - obs.numerator
    if force.denominator is None or obs.denominator is None:
        return numerator if force.denominator is None and obs.denominator is None else None
    denominator = force.denominator - obs.denominator
    return numerator / denominator if denominator > 0 else None


def _last_point(measured: Measured, obs: Observation) -> dt.date:
    """The start of the series point that ends the judged period: its latest month present.

    Not ``period_start + months_loaded - 1``: the months loaded need not be the first ones (a
    quarter whose wanted months start in May has May and June, two months, to June).
    """
    if measured.grain != "month":
        return obs.period_start
    months = (add_months(obs.period_start, i) for i in range(GRAIN_MONTHS["quarter"]))
    present = [month for month in months if (obs.area_code, month) in measured.series]
    return present[-1] if present else obs.period_start


def _rolling(
    indicator: Indicator, measured: Measured, obs: Observation
) -> tuple[float | None, float | None]:
    """The 12 months to the period's last point, and the 12 before: both need every point. A
    yearly series has no rolling year other than the year itself."""
    if measured.grain == "year":
        return None, None
    step = GRAIN_MONTHS[measured.grain]
    points = 12 // step
    end = _last_point(measured, obs)
    window = [
        measured.series.get((obs.area_code, add_months(end, -i * step))) for i in range(2 * points)
    ]
    if any(m is None for m in window):
        return None, None
    present = [m for m in window if m is not None]
    return _pooled(indicator, present[:points]), _pooled(indicator, present[points:])


def _pooled(indicator: Indicator, window: list[Observation]) -> float | None:
    numerator = sum(m.numerator for m in window)
    if not indicator.has_denominator:
        return numerator
    denominators = [m.denominator or 0.0 for m in window]
    denominator = sum(denominators)
    if indicator.denominator == "stock":
        denominator /= len(denominators)
    return numerator / denominator if denominator else None


def _spc(
    indicator: Indicator,
    measured: Measured,
    obs: Observation,
    target: Target | None,
    rules: SpcRules,
    ghosted: frozenset[dt.date] = frozenset(),
) -> tuple[SpcResult | None, str]:
    """SPC on the latest unbroken run of the series up to the period's last point, the
    ``ghosted`` periods shown but left out of the calculations.

    Returns the result and the digest's sentence, which names the points the chart covers.
    """
    grain, step = measured.grain, GRAIN_MONTHS[measured.grain]
    values: list[float] = []
    last = point = _last_point(measured, obs)
    while (
        found := measured.series.get((obs.area_code, point))
    ) is not None and found.value is not None:
        values.append(found.value)
        point = add_months(point, -step)
    adjective = _ADJECTIVES[grain]
    if not values:
        return None, f"SPC: no {adjective} figures to chart"
    direction = _DIRECTIONS.get(indicator.polarity, "neutral")
    level = None
    if isinstance(target, Threshold):
        level = target.at_least if target.at_least is not None else target.at_most
    first = add_months(point, step)
    dates = [add_months(first, i * step) for i in range(len(values))]
    ghosts = [i for i, day in enumerate(dates) if day in ghosted]
    result = spc(
        values[::-1], direction=direction, target=level, rules=rules, dates=dates, ghosts=ghosts
    )
    span = f"{period_label(first, grain)} to {period_label(last, grain)}"
    text = describe(result, lambda x: format_value(indicator, x))
    return result, f"SPC on {adjective} figures {span}: {text}"


_ADJECTIVES: Mapping[Grain, str] = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}


# Polarity in the catalogue's words → the direction the SPC engine calls improvement.
_DIRECTIONS: Mapping[str, Direction] = {
    "higher_is_better": "increase",
    "lower_is_better": "decrease",
}
