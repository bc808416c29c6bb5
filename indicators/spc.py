"""Statistical process control ("Making Data Count" XmR charts) for one series: pure, no I/O.

Conventions (docs: /work/shared/docs/domain-research.md, "§" below):

- Limits (§1.1): centre line = mean; moving range (MR) = |x_i - x_(i-1)| within a partition;
  process limits = mean ± 2.66 × mean MR; two-sigma lines = mean ± (2/3)·2.66 × mean MR.
  Optional MR screening drops MRs >= 3.267 × mean MR and recomputes the mean MR but not the mean,
  as NHSRplotthedots does (NHSE recomputes the mean too; we follow the R package here).
- Rules (§1.2), with NHSE SQL v2.6 defaults: a point strictly outside a process limit; a shift of
  6 points strictly on one side of the mean (a point on the mean breaks it); a trend of 6 points
  each strictly above/below the previous, endpoints included (ties break it); two of three
  consecutive points beyond the same two-sigma line, all three on that side of the mean, points
  beyond three sigma counting (v2.6), only the points beyond two sigma flagged.
- Partitions (§1.6): ``recalculate_at`` starts a new partition with its own mean and limits.
  Shift and two-of-three runs stay inside a partition; trends cross partitions (NHSE v2.6).
  ``baseline_points`` fixes the mean and limits on the first N points of each partition and
  carries them forward. A partition with fewer than ``minimum_points`` points gets no limits
  and its points no signals (§1.5: NHSE shows a run chart below 13 points).
- Polarity (§1.3): each rule gives a side (+1 above/increasing, -1 below/decreasing), multiplied
  by the direction: positive is improvement, negative concern; ``neutral`` gives neutral_high/low.
- Icons (§1.4, §1.5): the variation icon comes from the last point only; assurance compares the
  target with the latest partition's limits using the NHSE SQL boundary (on a limit is pass/fail).

Arithmetic is exact (the input floats scaled to whole numbers, the constants as fractions, every
rule an integer comparison), so "on the mean" and "on the limit" mean exactly that, and the flags
do not change when the series is scaled or shifted. Floats are returned.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise, takewhile
from typing import Literal

__all__ = ["Direction", "SpcPoint", "SpcResult", "SpcRules", "describe", "spc"]

# 2.66 = 3 / d2 with d2 = 1.128 for subgroups of 2; the two-sigma lines are 2/3 of it; 3.267 is
# D4 for subgroups of 2 (§1.1). Written as whole numbers, for the integer arithmetic below.
_LIMIT = (266, 100)
_MR_SCREEN = (3267, 1000)

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
class SpcRules:
    """Which special-cause rules apply and how limits are calculated (§1.2; NHSE v2.6 defaults)."""

    shift_points: int = 6
    trend_points: int = 6
    two_of_three: bool = True
    screen_moving_ranges: bool = False
    minimum_points: int = 13
    baseline_points: int | None = None

    def __post_init__(self) -> None:
        # NHSE v2.6 warns outside 6..8 (§1.2); we refuse, so a typo cannot silently weaken a rule.
        for name in ("shift_points", "trend_points"):
            value = getattr(self, name)
            if not 6 <= value <= 8:
                raise ValueError(f"SpcRules.{name} must be between 6 and 8, got {value}")
        if self.minimum_points < 2:
            raise ValueError(
                f"SpcRules.minimum_points must be at least 2, got {self.minimum_points}"
            )
        if self.baseline_points is not None and self.baseline_points < 2:
            raise ValueError(
                f"SpcRules.baseline_points must be at least 2, got {self.baseline_points}"
            )


@dataclass(frozen=True)
class SpcPoint:
    """One point with the limits that apply to it and the rules that flag it."""

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


@dataclass(frozen=True)
class SpcResult:
    """The points, the variation and assurance icons, and the rules used."""

    points: tuple[SpcPoint, ...]
    variation: Variation
    assurance: Assurance
    rules: SpcRules
    partition_start: int = 0
    """Index of the first point of the latest partition, whose limits the icons use."""


@dataclass(frozen=True)
class _Limits:
    """A partition's centre and lines, as whole numbers over a common denominator ``q``.

    The series is scaled to integers (``scale``) and every line is ``numerator / q``, so each
    rule is an integer comparison: exact, and as fast as Python arithmetic gets. With baseline
    sum ``S`` of ``n`` points and mean moving range ``M / k``: q = 300·n·k, centre = 300·k·S,
    and the process and two-sigma offsets are 2.66 and (2/3)·2.66 mean MRs, that is 798·n·M and
    532·n·M.
    """

    q: int
    centre: int
    process_offset: int
    two_sigma_offset: int
    scale: int

    @property
    def process(self) -> tuple[int, int]:
        return self.centre + self.process_offset, self.centre - self.process_offset

    @property
    def two_sigma(self) -> tuple[int, int]:
        return self.centre + self.two_sigma_offset, self.centre - self.two_sigma_offset

    @functools.cached_property
    def floats(self) -> tuple[float, float, float, float, float]:
        """Mean, upper, lower, upper two-sigma and lower two-sigma, as the points carry them."""
        d = self.q * self.scale
        (upper, lower), (upper2, lower2) = self.process, self.two_sigma

        def f(v: int) -> float:
            return v / d  # int / int rounds correctly: the float nearest the exact value

        return f(self.centre), f(upper), f(lower), f(upper2), f(lower2)


def spc(
    values: Sequence[float],
    *,
    direction: Direction,
    target: float | None = None,
    rules: SpcRules = SpcRules(),
    recalculate_at: Collection[int] = (),
    dates: Sequence[dt.date] | None = None,
) -> SpcResult:
    """The XmR chart of ``values``; raises ValueError on a non-finite value or a bad index.

    ``dates``, one per value, are carried onto the points and named by :func:`describe`.
    """
    if dates is not None and len(dates) != len(values):
        raise ValueError(f"{len(dates)} dates for {len(values)} values")
    ratios = [_ratio(v, "values") for v in values]
    # Scaled to whole numbers (a float is a binary fraction, so a power of two does it): every
    # comparison keeps its answer, and integer arithmetic is many times faster than fractions
    # (a national run draws tens of thousands of charts).
    scale = math.lcm(*(den for _, den in ratios)) if ratios else 1
    xs = [num * (scale // den) for num, den in ratios]
    parts = _partitions(len(xs), recalculate_at)
    limits: list[_Limits | None] = []
    for part in parts:
        enough = len(part) >= rules.minimum_points
        found = _limits(xs[part.start : part.stop], rules, scale) if enough else None
        limits += [found] * len(part)
    points = tuple(_points(xs, parts, limits, rules, direction, scale, dates))
    latest = limits[-1] if limits else None
    return SpcResult(
        points=points,
        variation=_variation(points[-1].signal if latest else None, direction),
        assurance=_assurance(target, direction, latest, scale),
        rules=rules,
        partition_start=parts[-1].start if parts else 0,
    )


def _ratio(value: float, name: str) -> tuple[int, int]:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value).as_integer_ratio()


def _exact(value: float, name: str) -> Fraction:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return Fraction(value)


def _partitions(n: int, recalculate_at: Collection[int]) -> list[range]:
    bad = sorted(i for i in recalculate_at if not 0 <= i < n)
    if bad:
        raise ValueError(f"recalculate_at index {bad[0]} is outside the series (0..{n - 1})")
    cuts = sorted({0, n, *recalculate_at})
    return [range(a, b) for a, b in pairwise(cuts) if b > a]


def _limits(xs: Sequence[int], rules: SpcRules, scale: int) -> _Limits:
    """Mean and mean MR of the baseline (the whole partition unless ``baseline_points``)."""
    base = xs[: rules.baseline_points] if rules.baseline_points else xs
    mrs = [abs(b - a) for a, b in pairwise(base)]
    total, k = sum(mrs), len(mrs)
    # An all-zero MR list has nothing to screen (and screening would drop every MR).
    if rules.screen_moving_ranges and total > 0:
        # mr < 3.267 × total / k, multiplied out
        kept = [mr for mr in mrs if mr * k * _MR_SCREEN[1] < _MR_SCREEN[0] * total]
        total, k = sum(kept), len(kept)
    n = len(base)
    width, per = _LIMIT
    # q = 300·n·k; the centre S/n and the offsets w·total/k, each multiplied by q.
    return _Limits(
        q=3 * per * n * k,
        centre=3 * per * k * sum(base),
        process_offset=3 * width * n * total,
        two_sigma_offset=2 * width * n * total,
        scale=scale,
    )


def _points(
    xs: Sequence[int],
    parts: Sequence[range],
    limits: Sequence[_Limits | None],
    rules: SpcRules,
    direction: Direction,
    scale: int,
    dates: Sequence[dt.date] | None,
) -> list[SpcPoint]:
    n = len(xs)
    outside = [
        _beyond(x * lim.q, lim.process) if lim else 0 for x, lim in zip(xs, limits, strict=True)
    ]
    # Trends cross partitions (NHSE v2.6, §1.2) but are not reported where there are no limits.
    trend = [
        s if lim else 0 for s, lim in zip(_trend_sides(xs, rules.trend_points), limits, strict=True)
    ]
    shift, two = [0] * n, [0] * n
    for part in parts:
        lim = limits[part.start]
        if lim is None:
            continue
        seg = xs[part.start : part.stop]
        shift[part.start : part.stop] = _shift_sides(seg, lim, rules.shift_points)
        if rules.two_of_three:
            two[part.start : part.stop] = _two_of_three_sides(seg, lim)
    starts = {part.start for part in parts}
    mrs = [None if i in starts else abs(xs[i] - xs[i - 1]) for i in range(n)]
    when = dates if dates is not None else [None] * n
    style = (direction, scale)
    return [
        _point(xs[i], mrs[i], limits[i], (outside[i], trend[i], two[i], shift[i]), style, when[i])
        for i in range(n)
    ]


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _beyond(xq: int, lines: tuple[int, int]) -> int:
    """+1 strictly above the upper line, -1 strictly below the lower (``xq``: the value times
    the limits' denominator)."""
    upper, lower = lines
    return 1 if xq > upper else -1 if xq < lower else 0


def _runs(keys: Sequence[int], min_len: int) -> list[int]:
    """Each key that is part of a run of at least ``min_len`` equal non-zero keys; else 0."""
    marks = [0] * len(keys)
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            if keys[start] and i - start >= min_len:
                marks[start:i] = [keys[start]] * (i - start)
            start = i
    return marks


def _shift_sides(xs: Sequence[int], lim: _Limits, points: int) -> list[int]:
    # A point exactly on the mean has side 0, so it breaks the run (§1.2, both sources).
    return _runs([_sign(x * lim.q - lim.centre) for x in xs], points)


def _trend_sides(xs: Sequence[int], points: int) -> list[int]:
    """N points including endpoints = N-1 consecutive strict steps; a tie is a 0 step."""
    if not xs:
        return []
    steps = _runs([_sign(b - a) for a, b in pairwise(xs)], points - 1)
    arriving, leaving = [0, *steps], [*steps, 0]
    # A turning point ends one trend and starts the opposite one; we label it by the trend that
    # arrives at it, the one already seen when that point was the latest.
    return [a or b for a, b in zip(arriving, leaving, strict=True)]


def _two_of_three_sides(xs: Sequence[int], lim: _Limits) -> list[int]:
    """Flag points beyond a two-sigma line when 2+ of 3 consecutive are, all on one side (§1.2)."""
    sides = [_sign(x * lim.q - lim.centre) for x in xs]
    # Points beyond the process limits count too (NHSE v2.6, unlike NHSRplotthedots).
    beyond = [_beyond(x * lim.q, lim.two_sigma) for x in xs]
    marks = [0] * len(xs)
    for w in range(len(xs) - 2):
        side = sides[w]
        window = range(w, w + 3)
        if side and all(sides[i] == side for i in window):
            if sum(beyond[i] == side for i in window) >= 2:
                for i in window:
                    if beyond[i] == side:
                        marks[i] = side
    return marks


def _point(
    x: int,
    mr: int | None,
    lim: _Limits | None,
    sides: tuple[int, int, int, int],
    style: tuple[Direction, int],
    date: dt.date | None,
) -> SpcPoint:
    """``sides`` is (outside, trend, two-of-three, shift), in label precedence order; ``style``
    the direction and the scale the values were multiplied by."""
    direction, scale = style
    mean, upper, lower, upper2, lower2 = lim.floats if lim else (None,) * 5
    # A point flagged both ways (e.g. a rising trend below the mean) takes the side of its
    # highest-precedence rule: outside limits > trend > two-of-three > shift, the NHSRplotthedots
    # label order (§1.2). NHSE instead lets each metric choose improvement or concern (§1.3).
    side = next((s for s in sides if s), 0)
    return SpcPoint(
        value=x / scale,
        mean=mean,
        upper=upper,
        lower=lower,
        upper_two_sigma=upper2,
        lower_two_sigma=lower2,
        moving_range=None if mr is None else mr / scale,
        outside_limits=bool(sides[0]),
        shift=bool(sides[3]),
        trend=bool(sides[1]),
        two_of_three=bool(sides[2]),
        signal=_signal(side, direction),
        date=date,
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
    """The icon for the last point only (§1.4); None when its partition has no limits."""
    if last is None:
        return "not_enough_data"
    return _VARIATION.get((last, direction), "common_cause")


def _assurance(
    target: float | None, direction: Direction, lim: _Limits | None, scale: int = 1
) -> Assurance:
    """Target against the latest limits; on a limit is pass/fail (NHSE SQL v2.1+, §1.5)."""
    if target is None or direction == "neutral":
        return "no_target"
    if lim is None:
        return "not_enough_data"
    t = _exact(target, "target") * scale * lim.q
    upper, lower = lim.process
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
        have = len(result.points) - result.partition_start
        return f"not enough points yet ({have} of the {result.rules.minimum_points} needed)"
    if result.variation == "common_cause":
        return "common cause variation"
    kind, _, level = result.variation.partition("_")
    label = "neither improvement nor concern" if kind == "neither" else kind
    return f"special cause: {label} ({_reason(result, 1 if level == 'high' else -1, unit_label)})"


def _reason(result: SpcResult, side: int, unit: str | Callable[[float], str]) -> str:
    """Why the last point is special cause, from the rule that labels it (precedence order)."""
    points, last = result.points, result.points[-1]
    # Special cause implies the latest partition has limits.
    assert last.mean is not None and last.upper is not None and last.lower is not None
    above, which = ("above", "upper") if side > 0 else ("below", "lower")
    if last.outside_limits:
        value, limit = _fmt(last.value, unit), _fmt(last.upper if side > 0 else last.lower, unit)
        when = f" ({last.date:%b %Y})" if last.date else ""
        return f"the latest point, {value}{when}, is {above} the {which} process limit of {limit}"
    if last.trend:
        steps = ((b.value - a.value) * side > 0 for b, a in pairwise(reversed(points)))
        return f"{1 + _leading(steps)} points in a row {'in' if side > 0 else 'de'}creasing"
    if last.two_of_three:
        # The window ending at the last point qualifies, and only its points beyond 2σ are flagged.
        k = sum(p.two_of_three for p in points[-3:])
        return f"{k} of the last 3 points {above} the {which} two-sigma line"
    latest = reversed(points[result.partition_start :])
    n = _leading(p.shift and (p.value > last.mean) == (side > 0) for p in latest)
    return f"{n} points {above} the mean of {_fmt(last.mean, unit)}"


def _leading(flags: Iterable[bool]) -> int:
    return sum(1 for _ in takewhile(bool, flags))


def _fmt(x: float, unit: str | Callable[[float], str]) -> str:
    if callable(unit):
        return unit(x)
    number = f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
    if not unit:
        return number
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}"
