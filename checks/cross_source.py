"""Checks across sources, run after loading on what the indicators were computed from and what
they computed. The checks are plain data (``Check``); ``checks.gx_runner`` runs them.

The suite runs over a small check file holding two tables, both built inside DuckDB from the main
database (``build_check_file``):

- ``figures``: every observation (indicator × area × month or quarter) with its unit and source;
- ``area_rows``: rows per source period per Community Safety Partnership of the force.

Error-level failures withhold figures; warnings are shown beside them. Every failing key is
read back with the same query (``failing_rows``), not just GX's sample, so nothing flagged is
left unmarked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safer.checks.models import Check, DataFlag, Severity, UnexpectedRows
from safer.kernel.periods import month_label, quarter_label
from safer.store.db import Database, connect_staging

__all__ = [
    "SUITE",
    "TABLE",
    "CrossSourceLimits",
    "build_check_file",
    "cross_source_suite",
    "failing_rows",
    "fingerprint",
    "flags_from",
]

SUITE = "cross_source"
TABLE = "figures"


@dataclass(frozen=True)
class CrossSourceLimits:
    plausible_ratio: float = 3.0
    """A quarter more than this many times the same quarter last year (or less than its
    reciprocal) is a warning."""
    far_from_limits: float = 2.0
    """A month further from the mean than this multiple of the process-limit distance is a
    warning: a point beyond the limits is special cause; one far beyond them is suspect data."""
    minimum_points: int = 12


def cross_source_suite(limits: CrossSourceLimits) -> list[Check]:
    """Every cross-source check, in the order the digest reports them."""
    error, warning = Severity.ERROR, Severity.WARNING
    key = "indicator_id, area_code, grain, period_start"
    return [
        Check(
            "areas_present",
            error,
            "every Community Safety Partnership has rows in every loaded month of every source",
            # GX wants every query to read the batch table; this one reads its sibling, so
            # it names the batch in a condition that always holds.
            UnexpectedRows(
                "SELECT source, period, area_code FROM area_rows "
                "WHERE rows = 0 AND (SELECT count(*) FROM {batch}) >= 0"
            ),
        ),
        Check(
            "counts_non_negative",
            error,
            "no count, numerator or denominator is negative",
            UnexpectedRows(
                f"SELECT {key}, value FROM {{batch}} "
                "WHERE numerator < 0 OR denominator < 0 OR (unit = 'count' AND value < 0)"
            ),
        ),
        Check(
            "rates_within_0_1",
            error,
            "every rate lies between 0% and 100%",
            UnexpectedRows(
                f"SELECT {key}, value FROM {{batch}} "
                "WHERE unit = 'rate' AND (value < 0 OR value > 1)"
            ),
        ),
        Check(
            "numerator_within_denominator",
            error,
            "no rate's numerator exceeds its denominator",
            UnexpectedRows(
                f"SELECT {key}, value FROM {{batch}} "
                "WHERE unit = 'rate' AND numerator > denominator"
            ),
        ),
        Check(
            "keys_unique",
            error,
            "each indicator has one figure per area and period",
            UnexpectedRows(
                f"SELECT {key}, count(*) AS value FROM {{batch}} GROUP BY ALL HAVING count(*) > 1"
            ),
        ),
        Check(
            "plausible_against_last_year",
            warning,
            f"no quarter is more than {limits.plausible_ratio:g} times (or less than "
            f"1/{limits.plausible_ratio:g} of) the same quarter last year",
            UnexpectedRows(_vs_last_year(limits.plausible_ratio)),
        ),
        Check(
            "near_process_limits",
            warning,
            f"no month lies more than {limits.far_from_limits:g} times as far from the mean as "
            "the SPC process limits",
            UnexpectedRows(_far_from_limits(limits)),
        ),
    ]


def _vs_last_year(ratio: float) -> str:
    return (
        "SELECT q.indicator_id, q.area_code, q.grain, q.period_start, q.value, "
        "ly.value AS last_year FROM {batch} q JOIN {batch} ly "
        "ON ly.indicator_id = q.indicator_id AND ly.area_code = q.area_code "
        "AND ly.grain = 'quarter' AND ly.period_start = q.period_start - INTERVAL 1 YEAR "
        "WHERE q.grain = 'quarter' AND q.months_loaded = 3 AND ly.months_loaded = 3 "
        f"AND q.value > 0 AND ly.value > 0 AND (q.value > {ratio!r} * ly.value "
        f"OR q.value * {ratio!r} < ly.value)"
    )


def _far_from_limits(limits: CrossSourceLimits) -> str:
    # The same centre and limits as an XmR chart over the whole monthly series (2.66 × mean
    # moving range); a gap in the months does not matter at this coarse a threshold.
    return (
        "WITH s AS (SELECT indicator_id, area_code, grain, period_start, value, "
        "abs(value - lag(value) OVER w) AS mr FROM {{batch}} "
        "WHERE grain = 'month' AND value IS NOT NULL "
        "WINDOW w AS (PARTITION BY indicator_id, area_code ORDER BY period_start)), "
        "c AS (SELECT indicator_id, area_code, avg(value) AS mean, avg(mr) AS mr_bar, "
        "count(*) AS n FROM s GROUP BY ALL) "
        "SELECT s.indicator_id, s.area_code, s.grain, s.period_start, s.value, c.mean "
        "FROM s JOIN c USING (indicator_id, area_code) "
        f"WHERE c.n >= {limits.minimum_points} AND c.mr_bar > 0 "
        f"AND abs(s.value - c.mean) > {limits.far_from_limits!r} * 2.66 * c.mr_bar"
    ).replace("{{batch}}", "{batch}")


def build_check_file(
    db: Database,
    path: Path,
    pfa_code: str,
    units: dict[str, str],
    located: Sequence[tuple[str, str]] = (("police_uk_street", "police_street"),),
) -> None:
    """Write the suite's two tables to ``path`` from the main database, inside DuckDB.

    ``units`` maps each indicator id to its unit; observations of other ids are left out.
    ``located`` names each (source, table) whose whole-force files place rows in partnerships:
    a partnership with no rows in one of their months is a broken file.
    """
    path.unlink(missing_ok=True)
    db.attach(path, "chk", writable=True)
    try:
        db.execute("CREATE TEMP TABLE units (indicator_id VARCHAR, unit VARCHAR)")
        db.executemany("INSERT INTO units VALUES (?, ?)", sorted(units.items()))
        db.execute(
            "CREATE TABLE chk.figures AS SELECT o.*, u.unit FROM observations o "
            "JOIN units u USING (indicator_id)"
        )
        db.execute(
            "CREATE TABLE chk.area_rows (source VARCHAR, period DATE, area_code VARCHAR, "
            "rows BIGINT)"
        )
        for source, table in located:
            db.execute(
                "INSERT INTO chk.area_rows "
                "SELECT p.source, p.period, a.area_code, count(s.record_no) AS rows "
                "FROM source_periods p JOIN areas a ON a.area_type = 'csp' AND a.pfa_code = ? "
                f"LEFT JOIN {table} s ON s.period = p.period AND s.csp_code = a.area_code "
                "WHERE p.source = ? GROUP BY ALL",
                [pfa_code, source],
            )
        db.execute("DROP TABLE units")
    finally:
        db.detach("chk")


def fingerprint(db: Database, units: dict[str, str], checks: Sequence[Check]) -> str:
    """A hash of everything the suite looks at and of the checks themselves: while it holds,
    the suite need not run again (and Great Expectations need not even be imported)."""
    figures = db.scalar(
        "SELECT bit_xor(hash(indicator_id, area_code, grain, period_start, months_loaded, "
        "value, numerator, denominator)) FROM observations WHERE list_contains(?, indicator_id)",
        [sorted(units)],
    )
    periods = db.scalar("SELECT bit_xor(hash(source, period, batch_id, rows)) FROM source_periods")
    setup = hashlib.sha256(repr((sorted(units.items()), list(checks))).encode()).hexdigest()[:12]
    return f"{figures or 0:x}-{periods or 0:x}-{setup}"


def failing_rows(path: Path, check: Check) -> list[dict[str, Any]]:
    """Every row the check's query flags, not just GX's sample."""
    assert isinstance(check.rule, UnexpectedRows)
    query = check.rule.query.replace("{batch}", TABLE).replace("{{", "{").replace("}}", "}")
    with connect_staging(path) as db:
        return db.dicts(f"{query} ORDER BY ALL")


Formatter = Callable[[str, float], str]


def flags_from(
    check: Check, rows: Sequence[Mapping[str, Any]], fmt: Formatter, names: Mapping[str, str]
) -> list[DataFlag]:
    """The flags for one failed check's rows; ``fmt`` shows a value in its indicator's unit."""
    flags = []
    for row in rows:
        area = names.get(str(row["area_code"]), str(row["area_code"]))
        if check.id == "areas_present":
            period: dt.date = row["period"]
            flags.append(
                DataFlag(
                    check.id,
                    check.severity,
                    period,
                    f"the {month_label(period)} source file has no rows for {area}",
                    source=str(row["source"]),
                    area_code=str(row["area_code"]),
                )
            )
            continue
        indicator, period = str(row["indicator_id"]), row["period_start"]
        when = quarter_label(period) if row["grain"] == "quarter" else f"{period:%b %Y}"
        value = row.get("value")
        shown = "no figure" if value is None else fmt(indicator, float(value))
        flags.append(
            DataFlag(
                check.id,
                check.severity,
                period,
                f"{area}, {when}: {_what(check.id, row, shown, fmt, indicator)}",
                indicator_id=indicator,
                area_code=str(row["area_code"]),
            )
        )
    return flags


def _what(check_id: str, row: Mapping[str, Any], shown: str, fmt: Formatter, indicator: str) -> str:
    if check_id == "plausible_against_last_year":
        last = fmt(indicator, float(row["last_year"]))
        return f"{shown} is far from the same quarter last year ({last}); check the source"
    if check_id == "near_process_limits":
        mean = fmt(indicator, float(row["mean"]))
        return f"{shown} lies far outside the SPC limits (mean {mean}); check the source"
    if check_id == "keys_unique":
        return f"{int(row['value'])} figures for one period"
    texts = {
        "counts_non_negative": "a negative figure",
        "rates_within_0_1": "a rate outside 0–100%",
        "numerator_within_denominator": "more in the numerator than the denominator",
    }
    return f"{texts.get(check_id, 'failed ' + check_id)} ({shown})"
