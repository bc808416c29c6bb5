"""Run each indicator's SQL and store monthly and quarterly observations for every area.

The grid is every area × every month the source has loaded, zero-filled, so a CSP with no
incidents in a loaded month counts as 0 rather than disappearing. The force figure is the sum of
its CSPs. Financial-year quarters start in April, July, October and January, which are also the
calendar quarter starts, so ``date_trunc('quarter', month)`` gives the quarter.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from importlib import resources

from indicators.definitions import Indicator
from indicators.evaluate import Evaluation, Key, Measured, Observation
from pipelines.db import Database
from safer.periods import month_label, quarter_start

__all__ = [
    "load_outcome_groups",
    "load_population",
    "measure",
    "outcome_labels",
    "store_evaluations",
    "withheld_quarters",
]


def _outcome_rows() -> list[dict[str, str]]:
    text = (resources.files("indicators") / "data" / "outcome_groups.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def outcome_labels() -> tuple[str, ...]:
    """Every outcome label the mapping knows, for the ``outcome_category_known`` check."""
    return tuple(row["label"] for row in _outcome_rows())


def load_population(db: Database) -> None:
    """Replace ``la_population`` with the bundled estimates (idempotent)."""
    text = (resources.files("indicators") / "data" / "la_population.csv").read_text("utf-8")
    rows = [
        (r["la_code"], r["la_name"], r["financial_year"], int(r["population"]))
        for r in csv.DictReader(text.splitlines())
    ]
    with db.transaction():
        db.execute("DELETE FROM la_population")
        db.executemany("INSERT INTO la_population VALUES (?, ?, ?, ?)", rows)


def load_outcome_groups(db: Database) -> None:
    """Replace ``outcome_groups`` with the bundled mapping (idempotent)."""
    rows = [(r["label"], r["group"], r["positive"] == "true") for r in _outcome_rows()]
    with db.transaction():
        db.execute("DELETE FROM outcome_groups")
        db.executemany("INSERT INTO outcome_groups VALUES (?, ?, ?)", rows)


def measure(db: Database, indicator: Indicator, pfa_code: str) -> Measured:
    """Store the indicator's observations; returns them keyed by area and period start.

    A broken query raises DatabaseError; the caller marks the indicator not evaluated and
    carries on with the others.
    """
    with db.transaction():
        db.execute("DELETE FROM observations WHERE indicator_id = ?", [indicator.id])
        db.execute(f"CREATE OR REPLACE TEMP TABLE measured AS {indicator.sql}")
        has_denominator = indicator.unit in ("rate", "per_1000")
        db.execute(_MONTHLY, [indicator.id, pfa_code, indicator.source, has_denominator])
        db.execute(_QUARTERLY, [indicator.id, indicator.denominator])
        db.execute("DROP TABLE measured")
    rows = db.rows(
        "SELECT grain, area_code, period_start, months_loaded, numerator, denominator "
        "FROM observations WHERE indicator_id = ?",
        [indicator.id],
    )
    found: dict[str, dict[Key, Observation]] = {"month": {}, "quarter": {}}
    for grain, area, start, months, num, den in rows:
        found[grain][(area, start)] = Observation(indicator.id, area, start, months, num, den)
    return Measured(quarters=found["quarter"], months=found["month"])


# Every CSP of the force × every loaded month, zero-filled, then the force as their sum.
# Sums run in DECIMAL: a parallel sum of DOUBLEs can differ in the last bit from run to run,
# which would make an unchanged re-run look like a changed figure.
_MONTHLY = """
INSERT INTO observations
WITH grid AS (
    SELECT a.area_code, p.period AS month
    FROM areas a, source_periods p
    WHERE a.area_type = 'csp' AND a.pfa_code = $2 AND p.source = $3
), csp AS (
    SELECT g.area_code, g.month, coalesce(m.numerator, 0)::DECIMAL(38, 9) AS numerator,
           CASE WHEN $4 THEN coalesce(m.denominator, 0)::DECIMAL(38, 9) END AS denominator
    FROM grid g LEFT JOIN measured m ON m.area_code = g.area_code AND m.month = g.month
), everything AS (
    SELECT * FROM csp
    UNION ALL
    SELECT $2, month, sum(numerator), sum(denominator) FROM csp GROUP BY month
)
SELECT $1, area_code, 'month', month, 1,
       CASE WHEN denominator IS NULL THEN numerator::DOUBLE
            WHEN denominator > 0 THEN numerator::DOUBLE / denominator::DOUBLE END,
       numerator, denominator
FROM everything
"""

# A stock denominator (residents) is averaged over the quarter's months, not added up.
_QUARTERLY = """
INSERT INTO observations
WITH q AS (
    SELECT indicator_id, area_code, date_trunc('quarter', period_start)::DATE AS quarter,
           count(*)::INTEGER AS months, sum(numerator::DECIMAL(38, 9)) AS numerator,
           CASE WHEN $2 = 'stock' THEN avg(denominator::DECIMAL(38, 9))
                ELSE sum(denominator::DECIMAL(38, 9)) END AS denominator
    FROM observations
    WHERE indicator_id = $1 AND grain = 'month'
    GROUP BY ALL
)
SELECT indicator_id, area_code, 'quarter', quarter, months,
       CASE WHEN denominator IS NULL THEN numerator::DOUBLE
            WHEN denominator > 0 THEN numerator::DOUBLE / denominator::DOUBLE END,
       numerator, denominator
FROM q
"""


def withheld_quarters(db: Database, source: str) -> dict[dt.date, str]:
    """Quarters holding a month whose latest file failed its checks, with the reason."""
    rows = db.rows(
        """
        SELECT l.period, l.file_path, string_agg(q.check_id, ', ' ORDER BY q.check_id)
        FROM load_ledger l JOIN quarantine q USING (batch_id)
        WHERE l.source = ? AND l.status = 'quarantined' AND q.released_at IS NULL
          AND l.finished_at = (SELECT max(finished_at) FROM load_ledger x
                               WHERE x.source = l.source AND x.period = l.period
                                 AND x.status <> 'failed')
        GROUP BY ALL ORDER BY l.period
        """,
        [source],
    )
    reasons: dict[dt.date, list[str]] = defaultdict(list)
    for period, file_path, checks in rows:
        name = str(file_path).rsplit("/", 1)[-1]
        reasons[quarter_start(period)].append(
            f"the {month_label(period)} file ({name}) failed its checks ({checks})"
        )
    return {start: "; ".join(items) for start, items in reasons.items()}


_EVALUATION_COLUMNS = (
    "indicator_id",
    "area_code",
    "period_start",
    "status",
    "reason",
    "value",
    "months_loaded",
    "previous_quarter",
    "last_year",
    "rolling_12",
    "previous_rolling_12",
    "rest_of_force",
    "comparator",
    "plan_id",
    "target_form",
    "spc_variation",
    "spc_assurance",
    "spc_text",
    "data_warning",
)


def _evaluation_row(e: Evaluation) -> tuple[object, ...]:
    return tuple(
        getattr(e, name).value if name == "status" else getattr(e, name)
        for name in _EVALUATION_COLUMNS
    )


def store_evaluations(
    db: Database, indicator_id: str, evaluations: list[Evaluation], run_id: str
) -> int:
    """Replace the indicator's evaluations; a changed or new one is logged under ``run_id``.

    An evaluation identical to the stored one keeps the run that first produced it, so a
    re-run with nothing new leaves the database exactly as it was. Returns how many changed.
    """
    columns = ", ".join(_EVALUATION_COLUMNS)
    stored = {
        row[:3]: (row[:-1], row[-1])
        for row in db.rows(
            f"SELECT {columns}, run_id FROM evaluations WHERE indicator_id = ?", [indicator_id]
        )
    }
    rows, changed = [], []
    for evaluation in evaluations:
        row = _evaluation_row(evaluation)
        before = stored.get(row[:3])
        if before is not None and before[0] == row:
            rows.append((*row, before[1]))
        else:
            rows.append((*row, run_id))
            changed.append((*row, run_id))
    marks = ", ".join("?" * (len(_EVALUATION_COLUMNS) + 1))
    with db.transaction():
        db.execute("DELETE FROM evaluations WHERE indicator_id = ?", [indicator_id])
        db.executemany(f"INSERT INTO evaluations ({columns}, run_id) VALUES ({marks})", rows)
        db.executemany(f"INSERT INTO evaluation_log ({columns}, run_id) VALUES ({marks})", changed)
    return len(changed)
