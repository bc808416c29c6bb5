"""The delivery ledger: each digest's items as they were shown, with the figures and targets
behind them, so a past digest can be reproduced after the data or the plans are revised.

Pure: rows are built from the Digest, the evaluations it was built from and the plans; the
outbox writes them in the same transaction as the digest (``delivery_ledger`` table).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from alerts.digest import Digest, Item
from indicators.definitions import Plan
from indicators.evaluate import Evaluation, Status

__all__ = ["COLUMNS", "ledger_rows"]

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


def ledger_rows(
    digest: Digest, evaluations: Sequence[Evaluation], plans: Sequence[Plan]
) -> list[Row]:
    """One row per item of ``digest``'s tables, and per block shown without figures."""
    found = {(e.indicator_id, e.area_code, e.period_start): e for e in evaluations}
    movements = {_key(m.item): m.kind for m in digest.movements}
    new = set(digest.new_keys)
    rows = []
    for position, (section, item, name, why) in enumerate(_entries(digest), start=1):
        fields: dict[str, object] = {"position": position, "section": section}
        if item is None:
            fields |= {"indicator": name, "status": "not_shown", "reason": why, "is_new": False}
        else:
            key = _key(item)
            fields |= _item_fields(item, found.get(key), plans)
            fields |= {"movement": movements.get(key), "is_new": (*key, item.status) in new}
        rows.append(tuple(fields.get(column) for column in COLUMNS))
    return rows


def _entries(digest: Digest) -> Iterator[tuple[str | None, Item | None, str, str]]:
    """(section, item, block name, why no figures) in the order the digest shows them."""
    shown: set[_Key] = set()
    for section in digest.sections:
        for block in section.blocks:
            for item in block.rows:
                shown.add(_key(item))
                yield section.priority, item, block.name, ""
            if not block.rows:
                yield section.priority, None, block.name, block.missing or ""
    # Every movement is in the tables too today; kept should that ever change.
    for movement in digest.movements:
        if _key(movement.item) not in shown:
            yield None, movement.item, movement.item.indicator, ""


def _item_fields(item: Item, e: Evaluation | None, plans: Sequence[Plan]) -> dict[str, object]:
    fields: dict[str, object] = {
        name: getattr(item, name) for name in COLUMNS if name in Item.__dataclass_fields__
    }
    if e is None:
        return fields
    shown = e.status is not Status.WITHHELD  # a withheld figure is never kept as a number
    return fields | {
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


def _key(item: Item) -> _Key:
    return item.indicator_id, item.area_code, item.period_start
