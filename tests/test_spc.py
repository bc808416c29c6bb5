"""SPC (Making Data Count XmR): limits, rules, icons and wording, by hand and by property."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safer.indicators.spc import SpcPoint, SpcResult, SpcRules, describe, rules_for, spc
from safer.kernel.periods import add_months

EXACT = 1e-9
SHORT = SpcRules(minimum_points=2)  # rule tests on short series still get limits


def _flags(result: SpcResult, rule: str) -> list[int]:
    """Indices of the points that ``rule`` flags."""
    return [i for i, p in enumerate(result.points) if getattr(p, rule)]


def _signals(result: SpcResult) -> list[str]:
    return [p.signal for p in result.points]


def _limits(p: SpcPoint) -> tuple[float | None, ...]:
    return (p.mean, p.upper, p.lower, p.upper_two_sigma, p.lower_two_sigma)


# --- limits, hand-worked ------------------------------------------------------------------------


def test_it_computes_xmr_limits_for_a_straight_line() -> None:
    # 1..13: mean 7; 12 moving ranges of 1, so mean MR 1; limits 7 ± 2.66 = 9.66 / 4.34;
    # two-sigma lines 7 ± (2/3)(2.66) = 7 ± 1.773333...
    r = spc(range(1, 14), direction="increase")
    for p in r.points:
        assert p.mean == pytest.approx(7, abs=EXACT)
        assert p.upper == pytest.approx(9.66, abs=EXACT)
        assert p.lower == pytest.approx(4.34, abs=EXACT)
        assert p.upper_two_sigma == pytest.approx(7 + 2 * 2.66 / 3, abs=EXACT)
        assert p.lower_two_sigma == pytest.approx(7 - 2 * 2.66 / 3, abs=EXACT)
    assert [p.moving_range for p in r.points] == [None] + [1.0] * 12


def test_it_labels_a_straight_line_by_the_conflict_rule() -> None:
    # 1..4 < 4.34 and 10..13 > 9.66 are outside; all 13 are one rising trend; 1..6 and 8..13 are
    # shifts (7 is on the mean); 1..5 < 5.2267 and 9..13 > 8.7733 are two-of-three.
    r = spc(range(1, 14), direction="increase")
    assert _flags(r, "outside_limits") == [0, 1, 2, 3, 9, 10, 11, 12]
    assert _flags(r, "shift") == [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]
    assert _flags(r, "two_of_three") == [0, 1, 2, 3, 4, 8, 9, 10, 11, 12]
    # 1..6 meet the rising trend (improvement) and rules below the mean (concern): NHSE's SQL
    # shows one by [MetricConflictRule] (l.2361ff), 'Concern' by default here, and the trend
    # that lost is not flagged on them. (NHSRplotthedots' rule order: test_spc_conventions.py.)
    assert _flags(r, "trend") == list(range(6, 13))
    assert _signals(r) == ["concern"] * 6 + ["improvement"] * 7
    assert r.variation == "improvement_high"


def test_it_computes_limits_for_a_flat_series_with_one_spike() -> None:
    # Thirteen 10s and a 24 at index 7: mean 154/14 = 11; two MRs of 14 over 13 MRs, so
    # mean MR 28/13; limits 11 ± 2.66·28/13 = 11 ± 5.729230769...
    values = [10.0] * 14
    values[7] = 24.0
    p = spc(values, direction="decrease").points[0]
    assert p.mean == pytest.approx(11, abs=EXACT)
    assert p.upper == pytest.approx(11 + 2.66 * 28 / 13, abs=EXACT)
    assert p.lower == pytest.approx(11 - 2.66 * 28 / 13, abs=EXACT)
    assert p.upper_two_sigma == pytest.approx(11 + 2 / 3 * 2.66 * 28 / 13, abs=EXACT)


def test_it_finds_nothing_in_a_flat_series() -> None:
    # Mean 5, every MR 0, so both limits are 5: every point is on them (not outside) and on the
    # mean (breaking any shift).
    r = spc([5.0] * 13, direction="increase")
    assert _limits(r.points[0]) == (5.0, 5.0, 5.0, 5.0, 5.0)
    assert set(_signals(r)) == {"common_cause"}
    assert describe(r) == "common cause variation"


# --- rules at their boundaries -----------------------------------------------------------------

# [1]*k then alternating -1/1: mean 5/13 ≈ 0.385, so the 1s are above and the -1s below; mean MR
# 14/12, so nothing is near a limit.
SHIFT_6 = [1.0] * 6 + [-1.0, 1.0] * 3 + [-1.0]
SHIFT_5 = [1.0] * 5 + [-1.0, 1.0] * 4


def test_a_shift_of_six_fires_and_five_does_not() -> None:
    assert _flags(spc(SHIFT_6, direction="increase"), "shift") == [0, 1, 2, 3, 4, 5]
    assert _flags(spc(SHIFT_5, direction="increase"), "shift") == []
    assert _flags(spc(SHIFT_6, direction="increase", rules=SpcRules(shift_points=7)), "shift") == []


def test_a_point_on_the_mean_breaks_a_shift() -> None:
    # Alternating -3/1 then 1,1,1,0,1,1,1: the sum is 0, so the mean is exactly 0 and the 0 splits
    # the seven-point run above it into 4 and 3.
    on_mean = [-3.0, 1.0] * 3 + [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    r = spc(on_mean, direction="increase")
    assert r.points[9].value == r.points[9].mean == 0
    assert _flags(r, "shift") == []
    # The same with a 1 instead of the 0: the mean is 1/13 and the last 8 points are a shift.
    r = spc([*on_mean[:9], 1.0, *on_mean[10:]], direction="increase")
    assert _flags(r, "shift") == list(range(5, 13))


@pytest.mark.parametrize(
    ("values", "trend_points", "flagged"),
    [
        ([3, 1, 2, 3, 4, 5, 6, 2], 6, [1, 2, 3, 4, 5, 6]),  # six points, five rises
        ([3, 1, 2, 3, 4, 5, 2], 6, []),  # five points
        ([3, 1, 2, 3, 3, 4, 5, 6, 2], 6, []),  # a tie splits it into 3 and 4
        ([1, 9, 8, 7, 6, 5, 4, 9], 6, [1, 2, 3, 4, 5, 6]),  # falling
        ([2, 1, 2, 3, 4, 5, 6, 7, 3], 7, [1, 2, 3, 4, 5, 6, 7]),  # NHSRplotthedots' c(2, 1:7, 3)
        ([1, 2, 3, 3, 4, 5, 6], 7, []),  # NHSRplotthedots' c(1:3, 3:6)
    ],
)
def test_a_trend_counts_points_including_endpoints(
    values: Sequence[float], trend_points: int, flagged: list[int]
) -> None:
    rules = SpcRules(trend_points=trend_points, minimum_points=2)
    assert _flags(spc(values, direction="increase", rules=rules), "trend") == flagged


def test_a_turning_point_is_in_both_trends_and_the_conflict_rule_shows_one() -> None:
    # 1..6 rises and 6..1 falls: the peak 6 is in both (NHSE Step 4H flags each run), so it is
    # improvement and concern at once and [MetricConflictRule] decides (l.2361ff).
    values = [1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1]
    r = spc(values, direction="increase", rules=SHORT)
    assert _flags(r, "trend") == list(range(11))
    assert r.points[5].signal == "concern"
    assert r.points[6].signal == "concern"
    shown = spc(
        values, direction="increase", rules=SpcRules(minimum_points=2, conflict="improvement")
    )
    assert shown.points[5].signal == "improvement"


def test_two_of_three_fires_on_the_same_side_and_flags_only_the_points_beyond() -> None:
    # Alternating ±1 then 1, 5.5, 5.5: mean 12/17, mean MR 32.5/16; 5.5 lies between the upper
    # two-sigma line (≈4.31) and the upper limit (≈6.11); the 1 before them is above the mean.
    r = spc([1.0, -1.0] * 7 + [1.0, 5.5, 5.5], direction="increase")
    p = r.points[-1]
    assert p.mean is not None and p.upper is not None and p.upper_two_sigma is not None
    assert p.mean < 1 < p.upper_two_sigma < 5.5 < p.upper
    assert _flags(r, "two_of_three") == [15, 16]
    assert _signals(r)[-3:] == ["common_cause", "improvement", "improvement"]


def test_two_of_three_does_not_fire_across_the_mean() -> None:
    # NHSRplotthedots' own test (tests/testthat/test-ptd_spc_standard.R): ±1 alternating with
    # 5.5 then -5.5 at the end, each beyond its two-sigma line but on opposite sides.
    values = [1.0, -1.0] * 8
    values[14:] = [5.5, -5.5]
    r = spc(values, direction="increase")
    assert r.points[0].upper_two_sigma == pytest.approx(2 / 3 * 2.66 * 43.5 / 15, abs=EXACT)
    assert set(_signals(r)) == {"common_cause"}
    # Two beyond the same line but with a point below the mean between them: not all one side.
    r = spc([1.0, -1.0] * 7 + [1.0, 5.5, -1.0, 5.5], direction="increase")
    assert r.points[-1].upper_two_sigma is not None and r.points[-1].upper_two_sigma < 5.5
    assert _flags(r, "two_of_three") == []


def test_two_of_three_counts_points_beyond_the_process_limit() -> None:
    # Baseline ±1 alternating: mean 0, mean MR 2, two-sigma 3.5467, limit 5.32. Then 1, 4, 6: the
    # 6 is outside the limit and still counts (NHSE v2.6), so 4 and 6 are flagged.
    rules = SpcRules(baseline_points=14)
    r = spc([1.0, -1.0] * 7 + [1.0, 4.0, 6.0], direction="increase", rules=rules)
    assert _flags(r, "two_of_three") == [15, 16]
    assert _flags(r, "outside_limits") == [16]
    assert (
        not spc([1.0, -1.0] * 7 + [1.0, 4.0], direction="increase", rules=rules)
        .points[-1]
        .two_of_three
    )
    assert (
        _flags(
            spc(
                [1.0, -1.0] * 7 + [1.0, 4.0, 6.0],
                direction="increase",
                rules=SpcRules(baseline_points=14, two_of_three=False),
            ),
            "two_of_three",
        )
        == []
    )


# ±25 alternating: mean 0, every MR 50, so the limits are exactly ±133 (2.66 × 50).
PM25 = [-25.0, 25.0] * 7


@pytest.mark.parametrize(
    ("last", "outside"), [(133.0, False), (133.5, True), (-133.0, False), (-133.5, True)]
)
def test_outside_limits_is_strict(last: float, outside: bool) -> None:
    r = spc([*PM25, last], direction="increase", rules=SpcRules(baseline_points=14))
    assert (r.points[-1].upper, r.points[-1].lower) == (133.0, -133.0)
    assert r.points[-1].outside_limits is outside


# --- polarity, icons, assurance ----------------------------------------------------------------

RISING_SHIFT = [*SHIFT_6[6:], *SHIFT_6[:6]]  # the six 1s last: a shift above the mean at the end


@pytest.mark.parametrize(
    ("values", "direction", "signal", "variation"),
    [
        (RISING_SHIFT, "increase", "improvement", "improvement_high"),
        (RISING_SHIFT, "decrease", "concern", "concern_high"),
        (RISING_SHIFT, "neutral", "neutral_high", "neither_high"),
        ([-v for v in RISING_SHIFT], "increase", "concern", "concern_low"),
        ([-v for v in RISING_SHIFT], "decrease", "improvement", "improvement_low"),
        ([-v for v in RISING_SHIFT], "neutral", "neutral_low", "neither_low"),
    ],
)
def test_the_direction_decides_improvement_or_concern(
    values: list[float], direction: str, signal: str, variation: str
) -> None:
    r = spc(values, direction=direction)  # type: ignore[arg-type]
    assert _signals(r)[-6:] == [signal] * 6
    assert r.variation == variation


def test_the_variation_icon_comes_from_the_last_point_only() -> None:
    r = spc([*PM25, 500.0, -25.0, 25.0], direction="increase", rules=SpcRules(baseline_points=14))
    assert r.points[14].signal == "improvement"
    assert r.points[-1].signal == "common_cause"
    assert r.variation == "common_cause"


@pytest.mark.parametrize(
    ("direction", "target", "assurance"),
    [
        ("increase", -133.0, "consistent_pass"),  # on the lower limit: always at or above it
        ("increase", -200.0, "consistent_pass"),
        ("increase", 0.0, "hit_and_miss"),
        ("increase", 132.9, "hit_and_miss"),
        ("increase", 133.0, "consistent_fail"),  # on the upper limit
        ("decrease", 133.0, "consistent_pass"),
        ("decrease", 132.9, "hit_and_miss"),
        ("decrease", -133.0, "consistent_fail"),
        ("decrease", -500.0, "consistent_fail"),
        ("neutral", 0.0, "no_target"),
        ("increase", None, "no_target"),
    ],
)
def test_assurance_compares_the_target_with_the_limits(
    direction: str, target: float | None, assurance: str
) -> None:
    r = spc(PM25, direction=direction, target=target)  # type: ignore[arg-type]
    assert (r.points[-1].upper, r.points[-1].lower) == (133.0, -133.0)
    assert r.assurance == assurance


def test_a_process_sitting_on_its_target_passes_either_way() -> None:
    for direction in ("increase", "decrease"):
        r = spc([5.0] * 13, direction=direction, target=5.0)
        assert r.assurance == "consistent_pass"


def test_too_few_points_give_no_limits_and_no_signals() -> None:
    r = spc(list(range(12)), direction="increase", target=3.0)
    assert all(_limits(p) == (None,) * 5 for p in r.points)
    assert set(_signals(r)) == {"common_cause"}
    assert (r.variation, r.assurance) == ("not_enough_data", "not_enough_data")
    assert describe(r) == "not enough points yet (12 of the 13 needed)"
    assert spc(list(range(12)), direction="increase").assurance == "no_target"
    empty = spc([], direction="decrease", target=1.0)
    assert (empty.points, empty.variation, empty.assurance) == (
        (),
        "not_enough_data",
        "not_enough_data",
    )


# --- recalculation and baselines ----------------------------------------------------------------


def test_each_partition_has_its_own_limits() -> None:
    # [0,2]×7 has mean 1, [10,12]×7 mean 11; each has mean MR 2 within it.
    r = spc([0.0, 2.0] * 7 + [10.0, 12.0] * 7, direction="increase", recalculate_at=[14])
    assert {p.mean for p in r.points[:14]} == {1.0}
    assert {p.mean for p in r.points[14:]} == {11.0}
    assert r.points[14].upper == pytest.approx(11 + 2.66 * 2, abs=EXACT)
    assert r.points[14].moving_range is None
    assert r.partition_start == 14


# Six points above their own partition's mean straddle the boundary at 13: A ends 2, 1.5×3
# (mean 14.5/13) and B starts 1.5×2 (mean 8/13).
STRADDLE = [0.0, 2.0] * 5 + [1.5] * 3 + [1.5, 1.5] + [0.0, 1.0] * 5 + [0.0]


def test_a_shift_does_not_run_across_a_recalculation() -> None:
    assert _flags(spc(STRADDLE, direction="increase", recalculate_at=[13]), "shift") == []
    # In one partition (mean 22.5/26) the same six points are a shift.
    assert _flags(spc(STRADDLE, direction="increase"), "shift") == list(range(9, 15))


def test_a_trend_runs_across_a_recalculation() -> None:
    values = [5.0, 7.0] * 5 + [1.0, 2.0, 3.0] + [4.0, 5.0, 6.0] + [5.0, 7.0] * 5
    r = spc(values, direction="increase", recalculate_at=[13])
    assert _flags(r, "trend") == list(range(10, 16))


def test_the_minimum_counts_the_whole_chart_not_a_partition() -> None:
    # NHSE's SQL blanks limits and icons for a chart under @SettingMinimumPoints (Step 6); a
    # partition under @SettingMinimumPointsPartition only raises a warning (Step 5, l.2507ff).
    r = spc([0.0, 2.0] * 10, direction="increase", recalculate_at=[5, 15])
    assert r.variation == "common_cause"
    assert r.points[-1].upper is not None
    r = spc([0.0, 2.0] * 6, direction="increase", recalculate_at=[5])
    assert r.variation == "not_enough_data"
    assert describe(r) == "not enough points yet (12 of the 13 needed)"


def test_recalculate_at_ignores_zero_and_rejects_indices_outside_the_series() -> None:
    assert spc(PM25, direction="increase", recalculate_at=[0]).partition_start == 0
    with pytest.raises(ValueError, match="recalculate_at index 14"):
        spc(PM25, direction="increase", recalculate_at=[14])


def test_a_baseline_fixes_the_limits_on_its_first_points() -> None:
    r = spc([*PM25, 100.0, 110.0, 120.0], direction="increase", rules=SpcRules(baseline_points=14))
    assert {_limits(p) for p in r.points} == {(0.0, 133.0, -133.0, 266 / 3, -266 / 3)}
    assert spc([*PM25, 100.0, 110.0, 120.0], direction="increase").points[0].mean != 0


def test_a_baseline_applies_to_each_partition() -> None:
    # NHSRplotthedots' fix_after_n_points counts within each rebase group (ptd_spc_standard.R);
    # NHSE's SQL baselines the first partition only (test_spc_conventions.py).
    values = [*PM25, *[v + 1000 for v in PM25], 2000.0]
    rules = rules_for("nhsrplotthedots", baseline_points=14)
    r = spc(values, direction="increase", rules=rules, recalculate_at=[14])
    assert r.points[14].mean == r.points[-1].mean == 1000.0
    assert r.points[-1].outside_limits


def test_screening_drops_outlying_moving_ranges_but_keeps_the_mean() -> None:
    # 1,3 alternating then 1, 30: mean 55/14. MRs: twelve of 2 and one of 29, mean 53/13 ≈ 4.08.
    # Screening drops 29 (≥ 3.267 × 53/13 ≈ 13.3) and leaves a mean MR of 2. Keeping the mean is
    # NHSRplotthedots' screening (ptd_spc_standard.R l.72-78); NHSE's recomputes it.
    values = [1.0, 3.0] * 6 + [1.0, 30.0]
    plain = spc(values, direction="increase").points[0]
    screening = rules_for("nhsrplotthedots", minimum_points=13)
    screened = spc(values, direction="increase", rules=screening).points[0]
    assert plain.mean == screened.mean == pytest.approx(55 / 14, abs=EXACT)
    assert plain.upper == pytest.approx(55 / 14 + 2.66 * 53 / 13, abs=EXACT)
    assert screened.upper == pytest.approx(55 / 14 + 2.66 * 2, abs=EXACT)
    assert screened.lower == pytest.approx(55 / 14 - 2.66 * 2, abs=EXACT)
    # With every MR 0 there is nothing to screen.
    flat = spc([4.0] * 13, direction="increase", rules=SpcRules(screen_moving_ranges=True))
    assert flat.points[0].upper == 4.0


# --- a published example -------------------------------------------------------------------------

# NHSRplotthedots v0.2.x tests use R's set.seed(123); rnorm(20), with screen_outliers = TRUE.
# Its snapshots (tests/testthat/_snaps/ptd_spc.md, ptd_spc_standard.md) print y to 3 significant
# figures and: mean 0.142, lpl -3.01, upl 3.29, 20 common cause (7-point rules); split into two
# facets of 10: 0.0746 / -2.60 / 2.75 and 0.209 / -3.28 / 3.70. The 8-decimal inputs below are R's
# output for that seed (not in the snapshot); the first assert checks them against the snapshot.
RNORM_123 = [
    -0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499, 0.46091621,
    -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383, 0.40077145, 0.11068272,
    -0.55584113, 1.78691314, 0.49785048, -1.96661716, 0.70135590, -0.47279141,
]  # fmt: skip
SNAPSHOT_Y = [
    -0.560, -0.230, 1.56, 0.0705, 0.129, 1.72, 0.461, -1.27, -0.687, -0.446,
    1.22, 0.360, 0.401, 0.111, -0.556, 1.79, 0.498, -1.97, 0.701, -0.473,
]  # fmt: skip


def _sig3(x: float | None) -> float:
    assert x is not None
    return float(f"{x:.3g}")


def test_it_reproduces_the_nhsrplotthedots_snapshot() -> None:
    assert [_sig3(v) for v in RNORM_123] == SNAPSHOT_Y
    r7 = rules_for("nhsrplotthedots")
    r = spc(RNORM_123, direction="increase", rules=r7)
    assert [_sig3(x) for x in _limits(r.points[0])[:3]] == [0.142, 3.29, -3.01]
    assert set(_signals(r)) == {"common_cause"}
    r = spc(RNORM_123, direction="increase", rules=r7, recalculate_at=[10])
    assert [_sig3(x) for x in _limits(r.points[0])[:3]] == [0.0746, 2.75, -2.60]
    assert [_sig3(x) for x in _limits(r.points[10])[:3]] == [0.209, 3.70, -3.28]


# --- describe ------------------------------------------------------------------------------------


def test_describe_names_the_rule_that_labels_the_last_point() -> None:
    assert describe(spc(RISING_SHIFT, direction="decrease")) == (
        "special cause: concern (6 points above the mean of 0.385)"
    )
    assert describe(spc(range(1, 14), direction="decrease"), "%") == (
        "special cause: concern (the latest point, 13%, is above the upper process limit of 9.66%)"
    )
    falling = [0.0, 2.0] * 5 + [9.0, 8.0, 7.0, 6.0, 5.0, 4.0]
    r = spc(falling, direction="increase", rules=SpcRules(two_of_three=False, shift_points=8))
    assert r.points[-1].trend and not r.points[-1].outside_limits
    assert describe(r) == "special cause: concern (6 points in a row decreasing)"
    r = spc([1.0, -1.0] * 7 + [1.0, 5.5, 5.5], direction="neutral")
    assert describe(r) == (
        "special cause: neither improvement nor concern "
        "(2 of the last 3 points above the upper two-sigma line)"
    )


def test_describe_adds_the_assurance_and_units() -> None:
    r = spc([*PM25, 140.0], direction="decrease", target=300.0, rules=SpcRules(baseline_points=14))
    assert describe(r, "incidents") == (
        "special cause: concern (the latest point, 140 incidents, is above the upper process "
        "limit of 133 incidents); the target is consistently met by the process limits"
    )
    assert describe(spc(PM25, direction="increase", target=200.0)).endswith(
        "; the target is consistently missed by the process limits"
    )
    assert describe(spc(PM25, direction="increase", target=0.0)) == (
        "common cause variation; the process will hit and miss the target"
    )


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shift_points", 5),
        ("shift_points", 9),
        ("trend_points", 5),
        ("trend_points", 9),
        ("minimum_points", 1),
        ("baseline_points", 1),
    ],
)
def test_bad_rules_are_refused_naming_the_field(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"SpcRules.{field} "):
        SpcRules(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="values must be finite"):
        spc([1.0, bad], direction="increase")
    with pytest.raises(ValueError, match="target must be finite"):
        spc(PM25, direction="increase", target=bad)


# --- properties ----------------------------------------------------------------------------------

# Integers keep scaling and shifting exact in floats, so any change in the flags would be the
# module's, not rounding in the test.
SERIES = st.lists(st.integers(-1000, 1000), min_size=13, max_size=40)
PROPERTY = settings(max_examples=50, deadline=None, database=None)


def _fingerprint(result: SpcResult) -> list[tuple[bool, bool, bool, bool, str]]:
    return [(p.outside_limits, p.shift, p.trend, p.two_of_three, p.signal) for p in result.points]


@PROPERTY
@given(SERIES)
def test_limits_are_symmetric_about_the_mean(values: list[int]) -> None:
    for p in spc(values, direction="increase").points:
        assert p.mean is not None and p.upper is not None and p.lower is not None
        assert p.upper_two_sigma is not None and p.lower_two_sigma is not None
        assert p.upper - p.mean == pytest.approx(p.mean - p.lower, rel=EXACT, abs=EXACT)
        assert p.upper_two_sigma - p.mean == pytest.approx(
            p.mean - p.lower_two_sigma, rel=EXACT, abs=EXACT
        )
        assert p.lower <= p.lower_two_sigma <= p.mean <= p.upper_two_sigma <= p.upper


@PROPERTY
@given(SERIES, st.integers(1, 1000), st.integers(-(10**6), 10**6))
def test_flags_do_not_depend_on_scale_or_offset(values: list[int], scale: int, shift: int) -> None:
    base = _fingerprint(spc(values, direction="increase"))
    assert _fingerprint(spc([v * scale for v in values], direction="increase")) == base
    assert _fingerprint(spc([v + shift for v in values], direction="increase")) == base


SWAP = {"improvement": "concern", "concern": "improvement", "common_cause": "common_cause"}


@PROPERTY
@given(SERIES)
def test_reversing_the_direction_swaps_improvement_and_concern(values: list[int]) -> None:
    # Under a rule order (NHSRplotthedots) only: NHSE's conflict rule shows a point that is both
    # as concern (or improvement) whichever way is good, so it does not swap.
    ranked = rules_for("nhsrplotthedots", minimum_points=13)
    up = spc(values, direction="increase", rules=ranked)
    down = spc(values, direction="decrease", rules=ranked)
    assert [SWAP[s] for s in _signals(up)] == _signals(down)
    kind, _, level = up.variation.partition("_")
    swapped = f"{SWAP[kind]}_{level}" if kind in SWAP else up.variation
    assert down.variation == swapped
    # Mirroring the series is the same as reversing the direction, conflict rule or not (not for
    # NHSRplotthedots: it calls a trend point followed by a tie "decreasing").
    down = spc(values, direction="decrease")
    assert _signals(spc([-v for v in values], direction="increase")) == _signals(down)


def test_dates_are_carried_onto_the_points_and_named_in_the_sentence() -> None:
    values = [10.0] * 12 + [11.0, 30.0]
    dates = [add_months(dt.date(2024, 1, 1), i) for i in range(14)]
    # By hand: mean 161/14 = 11.5; moving ranges 0 ×11, 1, 19 → 20/13; upper 11.5 + 2.66 × 20/13
    # = 15.59.
    r = spc(values, direction="decrease", dates=dates)
    assert [p.date for p in r.points] == dates
    assert describe(r) == (
        "special cause: concern (the latest point, 30 (Feb 2025), is above the upper process"
        " limit of 15.6)"
    )
    with pytest.raises(ValueError, match="13 dates for 14 values"):
        spc(values, direction="decrease", dates=dates[1:])
