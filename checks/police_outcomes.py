"""The suite for one month of a data.police.uk outcomes file, staged as text columns.

One row per outcome recorded in the month; a crime may have several. Staged columns keep the
published names and are all text (empty fields are NULL), with a leading ``record_no`` (1-based
data row; the file's line is record_no + 1) so every failure names its row.
"""

from __future__ import annotations

import datetime as dt

from checks.models import (
    Check,
    ColumnsExactly,
    NotNull,
    RowCountBetween,
    Severity,
    ValuesInSet,
    rows_where,
)
from safer.periods import month_label

__all__ = ["OUTCOME_COLUMNS", "outcomes_suite"]

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


def outcomes_suite(
    period: dt.date, min_rows: int, max_rows: int, outcome_labels: tuple[str, ...]
) -> list[Check]:
    """Every check an outcomes month must pass; error-level failures quarantine it."""
    month = month_label(period)
    error, warning = Severity.ERROR, Severity.WARNING
    return [
        Check(
            "columns_as_published",
            error,
            "the columns are exactly the published outcomes-file header, in order",
            ColumnsExactly(("record_no", *OUTCOME_COLUMNS)),
        ),
        Check(
            "row_count_plausible",
            error,
            f"the file has between {min_rows:,} and {max_rows:,} rows",
            RowCountBetween(min_rows, max_rows),
        ),
        Check(
            "month_is_file_month",
            error,
            f"every row's Month is {month}, the month the outcomes were recorded",
            rows_where(f"\"Month\" IS DISTINCT FROM '{month}'", "Month"),
        ),
        Check("outcome_present", error, "every row has an Outcome type", NotNull("Outcome type")),
        Check(
            "crime_id_format",
            error,
            "every row has a 64-character hexadecimal Crime ID (outcomes are of crimes, not ASB)",
            rows_where(
                "NOT regexp_full_match(coalesce(\"Crime ID\", ''), '[0-9a-f]{{64}}')", "Crime ID"
            ),
        ),
        Check(
            "lsoa_code_format",
            error,
            "every LSOA code looks like E01nnnnnn or W01nnnnnn",
            rows_where(
                '"LSOA code" IS NOT NULL '
                "AND NOT regexp_full_match(\"LSOA code\", '[EW]01[0-9]{{6}}')",
                "LSOA code",
            ),
        ),
        Check(
            "coordinates_numeric",
            error,
            "Longitude and Latitude are numbers where given",
            rows_where(
                '("Longitude" IS NOT NULL AND TRY_CAST("Longitude" AS DOUBLE) IS NULL) OR '
                '("Latitude" IS NOT NULL AND TRY_CAST("Latitude" AS DOUBLE) IS NULL)',
                "Longitude",
                "Latitude",
            ),
        ),
        Check(
            "outcome_type_known",
            warning,
            "every Outcome type is in the outcome mapping (older and newer labels both count)",
            ValuesInSet("Outcome type", outcome_labels),
        ),
    ]
