"""The suite for one month of a data.police.uk street file, staged as text columns.

Staged columns keep the published names and are all VARCHAR (empty fields are NULL), with a
leading ``record_no`` (1-based data row in the file) so every failure can name its row.
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

__all__ = ["ASB", "CRIME_TYPES", "STREET_COLUMNS", "street_suite"]

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

# data.police.uk crime categories (domain-research.md §3, /crime-categories), CSV labels.
CRIME_TYPES = (
    ASB,
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
)


def street_suite(
    period: dt.date, min_rows: int, max_rows: int, outcome_labels: tuple[str, ...]
) -> list[Check]:
    """Every check a street-file month must pass; error-level failures quarantine it."""
    month = month_label(period)
    error, warning = Severity.ERROR, Severity.WARNING
    return [
        Check(
            "columns_as_published",
            error,
            "the columns are exactly the published street-file header, in order",
            ColumnsExactly(("record_no", *STREET_COLUMNS)),
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
            f"every row's Month is {month}, the file's month",
            rows_where(f"\"Month\" IS DISTINCT FROM '{month}'", "Month"),
        ),
        Check("crime_type_present", error, "every row has a Crime type", NotNull("Crime type")),
        Check(
            "crime_type_known",
            error,
            "every Crime type is a data.police.uk category",
            ValuesInSet("Crime type", CRIME_TYPES),
        ),
        Check(
            "asb_has_no_crime_id",
            error,
            "anti-social behaviour rows have no Crime ID (ASB incidents are not crimes)",
            rows_where(f'"Crime type" = \'{ASB}\' AND "Crime ID" IS NOT NULL', "Crime ID"),
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
            "crime_id_format",
            warning,
            "crimes other than ASB have a 64-character hexadecimal Crime ID",
            rows_where(
                f"\"Crime type\" <> '{ASB}' AND NOT "
                "regexp_full_match(coalesce(\"Crime ID\", ''), '[0-9a-f]{{64}}')",
                "Crime ID",
                "Crime type",
            ),
        ),
        Check(
            "outcome_category_known",
            warning,
            "every Last outcome category is in the outcome mapping",
            ValuesInSet("Last outcome category", outcome_labels),
        ),
    ]
