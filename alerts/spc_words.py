"""An SPC chart in words: every special-cause run inside the charted window, not only the
latest point, so the sentence under a chart says what its colours show. Pure.

Making Data Count's variation icon reads the latest point alone (domain-research.md §1.4); a
chart shows every point. A six-month rising run coloured orange mid-window, under a latest
month of common cause, must not be summed up as "common cause variation".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby

from safer.indicators.spc import SpcPoint
from safer.kernel.periods import Grain, period_label

__all__ = [
    "Run",
    "clamp",
    "describe_window",
    "range_text",
    "run_words",
    "span_text",
    "special_runs",
]

Fmt = Callable[[float], str]

_SIGNAL_WORDS = {
    "improvement": "special cause improvement",
    "concern": "special cause concern",
    "neutral_high": "special cause (neither improvement nor concern)",
    "neutral_low": "special cause (neither improvement nor concern)",
}


@dataclass(frozen=True)
class Run:
    """Consecutive points sharing one special-cause signal."""

    signal: str
    points: tuple[SpcPoint, ...]


def special_runs(points: Sequence[SpcPoint]) -> list[Run]:
    """The runs of special-cause points, oldest first."""
    return [
        Run(signal, tuple(group))
        for signal, group in groupby(points, key=lambda p: p.signal)
        if signal != "common_cause"
    ]


def clamp(value: float, floor: float | None, ceiling: float | None) -> float:
    """A limit as it can be read: never below ``floor`` nor above ``ceiling``."""
    if floor is not None and value < floor:
        return floor
    if ceiling is not None and value > ceiling:
        return ceiling
    return value


def describe_window(
    points: Sequence[SpcPoint],
    grain: Grain,
    fmt: Fmt,
    floor: float | None = 0.0,
    ceiling: float | None = None,
    too_few: str = "",
) -> str:
    """Sentences for a chart: its special-cause runs (or none), then its limits.

    ``too_few`` is the engine's words for a series without limits yet ("11 of the 13 needed").
    """
    latest = points[-1]
    if latest.mean is None or latest.upper is None or latest.lower is None:
        return f"No process limits yet: too few {grain}s{f' ({too_few})' if too_few else ''}."
    runs = special_runs(points)
    lower, upper = (fmt(clamp(x, floor, ceiling)) for x in (latest.lower, latest.upper))
    limits = f"Mean {fmt(latest.mean)}; process limits {range_text(lower, upper)}."
    if not runs:
        return f"Common cause variation only. {limits}"
    shown = [run_words(run, points, grain, fmt) for run in runs[-3:]]
    more = f" ({len(runs) - 3} earlier runs too)" if len(runs) > 3 else ""
    return ". ".join(shown) + f"{more}. {limits}"


def range_text(low: str, high: str) -> str:
    """'0.36 to 1.20 per 1,000', not the unit twice."""
    number, _, unit = low.partition(" ")
    if unit and high.endswith(f" {unit}"):
        return f"{number} to {high}"
    return f"{low} to {high}"


def span_text(first: dt.date | None, last: dt.date | None, grain: Grain) -> str:
    """'Mar to Aug 2025', 'Nov 2024 to Feb 2025', '2023/24 Q1 to 2025/26 Q3'."""
    if first is None or last is None:
        return "undated"
    if first == last:
        return period_label(first, grain)
    if grain == "month" and first.year == last.year:
        return f"{first:%b} to {last:%b %Y}"
    return f"{period_label(first, grain)} to {period_label(last, grain)}"


def run_words(
    run: Run, window: Sequence[SpcPoint], grain: Grain, fmt: Fmt | None, signal: bool = True
) -> str:
    """'Special cause concern: Jul to Dec 2025, 6 months rising in a row' (without the signal's
    name when ``signal`` is False; without values when ``fmt`` is None, to say one pattern
    shared by several figures).

    Each point is special cause by the rule of highest precedence it meets (the rule that
    gives it its colour). The run is said as the fewest of those rules' stretches that account
    for all its points, each over its whole extent in ``window`` (a rising trend that began a
    month before the run says so): no rule is claimed for a point it does not flag, none is
    cut short, and a shift of ten months is not called ten months rising.
    """
    stretches = _stretches(window)
    labelled: list[_Stretch] = []
    for point in run.points:
        found = next((s for s in stretches[id(point)] if s.rule == _label(point)), None)
        if found is not None and found not in labelled:
            labelled.append(found)
    # The fewest stretches that account for every point of the run, widest first.
    members = {id(p) for p in run.points}
    said: list[_Stretch] = []
    covered: set[int] = set()
    for stretch in sorted(labelled, key=lambda s: -len(members & {id(p) for p in s.points})):
        inside = members & {id(p) for p in stretch.points}
        if not inside <= covered:
            said.append(stretch)
            covered |= inside
    said.sort(key=lambda s: window.index(s.points[0]))
    text = "; ".join(_stretch_words(s, grain, fmt) for s in said)
    if not signal:
        return text
    words = _SIGNAL_WORDS.get(run.signal, "special cause")
    return f"{words[:1].upper()}{words[1:]}: {text}"


@dataclass(frozen=True)
class _Stretch:
    """Consecutive points flagged by one rule on one side (above or below the mean, rising or
    falling)."""

    rule: str
    side: str
    points: tuple[SpcPoint, ...]


# NHSE precedence: outside the limits, trend, two of three near a limit, shift.
_RULES: tuple[tuple[str, Callable[[SpcPoint], bool]], ...] = (
    ("outside", lambda p: p.outside_limits),
    ("trend", lambda p: p.trend),
    ("two_of_three", lambda p: p.two_of_three),
    ("shift", lambda p: p.shift),
)


def _label(point: SpcPoint) -> str:
    """The rule that gives ``point`` its signal: the first it meets, in precedence order."""
    return next((rule for rule, flagged in _RULES if flagged(point)), "shift")


def _stretches(window: Sequence[SpcPoint]) -> dict[int, list[_Stretch]]:
    """Point (by id) → the stretches it belongs to, one per rule it meets."""
    found: dict[int, list[_Stretch]] = {id(p): [] for p in window}
    for rule, flagged in _RULES:
        current: list[SpcPoint] = []
        side = ""
        for i, point in enumerate(window):
            now = _side(rule, window, i) if flagged(point) else ""
            if current and now != side:
                _close(found, _Stretch(rule, side, tuple(current)))
                current = []
            if now:
                current.append(point)
            side = now
        if current:
            _close(found, _Stretch(rule, side, tuple(current)))
    return found


def _close(found: dict[int, list[_Stretch]], stretch: _Stretch) -> None:
    for point in stretch.points:
        found[id(point)].append(stretch)


def _side(rule: str, window: Sequence[SpcPoint], i: int) -> str:
    """Which way point ``i`` meets ``rule``: 'up' or 'down'. A trend's turning point goes with
    the trend it ends."""
    p = window[i]
    if rule == "trend":
        before = window[i - 1].value if i > 0 and window[i - 1].trend else None
        if before is not None and p.value != before:
            return "up" if p.value > before else "down"
        after = window[i + 1].value if i + 1 < len(window) else p.value
        return "up" if after > p.value else "down"
    if rule == "outside":
        return "up" if p.upper is not None and p.value > p.upper else "down"
    return "up" if p.mean is not None and p.value > p.mean else "down"


def _stretch_words(seg: _Stretch, grain: Grain, fmt: Fmt | None) -> str:
    """'Jul to Dec 2025, 6 months rising in a row'."""
    when = span_text(seg.points[0].date, seg.points[-1].date, grain)
    n, first, up = len(seg.points), seg.points[0], seg.side == "up"
    noun = f"{n} {grain}{'s' if n != 1 else ''}"
    if seg.rule == "outside":
        side = "above the upper" if up else "below the lower"
        if n == 1:
            at = f" at {fmt(first.value)}" if fmt else ""
            return f"{when}{at}, {side} process limit"
        return f"{when}, {noun} {side} process limit"
    if seg.rule == "trend":
        return f"{when}, {noun} {'rising' if up else 'falling'} in a row"
    if seg.rule == "shift":
        return f"{when}, {noun} in a row {'above' if up else 'below'} the mean"
    return f"{when}, {noun} close to the {'upper' if up else 'lower'} process limit"
