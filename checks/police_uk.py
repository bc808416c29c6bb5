"""The checks every data.police.uk monthly file shares (street, outcomes, stop and search).

The three files come from one publisher in one style: a published header, a month, coordinates,
and (street and outcomes) LSOA codes and Crime IDs. Each shared check is written here once, so a
fix to one (a regex, a bound) reaches every suite. Ids and descriptions are what quarantine
messages and stored results show: a suite passes the words that differ, never a new rule.
"""

from __future__ import annotations

import datetime as dt

from safer.checks.models import (
    Check,
    ColumnsExactly,
    RowCountBetween,
    Severity,
    UnexpectedRows,
    rows_where,
)
from safer.kernel.periods import month_label

__all__ = [
    "columns_as_published",
    "coordinates_numeric",
    "crime_id_format",
    "lsoa_code_format",
    "month_is_file_month",
    "row_count_plausible",
]

_NOT_NUMERIC = (
    '("Longitude" IS NOT NULL AND TRY_CAST("Longitude" AS DOUBLE) IS NULL) OR '
    '("Latitude" IS NOT NULL AND TRY_CAST("Latitude" AS DOUBLE) IS NULL)'
)
# Braces doubled: GX formats the query with the batch's name.
_BAD_CRIME_ID = "NOT regexp_full_match(coalesce(\"Crime ID\", ''), '[0-9a-f]{{64}}')"
_BAD_LSOA_CODE = (
    '"LSOA code" IS NOT NULL AND NOT regexp_full_match("LSOA code", \'[EW]01[0-9]{{6}}\')'
)


def columns_as_published(file: str, columns: tuple[str, ...]) -> Check:
    """The staged columns are ``record_no`` then the published header, in order; ``file`` names
    the file in the description ("street-file")."""
    return Check(
        "columns_as_published",
        Severity.ERROR,
        f"the columns are exactly the published {file} header, in order",
        ColumnsExactly(("record_no", *columns)),
    )


def row_count_plausible(min_rows: int, max_rows: int) -> Check:
    """A month far smaller or larger than a force publishes is a broken or wrong file."""
    return Check(
        "row_count_plausible",
        Severity.ERROR,
        f"the file has between {min_rows:,} and {max_rows:,} rows",
        RowCountBetween(min_rows, max_rows),
    )


def month_is_file_month(period: dt.date, meaning: str) -> Check:
    """Every row's Month is the file's; ``meaning`` says what that month is, for the officer."""
    month = month_label(period)
    return Check(
        "month_is_file_month",
        Severity.ERROR,
        f"every row's Month is {month}, {meaning}",
        rows_where(f"\"Month\" IS DISTINCT FROM '{month}'", "Month"),
    )


def lsoa_code_format() -> Check:
    """LSOA codes, where given, are English or Welsh (a row with no location has none)."""
    return Check(
        "lsoa_code_format",
        Severity.ERROR,
        "every LSOA code looks like E01nnnnnn or W01nnnnnn",
        rows_where(_BAD_LSOA_CODE, "LSOA code"),
    )


def coordinates_numeric(
    first: str = "Longitude", second: str = "Latitude", *, row_condition: bool = True
) -> Check:
    """Longitude and Latitude are numbers where given; ``first`` and ``second`` are the order a
    failure shows them in. ``row_condition`` False keeps the rule a bare query, as the
    stop-and-search suite has always had it (so its stored rule is unchanged; that file is
    never checked in bulk, which needs the condition)."""
    rule = rows_where(_NOT_NUMERIC, first, second)
    return Check(
        "coordinates_numeric",
        Severity.ERROR,
        f"{first} and {second} are numbers where given",
        rule if row_condition else UnexpectedRows(rule.query),
    )


def crime_id_format(severity: Severity, description: str, *, not_crime: str | None = None) -> Check:
    """Crime IDs are 64 lower-case hexadecimal characters. Rows whose Crime type is
    ``not_crime`` (ASB in a street file) are incidents, not crimes, and are not checked."""
    if not_crime is None:
        rule = rows_where(_BAD_CRIME_ID, "Crime ID")
    else:
        condition = f"\"Crime type\" <> '{not_crime}' AND {_BAD_CRIME_ID}"
        rule = rows_where(condition, "Crime ID", "Crime type")
    return Check("crime_id_format", severity, description, rule)
