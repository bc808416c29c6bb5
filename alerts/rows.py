"""One indicator and area as the digest shows it: a summary row with its chart, or a line of
the appendix. Pure: from evaluations, the catalogue and the plan, to words and pictures.
"""

from __future__ import annotations

import functools

from safer.alerts.charts import Chart
from safer.alerts.icons import assurance_icon, variation_icon
from safer.alerts.lifecycle import JUDGED, Track
from safer.alerts.model import MonitoredItem, Row
from safer.alerts.spc_words import describe_window, span_text
from safer.alerts.words import ORIGIN_MARKS, ORIGIN_WORDS, STATUS_LABELS, capital, plural
from safer.indicators.changes import change, format_change, format_value
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
from safer.indicators.evaluate import OFF_TRACK, Evaluation, Status
from safer.kernel.periods import add_months, period_label, quarter_label

__all__ = ["cell", "comparison", "monitored_item", "summary_row", "target_words"]


def summary_row(
    indicator: Indicator,
    target: Target | None,
    t: Track,
    area: str,
    digest_period: str,
    context: Evaluation | None = None,
) -> Row:
    """The summary row of track ``t``; ``context`` is the force's figure shown beside it."""
    e = t.latest
    withheld = e.status is Status.WITHHELD
    origin = target.origin if target is not None and e.status in JUDGED else None
    chart, title, caption = (None, "", "") if withheld else _chart(indicator, target, e, area)
    beside = _context(indicator, context)
    return Row(
        indicator_id=indicator.id,
        indicator=indicator.name,
        area_code=e.area_code,
        area=area,
        period=e.period_label,
        period_start=e.period_start,
        # A withheld figure rests on data that failed its checks: never show it as a number.
        value="withheld" if withheld else cell(indicator, e.value),
        figure="withheld" if withheld else format_value(indicator, e.value),
        status=e.status,
        status_label=STATUS_LABELS[e.status],
        streak=_streak(t),
        reason=e.reason,
        last_year="–" if withheld else (_moved(indicator, e) or "n/a"),
        last_quarter="–" if withheld else _short(indicator, e.value, e.previous_quarter),
        comparison="–" if withheld else comparison(indicator, target, e),
        context=beside,
        context_area=context.area_code if context is not None and beside else "",
        shown_period="" if e.period_label == digest_period else e.period_label,
        mark=ORIGIN_MARKS[origin] if origin else "",
        origin=ORIGIN_WORDS[origin] if origin else "",
        variation=None if withheld else variation_icon(e.spc_variation),
        assurance=None if withheld else assurance_icon(e.spc_assurance),
        spc="" if withheld else _spc_words(e),
        chart=chart,
        chart_title=title,
        chart_caption=caption,
        warning="" if withheld else (e.data_warning or ""),
    )


def _streak(t: Track) -> str:
    noun = "year" if t.latest.grain == "year" else "quarter"
    if t.streak >= 2:
        return f"{plural(t.streak, noun)} running"
    if t.streak == 1 and t.previous is not None:
        if (t.previous.status in OFF_TRACK) == (t.latest.status in OFF_TRACK):
            # The same state as when last judged, with a gap between: not new, not a run.
            return f"again (last judged {t.previous.period_label})"
        return f"new this {noun}"
    return f"first judged {noun}" if t.streak == 1 else ""


def _short(indicator: Indicator, now: float | None, before: float | None) -> str:
    moved = change(indicator, now, before)
    return "n/a" if moved is None else moved.short


def _context(indicator: Indicator, force: Evaluation | None) -> str:
    if force is None or force.status is Status.WITHHELD or force.value is None:
        return ""
    return f"Force {cell(indicator, force.value)}"


def cell(indicator: Indicator, value: float | None) -> str:
    """A value in a table cell under a heading that names its unit: "2.08", not
    "2.08 per 1,000" (the indicator's name says per 1,000 residents)."""
    if indicator.unit == "per_1000" and value is not None:
        return f"{value:.2f}"
    return format_value(indicator, value)


def comparison(indicator: Indicator, target: Target | None, e: Evaluation) -> str:
    """The comparison the plan makes, short enough for a table cell."""
    fmt = functools.partial(cell, indicator)
    if isinstance(target, Threshold):
        level = target.at_least if target.at_least is not None else target.at_most
        assert level is not None
        return f"target {'≥' if target.at_least is not None else '≤'} {fmt(level)}"
    if isinstance(target, RestOfForceChange):
        return _rest_change(indicator, e)
    if isinstance(target, RestOfForce):
        if e.rest_of_force is None:
            return "rest of force n/a"
        return f"rest of force {fmt(e.rest_of_force)}{_gap(indicator, e.value, e.rest_of_force)}"
    if isinstance(target, SamePeriodLastYear):
        # The figure, not a verdict: the status column says whether it is better.
        return "no figure last year" if e.last_year is None else f"last year {fmt(e.last_year)}"
    if isinstance(target, BaselineChange) and e.comparator is not None:
        on = _financial_year(target.baseline_year)
        return f"aim {fmt(e.comparator)} ({target.change_percent:+g}% on {on})"
    if isinstance(target, National):
        return f"national {fmt(target.value)}"
    return "–"


def _rest_change(indicator: Indicator, e: Evaluation) -> str:
    """'rest of force −12.3%; level 1.34': the change the area's is judged against, and the
    rest of the force's level beside it for context (never judged on: a standing difference
    between places)."""
    if e.comparator is None:
        return "rest of force n/a"
    moved = format_change(indicator, e.comparator)
    level = f"; level {cell(indicator, e.rest_of_force)}" if e.rest_of_force is not None else ""
    return f"rest of force {moved}{level}"


def target_words(indicator: Indicator, target: Target) -> str:
    """What the plan judges the indicator against, for the summary's group heading."""
    if isinstance(target, Threshold):
        level = _level(target)
        relation = "at least" if target.at_least is not None else "at most"
        return f"Target: {relation} {format_value(indicator, level)}"
    if isinstance(target, RestOfForce):
        worse = "lower" if indicator.polarity == "higher_is_better" else "higher"
        return f"No {worse} than the rest of the force"
    if isinstance(target, RestOfForceChange):
        return "Change on last year no worse than the rest of the force's"
    if isinstance(target, SamePeriodLastYear):
        better = "higher" if indicator.polarity == "higher_is_better" else "lower"
        return f"{better.capitalize()} than the same period last year"
    if isinstance(target, BaselineChange):
        return f"{target.change_percent:+g}% on {_financial_year(target.baseline_year)}"
    if isinstance(target, National):
        return f"Against the national figure ({target.as_at})"
    return "Monitored"


def _gap(indicator: Indicator, value: float | None, other: float | None) -> str:
    """' (56% higher)': how far the figure is from what it is compared with, in words, so a
    sign is never read as better or worse."""
    gap = change(indicator, value, other)
    if gap is None or gap.amount is None:
        return ""
    if gap.amount == 0:
        return " (the same)"
    # Whole percent for a wide gap (56% higher); a narrower one keeps its decimal (10.1%
    # higher, 0.5% lower), so a gap just past a 10% tolerance never reads as 10%.
    places = 1 if gap.points or abs(gap.amount) < 20 else 0
    size = f"{abs(gap.amount):.{places}f}{' pts' if gap.points else '%'}"
    return f" ({size} {'higher' if gap.amount > 0 else 'lower'})"


def _financial_year(start: int) -> str:
    """'2023/24' for the year from April 2023."""
    return f"{start}/{(start + 1) % 100:02d}"


_PLAIN_VARIATION = {
    "common_cause": "normal variation",
    "improvement_high": "unusually high, an improvement",
    "improvement_low": "unusually low, an improvement",
    "concern_high": "unusually high, a concern",
    "concern_low": "unusually low, a concern",
    "neither_high": "unusually high",
    "neither_low": "unusually low",
}
_PLAIN_ASSURANCE = {
    "consistent_pass": "will meet the target if nothing changes",
    "consistent_fail": "will miss the target if nothing changes",
    "hit_and_miss": "may meet or miss the target",
}
"""Making Data Count's icons in words without its terms; the icons' alt text keeps them."""


def _spc_words(e: Evaluation) -> str:
    """'Latest month: normal variation; may meet or miss the target': the icons read from the
    latest point only (the chart's sentence describes the whole window)."""
    grain = e.series_grain
    variation = _PLAIN_VARIATION.get(e.spc_variation)
    if variation is None:
        return f"Too few {grain}s yet to judge variation"
    assurance = _PLAIN_ASSURANCE.get(e.spc_assurance)
    return f"Latest {grain}: {variation}" + (f"; {assurance}" if assurance else "")


def _chart(
    indicator: Indicator, target: Target | None, e: Evaluation, area: str
) -> tuple[Chart | None, str, str]:
    """The row's chart, its title and the sentence under it (the same facts as its alt)."""
    points = e.spc_points
    if not points or points[-1].mean is None:
        # Without process limits a chart is a few dots that invite a trend to be read into
        # them; the summary row already says there are too few points.
        return None, "", ""
    grain = e.series_grain
    first, last = (period_label(p.date, grain) if p.date else "" for p in (points[0], points[-1]))
    level = _level(target)
    ceiling = 1.0 if indicator.unit == "rate" else None
    fmt = functools.partial(format_value, indicator)
    # The latest value is labelled on the chart itself; the caption says what its colours mean.
    caption = describe_window(points, grain, fmt, 0.0, ceiling, _too_few(e.spc_text))
    assurance = _PLAIN_ASSURANCE.get(e.spc_assurance)
    if assurance is not None and level is not None:
        caption += f" {capital(assurance)} ({fmt(level)})."
    adjective = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}[grain]
    span = span_text(points[0].date, points[-1].date, grain)
    # Monthly points under a quarterly table: the title says so, or 0.65 (December) reads as
    # a contradiction of 2.08 (the quarter).
    title = f"{indicator.name}, {area}: {adjective} figures, {span}"
    chart = Chart(
        points=points,
        alt=f"Chart: {title}. {caption} Latest {last}: {fmt(points[-1].value)}.",
        first_label=first,
        last_label=last,
        latest_label=fmt(points[-1].value),
        target=level,
        target_label=f"target {fmt(level)}" if level is not None else "",
        floor=0.0,
        ceiling=ceiling,
    )
    return chart, title, caption


def _level(target: Target | None) -> float | None:
    if isinstance(target, Threshold):
        return target.at_least if target.at_least is not None else target.at_most
    return None


def _too_few(spc_text: str) -> str:
    """'11 of the 13 needed' from the engine's sentence, when it says so."""
    head, found, tail = spc_text.partition("not enough points yet (")
    return tail.split(")", 1)[0] if found else ""


def monitored_item(indicator: Indicator, e: Evaluation, area: str) -> MonitoredItem:
    """One area's figure on an appendix line, with its change (see ``_moved``)."""
    withheld = e.status is Status.WITHHELD
    return MonitoredItem(
        area_code=e.area_code,
        area=area,
        period_start=e.period_start,
        status=e.status,
        value="withheld" if withheld else format_value(indicator, e.value),
        change="" if withheld else _moved(indicator, e),
    )


def _moved(indicator: Indicator, e: Evaluation) -> str:
    """The change on a year ago ("+9.7%"), or on the quarter before when there is no year-ago
    figure ("+9.7% on Q2"), or ""."""
    moved = change(indicator, e.value, e.last_year)
    if moved is not None:
        return moved.short
    if e.grain == "quarter":
        moved = change(indicator, e.value, e.previous_quarter)
        if moved is not None:
            return f"{moved.short} on {quarter_label(add_months(e.period_start, -3)).split()[-1]}"
    return ""
