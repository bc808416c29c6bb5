"""The suite for one month of a data.police.uk stop-and-search file, staged as text columns.

One row per person or vehicle searched. The file has coordinates but no LSOA. Staged columns keep
the published names and are all text, with a leading ``record_no`` (1-based data row; the file's
line is record_no + 1) so every failure names its row.
"""

from __future__ import annotations

import datetime as dt

from safer.checks import police_uk
from safer.checks.models import Check, Severity, UnexpectedRows
from safer.kernel.periods import month_label

__all__ = ["SEARCH_TYPES", "STOP_SEARCH_COLUMNS", "stop_search_suite"]

STOP_SEARCH_COLUMNS = (
    "Type",
    "Date",
    "Part of a policing operation",
    "Policing operation",
    "Latitude",
    "Longitude",
    "Gender",
    "Age range",
    "Self-defined ethnicity",
    "Officer-defined ethnicity",
    "Legislation",
    "Object of search",
    "Outcome",
    "Outcome linked to object of search",
    "Removal of more than just outer clothing",
)
SEARCH_TYPES = ("Person search", "Vehicle search", "Person and Vehicle search")
_FLAGS = (
    "Part of a policing operation",
    "Outcome linked to object of search",
    "Removal of more than just outer clothing",
)


def stop_search_suite(period: dt.date, min_rows: int, max_rows: int) -> list[Check]:
    """Every check a stop-and-search month must pass; error-level failures quarantine it."""
    month = month_label(period)
    error, warning = Severity.ERROR, Severity.WARNING
    types = ", ".join(f"'{t}'" for t in SEARCH_TYPES)
    checks = [
        police_uk.columns_as_published("stop-and-search", STOP_SEARCH_COLUMNS),
        police_uk.row_count_plausible(min_rows, max_rows),
        Check(
            "type_known",
            error,
            "every Type is a person search, a vehicle search or both",
            UnexpectedRows(
                f'SELECT record_no, "Type" FROM {{batch}} WHERE "Type" IS NULL '
                f'OR "Type" NOT IN ({types})'
            ),
        ),
        Check(
            "date_in_file_month",
            error,
            f"every Date is a date and time in {month}, the file's month",
            UnexpectedRows(
                'SELECT record_no, "Date" FROM {batch} WHERE '
                'TRY_CAST("Date" AS TIMESTAMPTZ) IS NULL '
                f"OR left(\"Date\", 7) <> '{month}'"
            ),
        ),
        police_uk.coordinates_numeric("Latitude", "Longitude", row_condition=False),
    ]
    checks += [
        Check(
            f"{_slug(flag)}_true_or_false",
            error,
            f"every {flag!r} is True, False or empty",
            UnexpectedRows(
                f'SELECT record_no, "{flag}" FROM {{batch}} '
                f"WHERE \"{flag}\" IS NOT NULL AND \"{flag}\" NOT IN ('True', 'False')"
            ),
        )
        for flag in _FLAGS
    ]
    # The real files leave a few outcomes empty (6% of Cheshire's 2018-19 searches): such a
    # search counts in the total but in neither the arrest nor the find rate's numerator.
    checks.append(
        Check(
            "outcome_present",
            warning,
            "every search has an Outcome",
            UnexpectedRows('SELECT record_no, "Outcome" FROM {batch} WHERE "Outcome" IS NULL'),
        )
    )
    return checks


def _slug(text: str) -> str:
    return "_".join(text.lower().split()[:3])
