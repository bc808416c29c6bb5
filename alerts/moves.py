"""The lines of "what moved", in words an officer reads aloud at a board. Pure."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from alerts.lifecycle import JUDGED, Kind, Track, track
from alerts.model import Movement
from alerts.spc_words import run_words, special_runs
from alerts.words import ORIGIN_WORDS, STATUS_LABELS, join, ordinal, period_noun, plural
from indicators.changes import format_value
from indicators.definitions import Indicator, Target
from indicators.evaluate import Evaluation

__all__ = ["movement", "withheld"]


def movement(
    kind: Kind, indicator: Indicator, target: Target | None, t: Track, e: Evaluation, area: str
) -> Movement:
    """The line for ``kind`` on period ``e`` of track ``t``."""
    return Movement(
        kind=kind,
        indicator_id=indicator.id,
        area_code=e.area_code,
        period_start=e.period_start,
        status=e.status,
        text=_text(kind, indicator, target, t, e, area),
    )


def _text(
    kind: Kind, indicator: Indicator, target: Target | None, t: Track, e: Evaluation, area: str
) -> str:
    fmt = functools.partial(format_value, indicator)
    base = f"{indicator.name}, {area}, {e.period_label}"
    origin = f" ({ORIGIN_WORDS[target.origin]})" if target and e.status in JUDGED else ""
    noun = period_noun(e.grain)
    before = t.previous
    if kind in (Kind.CONCERN, Kind.IMPROVEMENT):
        runs = special_runs(e.spc_points)
        story = run_words(runs[-1], e.series_grain, fmt, signal=False) if runs else e.spc_text
        return f"{base}: {story}."
    if kind is Kind.NEWLY_WITHHELD:
        return f"{base}: {e.reason}."
    if kind is Kind.RELEASED:
        return (
            f"{base}: its data now pass their checks: {fmt(e.value)}, "
            f"{STATUS_LABELS[e.status].lower()}."
        )
    judged = f"{base}: {e.reason}{origin}"
    if kind is Kind.STILL_OFF_TRACK and t.streak >= 2:
        return f"{base}, {ordinal(t.streak)} {noun} running: {e.reason}{origin}."
    if kind is Kind.BACK_ON_TRACK and before is not None:
        spell = plural(_off_before(t), noun)
        return f"{judged}, after {spell} off track ({fmt(before.value)} in {before.period_label})."
    if before is None:
        return f"{judged}. The first {noun} judged."
    was = STATUS_LABELS[before.status]
    return f"{judged}. {was} in {before.period_label} ({fmt(before.value)})."


def withheld(e: Evaluation, figures: Sequence[tuple[str, str]]) -> Movement:
    """One line for every figure held back for the same reason in the same period:
    "ASB incidents and Positive-outcome rate, all 5 areas, 2024/25 Q4: the Feb 2025 file
    failed its data checks"."""
    names = list(dict.fromkeys(name for name, _ in figures))
    areas = list(dict.fromkeys(area for _, area in figures))
    where = join(areas) if len(areas) <= 3 else f"all {len(areas)} areas"  # as digest.py
    reason = e.reason.removeprefix("withheld: ")
    return Movement(
        kind=Kind.NEWLY_WITHHELD,
        indicator_id=e.indicator_id,
        area_code=e.area_code,
        period_start=e.period_start,
        status=e.status,
        text=f"{join(names)}, {where}, {e.period_label}: {reason}.",
    )


def _off_before(t: Track) -> int:
    """Consecutive periods off track just before the latest (at least the one before)."""
    earlier = track(t.history[:-1])
    return max(earlier.streak if earlier is not None else 0, 1)
