"""``safer export``: the computed observations with their status, as CSV for analysts."""

from __future__ import annotations

import csv
from typing import TextIO

from pipelines.db import Database
from safer.periods import quarter_label

__all__ = ["COLUMNS", "export_observations"]

COLUMNS = (
    "indicator",
    "area_code",
    "area_name",
    "period",
    "period_start",
    "months_loaded",
    "value",
    "numerator",
    "denominator",
    "status",
    "reason",
    "previous_quarter",
    "last_year",
    "rolling_12",
    "previous_rolling_12",
    "rest_of_force",
    "plan_id",
    "target_form",
    "spc_variation",
    "spc_assurance",
    "spc_text",
)


def export_observations(db: Database, out: TextIO) -> int:
    """Write every quarterly observation, force first; returns the number of rows."""
    rows = db.rows(
        """
        SELECT o.indicator_id, o.area_code, a.area_name, o.period_start, o.months_loaded,
               o.value, o.numerator, o.denominator, e.status, e.reason, e.previous_quarter,
               e.last_year, e.rolling_12, e.previous_rolling_12, e.rest_of_force, e.plan_id,
               e.target_form, e.spc_variation, e.spc_assurance, e.spc_text
        FROM observations o
        JOIN areas a USING (area_code)
        LEFT JOIN evaluations e USING (indicator_id, area_code, period_start)
        WHERE o.grain = 'quarter'
        ORDER BY o.indicator_id, a.area_type DESC, a.area_name, o.period_start
        """
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for indicator, code, name, start, months, *rest in rows:
        writer.writerow(
            [indicator, code, name, quarter_label(start), start.isoformat(), months]
            + [_cell(item) for item in rest]
        )
    return len(rows)


def _cell(item: object) -> str:
    if item is None:
        return ""
    if isinstance(item, float):
        return f"{item:.10g}"
    return str(item)
