"""The published layouts of each source's files: their columns, sheets and markers.

The pipeline that stages a file and the suite that checks it both read them here, so a source's
fetching module and its checks agree without importing each other (they meet in
``safer.app.sources``).
"""

from __future__ import annotations

__all__ = [
    "ACTIONS_SHEET",
    "ACTION_COLUMNS",
    "AGGREGATE",
    "ASB",
    "CALL_COLUMNS",
    "FINANCIAL_YEAR",
    "COUNTS_101",
    "COUNTS_999",
    "INCIDENTS_SHEET",
    "INCIDENT_COLUMNS",
    "OUTCOME_COLUMNS",
    "QUARTERS",
    "STREET_COLUMNS",
    "period_sql",
]

STREET_COLUMNS = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)

ASB = "Anti-social behaviour"

OUTCOME_COLUMNS = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Outcome type",
)


COUNTS_999 = (
    "calls_999",
    "answered_999_under_10s",
    "answered_999_10_to_60s",
    "answered_999_60s_or_more",
)
COUNTS_101 = ("calls_101_offered", "calls_101_answered", "calls_101_abandoned")
CALL_COLUMNS = (
    "template_version",
    "force_code",
    "month",
    *COUNTS_999,
    "average_answer_999_seconds",
    *COUNTS_101,
    "average_wait_101_seconds",
)

ACTIONS_SHEET = "LA_actions"
INCIDENTS_SHEET = "LA_incidents"

ACTION_COLUMNS = {
    "total_actions": "Total Actions",
    "investigations": "Investigation Actions",
    "warning_letters": "Warning Letter Actions",
    "statutory_notices": "Statutory Notice Actions",
    "fixed_penalty_notices": "Total Fixed Penalty Notice Actions",
    "duty_of_care_inspections": "Duty of Care Inspection Actions",
    "stop_and_search": "Stop and Search Actions",
    "vehicles_seized": "Vehicles seized",
    "formal_cautions": "Formal Caution Actions",
    "injunctions": "Injunction Actions",
    "prosecutions": "Prosecution Actions",
}
"""Table column → the ``LA_actions`` column it is loaded from."""
INCIDENT_COLUMNS = {"incidents": "Total Incidents"}
"""Table column → the ``LA_incidents`` column it is loaded from."""

AGGREGATE = """starts_with(coalesce(trim("ONS Code"), ''), '*')"""
"""DEFRA marks its England and region totals with an ONS Code starting ``*`` (``*Total``)."""

QUARTERS = ("Q1", "Q2", "Q3", "Q4")
# No braces: the same text runs in GX (which formats {batch}) and in plain SQL.
FINANCIAL_YEAR = "'^[0-9][0-9][0-9][0-9]/[0-9][0-9]$'"

_QUARTER_LIST = ", ".join(f"'{q}'" for q in QUARTERS)


def period_sql() -> str:
    """SQL for a row's quarter as its first day (``2025/26`` ``Q1`` → 2025-04-01, ``Q4`` → the
    January after), or NULL when the financial year or quarter cannot be read. Shared by the
    suite (the future-quarter check) and the pipeline (periods, promote), so they agree."""
    fy, quarter = "trim(financial_year)", "trim(quarter)"
    return (
        f"CASE WHEN regexp_matches(coalesce({fy}, ''), {FINANCIAL_YEAR}) "
        f"AND coalesce({quarter}, '') IN ({_QUARTER_LIST}) "
        f"THEN CAST(make_date(CAST(left({fy}, 4) AS INTEGER), 4, 1) "
        f"+ to_months(3 * (CAST(right({quarter}, 1) AS INTEGER) - 1)) AS DATE) END"
    )
