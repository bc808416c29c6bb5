"""Runs a suite with Great Expectations (GX Core 1.x) over a staged batch in a DuckDB file.

GX is imported here only, and only when a batch is checked: its import costs about 2.4 s and
200 MiB (gx-duckdb-probe.md §2), so a run with nothing new never pays it.

Workaround (probe §4): GX 1.24.1 reads query results after closing its connection, and DuckDB
discards pending results on the rollback that closing issues, so every metric fails with
"list index out of range". Adding duckdb to GX's persisted-connection dialects keeps one
connection open. It patches a private name, so great-expectations is pinned exactly and
tests/test_gx_workaround.py fails if the patch stops applying or stops being needed.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from safer.checks.models import (
    TABLE_RULES,
    Check,
    CheckResult,
    ColumnsExactly,
    ColumnsInclude,
    ColumnsMatchSet,
    NotNull,
    RowCountBetween,
    UnexpectedRows,
    ValuesInSet,
)
from safer.kernel.errors import CheckError
from safer.store.db import connect_staging

__all__ = ["apply_duckdb_workaround", "run_suite"]

logger = logging.getLogger(__name__)
SAMPLE_ROWS = 5


class _DuckDBDialectName(str):
    """GX compares dialect members with == and also reads ``.value`` (probe §4)."""

    value = "duckdb"


def apply_duckdb_workaround() -> bool:
    """Make GX keep one DuckDB connection per engine; returns False if already applied."""
    import great_expectations.execution_engine.sqlalchemy_execution_engine as sae

    module: Any = sae
    current = module._PERSISTED_CONNECTION_DIALECTS
    if any(getattr(item, "value", item) == "duckdb" for item in current):
        return False
    module._PERSISTED_CONNECTION_DIALECTS = (*current, _DuckDBDialectName("duckdb"))
    return True


def run_suite(
    database: Path, table: str, suite_name: str, checks: list[Check]
) -> list[CheckResult]:
    """Validate ``table`` in the DuckDB file ``database``; raises CheckError if GX itself fails.

    The file is released before returning, so the caller can attach it again.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    checks = _runnable(database, table, checks)
    apply_duckdb_workaround()
    context = gx.get_context(mode="ephemeral")
    # Otherwise tqdm draws "Calculating Metrics" bars on stderr in cron logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    sources: Any = context.data_sources
    source: Any = None
    try:
        source = sources.add_sql(
            name=suite_name,
            connection_string=f"duckdb:///{database.resolve()}",
            kwargs={"connect_args": {"read_only": True}},
        )
        batch = source.add_table_asset(name=table, table_name=table)
        definition = batch.add_batch_definition_whole_table("whole")
        suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
        for check in checks:
            suite.add_expectation(_expectation(check))
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite_name, data=definition, suite=suite)
        )
        outcome = validation.run(
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS}
        )
        by_id = {_check_id(r): r for r in outcome.results}
        results = [_result(check, by_id.get(check.id)) for check in checks]
    except CheckError:
        raise
    except Exception as exc:  # noqa: BLE001 - any GX failure means "could not check", not bad data
        raise CheckError(f"{database}: GX could not run suite {suite_name}: {exc}") from exc
    finally:
        if source is not None:
            _release(source)
    return _with_samples(database, table, results)


def _runnable(database: Path, table: str, checks: list[Check]) -> list[Check]:
    """When the columns drift, only the table-level checks can run: the schema check then says
    which column was renamed, instead of a column check erroring inside GX (which would also
    abort the one shared connection's transaction for every check after it)."""
    rules = [c.rule for c in checks if isinstance(c.rule, TABLE_RULES[:3])]
    if not rules:
        return checks
    with connect_staging(database) as db:
        found = db.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        )
    columns = tuple(str(name) for (name,) in found)
    if all(_columns_hold(rule, columns) for rule in rules):
        return checks
    return [c for c in checks if isinstance(c.rule, TABLE_RULES)]


def _columns_hold(rule: object, found: tuple[str, ...]) -> bool:
    if isinstance(rule, ColumnsExactly):
        return found == rule.columns
    if isinstance(rule, ColumnsMatchSet):
        return sorted(found) == sorted(rule.columns)
    assert isinstance(rule, ColumnsInclude)
    return set(rule.columns) <= set(found)


def _check_id(result: Any) -> str:
    config = result.expectation_config
    return "" if config is None else str(config.meta["check_id"])


def _expectation(check: Check) -> Any:
    import great_expectations.expectations

    gxe: Any = great_expectations.expectations

    meta = {"check_id": check.id}
    rule = check.rule
    if isinstance(rule, ColumnsExactly):
        return gxe.ExpectTableColumnsToMatchOrderedList(column_list=list(rule.columns), meta=meta)
    if isinstance(rule, (ColumnsInclude, ColumnsMatchSet)):
        return gxe.ExpectTableColumnsToMatchSet(
            column_set=list(rule.columns),
            exact_match=isinstance(rule, ColumnsMatchSet),
            meta=meta,
        )
    if isinstance(rule, RowCountBetween):
        return gxe.ExpectTableRowCountToBeBetween(
            min_value=rule.min_rows, max_value=rule.max_rows, meta=meta
        )
    if isinstance(rule, ValuesInSet):
        return gxe.ExpectColumnValuesToBeInSet(
            column=rule.column, value_set=list(rule.values), meta=meta
        )
    if isinstance(rule, NotNull):
        return gxe.ExpectColumnValuesToNotBeNull(column=rule.column, meta=meta)
    if isinstance(rule, UnexpectedRows):
        return _counted_rows_expectation()(unexpected_rows_query=rule.query, meta=meta)
    raise CheckError(f"check {check.id}: {type(rule).__name__} is not run by GX")


@functools.cache
def _counted_rows_expectation() -> type[Any]:
    """GX's UnexpectedRowsExpectation without the fetch of failing rows we never read.

    GX runs each unexpected-rows query twice: once to fetch up to 200 failing rows (returned only
    under result_format COMPLETE; _with_samples fetches ours itself) and once to count them. On a
    clean batch the fetch is a second full scan, and for the regex checks on 1M rows it was the
    largest part of GX's cost over plain SQL (bench/checks_bench.py). This subclass asks only for
    the count and returns what SUMMARY gave: success when it is 0, the count as observed_value.
    Defined on first use, as GX is imported only when a batch is checked.
    """
    from great_expectations.expectations.core.unexpected_rows_expectation import (
        UnexpectedRowsExpectation,
    )

    class UnexpectedRowsCounted(UnexpectedRowsExpectation):
        metric_dependencies = ("unexpected_rows_query.row_count",)

        def _validate(
            self,
            metrics: dict[str, Any],
            runtime_configuration: dict[str, Any] | None = None,
            execution_engine: Any = None,
        ) -> dict[str, Any]:
            count = int(metrics["unexpected_rows_query.row_count"])
            return {"success": count == 0, "result": {"observed_value": count}}

    return UnexpectedRowsCounted


def _result(check: Check, found: Any) -> CheckResult:
    if found is None:
        raise CheckError(f"check {check.id}: GX returned no result")
    info = found.exception_info or {}
    raised = info.get("raised_exception") if "raised_exception" in info else bool(info)
    if raised:
        # A broken check must not look like bad data (probe §7): stop loudly instead.
        raise CheckError(f"check {check.id}: GX could not evaluate it: {_first_error(info)}")
    result = found.result or {}
    observed = result.get("observed_value")
    unexpected = result.get("unexpected_count")
    if isinstance(check.rule, UnexpectedRows):
        unexpected, observed = observed, None
    if isinstance(check.rule, (ColumnsExactly, ColumnsInclude, ColumnsMatchSet)):
        drift = _column_drift(check.rule.columns, observed, isinstance(check.rule, ColumnsInclude))
        observed = drift if not found.success else None
    sample = tuple({"value": v} for v in result.get("partial_unexpected_list") or ())
    return CheckResult(
        check=check,
        success=bool(found.success),
        observed=None if observed is None else str(observed),
        unexpected_count=None if unexpected is None else int(unexpected),
        sample=sample,
    )


def _column_drift(expected: tuple[str, ...], found: Any, extra_ok: bool = False) -> str:
    if isinstance(found, dict):  # ExpectTableColumnsToMatchSet reports the observed list here
        found = found.get("observed_value", found)
    found_list = [str(c) for c in found or ()]
    missing = [c for c in expected if c not in found_list]
    extra = [] if extra_ok else [c for c in found_list if c not in expected]
    parts = []
    if missing:
        parts.append("missing " + ", ".join(repr(c) for c in missing))
    if extra:
        parts.append("unexpected " + ", ".join(repr(c) for c in extra))
    return "; ".join(parts) or "the same columns in another order: " + ", ".join(found_list)


def _first_error(info: dict[str, Any]) -> str:
    if "exception_message" in info:
        return str(info["exception_message"])
    for value in info.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"])
    return json.dumps(info, default=str)[:500]


def _with_samples(database: Path, table: str, results: list[CheckResult]) -> list[CheckResult]:
    """GX samples values, not rows: fetch the first failing rows with their record numbers.

    Read through our own connection once GX has let go of the file; GX's shared connection can
    be left inside a transaction after a validation, and a further query on it then fails.
    """
    wanted = [(r, q) for r in results if not r.success and (q := _sample_query(r.check, table))]
    if not wanted:
        return results
    samples: dict[str, tuple[dict[str, Any], ...]] = {}
    with connect_staging(database) as db:
        for result, query in wanted:
            rows = db.dicts(f"{query} ORDER BY 1 LIMIT {SAMPLE_ROWS}")
            samples[result.check.id] = tuple(rows)
    return [replace(r, sample=samples[r.check.id]) if r.check.id in samples else r for r in results]


def _sample_query(check: Check, table: str) -> str | None:
    rule = check.rule
    if isinstance(rule, UnexpectedRows):
        query = rule.query.replace("{batch}", f'"{table}"')
        return query.replace("{{", "{").replace("}}", "}")
    if isinstance(rule, ValuesInSet):
        column = rule.column.replace('"', '""')
        allowed = ", ".join("'" + v.replace("'", "''") + "'" for v in rule.values)
        return (
            f'SELECT record_no, "{column}" FROM "{table}" '
            f'WHERE "{column}" IS NOT NULL AND "{column}" NOT IN ({allowed})'
        )
    if isinstance(rule, NotNull):
        column = rule.column.replace('"', '""')
        return f'SELECT record_no, "{column}" FROM "{table}" WHERE "{column}" IS NULL'
    return None


def _release(source: Any) -> None:
    """Close both of GX's engines so the DuckDB file lock is freed (probe §8)."""
    try:
        engine = source.get_execution_engine()
        connection = getattr(engine, "_connection", None)
        if connection is not None:
            connection.close()
            engine._connection = None
        engine.engine.dispose()
        source.get_engine().dispose()
    except Exception:  # noqa: BLE001 - releasing must never mask the real outcome
        logger.exception("could not release the GX engines")
    gc.collect()
