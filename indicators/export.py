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
)


def export_observations(db: Database, out: TextIO) -> int:
    """Write every quarterly observation, force first; returns the number of rows."""
    rows = db.rows(
        """
        SELECT o.indicator_id, o.area_code, a.area_name, o.period_start, o.months_loaded,
               o.value, o.numerator, o.denominator, e.status, e.reason
        FROM observations o
        JOIN areas a USING (area_code)
        LEFT JOIN evaluations e USING (indicator_id, area_code, period_start)
        WHERE o.grain = 'quarter'
        ORDER BY o.indicator_id, a.area_type DESC, a.area_name, o.period_start
        """
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for indicator, code, name, start, months, value, num, den, status, reason in rows:
        writer.writerow(
            [
                indicator,
                code,
                name,
                quarter_label(start),
                start.isoformat(),
                months,
                "" if value is None else f"{value:.6g}",
                f"{num:g}",
                "" if den is None else f"{den:g}",
                status or "",
                reason or "",
            ]
        )
    return len(rows)
