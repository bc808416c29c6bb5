"""Every target form at its status boundaries: pure and table-driven."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from safer.indicators.definitions import Target, load_catalogue
from safer.indicators.status import Status
from safer.indicators.targets import Comparators, judge

CATALOGUE = load_catalogue()
ASB = CATALOGUE.get("asb_incidents")
RATE = CATALOGUE.get("positive_outcome_rate")
PER_1000 = CATALOGUE.get("asb_per_1000")
CALLS = CATALOGUE.get("calls_999_within_10s")
WAIT = CATALOGUE.get("calls_101_average_wait")
TARGET: TypeAdapter[Any] = TypeAdapter(Target)


def _target(**fields: object) -> Any:
    return TARGET.validate_python({"indicator": "x", "source_text": "test", **fields})


def _c(
    last_year: float | None = None,
    baseline: float | None = None,
    rest: float | None = None,
) -> Comparators:
    return Comparators(
        period="2025/26 Q1",
        last_year=last_year,
        last_year_period="2024/25 Q1",
        baseline=baseline,
        baseline_period="2019/20 Q1",
        rest_of_force=rest,
    )


YOY = _target(form="same_period_last_year", amber_tolerance=5, tolerance_unit="percent")
YOY_POINTS = _target(form="same_period_last_year", amber_tolerance=1, tolerance_unit="points")


@pytest.mark.parametrize(
    ("value", "last", "status", "reason"),
    [
        (
            90,
            100,
            Status.GREEN,
            "fell 10.0% on the same quarter last year (100 in 2024/25 Q1) — better than plan",
        ),
        (
            100,
            100,
            Status.GREEN,
            "was unchanged on the same quarter last year (100 in 2024/25 Q1) — on plan",
        ),
        (
            105,
            100,
            Status.AMBER,
            "rose 5.0% on the same quarter last year (100 in 2024/25 Q1)"
            " — worse than plan, within the 5% tolerance",
        ),
        (
            106,
            100,
            Status.RED,
            "rose 6.0% on the same quarter last year (100 in 2024/25 Q1)"
            " — worse than plan, beyond the 5% tolerance",
        ),
        (
            3,
            0,
            Status.RED,
            "rose from none on the same quarter last year (0 in 2024/25 Q1)"
            " — worse than plan, beyond the 5% tolerance",
        ),
    ],
)
def test_same_quarter_last_year_for_a_count(
    value: float, last: float, status: Status, reason: str
) -> None:
    found = judge(ASB, YOY, value, _c(last_year=last))
    assert (found.status, found.reason) == (status, reason)
    assert found.comparator == last


@pytest.mark.parametrize(
    ("value", "status", "words"),
    [
        (0.21, Status.GREEN, "rose 1.0 points"),
        (0.19, Status.AMBER, "fell 1.0 points"),  # exactly the tolerance, despite float error
        (0.189, Status.RED, "fell 1.1 points"),
    ],
)
def test_same_quarter_last_year_for_a_rate_is_in_points(
    value: float, status: Status, words: str
) -> None:
    found = judge(RATE, YOY_POINTS, value, _c(last_year=0.2))
    assert found.status is status
    assert found.reason.startswith(words)


@pytest.mark.parametrize(
    ("value", "status", "end"),
    [
        (0.95, Status.GREEN, "— better than plan"),
        (0.90, Status.GREEN, "— on plan"),
        (0.88, Status.AMBER, "— worse than plan, within the 2-point tolerance"),
        (0.879, Status.RED, "— worse than plan, beyond the 2-point tolerance"),
    ],
)
def test_threshold_at_least(value: float, status: Status, end: str) -> None:
    target = _target(form="threshold", at_least=0.9, amber_tolerance=2, tolerance_unit="points")
    found = judge(CALLS, target, value, _c())
    assert found.status is status
    assert found.reason.startswith(f"{value * 100:.1f}% ")
    assert "the target of at least 90.0%" in found.reason and found.reason.endswith(end)


@pytest.mark.parametrize(
    ("value", "status"), [(60.0, Status.GREEN), (64.0, Status.AMBER), (65.5, Status.RED)]
)
def test_threshold_at_most_in_the_indicators_unit(value: float, status: Status) -> None:
    target = _target(form="threshold", at_most=60, amber_tolerance=5, tolerance_unit="value")
    assert judge(WAIT, target, value, _c()).status is status


def test_threshold_needs_exactly_one_bound() -> None:
    with pytest.raises(ValueError, match="exactly one of at_least or at_most"):
        _target(form="threshold", at_least=1, at_most=2)
    with pytest.raises(ValueError, match="exactly one of at_least or at_most"):
        _target(form="threshold")


@pytest.mark.parametrize(
    ("value", "status"),
    [(85, Status.GREEN), (90, Status.GREEN), (94, Status.AMBER), (96, Status.RED)],
)
def test_change_on_a_baseline_year(value: float, status: Status) -> None:
    # Aim: 10% fewer than the baseline quarter (100), i.e. at most 90; amber up to 5% above 90.
    target = _target(
        form="baseline_change",
        baseline_year=2019,
        change_percent=-10,
        amber_tolerance=5,
        tolerance_unit="percent",
    )
    found = judge(ASB, target, value, _c(baseline=100))
    assert found.status is status
    assert "on 2019/20 Q1 (100); aim: 10% fewer" in found.reason
    assert found.comparator == pytest.approx(90)


@pytest.mark.parametrize(
    ("value", "status"), [(2.0, Status.GREEN), (2.2, Status.AMBER), (2.3, Status.RED)]
)
def test_rest_of_the_force(value: float, status: Status) -> None:
    target = _target(form="rest_of_force", amber_tolerance=10, tolerance_unit="percent")
    found = judge(PER_1000, target, value, _c(rest=2.0))
    assert found.status is status
    assert "against 2.00 per 1,000 in the rest of the force" in found.reason


def test_national_figure() -> None:
    target = _target(
        form="national", value=0.25, as_at="E&W 2024", amber_tolerance=1, tolerance_unit="points"
    )
    found = judge(RATE, target, 0.24, _c())
    assert found.status is Status.AMBER
    assert "24.0% against 25.0% nationally (E&W 2024)" in found.reason


def test_monitoring_only_is_not_judged() -> None:
    found = judge(ASB, _target(form="monitor"), 5, _c())
    assert found.status is Status.NOT_EVALUATED
    assert found.reason == "monitoring only: the plan sets no target"


@pytest.mark.parametrize(
    ("target", "comparators"),
    [
        (YOY, _c()),
        (_target(form="rest_of_force"), _c()),
        (_target(form="baseline_change", baseline_year=2019, change_percent=-5), _c()),
    ],
)
def test_a_missing_comparator_is_not_evaluated(target: Any, comparators: Comparators) -> None:
    found = judge(ASB if target.form != "rest_of_force" else PER_1000, target, 5, comparators)
    assert found.status is Status.NOT_EVALUATED
    assert found.reason.startswith("no complete figure")


def test_neutral_indicators_are_never_off_track() -> None:
    letters = CATALOGUE.get("flytipping_warning_letters")
    assert judge(letters, YOY, 500, _c(last_year=100)).status is Status.GREEN
