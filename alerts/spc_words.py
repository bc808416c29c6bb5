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

from indicators.spc import SpcPoint
from safer.periods import Grain, period_label

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
    shown = [run_words(run, grain, fmt) for run in runs[-3:]]
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


def run_words(run: Run, grain: Grain, fmt: Fmt, signal: bool = True) -> str:
    """'Special cause concern: Jul to Dec 2025, 6 months rising in a row' (without the signal's
    name when ``signal`` is False)."""
    when = span_text(run.points[0].date, run.points[-1].date, grain)
    first = run.points[0]
    if len(run.points) == 1 and first.outside_limits:
        text = f"{when} at {_rule(run, grain, fmt)}"
    else:
        text = f"{when}, {_rule(run, grain, fmt)}"
    if not signal:
        return text
    words = _SIGNAL_WORDS.get(run.signal, "special cause")
    return f"{words[:1].upper()}{words[1:]}: {text}"


def _rule(run: Run, grain: Grain, fmt: Fmt) -> str:
    """Why the run is special cause, by the first rule (in NHSE precedence) its points meet."""
    n, first = len(run.points), run.points[0]
    noun = f"{n} {grain}{'s' if n != 1 else ''}"
    if all(p.outside_limits for p in run.points):
        high = first.upper is not None and first.value > first.upper
        side = "above the upper" if high else "below the lower"
        return f"{fmt(first.value) if n == 1 else noun}, {side} process limit"
    if any(p.trend for p in run.points):
        rising = run.points[-1].value > first.value
        return f"{noun} {'rising' if rising else 'falling'} in a row"
    if any(p.shift for p in run.points):
        above = first.mean is not None and first.value > first.mean
        return f"{noun} in a row {'above' if above else 'below'} the mean"
    high = first.mean is not None and first.value > first.mean
    return f"{noun} close to the {'upper' if high else 'lower'} process limit"
