"""Build one recipient's digest from evaluations: pure, no database, clock or templates.

A digest exists only when the recipient has something not yet told: an (indicator, area,
quarter, status) they have not been notified of, or a new special-cause signal on it.
Everything a template shows is computed here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from alerts.charts import Chart
from indicators.changes import change, format_value
from indicators.definitions import Catalogue, Indicator, Plan, plan_for
from indicators.evaluate import OFF_TRACK, Evaluation, Status
from safer.config import Recipient
from safer.periods import Grain, period_label, quarter_label

__all__ = [
    "Block",
    "Digest",
    "Item",
    "Movement",
    "NotificationKey",
    "Section",
    "build_digest",
]

NotificationKey = tuple[str, str, dt.date, str]
"""(indicator, area, quarter start, status): what a recipient has been told."""

STATUS_LABELS = {
    Status.GREEN: "On track",
    Status.AMBER: "Slightly off track",
    Status.RED: "Off track",
    Status.INCOMPLETE: "Quarter incomplete",
    Status.NOT_EVALUATED: "Not judged",
    Status.WITHHELD: "Withheld",
}


@dataclass(frozen=True)
class Item:
    indicator: str
    indicator_id: str
    area: str
    area_code: str
    period: str
    period_start: dt.date
    value: str
    vs_last_quarter: str
    vs_last_year: str
    status: str
    status_label: str
    reason: str
    details: str
    """Further comparisons and the SPC signal, as one sentence."""
    warning: str = ""
    """A data-check warning about this figure, shown beside it."""
    chart: Chart | None = None
    """The SPC chart, when there are points to draw and the figure is not withheld."""
    comparisons: str = ""
    """The changes in words for the plain-text part: a quarter's on the previous quarter and
    the same quarter last year, a year's on the year before."""


@dataclass(frozen=True)
class Movement:
    kind: str  # newly off track | worsened | back on track | withheld | special cause: …
    item: Item
    why: str = ""
    """The sentence that explains this movement: the status reason, or the SPC reading."""


@dataclass(frozen=True)
class Block:
    """One indicator's rows, or why it has none."""

    name: str
    rows: tuple[Item, ...]
    missing: str | None = None
    source: str = ""
    """Where the block's figures come from, shown under its name."""
    period_heading: str = "Quarter"
    """The table's period column: ``Quarter``, or ``Year`` for a yearly indicator."""


@dataclass(frozen=True)
class Section:
    priority: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Digest:
    recipient: Recipient
    subject: str
    period: str
    plan: str
    movements: tuple[Movement, ...]
    notes: tuple[str, ...]
    sections: tuple[Section, ...]
    new_keys: tuple[NotificationKey, ...]
    bases: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def charts(self) -> tuple[Chart, ...]:
        """Every distinct chart in the tables, in order (one image per Content-ID)."""
        found = {
            row.chart.cid: row.chart
            for section in self.sections
            for block in section.blocks
            for row in block.rows
            if row.chart is not None
        }
        return tuple(found.values())


def build_digest(
    recipient: Recipient,
    catalogue: Catalogue,
    plans: Sequence[Plan],
    area_names: Mapping[str, str],
    evaluations: Sequence[Evaluation],
    notified: Mapping[tuple[str, str, dt.date], set[str]],
    notes: Sequence[str],
) -> Digest | None:
    """The digest for ``recipient``, or None when they have already been told everything.

    ``evaluations`` are those of the reporting quarters; ``notified`` maps (indicator, area,
    quarter start) to the statuses this recipient has already been sent.
    """
    wanted = [
        e
        for e in evaluations
        if recipient.wants(e.area_code) and recipient.wants_any(_topics(catalogue, plans, e))
    ]
    new = [e for e in wanted if _untold(e, notified.get(_key(e), set()))]
    if not new:
        return None
    items = {id(e): _item(catalogue.get(e.indicator_id), e, area_names) for e in wanted}
    # The digest is "to" its latest quarter; a yearly figure (DEFRA's) is shown under its year.
    quarters = [e.period_start for e in wanted if e.grain == "quarter"]
    latest = max(quarters or [e.period_start for e in wanted])
    label = quarter_label(latest) if quarters else period_label(latest, "year")
    plan = plan_for(plans, latest) or (plans[-1] if plans else None)
    return Digest(
        recipient=recipient,
        subject=_subject(label, wanted),
        period=label,
        plan=plan.name if plan else "no plan in force",
        movements=_movements(catalogue, area_names, new, items, notified),
        notes=tuple(notes),
        sections=_sections(catalogue, plan, wanted, items, area_names, recipient),
        new_keys=tuple(
            (*_key(e), key)
            for e in new
            for key in (e.status.value, _signal(e))
            if key and key not in notified.get(_key(e), set())
        ),
        bases=tuple((i.name, i.basis) for i in catalogue.indicators if i.sql is not None),
    )


def _topics(catalogue: Catalogue, plans: Sequence[Plan], e: Evaluation) -> tuple[str, ...]:
    """The indicator's family and its priority in the plan that judged the period."""
    family = catalogue.get(e.indicator_id).family
    plan = next((p for p in plans if p.id == e.plan_id), None) or plan_for(plans, e.period_start)
    found = plan.priority_of(e.indicator_id) if plan else None
    return (family, found.id) if found else (family,)


def _key(e: Evaluation) -> tuple[str, str, dt.date]:
    return e.indicator_id, e.area_code, e.period_start


def _item(indicator: Indicator, e: Evaluation, area_names: Mapping[str, str]) -> Item:
    withheld = e.status is Status.WITHHELD
    return Item(
        indicator=indicator.name,
        indicator_id=indicator.id,
        area=area_names.get(e.area_code, e.area_code),
        area_code=e.area_code,
        period=e.period_label,
        period_start=e.period_start,
        # A withheld figure rests on data that failed its checks: never show it as a number.
        value="withheld" if withheld else format_value(indicator, e.value),
        vs_last_quarter="–" if withheld else _short(indicator, e.value, e.previous_quarter),
        vs_last_year="–" if withheld else _short(indicator, e.value, e.last_year),
        status=e.status.value,
        status_label=STATUS_LABELS[e.status],
        reason=e.reason,
        details="" if withheld else _details(indicator, e),
        warning="" if withheld else (e.data_warning or ""),
        chart=None if withheld else _chart(indicator, e, area_names.get(e.area_code, e.area_code)),
        comparisons=_comparisons(indicator, e, withheld),
    )


def _comparisons(indicator: Indicator, e: Evaluation, withheld: bool) -> str:
    last_year = "–" if withheld else _short(indicator, e.value, e.last_year)
    if e.grain == "year":
        return f"vs the year before {last_year}"
    previous = "–" if withheld else _short(indicator, e.value, e.previous_quarter)
    return f"vs previous quarter {previous}; vs same quarter last year {last_year}"


def _short(indicator: Indicator, now: float | None, before: float | None) -> str:
    moved = change(indicator, now, before)
    return "–" if moved is None else moved.short


def _details(indicator: Indicator, e: Evaluation) -> str:
    parts = []
    rolling = change(indicator, e.rolling_12, e.previous_rolling_12)
    if rolling is not None:
        parts.append(f"rolling 12 months {rolling.text} on the 12 before")
    if e.rest_of_force is not None:
        parts.append(f"rest of the force {format_value(indicator, e.rest_of_force)}")
    parts.append(e.spc_text)
    if e.spc_points:
        latest, limits = _chart_levels(indicator, e)
        parts += [f"{_ADJECTIVE[e.series_grain]} {limits}"] if limits else []
        if latest not in e.spc_text:  # a special-cause sentence already names the latest point
            parts.append(f"latest {_NOUN[e.series_grain]} {latest}")
    return "; ".join(parts)


_ADJECTIVE: dict[Grain, str] = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}
_NOUN: dict[Grain, str] = {"month": "month", "quarter": "quarter", "year": "year"}


def _chart(indicator: Indicator, e: Evaluation, area: str) -> Chart | None:
    """The row's chart, with alt text stating what it draws for when images are off."""
    if not e.spc_points:
        return None
    first, last = e.spc_points[0].date, e.spc_points[-1].date
    grain = e.series_grain
    span = (
        f", {period_label(first, grain)} to {period_label(last, grain)}" if first and last else ""
    )
    latest, limits = _chart_levels(indicator, e)
    drawn = f"with {limits}" if limits else f"(too few {_NOUN[grain]}s for process limits)"
    variation = _VARIATION_WORDS.get(e.spc_variation.split("_", 1)[0])
    return Chart(
        e.spc_points,
        f"{indicator.name}, {area}{span}: {_ADJECTIVE[grain]} values {drawn}; latest {latest}"
        + (f", {variation}" if variation else ""),
    )


def _chart_levels(indicator: Indicator, e: Evaluation) -> tuple[str, str | None]:
    """('45 (Dec 2025)', 'mean 104 and process limits 58 to 151'): the latest point and the
    lines drawn through the latest point's partition, or None where there are no limits yet."""
    last = e.spc_points[-1]
    when = f" ({period_label(last.date, e.series_grain)})" if last.date else ""
    latest = f"{format_value(indicator, last.value)}{when}"
    if last.mean is None or last.lower is None or last.upper is None:
        return latest, None
    mean, lower, upper = (format_value(indicator, x) for x in (last.mean, last.lower, last.upper))
    number, _, unit = lower.partition(" ")
    if unit and upper.endswith(f" {unit}"):  # '0.29 to 0.80 per 1,000', not the unit twice
        lower = number
    return latest, f"mean {mean} and process limits {lower} to {upper}"


# The first word of the latest point's variation icon, in the digest's words.
_VARIATION_WORDS = {
    "common": "common cause variation",
    "improvement": "special cause: improvement",
    "concern": "special cause: concern",
    "neither": "special cause: neither improvement nor concern",
}


def _movements(
    catalogue: Catalogue,
    area_names: Mapping[str, str],
    new: Sequence[Evaluation],
    items: Mapping[int, Item],
    notified: Mapping[tuple[str, str, dt.date], set[str]],
) -> tuple[Movement, ...]:
    order = [i.id for i in catalogue.indicators]
    areas = list(area_names)
    ranked = sorted(
        new,
        key=lambda e: (
            order.index(e.indicator_id),
            -e.period_start.toordinal(),
            _rank(areas, e.area_code),
        ),
    )
    return tuple(
        Movement(kind, items[id(e)], e.spc_text if kind.startswith("special") else e.reason)
        for e in ranked
        if (kind := _movement(e, notified.get(_key(e))))
    )


def _signal(e: Evaluation) -> str | None:
    """A special-cause signal worth telling, as its notification key (``spc:concern_high``).

    Kept beside the status so a new signal on an unchanged status is told once, and a signal
    already told is not repeated while it lasts.
    """
    if e.status in (Status.WITHHELD, Status.INCOMPLETE):
        return None
    if e.spc_variation.startswith(("concern", "improvement")):
        return f"spc:{e.spc_variation}"
    return None


def _untold(e: Evaluation, told: set[str]) -> bool:
    signal = _signal(e)
    return e.status.value not in told or (signal is not None and signal not in told)


def _movement(e: Evaluation, before: set[str] | None) -> str | None:
    told = {Status(s) for s in before or set() if not s.startswith("spc:")}
    if e.status is Status.WITHHELD:
        return "withheld"
    if e.status is Status.RED and Status.AMBER in told:
        return "worsened"
    if e.status in OFF_TRACK and not told & OFF_TRACK:
        return "newly off track"
    if e.status is Status.GREEN and told & OFF_TRACK:
        return "back on track"
    signal = _signal(e)
    if signal is not None and signal not in (before or set()):
        return f"special cause: {signal.removeprefix('spc:').split('_')[0]}"
    return None


def _subject(period: str, wanted: Sequence[Evaluation]) -> str:
    off = sum(1 for e in wanted if e.status in OFF_TRACK)
    held = sum(1 for e in wanted if e.status is Status.WITHHELD)
    text = f"Community safety indicators {period} — {off} off track"
    return text + (f", {held} withheld" if held else "")


def _sections(
    catalogue: Catalogue,
    plan: Plan | None,
    wanted: Sequence[Evaluation],
    items: Mapping[int, Item],
    area_names: Mapping[str, str],
    recipient: Recipient,
) -> tuple[Section, ...]:
    """The plan's priorities in order, then every other catalogue indicator as monitoring;
    only what the recipient follows."""
    placed: set[str] = set()
    sections = []
    for priority in plan.priorities if plan else ():
        ids = [t.indicator for t in priority.targets]
        placed.update(ids)
        blocks = [
            _block(catalogue.get(i), wanted, items, area_names)
            for i in ids
            if recipient.wants_any((priority.id, catalogue.get(i).family))
        ]
        if blocks:  # a priority with no indicator of ours is not a section
            sections.append(Section(priority.name, tuple(blocks)))
    rest = [
        i for i in catalogue.indicators if i.id not in placed and recipient.wants_any((i.family,))
    ]
    if rest:
        blocks = [_block(i, wanted, items, area_names) for i in rest]
        sections.append(Section("Other indicators (monitoring only)", tuple(blocks)))
    return tuple(sections)


def _block(
    indicator: Indicator,
    wanted: Sequence[Evaluation],
    items: Mapping[int, Item],
    area_names: Mapping[str, str],
) -> Block:
    order = list(area_names)
    rows = sorted(
        (items[id(e)] for e in wanted if e.indicator_id == indicator.id),
        key=lambda i: (-i.period_start.toordinal(), _rank(order, i.area_code)),
    )
    if rows:
        heading = "Year" if indicator.evaluated_grain == "year" else "Quarter"
        return Block(
            indicator.name, tuple(rows), source=indicator.source_label, period_heading=heading
        )
    if indicator.sql is None:
        missing = f"no source configured: {indicator.source_label}"
    else:
        missing = "no figures for your areas yet"
    return Block(indicator.name, (), missing)


def _rank(order: list[str], code: str) -> int:
    return order.index(code) if code in order else len(order)
