"""Run each indicator's SQL and store its observations for every area and period.

A monthly indicator's grid is every area × every month its source has loaded, zero-filled when
the source covers the whole force, so a CSP with no incidents in a loaded month counts as 0
rather than disappearing; its months are rolled up into quarters. Financial-year quarters start
in April, July, October and January, which are also the calendar quarter starts, so
``date_trunc('quarter', month)`` gives the quarter. A quarterly or yearly indicator (a return, a
DEFRA year) is stored at its own grain, and a partnership that sent no figure has none. The force
figure is the sum of its CSPs, and only when every CSP has one; a force-wide source (stop and
search, call handling) gives the force's figure directly.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

from safer.indicators.definitions import Indicator
from safer.indicators.evaluate import Evaluation, Key, Measured, Observation
from safer.indicators.population import Estimate, PopulationError, merge, parse
from safer.kernel import faults
from safer.kernel.periods import GRAIN_MONTHS, Grain, month_label, period_label, period_start
from safer.store.db import Database, reference_changed

__all__ = [
    "MeasuredSource",
    "load_outcome_groups",
    "Population",
    "load_population",
    "read_population",
    "measure",
    "outcome_labels",
    "store_evaluations",
    "withheld_quarters",
]


def _outcome_rows() -> list[dict[str, str]]:
    text = (resources.files("safer.indicators") / "data" / "outcome_groups.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def outcome_labels() -> tuple[str, ...]:
    """Every outcome label the mapping knows, for the ``outcome_category_known`` check."""
    return tuple(row["label"] for row in _outcome_rows())


BUNDLED_POPULATION = ("la_population.csv", "ons_mid_year_population.csv")
"""The bundled estimates, oldest release first (a later file's figure for the same authority
and year replaces an earlier one's): indicators/data/SOURCES.md."""


@dataclass(frozen=True)
class Population:
    """The estimates to load, read and checked before a run touches the database."""

    text: str
    """The files' names and text: a change of either reloads the table."""
    rows: tuple[Estimate, ...]


def read_population(path: Path | None = None) -> Population:
    """The estimates of ``path`` (``[indicators] population_file``), else the bundled files;
    PopulationError (a ConfigError) names the file, row and field of a row that cannot be
    used."""
    if path is None:
        folder = resources.files("safer.indicators") / "data"
        bundled = [folder / n for n in BUNDLED_POPULATION if (folder / n).is_file()]
        files = [(p.name, p.read_text("utf-8")) for p in bundled]
    else:
        try:
            files = [(str(path), path.read_text("utf-8"))]
        except (OSError, UnicodeDecodeError) as exc:
            raise PopulationError(f"{path}: cannot read the population file: {exc}") from exc
    rows = merge([parse(name, text) for name, text in files])
    return Population(repr(files), tuple(rows))


def load_population(db: Database, found: Population) -> None:
    """Replace ``la_population`` with ``found`` (idempotent)."""
    with db.transaction():
        # One name for whichever files: a change of file or of its text reloads the table.
        if not reference_changed(db, "la_population.csv", found.text):
            return
        db.execute("DELETE FROM la_population")
        db.executemany(
            "INSERT INTO la_population VALUES (?, ?, ?, ?, ?)",
            [(e.la_code, e.la_name, e.mid_year, e.population, e.source) for e in found.rows],
        )


def load_outcome_groups(db: Database) -> None:
    """Replace ``outcome_groups`` with the bundled mapping (idempotent)."""
    rows = [(r["label"], r["group"], r["positive"] == "true") for r in _outcome_rows()]
    text = repr(rows)
    with db.transaction():
        if not reference_changed(db, "outcome_groups.csv", text):
            return
        db.execute("DELETE FROM outcome_groups")
        db.executemany("INSERT INTO outcome_groups VALUES (?, ?, ?)", rows)


def measure(db: Database, indicator: Indicator, pfa_code: str, source: MeasuredSource) -> Measured:
    """Store the indicator's observations for every force in ``areas`` (one, or all in a
    national database); returns them keyed by area and period start.

    ``pfa_code`` is the force a force-wide query's rows belong to when they name none (a
    database of one force). A broken query raises DatabaseError; the caller marks the
    indicator not evaluated and carries on with the others.
    """
    with db.transaction():
        db.execute("DELETE FROM observations WHERE indicator_id = ?", [indicator.id])
        if source.area_level == "csp":
            db.execute(f"CREATE OR REPLACE TEMP TABLE measured AS {indicator.sql}")
        else:
            db.execute(_FORCE_ROWS.format(sql=indicator.sql), [pfa_code])
        pending = _optional_columns(db)
        if indicator.grain == "month":
            grid = _CSP_MONTHS if source.area_level == "csp" else _FORCE_MONTHS
            db.execute(
                grid,
                [
                    indicator.id,
                    indicator.source,
                    indicator.has_denominator,
                    source.zero_fill,
                    pending,
                ],
            )
            db.execute(_QUARTERLY, [indicator.id, indicator.denominator])
        else:
            direct = _CSP_PERIODS if source.area_level == "csp" else _FORCE_PERIODS
            grain = indicator.grain
            db.execute(
                direct, [indicator.id, indicator.has_denominator, grain, GRAIN_MONTHS[grain]]
            )
        db.execute("DROP TABLE measured")
    rows = db.rows(
        "SELECT grain, area_code, period_start, months_loaded, numerator, denominator, pending, "
        "denominator_note FROM observations WHERE indicator_id = ?",
        [indicator.id],
    )
    found: dict[str, dict[Key, Observation]] = {"month": {}, "quarter": {}, "year": {}}
    for grain, area, start, months, num, den, left_out, note in rows:
        found[grain][(area, start)] = Observation(
            indicator.id, area, start, months, num, den, left_out, note
        )
    evaluated = "year" if indicator.grain == "year" else "quarter"
    return Measured(periods=found[evaluated], series=found[indicator.grain], grain=indicator.grain)


def _optional_columns(db: Database) -> bool:
    """Give ``measured`` the optional columns its query left out (NULL); whether it counted
    ``pending`` (a cohort's units with no outcome yet)."""
    have = {str(r[0]) for r in db.rows("SELECT column_name FROM (DESCRIBE measured)")}
    for name, kind in (("pending", "DOUBLE"), ("denominator_note", "VARCHAR")):
        if name not in have:
            db.execute(f"ALTER TABLE measured ADD COLUMN {name} {kind}")
    return "pending" in have


class MeasuredSource(Protocol):
    """What measuring needs to know of an indicator's source (``safer.pipelines.source.Source``)."""

    @property
    def area_level(self) -> str: ...

    @property
    def zero_fill(self) -> bool: ...


# Sums run in DECIMAL: a parallel sum of DOUBLEs can differ in the last bit from run to run,
# which would make an unchanged re-run look like a changed figure. An indicator's query
# returns area_code, period, numerator, denominator; every query below serves every force in
# `areas` at once, each on the periods that force has loaded (`force_periods`).
_VALUE = """CASE WHEN denominator IS NULL THEN numerator::DOUBLE
            WHEN denominator > 0 THEN numerator::DOUBLE / denominator::DOUBLE END"""

# A force-wide query names its force by PFA code; one that names none (a database of one force,
# or a catalogue written before there were several) is the force given ($1).
_FORCE_ROWS = """
CREATE OR REPLACE TEMP TABLE measured AS
SELECT coalesce(q.area_code::VARCHAR, $1) AS area_code, q.* EXCLUDE (area_code)
FROM ({sql}) q
"""

# What a period's denominator is, when its months or partnerships say (they may differ: one
# partnership's newer estimate is not yet another's).
_NOTE = "string_agg(DISTINCT denominator_note, '; ' ORDER BY denominator_note)"

# Every CSP × every month its force has loaded ($1 indicator, $2 source, $3 whether the unit
# has a denominator); a month with no rows for a CSP is 0 when the file covers the whole force
# ($4; its pending count too, when the query counts one: $5), then each force as the sum of
# its CSPs.
_CSP_MONTHS = f"""
INSERT INTO observations
WITH grid AS (
    SELECT a.area_code, a.pfa_code, p.period AS month
    FROM areas a JOIN force_periods p ON p.pfa_code = a.pfa_code AND p.source = $2
    WHERE a.area_type = 'csp'
), csp AS (
    SELECT g.area_code, g.pfa_code, g.month,
           CASE WHEN $4 THEN coalesce(m.numerator, 0) ELSE m.numerator END::DECIMAL(38, 9)
               AS numerator,
           CASE WHEN $3 THEN coalesce(m.denominator, 0)::DECIMAL(38, 9) END AS denominator,
           CASE WHEN $5 THEN coalesce(m.pending, 0)::DECIMAL(38, 9) END AS pending,
           m.denominator_note
    FROM grid g LEFT JOIN measured m ON m.area_code = g.area_code AND m.period = g.month
), everything AS (
    SELECT area_code, month, numerator, denominator, pending, denominator_note
    FROM csp WHERE numerator IS NOT NULL
    UNION ALL
    SELECT pfa_code, month, sum(numerator), sum(denominator), sum(pending), {_NOTE}
    FROM csp GROUP BY pfa_code, month
    HAVING count(numerator) = count(*)
)
SELECT $1, area_code, 'month', month, 1, {_VALUE}, numerator, denominator, pending,
       denominator_note
FROM everything
"""

# A force-wide source: the query's rows for a force and month, summed, are its figure.
_FORCE_MONTHS = f"""
INSERT INTO observations
WITH grid AS (
    SELECT a.area_code, p.period AS month
    FROM areas a JOIN force_periods p ON p.pfa_code = a.area_code AND p.source = $2
    WHERE a.area_type = 'force'
), force AS (
    SELECT g.area_code, g.month,
           CASE WHEN $4 THEN coalesce(m.numerator, 0) ELSE m.numerator END::DECIMAL(38, 9)
               AS numerator,
           CASE WHEN $3 THEN coalesce(m.denominator, 0)::DECIMAL(38, 9) END AS denominator,
           CASE WHEN $5 THEN coalesce(m.pending, 0)::DECIMAL(38, 9) END AS pending,
           m.denominator_note
    FROM grid g LEFT JOIN (
        SELECT area_code, period, sum(numerator) AS numerator, sum(denominator) AS denominator,
               sum(pending) AS pending, {_NOTE} AS denominator_note
        FROM measured GROUP BY area_code, period
    ) m ON m.area_code = g.area_code AND m.period = g.month
)
SELECT $1, area_code, 'month', month, 1, {_VALUE}, numerator, denominator, pending,
       denominator_note
FROM force WHERE numerator IS NOT NULL
"""

# A stock denominator (residents) is averaged over the quarter's months, not added up.
_QUARTERLY = f"""
INSERT INTO observations
WITH q AS (
    SELECT indicator_id, area_code, date_trunc('quarter', period_start)::DATE AS quarter,
           count(*)::INTEGER AS months, sum(numerator::DECIMAL(38, 9)) AS numerator,
           CASE WHEN $2 = 'stock' THEN avg(denominator::DECIMAL(38, 9))
                ELSE sum(denominator::DECIMAL(38, 9)) END AS denominator,
           sum(pending::DECIMAL(38, 9)) AS pending, {_NOTE} AS denominator_note
    FROM observations
    WHERE indicator_id = $1 AND grain = 'month'
    GROUP BY indicator_id, area_code, quarter
)
SELECT indicator_id, area_code, 'quarter', quarter, months, {_VALUE}, numerator, denominator,
       pending, denominator_note
FROM q
"""

# A quarterly or yearly source whose rows name their partnership: each CSP's figure where it
# reported one (a missing return is missing, not zero), and each force's only where every one
# of its CSPs did ($1 indicator, $2 whether the unit has a denominator, $3 grain, $4 months).
_CSP_PERIODS = f"""
INSERT INTO observations
WITH csp AS (
    SELECT m.area_code, a.pfa_code, m.period, sum(m.numerator)::DECIMAL(38, 9) AS numerator,
           CASE WHEN $2 THEN sum(m.denominator)::DECIMAL(38, 9) END AS denominator,
           sum(m.pending)::DECIMAL(38, 9) AS pending, {_NOTE} AS denominator_note
    FROM measured m JOIN areas a ON a.area_code = m.area_code
    WHERE a.area_type = 'csp' AND m.numerator IS NOT NULL
    GROUP BY m.area_code, a.pfa_code, m.period
), everything AS (
    SELECT area_code, period, numerator, denominator, pending, denominator_note FROM csp
    UNION ALL
    SELECT c.pfa_code, c.period, sum(c.numerator), sum(c.denominator), sum(c.pending),
           string_agg(DISTINCT c.denominator_note, '; ' ORDER BY c.denominator_note)
    FROM csp c
    GROUP BY c.pfa_code, c.period
    HAVING count(*) = (SELECT count(*) FROM areas x WHERE x.area_type = 'csp'
                                                    AND x.pfa_code = c.pfa_code)
)
SELECT $1, area_code, $3, period, $4, {_VALUE}, numerator, denominator, pending,
       denominator_note
FROM everything
"""

_FORCE_PERIODS = f"""
INSERT INTO observations
WITH force AS (
    SELECT m.area_code, m.period, sum(m.numerator)::DECIMAL(38, 9) AS numerator,
           CASE WHEN $2 THEN sum(m.denominator)::DECIMAL(38, 9) END AS denominator,
           sum(m.pending)::DECIMAL(38, 9) AS pending, {_NOTE} AS denominator_note
    FROM measured m JOIN areas a ON a.area_code = m.area_code AND a.area_type = 'force'
    WHERE m.numerator IS NOT NULL GROUP BY m.area_code, m.period
)
SELECT $1, area_code, $3, period, $4, {_VALUE}, numerator, denominator, pending,
       denominator_note
FROM force
"""


def withheld_quarters(
    db: Database,
    source: str,
    grain: Grain = "quarter",
    force_id: str | None = None,
    own: str | None = None,
) -> dict[dt.date, str]:
    """Evaluated periods (quarters, or years for a yearly source) holding a period whose file's
    latest batch failed its checks, with the reason: of ``force_id``'s batches when given (a
    national database holds every force's), else of all.

    A ledger row from before batches named their force (migration 008) has no force_id: it is
    the configured force's (``own``, by default ``force_id``). It is grouped with that force's
    later rows, or an old quarantined batch would stay the latest of a group of its own after
    the upgrade and withhold its period for good; and it is no other force's.
    """
    rows = db.rows(
        """
        WITH latest AS (
            SELECT * FROM load_ledger WHERE source = $1 AND status <> 'failed'
              AND ($2::VARCHAR IS NULL OR coalesce(force_id, $3) = $2)
            QUALIFY row_number() OVER (
                PARTITION BY slot, coalesce(force_id, $3) ORDER BY finished_at DESC
            ) = 1
        ), held AS (
            SELECT l.batch_id, l.periods, l.slot, l.file_path,
                   string_agg(q.check_id, ', ' ORDER BY q.check_id) AS checks
            FROM latest l JOIN quarantine q USING (batch_id)
            WHERE l.status = 'quarantined' AND q.released_at IS NULL
            GROUP BY ALL
        )
        SELECT unnest(periods) AS period, slot, file_path, checks FROM held ORDER BY 1, 2
        """,
        [source, force_id, own or force_id],
    )
    reasons: dict[dt.date, list[str]] = defaultdict(list)
    for period, slot, file_path, _checks in rows:
        # In an officer's words: which file, not which check (``safer quarantine list`` and the
        # log name the checks for the operator). A return is named by its file, so its sender
        # knows it; a monthly file by its month.
        name = str(file_path).rsplit("/", 1)[-1]
        monthly = slot == month_label(period)
        what = f"the {period_label(period, 'month')} file" if monthly else f"the file {name}"
        reasons[period_start(period, grain)].append(f"{what} failed its data checks")
    return {start: "; ".join(dict.fromkeys(items)) for start, items in reasons.items()}


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
    "pending_share",
    "comparison_pending_share",
    "denominator_note",
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
    faults.point("evaluations.store")
    with db.transaction():
        db.execute("DELETE FROM evaluations WHERE indicator_id = ?", [indicator_id])
        db.executemany(f"INSERT INTO evaluations ({columns}, run_id) VALUES ({marks})", rows)
        db.executemany(f"INSERT INTO evaluation_log ({columns}, run_id) VALUES ({marks})", changed)
    return len(changed)
