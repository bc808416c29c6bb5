"""The evaluation core: pure and table-driven."""

from __future__ import annotations

import datetime as dt

import pytest

from indicators.definitions import Indicator, Target, load_catalogue, load_plan
from indicators.evaluate import Observation, Status, evaluate

CATALOGUE = load_catalogue()
ASB = CATALOGUE.get("asb_incidents")
RATE = CATALOGUE.get("positive_outcome_rate")
TARGETS = {t.indicator: t for _, t in load_plan(None, CATALOGUE).targets()}
Q4_24 = dt.date(2025, 1, 1)  # 2024/25 Q4
Q4_23 = dt.date(2024, 1, 1)  # 2023/24 Q4


def _one(
    indicator: Indicator,
    now: tuple[float, float | None, int],
    last: tuple[float, float | None, int] | None,
    withheld: dict[dt.date, str] | None = None,
    target: Target | None = None,
) -> tuple[Status, str]:
    observations = {("A", Q4_24): Observation(indicator.id, "A", Q4_24, now[2], now[0], now[1])}
    if last:
        observations[("A", Q4_23)] = Observation(
            indicator.id, "A", Q4_23, last[2], last[0], last[1]
        )
    found = evaluate(indicator, target or TARGETS[indicator.id], observations, withheld or {})
    result = next(e for e in found if e.period_start == Q4_24)
    return result.status, result.reason


@pytest.mark.parametrize(
    ("now", "last", "status", "reason"),
    [
        (90, 100, Status.GREEN, "10.0% fewer than 100 in 2023/24 Q4"),
        (100, 100, Status.GREEN, "the same as 100 in 2023/24 Q4"),
        (105, 100, Status.AMBER, "5.0% more than 100 in 2023/24 Q4, within the 5% tolerance"),
        (106, 100, Status.RED, "6.0% more than 100 in 2023/24 Q4, beyond the 5% tolerance"),
        (3, 0, Status.RED, "3 against none in 2023/24 Q4, beyond the 5% tolerance"),
    ],
)
def test_asb_is_judged_against_the_same_quarter_last_year(
    now: float, last: float, status: Status, reason: str
) -> None:
    assert _one(ASB, (now, None, 3), (last, None, 3)) == (status, reason)


@pytest.mark.parametrize(
    ("now", "last", "status", "reason"),
    [
        (21, 20, Status.GREEN, "1.0 points higher than 20.0% in 2023/24 Q4"),
        (19, 20, Status.AMBER, "1.0 points lower than 20.0% in 2023/24 Q4, within the 1 points"),
        (18.9, 20, Status.RED, "1.1 points lower than 20.0% in 2023/24 Q4, beyond the 1 points"),
    ],
)
def test_the_outcome_rate_is_judged_in_percentage_points(
    now: float, last: float, status: Status, reason: str
) -> None:
    found = _one(RATE, (now, 100, 3), (last, 100, 3))
    assert found[0] is status
    assert found[1].startswith(reason)


def test_a_quarter_with_fewer_than_three_months_is_incomplete_not_judged() -> None:
    status, reason = _one(ASB, (500, None, 2), (100, None, 3))
    assert status is Status.INCOMPLETE
    assert reason.startswith("only 2 of 3 months loaded (to 2025-02)")


def test_without_a_complete_comparator_it_is_not_evaluated() -> None:
    assert _one(ASB, (90, None, 3), (100, None, 1))[0] is Status.NOT_EVALUATED
    assert _one(ASB, (90, None, 3), None) == (
        Status.NOT_EVALUATED,
        "no complete figure for 2023/24 Q4 to compare with",
    )


def test_withheld_data_wins_over_every_other_status() -> None:
    reason = "the 2025-02 file failed its checks (month_is_file_month)"
    status, text = _one(ASB, (90, None, 2), (100, None, 3), {Q4_24: reason})
    assert (status, text) == (Status.WITHHELD, f"withheld: {reason}")
    status, text = _one(ASB, (90, None, 3), (100, None, 3), {Q4_23: reason})
    assert status is Status.WITHHELD and "2023/24 Q4, the comparison quarter" in text


def test_a_rate_with_no_crimes_is_not_a_division_by_zero() -> None:
    assert _one(RATE, (0, 0, 3), (1, 10, 3)) == (
        Status.NOT_EVALUATED,
        "no crimes recorded, so no rate",
    )
