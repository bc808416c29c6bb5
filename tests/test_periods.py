"""safer.kernel.periods: months and UK financial-year quarters (Q1 = April to June)."""

from __future__ import annotations

import datetime as dt

import pytest

from safer.kernel.periods import (
    add_months,
    month_label,
    months_between,
    parse_month,
    quarter_label,
    quarter_months,
    quarter_start,
)


def d(year: int, month: int, day: int = 1) -> dt.date:
    return dt.date(year, month, day)


# --- parse_month / month_label ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06", d(2025, 6)),
        ("2025-01", d(2025, 1)),
        ("2025-12", d(2025, 12)),
        ("  2024-02\n", d(2024, 2)),
        ("1999-10", d(1999, 10)),
    ],
)
def test_parse_month(text: str, expected: dt.date) -> None:
    assert parse_month(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "2025", "2025-13", "2025-00", "2025-6", "25-06", "2025/06", "2025-06-01", "June 2025"],
)
def test_parse_month_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month(text)


@pytest.mark.parametrize(
    ("month", "expected"),
    [(d(2025, 6), "2025-06"), (d(2025, 6, 30), "2025-06"), (d(987, 1, 5), "0987-01")],
)
def test_month_label(month: dt.date, expected: str) -> None:
    assert month_label(month) == expected


def test_label_and_parse_round_trip() -> None:
    for month in months_between(d(2023, 1), d(2026, 12)):
        assert parse_month(month_label(month)) == month


# --- add_months / months_between -------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "count", "expected"),
    [
        (d(2025, 6), 0, d(2025, 6)),
        (d(2025, 6), 1, d(2025, 7)),
        (d(2025, 12), 1, d(2026, 1)),
        (d(2025, 1), -1, d(2024, 12)),
        (d(2025, 3), -15, d(2023, 12)),
        (d(2025, 6), 24, d(2027, 6)),
        (d(2025, 1, 31), 1, d(2025, 2)),  # always the first of the month: no Feb-31 problem
        (d(2024, 3, 31), -1, d(2024, 2)),
    ],
)
def test_add_months(month: dt.date, count: int, expected: dt.date) -> None:
    assert add_months(month, count) == expected


def test_months_between_is_inclusive_and_crosses_year_end() -> None:
    assert months_between(d(2024, 11), d(2025, 2)) == [
        d(2024, 11),
        d(2024, 12),
        d(2025, 1),
        d(2025, 2),
    ]


def test_months_between_single_month() -> None:
    assert months_between(d(2025, 6), d(2025, 6)) == [d(2025, 6)]


def test_months_between_empty_when_last_is_before_first() -> None:
    assert months_between(d(2025, 6), d(2025, 5)) == []


def test_months_between_normalises_mid_month_dates() -> None:
    assert months_between(d(2025, 1, 20), d(2025, 3, 5)) == [d(2025, 1), d(2025, 2), d(2025, 3)]


def test_months_between_counts_a_long_span() -> None:
    span = months_between(d(2015, 4), d(2025, 3))

    assert len(span) == 120
    assert span[0] == d(2015, 4)
    assert span[-1] == d(2025, 3)
    assert len(set(span)) == 120


# --- financial-year quarters -----------------------------------------------------------------

# month number -> (first month of its quarter, quarter number) in the UK financial year.
QUARTERS = {
    4: (4, 1),
    5: (4, 1),
    6: (4, 1),
    7: (7, 2),
    8: (7, 2),
    9: (7, 2),
    10: (10, 3),
    11: (10, 3),
    12: (10, 3),
    1: (1, 4),
    2: (1, 4),
    3: (1, 4),
}


@pytest.mark.parametrize("month_number", range(1, 13))
def test_quarter_start_for_every_month(month_number: int) -> None:
    first_month, _ = QUARTERS[month_number]

    assert quarter_start(d(2025, month_number, 17)) == d(2025, first_month)


@pytest.mark.parametrize("month_number", range(1, 13))
def test_quarter_label_for_every_month_of_fy_2025_26(month_number: int) -> None:
    _, number = QUARTERS[month_number]
    year = 2025 if month_number >= 4 else 2026

    assert quarter_label(d(year, month_number, 9)) == f"2025/26 Q{number}"


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        (d(2025, 4), "2025/26 Q1"),
        (d(2025, 6, 30), "2025/26 Q1"),
        (d(2025, 7), "2025/26 Q2"),
        (d(2025, 12, 31), "2025/26 Q3"),
        (d(2026, 1), "2025/26 Q4"),
        (d(2026, 3, 31), "2025/26 Q4"),
        (d(2026, 4), "2026/27 Q1"),
        (d(2025, 3), "2024/25 Q4"),
        (d(2000, 2), "1999/00 Q4"),  # two-digit end year wraps at the century
        (d(2009, 5), "2009/10 Q1"),
    ],
)
def test_quarter_label_examples(month: dt.date, expected: str) -> None:
    assert quarter_label(month) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (d(2025, 4), [d(2025, 4), d(2025, 5), d(2025, 6)]),
        (d(2025, 10), [d(2025, 10), d(2025, 11), d(2025, 12)]),
        (d(2026, 1), [d(2026, 1), d(2026, 2), d(2026, 3)]),
        # A month that is not a quarter start is snapped to its quarter's start.
        (d(2026, 2, 14), [d(2026, 1), d(2026, 2), d(2026, 3)]),
        (d(2025, 9), [d(2025, 7), d(2025, 8), d(2025, 9)]),
    ],
)
def test_quarter_months(start: dt.date, expected: list[dt.date]) -> None:
    assert quarter_months(start) == expected


def test_quarters_tile_the_financial_year() -> None:
    year = months_between(d(2025, 4), d(2026, 3))
    starts = sorted({quarter_start(month) for month in year})

    assert starts == [d(2025, 4), d(2025, 7), d(2025, 10), d(2026, 1)]
    assert [m for start in starts for m in quarter_months(start)] == year
    assert [quarter_label(start) for start in starts] == [
        "2025/26 Q1",
        "2025/26 Q2",
        "2025/26 Q3",
        "2025/26 Q4",
    ]


# --- financial years and grains --------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "start", "label"),
    [
        (d(2025, 4, 1), d(2025, 4), "2025/26"),
        (d(2026, 3, 31), d(2025, 4), "2025/26"),
        (d(2026, 1, 15), d(2025, 4), "2025/26"),
        (d(1999, 12, 31), d(1999, 4), "1999/00"),
    ],
)
def test_financial_years_run_april_to_march(day: dt.date, start: dt.date, label: str) -> None:
    from safer.kernel.periods import fy_label, fy_start

    assert fy_start(day) == start
    assert fy_label(day) == label


def test_period_start_and_label_follow_the_grain() -> None:
    from safer.kernel.periods import period_label, period_start

    day = d(2026, 2, 17)
    assert [period_start(day, g) for g in ("month", "quarter", "year")] == [
        d(2026, 2),
        d(2026, 1),
        d(2025, 4),
    ]
    assert period_label(d(2026, 1), "quarter") == "2025/26 Q4"
    assert period_label(d(2025, 4), "year") == "2025/26"
    assert period_label(d(2026, 2), "month") == "Feb 2026"
