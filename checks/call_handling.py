"""The suite for a call-handling return (template ``call-handling-v1``), staged as text.

One row per force and month. Staged columns keep the template's names and are all text, with a
leading ``row`` (the spreadsheet row or CSV line), so every failure names its row and column.
"""

from __future__ import annotations

import datetime as dt

from safer.checks.models import Check, ColumnsMatchSet, RowCountBetween, Severity, UnexpectedRows
from safer.kernel.layouts import CALL_COLUMNS, COUNTS_101, COUNTS_999
from safer.kernel.periods import month_label

__all__ = ["TEMPLATE", "call_handling_suite"]

TEMPLATE = "call-handling-v1"
# At most 18 digits: any more would not fit the BIGINT it is stored as (2**63 has 19). Braces
# doubled: GX formats the condition ({batch}), as checks.bulk does.
_WHOLE = r"'^\s*[0-9]{{1,18}}\s*$'"
_SECONDS = r"'^\s*[0-9]+(\.[0-9]+)?\s*$'"


def call_handling_suite(where: str, pfa_code: str, as_of: dt.date) -> list[Check]:
    """Every check a call-handling return must pass; ``where`` names the file (and sheet)."""
    error, warning = Severity.ERROR, Severity.WARNING
    latest = month_label(as_of)
    checks = [
        Check(
            "columns_as_template",
            error,
            f"{where} has exactly the {TEMPLATE} columns: {', '.join(CALL_COLUMNS)}",
            ColumnsMatchSet(("row", *CALL_COLUMNS)),
        ),
        Check("has_rows", error, f"{where} has between 1 and 600 rows", RowCountBetween(1, 600)),
        _rows(
            "template_version",
            f"every row of {where} says template_version {TEMPLATE}",
            f"coalesce(trim(template_version), '') <> '{TEMPLATE}'",
            "template_version",
        ),
        _rows(
            "force_known",
            f"every force_code in {where} is this force's ({pfa_code})",
            f"coalesce(trim(force_code), '') <> '{pfa_code}'",
            "force_code",
        ),
        _rows(
            "month_valid",
            f"every month in {where} is a month (YYYY-MM) before {latest}",
            "try_strptime(trim(month), '%Y-%m') IS NULL OR length(trim(month)) <> 7 "
            f"OR trim(month) >= '{latest}'",
            "month",
        ),
    ]
    checks += [
        _rows(
            f"{column}_whole_number",
            f"every {column} in {where} is a whole number of calls (at most 18 digits)",
            f"NOT regexp_matches(coalesce({column}, ''), {_WHOLE})",
            column,
        )
        for column in COUNTS_999
    ]
    checks += [
        _rows(
            f"{column}_whole_number",
            f"every {column} in {where} is blank or a whole number of calls (at most 18 digits)",
            f"{column} IS NOT NULL AND NOT regexp_matches({column}, {_WHOLE})",
            column,
        )
        for column in COUNTS_101
    ]
    checks += [
        _rows(
            "average_answer_999_seconds_number",
            f"every average_answer_999_seconds in {where} is a number of seconds",
            f"NOT regexp_matches(coalesce(average_answer_999_seconds, ''), {_SECONDS})",
            "average_answer_999_seconds",
        ),
        _rows(
            "average_wait_101_seconds_number",
            f"every average_wait_101_seconds in {where} is blank or a number of seconds",
            f"average_wait_101_seconds IS NOT NULL "
            f"AND NOT regexp_matches(average_wait_101_seconds, {_SECONDS})",
            "average_wait_101_seconds",
        ),
        _rows(
            "answered_999_adds_up",
            f"in every row of {where} the three answer-time bands add up to calls_999",
            _num("answered_999_under_10s")
            + " + "
            + _num("answered_999_10_to_60s")
            + " + "
            + _num("answered_999_60s_or_more")
            + " <> "
            + _num("calls_999"),
            *COUNTS_999,
        ),
        _rows(
            "calls_101_add_up",
            f"in every row of {where} 101 calls answered plus abandoned are no more than offered",
            f"{_num('calls_101_answered')} + {_num('calls_101_abandoned')} "
            f"> {_num('calls_101_offered')}",
            *COUNTS_101,
        ),
        _rows(
            "calls_101_complete",
            f"in every row of {where} the 101 figures are all given or all blank",
            "(calls_101_offered IS NULL) <> (calls_101_answered IS NULL) "
            "OR (calls_101_offered IS NULL) <> (calls_101_abandoned IS NULL) "
            "OR (calls_101_offered IS NULL) <> (average_wait_101_seconds IS NULL)",
            *COUNTS_101,
            "average_wait_101_seconds",
        ),
        Check(
            "one_row_per_month",
            error,
            f"{where} has one row per force and month",
            UnexpectedRows(
                "SELECT min(row) AS row, force_code, month, count(*) AS rows FROM {batch} "
                "GROUP BY force_code, month HAVING count(*) > 1"
            ),
        ),
        Check(
            "average_answer_plausible",
            warning,
            f"every average_answer_999_seconds in {where} is under 10 minutes",
            UnexpectedRows(
                "SELECT row, average_answer_999_seconds FROM {batch} "
                "WHERE TRY_CAST(average_answer_999_seconds AS DOUBLE) >= 600"
            ),
        ),
    ]
    return checks


def _rows(check_id: str, description: str, condition: str, *columns: str) -> Check:
    """An error-level check: rows meeting ``condition`` fail, shown with ``columns``."""
    shown = ", ".join(columns)
    return Check(
        check_id,
        Severity.ERROR,
        description,
        UnexpectedRows(f"SELECT row, {shown} FROM {{batch}} WHERE {condition}"),
    )


def _num(column: str) -> str:
    return f"coalesce(TRY_CAST({column} AS BIGINT), 0)"
