"""Build one recipient's digest from evaluations: pure, no database, clock or templates.

A digest exists only when the recipient has something not yet told: an (indicator, area,
quarter, status) they have not been notified of. Everything a template shows is computed here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from indicators.definitions import Catalogue, Indicator, Plan
from indicators.evaluate import OFF_TRACK, Evaluation, Status, format_value
from safer.config import Recipient
from safer.periods import quarter_label

__all__ = ["Digest", "Item", "Movement", "NotificationKey", "Section", "build_digest"]

NotificationKey = tuple[str, str, dt.date, str]
"""(indicator, area, quarter start, status): what a recipient has been told."""


@dataclass(frozen=True)
class Item:
    indicator: str
    indicator_id: str
    area: str
    area_code: str
    period: str
    period_start: dt.date
    value: str
    last_year: str
    status: str
    status_label: str
    reason: str
    source: str


@dataclass(frozen=True)
class Movement:
    kind: str  # newly off track | worsened | back on track | withheld
    item: Item


@dataclass(frozen=True)
class Section:
    priority: str
    indicators: tuple[tuple[Indicator, tuple[Item, ...]], ...]


@dataclass(frozen=True)
class Digest:
    recipient: Recipient
    subject: str
    period: str
    movements: tuple[Movement, ...]
    notes: tuple[str, ...]
    sections: tuple[Section, ...]
    new_keys: tuple[NotificationKey, ...]
    bases: tuple[tuple[str, str], ...] = field(default_factory=tuple)


STATUS_LABELS = {
    Status.GREEN: "On track",
    Status.AMBER: "Slightly off track",
    Status.RED: "Off track",
    Status.INCOMPLETE: "Quarter incomplete",
    Status.NOT_EVALUATED: "Not judged",
    Status.WITHHELD: "Withheld",
}


def build_digest(
    recipient: Recipient,
    catalogue: Catalogue,
    plan: Plan,
    area_names: Mapping[str, str],
    evaluations: Sequence[Evaluation],
    notified: Mapping[tuple[str, str, dt.date], set[str]],
    notes: Sequence[str],
) -> Digest | None:
    """The digest for ``recipient``, or None when they have already been told everything.

    ``evaluations`` are those of the reporting quarters; ``notified`` maps (indicator, area,
    quarter start) to the statuses this recipient has already been sent.
    """
    wanted = [e for e in evaluations if recipient.wants(e.area_code)]
    new = [
        e
        for e in wanted
        if e.status.value not in notified.get((e.indicator_id, e.area_code, e.period_start), set())
    ]
    if not new:
        return None
    items = {id(e): _item(catalogue.get(e.indicator_id), e, area_names) for e in wanted}
    order = [i.id for i in catalogue.indicators]
    areas = list(area_names)
    movements = tuple(
        Movement(kind, items[id(e)])
        for e in sorted(
            new,
            key=lambda e: (
                order.index(e.indicator_id),
                -e.period_start.toordinal(),
                _rank(areas, e.area_code),
            ),
        )
        if (kind := _movement(e, notified.get((e.indicator_id, e.area_code, e.period_start))))
    )
    period = quarter_label(max(e.period_start for e in wanted))
    return Digest(
        recipient=recipient,
        subject=_subject(period, wanted),
        period=period,
        movements=movements,
        notes=tuple(notes),
        sections=_sections(catalogue, plan, wanted, items, area_names),
        new_keys=tuple((e.indicator_id, e.area_code, e.period_start, e.status.value) for e in new),
        bases=tuple((i.name, i.basis) for i in catalogue.indicators),
    )


def _item(indicator: Indicator, e: Evaluation, area_names: Mapping[str, str]) -> Item:
    return Item(
        indicator=indicator.name,
        indicator_id=indicator.id,
        area=area_names.get(e.area_code, e.area_code),
        area_code=e.area_code,
        period=quarter_label(e.period_start),
        period_start=e.period_start,
        # A withheld figure rests on data that failed its checks: never show it as a number.
        value="withheld" if e.status is Status.WITHHELD else format_value(indicator, e.value),
        last_year=format_value(indicator, e.comparator_value)
        if e.comparator_value is not None
        else "–",
        status=e.status.value,
        status_label=STATUS_LABELS[e.status],
        reason=e.reason,
        source=indicator.source_label,
    )


def _movement(e: Evaluation, before: set[str] | None) -> str | None:
    told = {Status(s) for s in before or set()}
    if e.status is Status.WITHHELD:
        return "withheld"
    if e.status is Status.RED and Status.AMBER in told:
        return "worsened"
    if e.status in OFF_TRACK and not told & OFF_TRACK:
        return "newly off track"
    if e.status is Status.GREEN and told & OFF_TRACK:
        return "back on track"
    return None


def _subject(period: str, wanted: Sequence[Evaluation]) -> str:
    off = sum(1 for e in wanted if e.status in OFF_TRACK)
    held = sum(1 for e in wanted if e.status is Status.WITHHELD)
    text = f"Community safety indicators {period} — {off} off track"
    return text + (f", {held} withheld" if held else "")


def _sections(
    catalogue: Catalogue,
    plan: Plan,
    wanted: Sequence[Evaluation],
    items: Mapping[int, Item],
    area_names: Mapping[str, str],
) -> tuple[Section, ...]:
    order = list(area_names)
    sections = []
    for priority in plan.priorities:
        blocks = []
        for target in priority.targets:
            rows = sorted(
                (items[id(e)] for e in wanted if e.indicator_id == target.indicator),
                key=lambda i: (-i.period_start.toordinal(), _rank(order, i.area_code)),
            )
            if rows:
                blocks.append((catalogue.get(target.indicator), tuple(rows)))
        if blocks:
            sections.append(Section(priority.name, tuple(blocks)))
    return tuple(sections)


def _rank(order: list[str], code: str) -> int:
    return order.index(code) if code in order else len(order)
