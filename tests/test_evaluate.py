"""The evaluation core: statuses, comparisons and the plan in force. Pure and table-driven."""

from __future__ import annotations

import datetime as dt

import pytest

from safer.indicators.definitions import Indicator, load_catalogue, load_plans
from safer.indicators.evaluate import Context, Evaluation, Measured, Observation, Status, evaluate
from safer.kernel.periods import add_months

CATALOGUE = load_catalogue()
PLANS = load_plans(None, CATALOGUE)
ASB = CATALOGUE.get("asb_incidents")
PER_1000 = CATALOGUE.get("asb_per_1000")
FORCE, CSP = "E23000006", "E22000023"
Q4_24 = dt.date(2025, 1, 1)  # 2024/25 Q4, under the 2024-28 plan
Q4_23 = dt.date(2024, 1, 1)  # 2023/24 Q4, under the 2021-24 plan


def _measured(
    indicator: Indicator,
    quarters: dict[tuple[str, dt.date], tuple[float, float | None, int]],
) -> Measured:
    """Quarters from (numerator, denominator, months loaded); months spread evenly."""
    q = {
        key: Observation(indicator.id, key[0], key[1], months, num, den)
        for key, (num, den, months) in quarters.items()
    }
    m = {}
    for (area, start), (num, den, months) in quarters.items():
        for i in range(months):
            month = add_months(start, i)
            m[(area, month)] = Observation(
                indicator.id, area, month, 1, num / months, None if den is None else den
            )
    return Measured(periods=q, series=m)


def _one(
    indicator: Indicator,
    quarters: dict[tuple[str, dt.date], tuple[float, float | None, int]],
    withheld: dict[dt.date, str] | None = None,
    area: str = FORCE,
    start: dt.date = Q4_24,
) -> Evaluation:
    ctx = Context(plans=PLANS, force_code=FORCE, withheld=withheld or {})
    found = evaluate(indicator, _measured(indicator, quarters), ctx)
    return next(e for e in found if (e.area_code, e.period_start) == (area, start))


def test_it_judges_against_the_plan_in_force_for_the_quarter() -> None:
    found = _one(ASB, {(FORCE, Q4_24): (90, None, 3), (FORCE, Q4_23): (100, None, 3)})
    assert found.status is Status.GREEN
    assert found.plan_id == "cheshire-pcp-2024-28" and found.target_form == "same_period_last_year"
    assert found.reason == (
        "fell 10.0% on the same quarter last year (100 in 2023/24 Q4) — better than plan"
    )
    earlier = _one(ASB, {(FORCE, Q4_23): (100, None, 3)}, start=Q4_23)
    assert earlier.plan_id == "cheshire-pcp-2021-24"


def test_before_any_plan_nothing_is_judged() -> None:
    start = dt.date(2019, 1, 1)
    found = _one(ASB, {(FORCE, start): (100, None, 3)}, start=start)
    assert found.status is Status.NOT_EVALUATED
    assert found.reason == "no Police and Crime Plan in force for this quarter"


def test_a_quarter_with_fewer_than_three_months_is_incomplete_not_judged() -> None:
    found = _one(ASB, {(FORCE, Q4_24): (500, None, 2), (FORCE, Q4_23): (100, None, 3)})
    assert found.status is Status.INCOMPLETE
    assert found.reason.startswith("only 2 of 3 months loaded (to 2025-02)")


def test_without_a_complete_comparator_it_is_not_evaluated() -> None:
    found = _one(ASB, {(FORCE, Q4_24): (90, None, 3), (FORCE, Q4_23): (100, None, 1)})
    assert found.status is Status.NOT_EVALUATED
    assert found.reason == "no complete figure in 2023/24 Q4 to compare with"
    assert found.last_year is None


def test_withheld_data_wins_over_every_other_status() -> None:
    reason = "the 2025-02 file failed its checks (month_is_file_month)"
    data = {(FORCE, Q4_24): (90, None, 2), (FORCE, Q4_23): (100, None, 3)}
    found = _one(ASB, data, {Q4_24: reason})
    assert (found.status, found.reason) == (Status.WITHHELD, f"withheld: {reason}")
    data[(FORCE, Q4_24)] = (90, None, 3)
    found = _one(ASB, data, {Q4_23: reason})
    assert found.status is Status.WITHHELD
    assert "2023/24 Q4, the comparison quarter" in found.reason


def test_comparisons_previous_quarter_last_year_and_rest_of_force() -> None:
    q3 = dt.date(2024, 10, 1)
    data = {
        (FORCE, Q4_24): (300, 200, 3),
        (CSP, Q4_24): (100, 40, 3),
        (FORCE, q3): (280, 200, 3),
        (CSP, Q4_23): (80, 40, 3),
        (FORCE, Q4_23): (260, 200, 3),
    }
    found = _one(PER_1000, data, area=CSP)
    assert found.value == pytest.approx(2.5)
    assert found.last_year == pytest.approx(2.0)
    assert found.rest_of_force == pytest.approx(200 / 160)
    # Judged on change (the plan's form): +25% against the rest of the force's +11.1%
    # (1.125 to 1.25), 13.9 points worse; the level (2.5 against 1.25) is context.
    assert found.status is Status.RED
    assert found.reason == (
        "rose 25.0% on the same quarter last year; the rest of the force rose 11.1% — worse "
        "than plan, beyond the 5-point tolerance"
    )
    force = _one(PER_1000, data)
    assert force.previous_quarter == pytest.approx(1.4)
    assert force.rest_of_force is None


def test_rolling_twelve_months_needs_twenty_four_unbroken_months() -> None:
    quarters = {}
    for i in range(8):  # 2023/24 Q1 to 2024/25 Q4
        quarters[(FORCE, add_months(dt.date(2023, 4, 1), 3 * i))] = (30.0 + 3 * (i >= 4), None, 3)
    found = _one(ASB, quarters)
    assert found.rolling_12 == pytest.approx(132) and found.previous_rolling_12 == 120
    del quarters[(FORCE, dt.date(2023, 4, 1))]
    assert _one(ASB, quarters).rolling_12 is None


def test_spc_runs_on_the_monthly_series_and_says_so() -> None:
    quarters = {
        (FORCE, add_months(dt.date(2022, 4, 1), 3 * i)): (300.0, None, 3) for i in range(12)
    }
    found = _one(ASB, quarters)
    assert found.spc_variation == "common_cause"
    assert found.spc_text == "SPC on monthly figures Apr 2022 to Mar 2025: common cause variation"
    rates = {key: (60.0, 300.0, 3) for key in quarters}
    # Each month holds a third of the quarter's crimes over the whole denominator: 6.7% a
    # month, then three months at 13.3%.
    rates[(FORCE, Q4_24)] = (120.0, 300.0, 3)
    jumped = _one(CATALOGUE.get("positive_outcome_rate"), rates)
    assert jumped.spc_variation == "improvement_high"
    assert jumped.spc_text == (
        "SPC on monthly figures Apr 2022 to Mar 2025: special cause: improvement (the latest"
        " point, 13.3% (Mar 2025), is above the upper process limit of 7.7%)"
    ), "values are shown the way the digest shows the indicator (a rate as a percentage)"
    short = _one(ASB, {(FORCE, Q4_24): (90, None, 3), (FORCE, Q4_23): (100, None, 3)})
    assert short.spc_variation == "not_enough_data"


def test_the_evaluations_cover_every_area_and_quarter_measured() -> None:
    data = {(FORCE, Q4_24): (1, None, 3), (CSP, Q4_24): (1, None, 3), (CSP, Q4_23): (1, None, 3)}
    ctx = Context(plans=PLANS, force_code=FORCE, withheld={})
    found = evaluate(ASB, _measured(ASB, data), ctx)
    assert [(e.area_code, e.period_start) for e in found] == sorted(data)


def test_spc_latest_reads_spc_for_each_areas_latest_periods_only() -> None:
    quarters = {
        (area, add_months(dt.date(2022, 4, 1), 3 * i)): (300.0, None, 3)
        for area in (FORCE, CSP)
        for i in range(12)
    }
    measured = _measured(ASB, quarters)
    full = evaluate(ASB, measured, Context(plans=PLANS, force_code=FORCE, withheld={}))
    latest = evaluate(
        ASB, measured, Context(plans=PLANS, force_code=FORCE, withheld={}, spc_latest=2)
    )
    read = [(e.area_code, e.period_start) for e in latest if e.spc_variation != "not_read"]
    assert read == [
        (area, start) for area in sorted((FORCE, CSP)) for start in (dt.date(2024, 10, 1), Q4_24)
    ]
    # What is read is the same reading; everything else about every evaluation is unchanged.
    by_key = {(e.area_code, e.period_start): e for e in full}
    for e in latest:
        before = by_key[(e.area_code, e.period_start)]
        if e.spc_variation == "not_read":
            assert e.spc_text.startswith("SPC: read for each area's latest periods only")
            assert (e.status, e.reason, e.value) == (before.status, before.reason, before.value)
        else:
            assert e == before


def test_a_quarter_loaded_from_its_second_month_runs_to_its_latest_month() -> None:
    """With months = ["2025-05:"], 2025/26 Q1 holds May and June: two months, to June (not
    period start + 2 - 1 = May), and SPC ends on June."""
    q1, may, june = dt.date(2025, 4, 1), dt.date(2025, 5, 1), dt.date(2025, 6, 1)
    series = {(FORCE, m): Observation(ASB.id, FORCE, m, 1, 40, None) for m in (may, june)}
    quarter = {(FORCE, q1): Observation(ASB.id, FORCE, q1, 2, 80, None)}
    ctx = Context(plans=PLANS, force_code=FORCE, withheld={})

    [found] = evaluate(ASB, Measured(periods=quarter, series=series), ctx)

    assert found.status is Status.INCOMPLETE
    assert found.reason.startswith("only 2 of 3 months loaded (to 2025-06)")
    assert found.spc_text.startswith("SPC on monthly figures May 2025 to Jun 2025")
    assert [p.value for p in found.spc_points] == [40, 40]
