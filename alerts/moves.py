"""The lines of "what moved", in words an officer reads aloud at a board. Pure."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from safer.alerts.lifecycle import JUDGED, Kind, Move, Track, track
from safer.alerts.model import Movement
from safer.alerts.spc_words import run_words, special_runs
from safer.alerts.words import ORIGIN_WORDS, STATUS_LABELS, join, ordinal, period_noun, plural
from safer.indicators.changes import change, format_change, format_value
from safer.indicators.definitions import (
    Indicator,
    RestOfForce,
    RestOfForceChange,
    SamePeriodLastYear,
    Target,
    Threshold,
)
from safer.indicators.evaluate import Evaluation, Status
from safer.kernel.periods import GRAIN_MONTHS, add_months

__all__ = ["movement", "pattern", "spc_story", "withheld"]


def movement(
    move: Move, indicator: Indicator, target: Target | None, t: Track, area: str
) -> Movement:
    """The line for ``move`` on track ``t``."""
    e = move.evaluation
    return Movement(
        kind=move.kind,
        indicator_id=indicator.id,
        indicator=indicator.name,
        area_code=e.area_code,
        period_start=e.period_start,
        status=e.status,
        text=_text(move, indicator, target, t, area),
        was=move.was,
    )


def _text(move: Move, indicator: Indicator, target: Target | None, t: Track, area: str) -> str:
    kind, e = move.kind, move.evaluation
    fmt = functools.partial(format_value, indicator)
    base = f"{indicator.name}, {area}, {e.period_label}"
    if kind in (Kind.CONCERN, Kind.IMPROVEMENT):
        return f"{base}: {spc_story(e, fmt)}."
    if kind is Kind.NEWLY_WITHHELD:
        return f"{base}: {e.reason}."
    if kind is Kind.RELEASED:
        return (
            f"{base}: its data now pass their checks: {fmt(e.value)}, "
            f"{STATUS_LABELS[e.status].lower()}."
        )
    text = _judged(move, indicator, target, t, base)
    if move.was is Status.WITHHELD:
        return f"{text} Its data now pass their checks: it was withheld when last sent."
    return text


def _judged(move: Move, indicator: Indicator, target: Target | None, t: Track, base: str) -> str:
    """A judged period's line: its judgement, then what it is compared with (the status it was
    last sent with when revised, else the judged period before it)."""
    kind, e = move.kind, move.evaluation
    fmt = functools.partial(format_value, indicator)
    origin = f" ({ORIGIN_WORDS[target.origin]})" if target else ""
    judged = f"{base}: {e.reason}{origin}"
    noun, before = period_noun(e.grain), t.previous
    if move.was in JUDGED:
        assert move.was is not None
        return f"{judged}. Revised: it was {STATUS_LABELS[move.was].lower()} when last sent."
    if before is None:
        return f"{judged}. The first {noun} judged."
    then = f"{before.period_label} ({fmt(before.value)})"
    if kind is Kind.STILL_OFF_TRACK:
        if t.streak >= 2:
            return f"{base}, {ordinal(t.streak)} {noun} running: {e.reason}{origin}."
        # The judged period before was off track too, but not the one just before this.
        again = f"{base}, off track again: {e.reason}{origin}"
        return f"{again}. Last judged in {then}, off track then too."
    if kind is Kind.BACK_ON_TRACK:
        spell = plural(_off_before(t), noun)
        return f"{judged}, after {spell} off track ({fmt(before.value)} in {before.period_label})."
    was = STATUS_LABELS[before.status]
    # Not the period just before (a gap, or periods not judged): say how far back it is.
    if before.period_start != add_months(e.period_start, -GRAIN_MONTHS[e.grain]):
        line = f"{judged}. Last judged in {then}, {was.lower()} then."
    else:
        line = f"{judged}. {was} in {then}."
    return line + _against_the_grain(kind, indicator, target, e, before)


def _against_the_grain(
    kind: Kind, indicator: Indicator, target: Target | None, e: Evaluation, before: Evaluation
) -> str:
    """When the status moved one way and the figure the other (worse while the figure fell,
    because the rest of the force fell further), say so: the status alone would mislead."""
    if kind not in (Kind.WORSE, Kind.BETTER):
        return ""
    moved = change(indicator, e.value, before.value)
    if moved is None or moved.better is None or moved.better == (kind is Kind.BETTER):
        return ""
    if isinstance(target, Threshold):
        return f" The figure itself {moved.text}, but the target changed."
    what, then, now = _compared(target, before, e)
    fmt = _formatter(indicator, target)
    shown = f" ({fmt(then)} to {fmt(now)})" if then is not None and now is not None else ""
    return f" The figure itself {moved.text}, but {what} moved further{shown}."


def _formatter(indicator: Indicator, target: Target | None) -> Callable[[float | None], str]:
    # The comparator of a change against the rest of the force is its change, not a level.
    changed = isinstance(target, RestOfForceChange)
    return functools.partial(format_change if changed else format_value, indicator)


def _compared(
    target: Target | None, before: Evaluation, e: Evaluation
) -> tuple[str, float | None, float | None]:
    """What the plan compares the figure with, and its value then and now."""
    if isinstance(target, RestOfForce):
        return "the rest of the force", before.rest_of_force, e.rest_of_force
    if isinstance(target, RestOfForceChange):
        return "the rest of the force's change", before.comparator, e.comparator
    if isinstance(target, SamePeriodLastYear):
        return "the same period a year before", before.last_year, e.last_year
    return "what it is compared with", before.comparator, e.comparator


def withheld(kind: Kind, e: Evaluation, figures: Sequence[tuple[str, str]]) -> Movement:
    """One line for every figure held back for the same reason in the same period:
    "ASB incidents and Positive-outcome rate, all 5 areas, 2024/25 Q4: the Feb 2025 file
    failed its data checks". Figures are named together only with the same areas."""
    reason = e.reason.removeprefix("withheld: ")
    if kind is Kind.STILL_WITHHELD:
        reason = f"still withheld, {reason}"
    return Movement(
        kind=kind,
        indicator_id=e.indicator_id,
        indicator=join(list(dict.fromkeys(name for name, _ in figures))),
        area_code=e.area_code,
        period_start=e.period_start,
        status=e.status,
        text=f"{_figures(figures)}, {e.period_label}: {reason}.",
    )


def _figures(figures: Sequence[tuple[str, str]]) -> str:
    """'ASB incidents and Positive-outcome rate, all 5 areas; ASB incidents per 1,000
    residents, 4 areas': the figures named with the areas each is held back for."""
    by_name: dict[str, list[str]] = {}
    for name, area in dict.fromkeys(figures):
        by_name.setdefault(name, []).append(area)
    everywhere = len({area for _, area in figures})
    by_areas: dict[tuple[str, ...], list[str]] = {}
    for name, areas in by_name.items():
        by_areas.setdefault(tuple(areas), []).append(name)
    return "; ".join(
        f"{join(names)}, {_where(areas, everywhere)}" for areas, names in by_areas.items()
    )


def _where(areas: Sequence[str], everywhere: int) -> str:
    """'Halton and Warrington'; 'all 5 areas' (every area the line names); '4 areas'."""
    if len(areas) <= 3:
        return join(list(areas))
    return f"all {len(areas)} areas" if len(areas) == everywhere else f"{len(areas)} areas"


def spc_story(e: Evaluation, fmt: Callable[[float], str] | None) -> str:
    """The latest special-cause run in words (without values when ``fmt`` is None)."""
    runs = special_runs(e.spc_points)
    return (
        run_words(runs[-1], e.spc_points, e.series_grain, fmt, signal=False) if runs else e.spc_text
    )


def pattern(kind: Kind, e: Evaluation, names: Sequence[str], area: str) -> Movement:
    """One line for figures of one area with the same special-cause pattern (a count and its
    rate per 1,000 residents): "ASB incidents and ASB incidents per 1,000 residents,
    Warrington, 2025/26 Q3: Dec 2025, below the lower process limit"."""
    return Movement(
        kind=kind,
        indicator_id=e.indicator_id,
        indicator=join(list(names)),
        area_code=e.area_code,
        period_start=e.period_start,
        status=e.status,
        text=f"{join(list(names))}, {area}, {e.period_label}: {spc_story(e, None)}.",
    )


def _off_before(t: Track) -> int:
    """Consecutive periods off track just before the latest (at least the one before)."""
    earlier = track(t.history[:-1])
    return max(earlier.streak if earlier is not None else 0, 1)
