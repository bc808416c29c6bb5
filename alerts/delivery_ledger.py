"""The delivery ledger: each digest's items as they were shown, with the figures and targets
behind them, so a past digest can be reproduced after the data or the plans are revised.

Pure: rows are built from the Digest, the evaluations it was built from and the plans; the
outbox writes them in the same transaction as the digest (``delivery_ledger`` table).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from safer.alerts.model import Digest, Monitored, MonitoredItem
from safer.alerts.model import Row as SummaryRow
from safer.indicators.definitions import Plan
from safer.indicators.evaluate import Evaluation, Status
from safer.kernel.periods import add_months

__all__ = ["COLUMNS", "WITHDRAWN", "ledger_rows"]

COLUMNS = (
    "position",
    "section",
    "indicator_id",
    "indicator",
    "area_code",
    "area",
    "period",
    "period_start",
    "value",
    "value_number",
    "vs_last_quarter",
    "vs_last_year",
    "status",
    "status_label",
    "reason",
    "details",
    "warning",
    "movement",
    "is_new",
    "plan_id",
    "target_form",
    "target",
    "comparator",
    "spc_variation",
    "spc_assurance",
)
"""``delivery_ledger`` columns after ``digest_id``."""

Row = tuple[object, ...]
_Key = tuple[str, str, dt.date]

_BESIDE = ("context", "last year")
"""The sections of figures shown beside a summary row rather than as one."""
_NO_CHANGE = ("n/a", "–")
"""A summary row's change on last year when it shows none (no figure, or withheld)."""

WITHDRAWN = "withdrawn"
"""The status of a row recording that a figure sent before now has no figure."""


def ledger_rows(
    digest: Digest, evaluations: Sequence[Evaluation], plans: Sequence[Plan]
) -> list[Row]:
    """One row per figure the digest shows (summary, then appendix), per movement and per
    revision notice of a period it does not otherwise show, per figure shown beside a summary
    row (the force's, last year's), and per series named as having no current data."""
    found = {(e.indicator_id, e.area_code, e.period_start): e for e in evaluations}
    movements: dict[_Key, str] = {}
    for m in digest.movements:  # most severe first: a figure's row names its gravest movement
        movements.setdefault((m.indicator_id, m.area_code, m.period_start), m.kind.value)
    for r in digest.revisions:
        movements.setdefault((r.indicator_id, r.area_code, r.period_start), r.kind)
    new = set(digest.new_keys)
    rows = []
    entries = [
        (section, fields)
        for section, fields in _entries(digest)
        # A figure beside a row is kept only as a number it can be compared with later.
        if section not in _BESIDE or _key(fields) in found
    ]
    for position, (section, fields) in enumerate(entries, start=1):
        key = _key(fields)
        # A withdrawn figure is recorded as "no figure", whatever part of it remains: the next
        # digest compares with what this one said.
        e = None if fields.get("status") == WITHDRAWN else found.get(key)  # type: ignore[arg-type]
        # What the digest showed wins; the evaluation fills in what it did not show.
        shown = {name: value for name, value in fields.items() if value is not None}
        fields = (
            _evaluated(e, plans)
            | shown
            | {
                "position": position,
                "section": section,
                "movement": movements.get(key),  # type: ignore[arg-type]
                "is_new": e is not None and (*key, e.status.value) in new,
            }
        )
        rows.append(tuple(fields.get(column) for column in COLUMNS))
    return rows


def _key(fields: dict[str, object]) -> tuple[object, object, object]:
    return (fields.get("indicator_id"), fields.get("area_code"), fields.get("period_start"))


def _entries(digest: Digest) -> Iterator[tuple[str, dict[str, object]]]:
    """(section, fields) in the order the digest shows them."""
    shown: set[_Key] = set()
    for row in _summary_rows(digest):
        shown.add((row.indicator_id, row.area_code, row.period_start))
        yield "summary", _row_fields(row)
    for line in digest.monitored:
        for item in (i for shown_item in line.items for i in shown_item.covers or (shown_item,)):
            shown.add((line.indicator_id, item.area_code, item.period_start))
            yield "also monitored", _item_fields(line, item)
    for m in digest.movements:
        if (m.indicator_id, m.area_code, m.period_start) not in shown:
            yield (
                "what moved",
                {
                    "indicator_id": m.indicator_id,
                    "indicator": m.indicator,
                    "area_code": m.area_code,
                    "period_start": m.period_start,
                    "status": m.status.value,
                    "reason": m.text,
                },
            )
    shown |= {(m.indicator_id, m.area_code, m.period_start) for m in digest.movements}
    for section, name, (indicator_id, area, start) in _beside(digest):
        # Figures shown beside a row (the force's; last year's, which the change is on): kept
        # so that a revision of them is told, as the row's own figure is.
        if (indicator_id, area, start) not in shown:
            shown.add((indicator_id, area, start))
            yield (
                section,
                {
                    "indicator_id": indicator_id,
                    "indicator": name,
                    "area_code": area,
                    "period_start": start,
                },
            )
    for r in digest.revisions:
        # A revised figure the digest does not otherwise show (an earlier quarter, or one
        # withdrawn): recorded as it now stands, so the notice is given once.
        if (r.indicator_id, r.area_code, r.period_start) not in shown:
            yield (
                "revised",
                {
                    "indicator_id": r.indicator_id,
                    "indicator": r.indicator,
                    "area_code": r.area_code,
                    "area": r.area,
                    "period": r.period,
                    "period_start": r.period_start,
                    "value": r.now,
                    "status": r.status.value if r.status else WITHDRAWN,
                    "reason": r.text,
                },
            )
    for sentence in digest.stale:
        yield "no current data", {"indicator": sentence, "status": "not_shown", "reason": sentence}


def _summary_rows(digest: Digest) -> Iterator[SummaryRow]:
    """Every summary row, a row standing for several ("All 5 areas: withheld") as those."""
    for shown in digest.rows:
        yield from shown.covers or (shown,)


def _beside(digest: Digest) -> Iterator[tuple[str, str, _Key]]:
    for row in _summary_rows(digest):
        if row.context_area:
            yield "context", row.indicator, (row.indicator_id, row.context_area, row.period_start)
        if row.last_year not in _NO_CHANGE:
            last = add_months(row.period_start, -12)
            yield "last year", row.indicator, (row.indicator_id, row.area_code, last)


def _row_fields(row: SummaryRow) -> dict[str, object]:
    return {
        "indicator_id": row.indicator_id,
        "indicator": row.indicator,
        "area_code": row.area_code,
        "area": row.area,
        "period": row.period,
        "period_start": row.period_start,
        "value": row.figure,
        "vs_last_year": row.last_year,
        "vs_last_quarter": row.last_quarter,
        "status": row.status.value,
        "status_label": row.status_label,
        "reason": row.reason,
        "details": row.chart_caption,
        "warning": row.warning or None,
    }


def _item_fields(line: Monitored, item: MonitoredItem) -> dict[str, object]:
    return {
        "indicator_id": line.indicator_id,
        "indicator": line.indicator,
        "area_code": item.area_code,
        "area": item.area,
        "period_start": item.period_start,
        "value": item.value,
        "vs_last_year": item.change,
        "status": item.status.value,
        "reason": line.why or None,
    }


def _evaluated(e: Evaluation | None, plans: Sequence[Plan]) -> dict[str, object]:
    """The figures and target behind an entry, as they stood (never a withheld number)."""
    if e is None:
        return {}
    shown = e.status is not Status.WITHHELD
    return {
        "indicator": e.indicator_id,  # when the digest did not name it
        "reason": e.reason,
        "status": e.status.value,
        "period": e.period_label,
        "value_number": e.value if shown else None,
        "comparator": e.comparator if shown else None,
        "plan_id": e.plan_id,
        "target_form": e.target_form,
        "target": _target(e, plans),
        "spc_variation": e.spc_variation,
        "spc_assurance": e.spc_assurance,
    }


def _target(e: Evaluation, plans: Sequence[Plan]) -> str | None:
    """The plan's target for the figure as JSON, worded and valued as the plan stood then."""
    plan = next((p for p in plans if p.id == e.plan_id), None)
    target = plan.target_for(e.indicator_id) if plan else None
    return target.model_dump_json() if target else None
