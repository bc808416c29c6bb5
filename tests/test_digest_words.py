"""The digest's words, piece by piece: pure and table-driven.

Data notes merged per source, an SPC chart's window in words (every special-cause run, limits
floored at zero), and where a target comes from.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safer.alerts.notes import DataNote, merge_notes
from safer.alerts.spc_words import describe_window, range_text, span_text
from safer.alerts.words import capital, join, ordinal
from safer.indicators.definitions import load_catalogue, load_plans
from safer.indicators.spc import SpcRules, spc
from safer.kernel.errors import ConfigError
from safer.kernel.periods import add_months

JAN = dt.date(2024, 1, 1)


def _points(values: list[float], direction: str = "decrease") -> tuple:  # type: ignore[type-arg]
    dates = [add_months(JAN, i) for i in range(len(values))]
    return spc(values, direction=direction, rules=SpcRules(minimum_points=12), dates=dates).points  # type: ignore[arg-type]


def test_standing_notes_shared_by_sources_are_one_line() -> None:
    notes = [
        DataNote("call-handling return", "about", "EXAMPLE returns, not real data"),
        DataNote("council enforcement return", "about", "EXAMPLE returns, not real data"),
        DataNote("data.police.uk outcomes file", "about", "derived from the street files."),
    ]
    assert merge_notes(notes) == (
        "Call-handling return and council enforcement return: EXAMPLE returns, not real data.",
        "data.police.uk outcomes file: derived from the street files.",
    )


def test_overdue_releases_of_one_source_are_one_line_with_their_due_dates() -> None:
    notes = [
        DataNote("DEFRA fly-tipping release", "missing", "2022/23", "25 Jan 2024"),
        DataNote("DEFRA fly-tipping release", "missing", "2023/24", "25 Jan 2025"),
    ]
    assert merge_notes(notes) == (
        "DEFRA fly-tipping release: 2022/23 and 2023/24 overdue (due by 25 Jan 2024 and "
        "25 Jan 2025).",
    )


def test_a_note_about_one_partnership_reaches_only_its_officers() -> None:
    note = DataNote(
        "council enforcement return", "missing", "Halton's 2025/26 Q1", "30 Jul 2025", "E1"
    )
    assert merge_notes([note], ["E2"]) == ()
    assert merge_notes([note], ["E1"]) == (
        "Council enforcement return: Halton's 2025/26 Q1 overdue (due by 30 Jul 2025); the "
        "force's figure waits for it.",
    )
    assert merge_notes([note]) != (), "a recipient of every area gets it"


def test_the_same_note_twice_is_said_once() -> None:
    note = DataNote("", "doubtful", "Halton, 2025/26 Q1: 4 is far from last year (13)")
    assert merge_notes([note, note]) == ("Halton, 2025/26 Q1: 4 is far from last year (13).",)


def test_a_window_names_every_special_cause_run_not_only_the_latest_point() -> None:
    # Six rising months mid-window (concern, lower is better), then back to common cause.
    values = [10, 11, 10, 12, 10, 11, 9, 10, 11, 12, 13, 14, 15, 11, 10, 11, 10, 11.0]
    points = _points(values)
    assert points[-1].signal == "common_cause"
    text = describe_window(points, "month", lambda x: f"{x:.0f}")
    assert text.startswith(
        "Special cause concern: Jul 2024 to Jan 2025, 7 months rising in a row. Mean 11;"
    )


def test_a_run_is_named_by_the_rule_its_points_meet_not_by_its_last_points() -> None:
    # Twelve months above the mean, the last seven of them also rising: the run is a shift, and
    # "12 months rising in a row" would claim a trend for five months that did not rise.
    values = [10, 9, 11, 10, 9, 11, 10, 9, 11, 10, 9, 11, 10.6, 10.8, 10.6, 10.7, 10.5]
    values += [10.6, 10.7, 10.8, 10.9, 11.0, 11.1]
    text = describe_window(_points(values, "increase"), "month", lambda x: f"{x:.1f}")
    assert text.startswith(
        "Special cause improvement: Dec 2024 to Nov 2025, 12 months in a row above the mean."
    )
    assert "rising" not in text


def test_a_rising_run_that_crosses_the_mean_is_said_as_its_trend_and_then_its_shift() -> None:
    # Cheshire West and Chester's positive-outcome rate in the demo (2025, mean 0.199): rising
    # from below the mean (Feb to Jul), then six months above it. The run is coloured
    # improvement from March to December; neither "10 months rising" nor "10 months below the
    # mean" is true of it.
    from safer.indicators.spc import SpcPoint

    values = [0.191, 0.167, 0.183, 0.187, 0.192, 0.196, 0.225, 0.209, 0.205, 0.203, 0.211, 0.217]
    trend = [False, True, True, True, True, True, True] + [False] * 5
    signal = ["concern"] * 2 + ["improvement"] * 10
    points = tuple(
        SpcPoint(v, 0.199, 0.26, 0.14, 0.24, 0.16, None, False, True, t, False, s, d)  # type: ignore[arg-type]
        for v, t, s, d in zip(
            values,
            trend,
            signal,
            (add_months(dt.date(2025, 1, 1), i) for i in range(12)),
            strict=True,
        )
    )
    text = describe_window(points, "month", lambda x: f"{x:.3f}")
    assert (
        "Special cause improvement: Feb to Jul 2025, 6 months rising in a row; "
        "Jul to Dec 2025, 6 months in a row above the mean." in text
    )


def test_a_point_no_other_rule_accounts_for_is_said_with_its_own_span() -> None:
    # Common cause, then one month far above the upper limit after six months on the mean's
    # far side: the outside point is named by its own rule and date.
    values = [10, 9, 11, 10, 9, 11, 10, 9, 11, 10, 9, 11, 10, 30.0]
    text = describe_window(_points(values, "increase"), "month", lambda x: f"{x:.0f}")
    assert "Feb 2025 at 30, above the upper process limit" in text


def test_limits_of_a_quantity_that_cannot_be_negative_are_floored_at_zero() -> None:
    values = [1, 30, 2, 40, 1, 35, 3, 38, 2, 30, 1, 33.0]
    points = _points(values)
    assert points[-1].lower is not None and points[-1].lower < 0
    text = describe_window(points, "month", lambda x: f"{x:.1f} s")
    assert "process limits 0.0 to " in text and "-" not in text.split("process limits")[1]


def test_too_few_points_say_so() -> None:
    points = _points([1.0, 2.0, 3.0])
    assert describe_window(points, "month", str, too_few="3 of the 12 needed") == (
        "No process limits yet: too few months (3 of the 12 needed)."
    )


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        ("0.36 per 1,000", "1.20 per 1,000", "0.36 to 1.20 per 1,000"),
        ("0.0 s", "403.4 s", "0.0 to 403.4 s"),
        ("14.7%", "26.4%", "14.7% to 26.4%"),
        ("46", "154", "46 to 154"),
    ],
)
def test_a_range_says_its_unit_once(low: str, high: str, expected: str) -> None:
    assert range_text(low, high) == expected


@pytest.mark.parametrize(
    ("first", "last", "grain", "expected"),
    [
        (dt.date(2025, 3, 1), dt.date(2025, 8, 1), "month", "Mar to Aug 2025"),
        (dt.date(2024, 11, 1), dt.date(2025, 2, 1), "month", "Nov 2024 to Feb 2025"),
        (dt.date(2025, 12, 1), dt.date(2025, 12, 1), "month", "Dec 2025"),
        (dt.date(2023, 4, 1), dt.date(2025, 10, 1), "quarter", "2023/24 Q1 to 2025/26 Q3"),
    ],
)
def test_a_span_is_as_short_as_it_can_be(
    first: dt.date, last: dt.date, grain: str, expected: str
) -> None:
    assert span_text(first, last, grain) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "expected"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (22, "22nd")],
)
def test_ordinals(number: int, expected: str) -> None:
    assert ordinal(number) == expected


def test_join_and_capital() -> None:
    assert join(["a"]) == "a" and join(["a", "b"]) == "a and b"
    assert join(["a", "b", "c"]) == "a, b and c"
    assert capital("council return") == "Council return"
    assert capital("data.police.uk street file") == "data.police.uk street file"


def test_a_plan_target_says_where_it_comes_from_and_an_unknown_origin_is_refused(
    tmp_path: Path,
) -> None:
    plans = load_plans(None, load_catalogue())
    origins = {t.origin for plan in plans for _, t in plan.targets() if t.form != "monitor"}
    assert origins == {"local_reading", "national_standard"}
    bundled = Path(__file__).parent.parent / "indicators" / "plans" / "cheshire-2024-28.yaml"
    text = bundled.read_text(encoding="utf-8").replace(
        "        origin: national_standard", "        origin: guess", 1
    )
    (tmp_path / "plan.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"plan\.yaml: priorities\.0\.targets\.3\..*origin"):
        load_plans(tmp_path, load_catalogue())
