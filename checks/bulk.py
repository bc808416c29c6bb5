"""A suite's checks over many files in one pass of plain DuckDB SQL, for national backfills.

Great Expectations checks one staged batch at a time and costs about half a second a run
(gx-duckdb-probe.md; bench/checks_bench.py): for 43 forces × 36 months that is 13 minutes before
a row is loaded. A backfill instead evaluates the very same ``Check`` definitions (the suite a
normal run gives to GX) for every file of a month in one aggregate query grouped by file: each
row-level rule becomes a ``count(*) FILTER (WHERE …)``. Only rules that say which rows fail as a
condition can be run this way (``rows_where``, ``NotNull``, ``ValuesInSet``), plus row counts
and headers; anything else is refused, not skipped. Failing files get a sample of failing rows
read back from that one file, as in a normal run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from safer.checks.models import (
    Check,
    CheckResult,
    ColumnsExactly,
    NotNull,
    RowCountBetween,
    UnexpectedRows,
    ValuesInSet,
)
from safer.kernel.errors import CheckError
from safer.store.db import Database

__all__ = ["check_files", "condition_of", "sample_rows"]

SAMPLE_ROWS = 5


def condition_of(check: Check) -> str | None:
    """The rule as a SQL condition on one row (None for a whole-table rule)."""
    rule = check.rule
    if isinstance(rule, NotNull):
        return f"{_q(rule.column)} IS NULL"
    if isinstance(rule, ValuesInSet):
        allowed = ", ".join(_literal(v) for v in rule.values)
        return f"{_q(rule.column)} IS NOT NULL AND {_q(rule.column)} NOT IN ({allowed})"
    if isinstance(rule, UnexpectedRows):
        if rule.condition is None:
            if rule.aggregate is not None:
                return None  # counted by ``_measure``, over the whole file
            raise CheckError(f"check {check.id}: its rule is a query, not a row condition")
        return rule.condition.replace("{{", "{").replace("}}", "}")
    if isinstance(rule, (ColumnsExactly, RowCountBetween)):
        return None
    raise CheckError(f"check {check.id}: {type(rule).__name__} cannot be checked in bulk")


def check_files(
    db: Database,
    table: str,
    files: Sequence[str],
    checks: Sequence[Check],
    headers: Mapping[str, tuple[str, ...]],
    totals: dict[str, int] | None = None,
) -> dict[str, list[CheckResult]]:
    """Every check's result for every file of ``table`` (``files`` read with a ``filename``
    column); ``headers`` is each file's header, for the column check. Each file's row count is
    put in ``totals`` when given."""
    expected = next((c for c in checks if isinstance(c.rule, ColumnsExactly)), None)
    fit = [f for f in files if expected is None or _header_ok(expected, headers.get(f, ()))]
    row_checks = [(c, sql) for c in checks if (sql := _measure(c)) is not None]
    # With no file fit, the table may lack the columns the row checks read: rows only.
    counts = _counts(db, table, row_checks if fit else [])
    found: dict[str, list[CheckResult]] = {}
    for name in files:
        numbers = counts.get(name, [0] * (len(row_checks) + 1))
        if name not in fit:
            assert expected is not None
            found[name] = _drifted(checks, expected, headers.get(name, ()), numbers[0])
            continue
        if totals is not None:
            totals[name] = numbers[0]
        found[name] = _results(checks, row_checks, expected, numbers)
    return found


def _header_ok(check: Check, header: tuple[str, ...]) -> bool:
    assert isinstance(check.rule, ColumnsExactly)
    return ("record_no", *header) == check.rule.columns


def _drifted(
    checks: Sequence[Check], expected: Check, header: tuple[str, ...], total: int
) -> list[CheckResult]:
    """A file whose columns drifted gets the table rules only, as GX gives it
    (``gx_runner._runnable``): the drift, and its row count, which does not depend on which
    column is which."""
    return [
        _drift(check, header) if check is expected else _row_count(check, total)
        for check in checks
        if check is expected or isinstance(check.rule, RowCountBetween)
    ]


def _row_count(check: Check, total: int) -> CheckResult:
    assert isinstance(check.rule, RowCountBetween)
    ok = check.rule.min_rows <= total <= check.rule.max_rows
    return CheckResult(check, ok, observed=str(total))


def _drift(check: Check, header: tuple[str, ...]) -> CheckResult:
    from safer.checks.gx_runner import _column_drift  # the same words as a normal run's

    assert isinstance(check.rule, ColumnsExactly)
    return CheckResult(
        check, False, observed=_column_drift(check.rule.columns, ["record_no", *header])
    )


def _counts(
    db: Database, table: str, row_checks: Sequence[tuple[Check, str]]
) -> dict[str, list[int]]:
    filters = "".join(f", {sql}" for _, sql in row_checks)
    rows = db.rows(f"SELECT filename, count(*){filters} FROM {_q(table)} GROUP BY filename")
    return {str(row[0]): [int(v) for v in row[1:]] for row in rows}


def _measure(check: Check) -> str | None:
    """The check's failing rows in one file, as an aggregate (None for a table rule)."""
    rule = check.rule
    if isinstance(rule, UnexpectedRows) and rule.condition is None and rule.aggregate:
        return rule.aggregate.replace("{{", "{").replace("}}", "}")
    condition = condition_of(check)
    return None if condition is None else f"count(*) FILTER (WHERE {condition})"


def _results(
    checks: Sequence[Check],
    row_checks: Sequence[tuple[Check, str]],
    expected: Check | None,
    numbers: Sequence[int],
) -> list[CheckResult]:
    total, failing = numbers[0], dict(zip((c.id for c, _ in row_checks), numbers[1:], strict=True))
    results = []
    for check in checks:
        if check is expected:
            results.append(CheckResult(check, True))
        elif isinstance(check.rule, RowCountBetween):
            results.append(_row_count(check, total))
        else:
            count = failing[check.id]
            results.append(CheckResult(check, count == 0, unexpected_count=count))
    return results


def sample_rows(
    db: Database, table: str, filename: str, check: Check
) -> tuple[dict[str, Any], ...]:
    """The first failing rows of one file in ``table`` (a month's files read in order, with a
    ``filename`` column), numbered as its data rows (line = record_no + 1)."""
    numbered = (
        "(SELECT row_number() OVER (ORDER BY rowid) AS record_no, * "
        f"FROM {_q(table)} WHERE filename = $1)"
    )
    rule = check.rule
    if isinstance(rule, UnexpectedRows) and rule.condition is None and rule.aggregate:
        query = rule.query.replace("{batch}", numbered).replace("{{", "{").replace("}}", "}")
        rows = db.dicts(f"{query} ORDER BY 1 LIMIT {SAMPLE_ROWS}", [filename])
    else:
        condition = condition_of(check)
        if condition is None:
            return ()
        rows = db.dicts(
            f"SELECT * FROM {numbered} WHERE {condition} ORDER BY record_no LIMIT {SAMPLE_ROWS}",
            [filename],
        )
    return tuple({k: v for k, v in row.items() if k != "filename"} for row in rows)


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
