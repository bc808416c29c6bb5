"""The suite for one month of a data.police.uk street file, staged as text columns.

Staged columns keep the published names and are all VARCHAR (empty fields are NULL), with a
leading ``record_no`` (1-based data row in the file) so every failure can name its row.
"""

from __future__ import annotations

import datetime as dt

from safer.checks import police_uk
from safer.checks.models import (
    Check,
    NotNull,
    Severity,
    UnexpectedRows,
    ValuesInSet,
    few_duplicates,
    rows_where,
    some_rows_where,
)
from safer.kernel.layouts import ASB, STREET_COLUMNS

__all__ = [
    "CRIME_TYPES",
    "DUPLICATE_ID_SHARE",
    "FORCE_LADS",
    "IN_USE",
    "MOSTLY_OUTSIDE",
    "against_in_use",
    "street_suite",
]

IN_USE = "in_use"
"""The staging file's table of the month's version in use: ``rows``, ``asb_rows`` (no row when
the month is new)."""
FORCE_LADS = "force_lads"
"""The staging file's table of the force's local authorities: ``lad_name``, lower case."""
MOSTLY_OUTSIDE = 0.5
"""A month with more than this share of rows outside the force's local authorities is held
back: the real Cheshire months have 2-3% (rows just over the border, or with no location)."""

DUPLICATE_ID_SHARE = 0.02
"""Copies of a Crime ID beyond its first, as a share of the crimes in a month, above which the
file is held back. The 21 real Cheshire months in ../shared/data repeat at most 0.34% (25 of
7,253 crimes, Nov 2018; 11 months repeat none); a file published twice over repeats 50%."""

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
    error, warning = Severity.ERROR, Severity.WARNING
    return [
        police_uk.columns_as_published("street-file", STREET_COLUMNS),
        police_uk.row_count_plausible(min_rows, max_rows),
        police_uk.month_is_file_month(period, "the file's month"),
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
            "crime_ids_rarely_repeat",
            error,
            f"a Crime ID appears on more than one row for at most {DUPLICATE_ID_SHARE:.0%} of "
            "crimes (a file with rows repeated is held back)",
            few_duplicates("Crime ID", DUPLICATE_ID_SHARE),
        ),
        Check(
            "asb_rows_present",
            error,
            "the month has anti-social behaviour rows",
            some_rows_where(f"\"Crime type\" = '{ASB}'"),
        ),
        police_uk.lsoa_code_format(),
        police_uk.coordinates_numeric(),
        police_uk.crime_id_format(
            warning,
            "crimes other than ASB have a 64-character hexadecimal Crime ID",
            not_crime=ASB,
        ),
        Check(
            "outcome_category_known",
            warning,
            "every Last outcome category is in the outcome mapping",
            ValuesInSet("Last outcome category", outcome_labels),
        ),
    ]


def against_in_use(tolerance: float, lad_of: str) -> list[Check]:
    """Checks of a month against what is in use, over ``in_use`` and ``force_lads`` written
    beside the batch: a revision that moves the month's rows or ASB rows by more than
    ``tolerance`` is held for review (the version in use stays), and so is a month whose rows
    lie mostly outside the force. ``lad_of`` is the SQL for a row's local authority, from
    ``"LSOA name"`` (braces doubled; unqualified, as GX puts the batch in a subquery)."""
    counts = (
        f"SELECT count(*) AS rows_now, count(*) FILTER (WHERE \"Crime type\" = '{ASB}') "
        "AS asb_now FROM {batch}"
    )
    moved = (
        f"SELECT p.rows AS rows_in_use, s.rows_now, p.asb_rows AS asb_in_use, s.asb_now "
        f"FROM ({counts}) s, {IN_USE} p WHERE p.rows > 0 AND ("
        f"abs(s.rows_now - p.rows) > {tolerance!r} * p.rows OR "
        f"abs(s.asb_now - p.asb_rows) > {tolerance!r} * greatest(p.asb_rows, 1))"
    )
    outside = (
        "SELECT count(*) AS rows_outside, (SELECT count(*) FROM {batch}) AS rows_in_file "
        f'FROM {{batch}} WHERE "LSOA name" IS NULL OR {lad_of} NOT IN '
        f"(SELECT lad_name FROM {FORCE_LADS}) "
        f"HAVING count(*) > {MOSTLY_OUTSIDE!r} * (SELECT count(*) FROM {{batch}})"
    )
    error = Severity.ERROR
    return [
        Check(
            "revision_within_tolerance",
            error,
            f"a republished month moves its rows and its ASB rows by at most {tolerance:.0%} "
            "against the version in use (a bigger change is held for review; the version in "
            "use stays)",
            UnexpectedRows(moved),
        ),
        Check(
            "rows_mostly_in_force",
            error,
            f"at most {MOSTLY_OUTSIDE:.0%} of the month's rows lie outside the force's local "
            "authorities",
            UnexpectedRows(outside),
        ),
    ]
