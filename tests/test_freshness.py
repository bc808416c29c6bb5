"""When releases are due and which are overdue: pure, table-driven."""

from __future__ import annotations

import datetime as dt

import pytest

from safer.pipelines.freshness import monthly_due, overdue

JAN, FEB, MAR = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)


@pytest.mark.parametrize(
    ("month", "due"),
    [
        (JAN, dt.date(2025, 2, 28)),
        (dt.date(2024, 1, 1), dt.date(2024, 2, 29)),  # leap year
        (dt.date(2025, 11, 1), dt.date(2025, 12, 31)),
        (dt.date(2025, 12, 1), dt.date(2026, 1, 31)),  # across the year end
    ],
)
def test_a_month_is_due_by_the_end_of_the_next(month: dt.date, due: dt.date) -> None:
    assert monthly_due(month) == due


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (dt.date(2025, 4, 14), []),  # February due 31 March: 14 days late is within the grace
        (dt.date(2025, 4, 15), [(FEB, 15)]),
        (dt.date(2025, 5, 15), [(FEB, 45), (MAR, 15)]),
    ],
)
def test_overdue_after_the_grace(as_of: dt.date, expected: list[tuple[dt.date, int]]) -> None:
    found = overdue("street file", [JAN, FEB, MAR], {JAN}, as_of, 14)
    assert [(m.period, m.days_overdue) for m in found] == expected


def test_the_sentence_names_the_source_month_due_date_and_quarter() -> None:
    [item] = overdue("data.police.uk street file", [FEB], set(), dt.date(2025, 4, 30), 14)
    assert item.sentence == (
        "Data missing: the data.police.uk street file for 2025-02 was due by 31 Mar 2025 and is"
        " 30 days overdue; 2024/25 Q4 figures stay incomplete until it arrives."
    )
