"""Statistical process control ("Making Data Count" XmR charts) for one series: pure, no I/O.

Conventions (docs: shared/docs/domain-research.md, "§" below). Where the published
implementations differ, ``rules.convention`` picks one (safer/kernel/spc_conventions.py cites each
point; docs/spc-conventions.md tabulates them); NHS England's SQL v2.6 is the default.

- Limits (§1.1): centre line = mean; moving range (MR) = |x_i - x_(i-1)| between consecutive
  non-ghosted points of a partition; process limits = mean ± 2.66 × mean MR; two-sigma lines =
  mean ± (2/3)·2.66 × mean MR. Optional MR screening as the convention does it: NHSRplotthedots
  keeps MRs < 3.267 × mean MR and the mean; NHSE keeps MRs <= 3.267 × mean MR and leaves out of
  the mean each point a dropped MR leads to.
- Rules (§1.2): a point strictly outside a process limit; a shift of N points strictly on one
  side of the mean (a point on the mean breaks it); a trend of N points each strictly
  above/below the previous, endpoints included (ties break it); two of three consecutive points
  beyond the same two-sigma line, all three on that side of the mean, only the points beyond two
  sigma flagged (a point beyond a process limit counting under NHSE v2.6 only).
- Partitions (§1.6): ``recalculate_at`` starts a partition with its own mean and limits; which
  runs carry on across one is the convention's. ``baseline_points`` fixes the mean and limits on
  the first N non-ghosted points (of each partition, of the first, or of the whole chart, by
  convention). ``ghosts`` (NHSE only) are shown but left out of every calculation.
- Too few points (§1.5): a chart with fewer than ``minimum_points`` non-ghosted points gets no
  limits, signals or icons; its mean is still given (``run_chart_mean``), as the tools show it.
- Polarity (§1.3): each rule gives a side (+1 above/increasing, -1 below/decreasing), multiplied
  by the direction: positive is improvement, negative concern; ``neutral`` gives neutral_high/low.
  A point met on both sides is shown as the convention resolves the clash.
- Icons (§1.4, §1.5): the variation icon comes from the last non-ghosted point; assurance
  compares the target with that point's limits.

Arithmetic is exact (the input floats scaled to whole numbers, the constants as fractions, every
rule an integer comparison), so "on the mean" and "on the limit" mean exactly that, and the flags
do not change when the series is scaled or shifted. Floats are returned.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise, takewhile
from typing import Literal

from safer.indicators.spc_limits import Layout, Limits, check_ghosts, layout, limits
from safer.indicators.spc_rules import (
    Marks,
    chunks,
    resolve,
    runs,
    sign,
    trend_marks,
    trend_sides_by_next_point,
    two_of_three_marks,
)
from safer.kernel.spc_conventions import PROFILES, Convention, Profile, SpcRules, rules_for

__all__ = [
    "Convention",
    "Direction",
    "SpcPoint",
    "SpcResult",
    "SpcRules",
    "describe",
    "rules_for",
    "spc",
]

_NHSE = SpcRules()

Direction = Literal["increase", "decrease", "neutral"]
Signal = Literal["common_cause", "improvement", "concern", "neutral_high", "neutral_low"]
Variation = Literal[
    "common_cause",
    "improvement_high",
    "improvement_low",
    "concern_high",
    "concern_low",
    "neither_high",
    "neither_low",
    "not_enough_data",
]
Assurance = Literal[
    "consistent_pass", "consistent_fail", "hit_and_miss", "no_target", "not_enough_data"
]


@dataclass(frozen=True)
class SpcPoint:
    """One point with the limits that apply to it and the rules that give it its signal.

    A rule met on the other side, which lost the clash (§1.3), is not flagged: each flag says
    why the point has its signal.
    """

    value: float
    mean: float | None
    upper: float | None
    lower: float | None
    upper_two_sigma: float | None
    lower_two_sigma: float | None
    moving_range: float | None
    outside_limits: bool
    shift: bool
    trend: bool
    two_of_three: bool
    signal: Signal
    date: dt.date | None = None
    """The period the point stands for, when the caller gave dates."""
    ghost: bool = False
    """Shown, with its partition's lines, but left out of every calculation and never special
    cause (NHSE SQL's [GhostFlag])."""
    run_chart_mean: float | None = None
    """The mean where there are no limits: a chart with too few points is a run chart with its
    mean, as all three implementations draw it. None where ``mean`` is given."""
    convention: Convention = "nhse-sql-2.6"
    """Whose rules judged the point, for the digest's method note."""


@dataclass(frozen=True)
class SpcResult:
    """The points, the variation and assurance icons, and the rules used."""

    points: tuple[SpcPoint, ...]
    variation: Variation
    assurance: Assurance
    rules: SpcRules
    partition_start: int = 0
    """Index of the first point of the latest partition."""


@dataclass(frozen=True)
class _Style:
    """How the points are worded: the direction, the scale the values were multiplied by, the
    clash rule and the convention."""

    direction: Direction
    scale: int
    rules: SpcRules
    good: int
    """+1 when rising is improvement, -1 when falling is, 0 for neither."""


def spc(
    values: Sequence[float],
    *,
    direction: Direction,
    target: float | None = None,
    rules: SpcRules = _NHSE,
    recalculate_at: Collection[int] = (),
    dates: Sequence[dt.date] | None = None,
    ghosts: Collection[int] = (),
) -> SpcResult:
    """The XmR chart of ``values``; raises ValueError on a non-finite value, a bad index or a
    ghost the convention has no such thing as.

    ``dates``, one per value, are carried onto the points and named by :func:`describe`;
    ``ghosts`` are indices of points to show but leave out of the calculations.
    """
    profile = PROFILES[rules.convention]
    if dates is not None and len(dates) != len(values):
        raise ValueError(f"{len(dates)} dates for {len(values)} values")
    ghosted = check_ghosts(ghosts, len(values), profile)
    ratios = [_ratio(v, "values") for v in values]
    # Scaled to whole numbers (a float is a binary fraction, so a power of two does it): every
    # comparison keeps its answer, and integer arithmetic is many times faster than fractions
    # (a national run draws tens of thousands of charts).
    scale = math.lcm(*(den for _, den in ratios)) if ratios else 1
    xs = [num * (scale // den) for num, den in ratios]
    drawn = layout(len(xs), recalculate_at, ghosted, rules, profile)
    lines = [limits([xs[i] for i in b], rules, profile, scale) for b in drawn.bases]
    live = [i for i in range(len(xs)) if i not in ghosted]
    # The minimum counts the whole chart's non-ghosted points (NHSE Step 6, MDC "Number of
    # points"); a short partition only warns in NHSE (Step 5).
    enough = len(live) >= rules.minimum_points
    marks = _marks(xs, live, drawn, lines, rules, profile) if enough else {}
    style = _Style(direction, scale, rules, {"increase": 1, "decrease": -1}.get(direction, 0))
    points = tuple(_points(xs, drawn, lines, marks, enough, style, dates))
    # The icons read the last non-ghosted point (NHSE Step 4K) and the limits that apply to it.
    latest = lines[drawn.part[live[-1]]] if enough and live else None
    return SpcResult(
        points=points,
        variation=_variation(points[live[-1]].signal if latest else None, direction),
        assurance=_assurance(target, direction, latest, scale, profile.on_limit_passes_or_fails),
        rules=rules,
        partition_start=drawn.starts[-1] if drawn.starts else 0,
    )


def _ratio(value: float, name: str) -> tuple[int, int]:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value).as_integer_ratio()


def _exact(value: float, name: str) -> Fraction:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return Fraction(value)


def _marks(
    xs: Sequence[int],
    live: Sequence[int],
    layout: Layout,
    limits: Sequence[Limits | None],
    rules: SpcRules,
    p: Profile,
) -> dict[int, Marks]:
    """Every rule's sides for the non-ghosted points, each against its own partition's lines."""
    lims = [limits[layout.part[i]] for i in live]
    vals = [xs[i] for i in live]
    sides = [sign(x * lim.q - lim.centre) if lim else 0 for x, lim in zip(vals, lims, strict=True)]
    spread = [lim if lim and lim.spread else None for lim in lims]
    outside = [_beyond(x * s.q, s.process) if s else 0 for x, s in zip(vals, spread, strict=True)]
    beyond = [_beyond(x * s.q, s.two_sigma) if s else 0 for x, s in zip(vals, spread, strict=True)]
    if not p.beyond_limits_count:
        beyond = [0 if o else b for b, o in zip(beyond, outside, strict=True)]
    groups = [layout.group[i] for i in live]
    n = len(live)
    shift, two = [0] * n, [0] * n
    trend: list[tuple[int, ...]] = [()] * n
    for s in _spans("shift", groups, p):
        shift[s.start : s.stop] = runs(sides[s.start : s.stop], rules.shift_points)
    for s in _spans("two_of_three", groups, p) if rules.two_of_three else ():
        two[s.start : s.stop] = two_of_three_marks(
            sides[s.start : s.stop], beyond[s.start : s.stop]
        )
    for s in _spans("trend", groups, p):
        trend[s.start : s.stop] = _trends(vals[s.start : s.stop], rules)
    return {i: Marks(outside[j], trend[j], two[j], shift[j]) for j, i in enumerate(live)}


def _spans(rule: str, groups: Sequence[int], p: Profile) -> list[range]:
    """The stretches of non-ghosted points a ``rule`` run may cover (§1.6)."""
    return [range(len(groups))] if rule in p.crossing else chunks(groups)


def _trends(xs: Sequence[int], rules: SpcRules) -> list[tuple[int, ...]]:
    """Each point's trend sides: both at a turning point, unless the convention labels a trend
    point with one direction (NHSRplotthedots, which resolves clashes by rule order)."""
    rising, falling = trend_marks(xs, rules.trend_points)
    if rules.conflict == "precedence":
        part = [r or f for r, f in zip(rising, falling, strict=True)]
        return [(s,) if s else () for s in trend_sides_by_next_point(xs, part)]
    return [(1,) * r + (-1,) * f for r, f in zip(rising, falling, strict=True)]


def _beyond(xq: int, lines: tuple[int, int]) -> int:
    """+1 strictly above the upper line, -1 strictly below the lower (``xq``: the value times
    the limits' denominator)."""
    upper, lower = lines
    return 1 if xq > upper else -1 if xq < lower else 0


def _points(
    xs: Sequence[int],
    layout: Layout,
    limits: Sequence[Limits | None],
    marks: dict[int, Marks],
    enough: bool,
    style: _Style,
    dates: Sequence[dt.date] | None,
) -> list[SpcPoint]:
    mrs = _moving_ranges(xs, layout)
    when = dates if dates is not None else [None] * len(xs)
    found = []
    for i, x in enumerate(xs):
        lim = limits[layout.part[i]]
        shown = lim if enough and lim is not None and lim.spread else None
        mark = marks.get(i)
        side, kept = resolve(mark, style.rules.conflict, style.good) if mark else (0, None)
        ghost = i not in layout.live
        found.append(_point(x, mrs.get(i), (lim, shown), (side, kept, ghost), style, when[i]))
    return found


def _moving_ranges(xs: Sequence[int], layout: Layout) -> dict[int, int]:
    """Point → |x - the previous non-ghosted point of its partition|; none for the first."""
    mrs: dict[int, int] = {}
    previous: dict[int, int] = {}
    for i in sorted(layout.live):
        k = layout.part[i]
        if k in previous:
            mrs[i] = abs(xs[i] - xs[previous[k]])
        previous[k] = i
    return mrs


def _point(
    x: int,
    mr: int | None,
    lines: tuple[Limits | None, Limits | None],
    judged: tuple[int, Marks | None, bool],
    style: _Style,
    date: dt.date | None,
) -> SpcPoint:
    """``lines`` is the partition's limits and those shown (None below the minimum);
    ``judged`` the point's side, the marks that give it and whether it is ghosted."""
    lim, shown = lines
    side, kept, ghost = judged
    mean, upper, lower, upper2, lower2 = shown.floats if shown else (None,) * 5
    return SpcPoint(
        value=x / style.scale,
        mean=mean,
        upper=upper,
        lower=lower,
        upper_two_sigma=upper2,
        lower_two_sigma=lower2,
        moving_range=None if mr is None else mr / style.scale,
        outside_limits=bool(kept and kept.outside),
        shift=bool(kept and kept.shift),
        trend=bool(kept and kept.trend),
        two_of_three=bool(kept and kept.two_of_three),
        signal=_signal(side, style.direction),
        date=date,
        ghost=ghost,
        run_chart_mean=lim.floats[0] if lim is not None and shown is None else None,
        convention=style.rules.convention,
    )


def _signal(side: int, direction: Direction) -> Signal:
    if not side:
        return "common_cause"
    if direction == "neutral":
        return "neutral_high" if side > 0 else "neutral_low"
    good = 1 if direction == "increase" else -1
    return "improvement" if side * good > 0 else "concern"


_VARIATION: dict[tuple[Signal, Direction], Variation] = {
    ("improvement", "increase"): "improvement_high",
    ("improvement", "decrease"): "improvement_low",
    ("concern", "increase"): "concern_low",
    ("concern", "decrease"): "concern_high",
    ("neutral_high", "neutral"): "neither_high",
    ("neutral_low", "neutral"): "neither_low",
}


def _variation(last: Signal | None, direction: Direction) -> Variation:
    """The icon for the last non-ghosted point only (§1.4); None when the chart has too few."""
    if last is None:
        return "not_enough_data"
    return _VARIATION.get((last, direction), "common_cause")


def _assurance(
    target: float | None,
    direction: Direction,
    lim: Limits | None,
    scale: int = 1,
    on_limit_decides: bool = True,
) -> Assurance:
    """Target against the latest limits (§1.5). On a limit is pass/fail when
    ``on_limit_decides`` (NHSE SQL v2.1+), else hit and miss (NHSRplotthedots)."""
    if target is None or direction == "neutral":
        return "no_target"
    if lim is None or not lim.spread:
        return "not_enough_data"
    t = _exact(target, "target") * scale * lim.q
    upper, lower = lim.process
    if not on_limit_decides:
        # R tests target > upl, then target < lpl (ptd_calculate_assurance_type.R).
        above, below = t > upper, t < lower
        if direction == "increase":
            return "consistent_fail" if above else "consistent_pass" if below else "hit_and_miss"
        return "consistent_pass" if above else "consistent_fail" if below else "hit_and_miss"
    # Pass is tested first so a zero-width process sitting exactly on the target passes.
    passing, failing = (
        (t >= upper, t <= lower) if direction == "decrease" else (t <= lower, t >= upper)
    )
    if passing:
        return "consistent_pass"
    return "consistent_fail" if failing else "hit_and_miss"


_ASSURANCE_TEXT = {
    "consistent_pass": "the target is consistently met by the process limits",
    "consistent_fail": "the target is consistently missed by the process limits",
    "hit_and_miss": "the process will hit and miss the target",
}


def describe(result: SpcResult, unit_label: str | Callable[[float], str] = "") -> str:
    """One plain-English sentence on the latest point (and the target, if any) for a digest.

    ``unit_label`` is either a label put after each number ("%", "incidents") or a function
    that formats a value the way the caller shows it (a proportion as a percentage, say).
    """
    text = _describe_variation(result, unit_label)
    clause = _ASSURANCE_TEXT.get(result.assurance)
    return f"{text}; {clause}" if clause else text


def _describe_variation(result: SpcResult, unit_label: str | Callable[[float], str]) -> str:
    if result.variation == "not_enough_data":
        have = sum(not p.ghost for p in result.points)
        return f"not enough points yet ({have} of the {result.rules.minimum_points} needed)"
    if result.variation == "common_cause":
        return "common cause variation"
    kind, _, level = result.variation.partition("_")
    label = "neither improvement nor concern" if kind == "neither" else kind
    return f"special cause: {label} ({_reason(result, 1 if level == 'high' else -1, unit_label)})"


def _reason(result: SpcResult, side: int, unit: str | Callable[[float], str]) -> str:
    """Why the last point is special cause, from the rule that labels it (precedence order:
    every rule it is flagged by gives it the same side)."""
    live = [p for p in result.points if not p.ghost]
    last = live[-1]
    above, which = ("above", "upper") if side > 0 else ("below", "lower")
    if last.outside_limits:
        limit = last.upper if side > 0 else last.lower
        assert limit is not None  # outside a limit implies the limits are shown
        value, when = _fmt(last.value, unit), f" ({last.date:%b %Y})" if last.date else ""
        where = f"{above} the {which} process limit of {_fmt(limit, unit)}"
        return f"the latest point, {value}{when}, is {where}"
    crossing = PROFILES[result.rules.convention].crossing
    if last.trend:
        span = _run_span(result, "trend" in crossing)
        steps = ((b.value - a.value) * side > 0 for b, a in pairwise(reversed(span)))
        return f"{1 + _leading(steps)} points in a row {'in' if side > 0 else 'de'}creasing"
    if last.two_of_three:
        # The window ending at the last point qualifies, and only its points beyond 2σ are flagged.
        k = sum(p.two_of_three for p in live[-3:])
        return f"{k} of the last 3 points {above} the {which} two-sigma line"
    assert last.mean is not None  # a shift is measured from the mean
    span = _run_span(result, "shift" in crossing)
    n = _leading(
        p.shift and p.mean is not None and (p.value > p.mean) == (side > 0) for p in reversed(span)
    )
    return f"{n} points {above} the mean of {_fmt(last.mean, unit)}"


def _run_span(result: SpcResult, crossing: bool) -> list[SpcPoint]:
    """The non-ghosted points a run ending at the last point can reach back over."""
    start = 0 if crossing else result.partition_start
    return [p for p in result.points[start:] if not p.ghost]


def _leading(flags: Iterable[bool]) -> int:
    return sum(1 for _ in takewhile(bool, flags))


def _fmt(x: float, unit: str | Callable[[float], str]) -> str:
    if callable(unit):
        return unit(x)
    number = f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
    if not unit:
        return number
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}"
