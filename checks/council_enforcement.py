"""The suite for a council enforcement return (template ``council-enforcement-v1``).

One row per Community Safety Partnership, financial-year quarter and action type. Staged columns
keep the template's names and are all text, with a leading ``row`` (the spreadsheet row or CSV
line), so every failure names its row and column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from safer.checks.models import Check, ColumnsMatchSet, RowCountBetween, Severity, UnexpectedRows
from safer.kernel.layouts import FINANCIAL_YEAR, QUARTERS, period_sql
from safer.kernel.periods import quarter_label, quarter_start

__all__ = [
    "ACTION_NAMES",
    "ACTION_TYPES",
    "ENFORCEMENT_COLUMNS",
    "TEMPLATE",
    "council_enforcement_suite",
]

TEMPLATE = "council-enforcement-v1"
ENFORCEMENT_COLUMNS = (
    "template_version",
    "csp_code",
    "csp_name",
    "financial_year",
    "quarter",
    "action_type",
    "count",
    "notes",
)
# The closed set of action types, each with what it counts (ASB, Crime and Policing Act 2014
# powers and the usual steps before them; environmental enforcement by the council).
ACTION_TYPES = (
    ("asb_warning_letter", "ASB warning letters (informal, before formal powers)"),
    ("community_protection_warning", "Community Protection Warnings (ASBCPA 2014 s.43)"),
    ("community_protection_notice", "Community Protection Notices (ASBCPA 2014 s.43)"),
    ("acceptable_behaviour_contract", "Acceptable Behaviour Contracts or Agreements"),
    ("civil_injunction", "Civil injunctions (ASBCPA 2014 Part 1)"),
    ("criminal_behaviour_order", "Criminal Behaviour Orders (ASBCPA 2014 Part 2)"),
    ("pspo_fixed_penalty_notice", "Fixed penalty notices for breaching a PSPO"),
    ("closure_order", "Closure orders (ASBCPA 2014 Part 4 Chapter 3)"),
    ("env_incidents_investigated", "Environmental incidents investigated (fly-tipping, litter)"),
    ("env_warning_letter", "Environmental enforcement warning letters"),
    ("env_interview_under_caution", "Interviews under caution for environmental offences"),
    ("env_fixed_penalty_notice", "Environmental fixed penalty notices (fly-tipping, litter)"),
)

ACTION_NAMES = tuple(action for action, _ in ACTION_TYPES)
MAX_ROWS = 10_000
"""A year's returns for a large force is ~50 CSPs × 4 quarters × 12 action types = 2,400."""

# At most 18 digits: any more would not fit the BIGINT it is stored as (2**63 has 19). Braces
# doubled: GX formats the condition ({batch}), as checks.bulk does.
_WHOLE = r"'^\s*[0-9]{{1,18}}\s*$'"


def council_enforcement_suite(where: str, csps: Mapping[str, str], as_of: dt.date) -> list[Check]:
    """Every check a council enforcement return must pass; ``where`` names the file (and sheet),
    ``csps`` maps the force's partnership codes to their names, and a quarter must have ended
    by ``as_of``."""
    return [
        *_table_checks(where),
        *_value_checks(where, csps, as_of),
        _one_row_per_action(where),
        _every_action_present(where),
    ]


def _table_checks(where: str) -> list[Check]:
    return [
        Check(
            "columns_as_template",
            Severity.ERROR,
            f"{where} has exactly the {TEMPLATE} columns: {', '.join(ENFORCEMENT_COLUMNS)}",
            ColumnsMatchSet(("row", *ENFORCEMENT_COLUMNS)),
        ),
        Check(
            "has_rows",
            Severity.ERROR,
            f"{where} has between 1 and {MAX_ROWS:,} rows",
            RowCountBetween(1, MAX_ROWS),
        ),
    ]


def _value_checks(where: str, csps: Mapping[str, str], as_of: dt.date) -> list[Check]:
    """One check per cell rule: each failing row is named with the column at fault."""
    codes = _in(tuple(csps))
    known = ", ".join(f"{code} {name}" for code, name in csps.items())
    names = " ".join(f"WHEN {_literal(c)} THEN {_literal(n.lower())}" for c, n in csps.items())
    current = quarter_start(as_of)
    return [
        _rows(
            "template_version",
            f"every row of {where} says template_version {TEMPLATE}",
            f"coalesce(trim(template_version), '') <> '{TEMPLATE}'",
            "template_version",
        ),
        _rows(
            "csp_known",
            f"every csp_code in {where} is one of the force's partnerships ({known})",
            f"coalesce(trim(csp_code), '') NOT IN ({codes})",
            "csp_code",
        ),
        _rows(
            "csp_name_matches",
            f"every csp_name in {where} is the name of its csp_code",
            f"trim(csp_code) IN ({codes}) AND coalesce(lower(trim(csp_name)), '') "
            f"<> CASE trim(csp_code) {names} END",
            "csp_code",
            "csp_name",
            severity=Severity.WARNING,
        ),
        _rows(
            "financial_year_valid",
            f"every financial_year in {where} is a financial year such as 2025/26",
            f"NOT regexp_matches(coalesce(trim(financial_year), ''), {FINANCIAL_YEAR}) "
            "OR (TRY_CAST(left(trim(financial_year), 4) AS INTEGER) + 1) % 100 "
            "<> TRY_CAST(right(trim(financial_year), 2) AS INTEGER)",
            "financial_year",
        ),
        _rows(
            "quarter_valid",
            f"every quarter in {where} is Q1, Q2, Q3 or Q4",
            f"coalesce(trim(quarter), '') NOT IN ({_in(QUARTERS)})",
            "quarter",
        ),
        _rows(
            "quarter_ended",
            f"every quarter in {where} has ended by {as_of:%-d %b %Y}: "
            f"none is {quarter_label(current)} or later",
            f"{period_sql()} >= DATE '{current.isoformat()}'",
            "financial_year",
            "quarter",
        ),
        _rows(
            "action_type_known",
            f"every action_type in {where} is one of the template's: {', '.join(ACTION_NAMES)}",
            f"coalesce(trim(action_type), '') NOT IN ({_in(ACTION_NAMES)})",
            "action_type",
        ),
        _rows(
            "count_whole_number",
            f"every count in {where} is a whole number, 0 or more (at most 18 digits)",
            f"NOT regexp_matches(coalesce(\"count\", ''), {_WHOLE})",
            '"count"',
        ),
    ]


_KEY = (
    "trim(csp_code) AS csp_code, trim(financial_year) AS financial_year, trim(quarter) AS quarter"
)


def _one_row_per_action(where: str) -> Check:
    return Check(
        "one_row_per_action",
        Severity.ERROR,
        f"{where} has one row per partnership, quarter and action type",
        UnexpectedRows(
            f"SELECT min(row) AS row, {_KEY}, trim(action_type) AS action_type, "
            "string_agg(CAST(row AS VARCHAR), ', ' ORDER BY row) AS rows FROM {batch} "
            "GROUP BY ALL HAVING count(*) > 1"
        ),
    )


def _every_action_present(where: str) -> Check:
    """A partnership's quarter without a row for an action type is an incomplete return: the
    template asks for every one, 0 when none, so a gap is never read as zero."""
    actions = ", ".join(f"({n}, {_literal(a)})" for n, a in enumerate(ACTION_NAMES))
    return Check(
        "every_action_type_present",
        Severity.ERROR,
        f"{where} has a row for every action type for each partnership and quarter it holds",
        UnexpectedRows(
            "SELECT min(h.row) AS row, h.csp_code, h.financial_year, h.quarter, "
            "string_agg(t.action_type, ', ' ORDER BY t.n) AS missing_action_types "
            f"FROM (SELECT min(row) AS row, {_KEY}, list(trim(action_type)) AS held "
            "FROM {batch} GROUP BY ALL) h, "
            f"(VALUES {actions}) t(n, action_type) "
            "WHERE NOT list_contains(h.held, t.action_type) "
            "GROUP BY h.csp_code, h.financial_year, h.quarter"
        ),
    )


def _rows(
    check_id: str,
    description: str,
    condition: str,
    *columns: str,
    severity: Severity = Severity.ERROR,
) -> Check:
    """Rows meeting ``condition`` fail, shown with their row number and ``columns``."""
    return Check(
        check_id,
        severity,
        description,
        UnexpectedRows(f"SELECT row, {', '.join(columns)} FROM {{batch}} WHERE {condition}"),
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(_literal(v) for v in values)
