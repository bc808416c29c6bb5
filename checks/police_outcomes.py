"""The suite for one month of a data.police.uk outcomes file, staged as text columns.

One row per outcome recorded in the month; a crime may have several. Staged columns keep the
published names and are all text (empty fields are NULL), with a leading ``record_no`` (1-based
data row; the file's line is record_no + 1) so every failure names its row.
"""

from __future__ import annotations

import datetime as dt

from safer.checks import police_uk
from safer.checks.models import Check, NotNull, Severity, ValuesInSet
from safer.kernel.layouts import OUTCOME_COLUMNS

__all__ = ["outcomes_suite"]


def outcomes_suite(
    period: dt.date, min_rows: int, max_rows: int, outcome_labels: tuple[str, ...]
) -> list[Check]:
    """Every check an outcomes month must pass; error-level failures quarantine it."""
    error, warning = Severity.ERROR, Severity.WARNING
    return [
        police_uk.columns_as_published("outcomes-file", OUTCOME_COLUMNS),
        police_uk.row_count_plausible(min_rows, max_rows),
        police_uk.month_is_file_month(period, "the month the outcomes were recorded"),
        Check("outcome_present", error, "every row has an Outcome type", NotNull("Outcome type")),
        police_uk.crime_id_format(
            error,
            "every row has a 64-character hexadecimal Crime ID (outcomes are of crimes, not ASB)",
        ),
        police_uk.lsoa_code_format(),
        police_uk.coordinates_numeric(),
        Check(
            "outcome_type_known",
            warning,
            "every Outcome type is in the outcome mapping (older and newer labels both count)",
            ValuesInSet("Outcome type", outcome_labels),
        ),
    ]
