"""SPC conventions: each reproduces the cases its implementation publishes, and the three differ
where domain-research.md §1 says they do (docs/spc-conventions.md).

The published cases are transcribed below as data (read, not copied), each block citing where:

- MDC: the Making Data Count team's "SPC Charts XmR Testing" document for its Single Chart Tool
  v5.0 and its datasets with the colour each point shows, as transcribed in
  NHSDigital/fdp-react-design-system, src/components/DataVisualisation/charts/SPC/SPCChart/
  test-data/SPC-Charts-XmR-Testing.md (commit 962138d32448a0273cff5844eabc90ed3f8363eb) and
  test-data/Test Data.csv (commit 28cd7323f3b8405ff77c7d99209c8a77bb5ee417).
- NHSE: the sample data of NHS England's "SPC CHARTS SQL QUERY v2.6" (Step 3, #RawData with
  its annotations, #BaselineData, #TargetData), the copy in the same repository at commit
  330ba8a1370cd015959f8593905c65d4e22c8447, src/components/DataVisualisation/charts/SPC/
  SPCChart/logic/NHSE SPC Charts SQL Query v2.6.sql.
- R: nhs-r-community/NHSRplotthedots at commit 050b07d7eacc011767532732f69b8fd7d6a28fd3:
  tests/testthat (test-ptd_calculate_point_type.R, test-ptd_spc_standard.R and its snapshot
  _snaps/ptd_spc_standard.md, test-ptd_calculate_assurance_type.R) and vignettes/deviations.Rmd.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from safer.indicators.spc import SpcResult, SpcRules, describe, rules_for, spc
from safer.indicators.spc_rules import (
    runs,
    trend_marks,
    trend_sides_by_next_point,
    two_of_three_marks,
)
from safer.kernel.config import SpcConfig, load_config
from safer.kernel.errors import ConfigError
from safer.kernel.spc_conventions import CONVENTIONS, Convention, method_words

COLOURS = {
    "improvement": "b",  # blue
    "concern": "o",  # orange
    "neutral_high": "p",  # purple
    "neutral_low": "p",
    "common_cause": "g",  # grey
}


def _colours(result: SpcResult) -> str:
    return "".join(COLOURS[p.signal] for p in result.points)


def _flags(result: SpcResult, rule: str) -> list[int]:
    return [i for i, p in enumerate(result.points) if getattr(p, rule)]


# --- MDC single chart tool v5.0: the MDC team's own test datasets ---------------------------------

# (name, values, colour of each point) from Test Data.csv. The MDC document sets every example to
# high is good with 6-point shifts and trends unless its name says otherwise.
MDC_CASES: list[tuple[str, list[float], str]] = [
    ("Number of points - 12", [30, 31, 25, 35, 34, 15, 21, 23, 30, 26, 26, 22], "g" * 12),
    ("Number of points - 13", [30, 31, 25, 35, 34, 15, 21, 23, 30, 26, 26, 22, 25], "g" * 13),
    (
        "Process limits - 15",
        [20, 24, 20, 26, 22, 16, 18, 16, 31, 28, 34, 26, 30, 19, 18],
        "g" * 15,
    ),
    ("Process limits - 10", [20, 24, 20, 26, 22, 16, 18, 16, 31, 28], "g" * 10),
    (
        "Special cause - High is good",
        [8, 27, 32, 26, 20, 21, 23, 21, 23, 22, 26, 23, 20, 20, 29, 28, 22, 23, 25, 26, 28, 29, 26,
         24, 36, 29, 35, 22, 30, 18],
        "ogggooooooggggggbbbbbbggbgbggg",
    ),
    (
        "Special cause - Low is good",
        [8, 27, 32, 26, 20, 21, 23, 21, 23, 22, 26, 23, 20, 20, 29, 28, 22, 23, 25, 26, 28, 29, 26,
         24, 36, 29, 35, 22, 30, 18],
        "bgggbbbbbbggggggooooooggogoggg",
    ),
    (
        "Special cause - Neither",
        [8, 27, 32, 26, 20, 21, 23, 21, 23, 22, 26, 23, 20, 20, 29, 28, 22, 23, 25, 26, 28, 29, 26,
         24, 36, 29, 35, 22, 30, 18],
        "pgggppppppggggggppppppggpgpggg",
    ),
    (
        "Special cause - single point - ends",
        [45, 29, 20, 22, 25, 20, 27, 24, 22, 23, 20, 26, 20, 15, 5],
        "bgggggggggggggo",
    ),
    (
        "Special cause - single point - middle",
        [29, 32, 35, 45, 43, 23, 18, 20, 16, 7, 28, 26, 22, 19, 20],
        "gggbbggggoggggg",
    ),
    (
        "Special cause - shift - ends",
        [31, 35, 34, 29, 29, 32, 26, 26, 32, 35, 30, 18, 31, 25, 27, 22, 18, 25, 25, 17],
        "bbbbbbgggggggooooooo",
    ),
    (
        "Special cause - shift - middle",
        [31, 22, 19, 21, 18, 18, 22, 22, 29, 25, 23, 26, 31, 26, 28, 29, 32, 24, 31, 22],
        "gooooooogggbbbbbbggg",
    ),
    (
        "Special cause - trend - no pauses",
        [11, 14, 18, 20, 22, 23, 18, 21, 17, 23, 26, 20, 16, 25, 23, 22, 19, 16, 15, 12],
        "bbbbbbgggggggooooooo",
    ),
    (
        "Special cause - trend - pauses",
        [23, 30, 28, 25, 25, 20, 18, 24, 16, 13, 14, 18, 18, 24, 26, 29, 19, 20, 28, 16],
        "g" * 20,
    ),
    (
        "Special cause - two-sigma - 1",
        [42, 40, 39, 26, 39, 24, 22, 29, 32, 22, 20, 23, 25, 26, 22, 24, 27, 7, 19, 24, 7, 7, 32],
        "bbbgbgggggggggggggggoog",
    ),
    (
        "Special cause - two-sigma - 2",
        [42, 40, 39, 26, 39, 24, 22, 29, 32, 22, 20, 23, 25, 26, 22, 24, 27, 7, 19, 24, 7, 2, 32],
        "bbbgbggggggggggggggggog",
    ),
    (
        "Special cause - two-sigma - 3",
        [42, 40, 39, 24, 39, 24, 22, 29, 32, 22, 20, 23, 25, 26, 22, 24, 27, 7, 19, 26, 7, 7, 32],
        "bbbgggggggggggggggggggg",
    ),
    (
        "Special cause conflict - High is good",
        [43, 41, 37, 36, 31, 23, 15, 13, 15, 18, 23, 27, 31, 36, 27, 19, 17, 27, 15, 22],
        "bbbbooobbbbbbbbggggg",
    ),
    (
        "Special cause conflict - Low is good",
        [43, 41, 37, 36, 31, 23, 15, 13, 15, 18, 23, 27, 31, 36, 27, 19, 17, 27, 15, 22],
        "bbbbbbbbbbbooogggggg",
    ),
    (
        "Recalculations",
        [16, 24, 22, 19, 19, 18, 24, 25, 18, 17, 16, 25, 15, 23, 19, 35, 32, 35, 31, 27, 33, 28,
         38, 35, 30, 28, 29, 27, 24, 23],
        "ooooooooooooooobbbbbbbbbbbbbgg",
    ),
    (
        "Recalculations - Recalculated",
        [16, 24, 22, 19, 19, 18, 24, 25, 18, 17, 16, 25, 15, 23, 19, 35, 32, 35, 31, 27, 33, 28,
         38, 35, 30, 28, 29, 27, 24, 23],
        "ggggggggggggggggggggggggoooooo",
    ),
    (
        "Baselines - Recalculated",
        [16, 24, 22, 19, 19, 18, 24, 25, 18, 17, 16, 25, 15, 23, 19, 35, 32, 35, 31, 27, 33, 28,
         38, 35, 30, 28, 29, 27, 24, 23],
        "gggggggggggggggbbbbbbbbbbbbbbb",
    ),
    (
        "Special cause crossing recalculations - shift",
        [28, 23, 26, 21, 23, 25, 24, 29, 30, 27, 25, 30, 27, 24, 19, 22, 28, 28, 29, 33, 28, 30,
         31, 30, 26, 27, 34, 30, 32, 35],
        "gggggggggggggooooooggggggggggg",
    ),
    (
        "Special cause crossing recalculations - trend",
        [28, 23, 26, 21, 23, 25, 24, 29, 30, 27, 25, 30, 27, 26, 19, 22, 26, 28, 29, 33, 28, 30,
         31, 30, 26, 27, 34, 30, 32, 35],
        "ggggggggggggggbbbbbbgggggggggg",
    ),
    (
        "Special cause crossing recalculations - two-sigma",
        [28, 23, 26, 21, 23, 25, 24, 29, 30, 27, 25, 30, 27, 24, 19, 22, 32, 28, 29, 33, 28, 30,
         31, 30, 26, 27, 34, 30, 32, 35],
        "ggggggggggggggoogggggggggggggg",
    ),
    (
        "Summary icons - assurance - low is good",
        [16, 24, 22, 19, 19, 18, 24, 25, 18, 17, 16, 25, 15, 23, 19, 35, 32, 35, 31, 27, 33, 28,
         38, 35, 30, 28, 29, 27, 24, 23],
        "bbbbbbbbbbbbbbbooooooooooooogg",
    ),
    (
        "Summary icons - variation - High is good",
        [16, 20, 22, 18, 21, 18, 26, 28, 24, 26, 19, 18, 25, 32, 43, 28, 22, 45],
        "ooooooggggggggbggb",
    ),
    (
        "Summary icons - variation - Low is good",
        [16, 20, 22, 18, 21, 18, 26, 28, 24, 26, 19, 18, 25, 32, 43, 28, 22, 45],
        "bbbbbbggggggggoggo",
    ),
    (
        "Summary icons - variation - High is good 2",
        [16, 20, 22, 18, 21, 18, 26, 28, 24, 26, 19, 18, 25, 32, 43, 28, 22, 25],
        "ooooooggggggggbggg",
    ),
    (
        "Summary icons - variation - High is good 3",
        [16, 20, 22, 18, 21, 18, 26, 28, 24, 26, 19, 18, 25, 32, 43, 28, 22, 5],
        "ooooooggggggggbggo",
    ),
    (
        "Summary icons - variation - Low is good 3",
        [16, 20, 22, 18, 21, 18, 26, 28, 24, 26, 19, 18, 25, 32, 43, 28, 22, 5],
        "bbbbbbggggggggoggb",
    ),
    (
        "Summary icons - variation - Neither",
        [16, 20, 22, 18, 21, 18, 26, 28, 24, 26, 19, 18, 25, 32, 43, 28, 22, 45],
        "ppppppggggggggpggp",
    ),
    (
        "Summary icons - variation - Too few points",
        [16, 20, 22, 18, 21, 18, 26, 28, 24, 26],
        "g" * 10,
    ),
    (
        "Summary icons - variation - Neither2",
        [16, 20, 22, 18, 21, 18, 26, 28, 24, 26, 19, 18, 25, 32, 43, 28, 22, 25],
        "ppppppggggggggpggg",
    ),
]  # fmt: skip

# The CSV marks p15 (27) of "conflict - High is good" blue, but the document says only p1..p14
# are flagged ("p8 to p14 are part of an increasing trend"), no rule meets p15 (4 points above
# the mean, one beyond two sigma), and its low-is-good mirror shows p15 grey: a transcription
# slip, corrected here.
MDC_CORRECTIONS = {("Special cause conflict - High is good", 14): "g"}

# Where the document's tables break a series: a recalculation before p16, and a baseline of
# p1..p15 as well in "Baselines - Recalculated" ("only the baseline is implemented").
MDC_SETUP: dict[str, tuple[list[int], dict[str, Any]]] = {
    "Recalculations - Recalculated": ([15], {}),
    "Baselines - Recalculated": ([15], {"baseline_points": 15}),
    "Special cause crossing recalculations - shift": ([15], {}),
    "Special cause crossing recalculations - trend": ([15], {}),
    "Special cause crossing recalculations - two-sigma": ([15], {}),
}


def _direction(name: str) -> Any:
    if "ow is good" in name:
        return "decrease"
    return "neutral" if "Neither" in name else "increase"


def _mdc(name: str, values: Sequence[float], convention: Convention) -> SpcResult:
    recalculate_at, changes = MDC_SETUP.get(name, ([], {}))
    rules = rules_for(convention, **changes)
    return spc(values, direction=_direction(name), rules=rules, recalculate_at=recalculate_at)


def _expected(name: str, colours: str) -> str:
    return "".join(MDC_CORRECTIONS.get((name, i), c) for i, c in enumerate(colours))


@pytest.mark.parametrize(("name", "values", "colours"), MDC_CASES, ids=[c[0] for c in MDC_CASES])
def test_the_mdc_convention_colours_every_point_of_the_mdc_test_datasets(
    name: str, values: list[float], colours: str
) -> None:
    assert _colours(_mdc(name, values, "mdc-single-chart-tool")) == _expected(name, colours)


def _case(name: str) -> list[float]:
    return next(values for n, values, _ in MDC_CASES if n == name)


def test_the_mdc_process_limits_example() -> None:
    # MDC document, "Process limits": 15 points, mean 23.20, limits 37.64 and 8.76.
    p = _mdc("Process limits - 15", _case("Process limits - 15"), "mdc-single-chart-tool").points[0]
    assert p.mean is not None and p.upper is not None and p.lower is not None
    assert (round(p.mean, 2), round(p.upper, 2), round(p.lower, 2)) == (23.20, 37.64, 8.76)


@pytest.mark.parametrize("convention", ["mdc-single-chart-tool", "nhse-sql-2.6"])
def test_twelve_points_show_the_mean_and_thirteen_the_limits(convention: Convention) -> None:
    # MDC document, "Number of points": no limits or icons at 12 points; "The mean and the
    # target if provided are shown". NHSE's Step 6 likewise returns [Mean] below the minimum.
    short = _mdc("Number of points - 12", _case("Number of points - 12"), convention)
    assert all(p.upper is None and p.mean is None for p in short.points)
    assert {p.run_chart_mean for p in short.points} == {318 / 12}
    assert (short.variation, describe(short)) == (
        "not_enough_data",
        "not enough points yet (12 of the 13 needed)",
    )
    enough = _mdc("Number of points - 13", _case("Number of points - 13"), convention)
    assert enough.points[0].upper is not None and enough.points[0].run_chart_mean is None


@pytest.mark.parametrize(
    ("name", "icon"),
    [
        ("Summary icons - variation - High is good", "improvement_high"),
        ("Summary icons - variation - Low is good", "concern_high"),
        ("Summary icons - variation - High is good 2", "common_cause"),
        ("Summary icons - variation - High is good 3", "concern_low"),
        ("Summary icons - variation - Low is good 3", "improvement_low"),
        ("Summary icons - variation - Neither", "neither_high"),
        ("Summary icons - variation - Neither2", "common_cause"),
        ("Summary icons - variation - Too few points", "not_enough_data"),
    ],
)
def test_the_variation_icon_reads_the_last_point(name: str, icon: str) -> None:
    # MDC document, "Summary icons - variation": the last point's colour, high or low.
    assert _mdc(name, _case(name), "mdc-single-chart-tool").variation == icon


# --- NHSE SQL v2.6: its own sample data --------------------------------------------------------

# #RawData (Step 3b), weekly from 2021-01-04. M1 is 'Up' with [MetricConflictRule] 'Concern'
# and a target of 0.95 for every group (Step 3a, 3d).
M1_TOTAL = [
    0.922, 0.928, 0.93, 0.926, 0.926, 0.923, 0.921, 0.918, 0.925, 0.91, 0.92, 0.924, 0.923,
    0.92, 0.925, 0.928, 0.927, 0.921, 0.918, 0.921, 0.925, 0.939, 0.929, 0.927, 0.925, 0.926,
]  # fmt: skip
M1_DEPARTMENT_A = [
    0.972, 0.965, 0.966, 0.974, 0.97, 0.971, 0.977, 0.97, 0.97, 0.968, 0.965, 0.96, 0.967,
    0.97, 0.981, 0.977, 0.976, 0.97, 0.973, 0.975, 0.977, 0.98, 0.978, 0.98, 0.973, 0.97,
]  # fmt: skip
M1_DEPARTMENT_B = [
    0.965, 0.956, 0.963, 0.952, 0.947, 0.951, 0.956, 0.958, 0.962, 0.965, 0.967, 0.961, 0.958,
    0.947, 0.952, 0.963, 0.961, 0.96, 0.957, 0.956, 0.955, 0.952, 0.959, 0.963, 0.954, 0.956,
]  # fmt: skip
M1_DEPARTMENT_C = [
    0.913, 0.911, 0.912, 0.909, 0.912, 0.923, 0.905, 0.923, 0.912, 0.905, 0.905, 0.898, 0.901,
    0.915, 0.91, 0.905, 0.912, 0.91, 0.907, 0.915, 0.912, 0.909, 0.92, 0.923, 0.924, 0.923,
]  # fmt: skip
M1_DEPARTMENT_D = [
    0.971, 0.973, 0.978, 0.979, 0.981, 0.985, 0.987, 0.991, 0.993, 0.987, 0.982, 0.98, 0.979,
    0.972, 0.964, 0.962, 0.958, 0.96, 0.961, 0.963, 0.964, 0.965, 0.966, 0.968, 0.97, 0.972,
]  # fmt: skip
# M2 'Down', 'Concern', monthly from 2016-01: baseline to 2017-12 (24 points, #BaselineData),
# limits recalculated at 2019-09 (index 44), 2020-10 ghosted (index 57), target 12.
M2_TOTAL = [
    13, 16, 14, 13, 15, 16, 18, 16, 17, 15, 13, 16, 15, 14, 13, 16, 19, 17, 12, 14, 17, 19, 16,
    17, 16, 13, 18, 22, 19, 19, 18, 19, 17, 21, 20, 14, 18, 17, 15, 16, 19, 21, 17, 14, 8, 6, 5,
    3, 5, 4, 6, 5, 4, 6, 7, 5, 5, 27, 6, 2, 5, 7, 5, 4, 5, 6,
]  # fmt: skip


def test_nhse_sample_points_beyond_the_limits() -> None:
    # Annotated 'Below lower process limit' (2021-03-08) and 'Above upper process limit'
    # (2021-05-31); the target 0.95 lies above the upper limit, so fail.
    r = spc(M1_TOTAL, direction="increase", target=0.95)
    assert _flags(r, "outside_limits") == [9, 21]
    assert (r.points[9].signal, r.points[21].signal) == ("concern", "improvement")
    assert r.assurance == "consistent_fail"


def test_nhse_sample_shifts_trends_and_two_sigma_runs() -> None:
    # Department A: 'Start of seven points below mean' (2021-02-22), '... above mean' (05-10).
    a = spc(M1_DEPARTMENT_A, direction="increase")
    assert _flags(a, "shift") == [*range(7, 14), *range(18, 25)]
    # Department B: 'Start of seven points increasing' (02-01), '... decreasing' (04-19).
    b = spc(M1_DEPARTMENT_B, direction="increase")
    assert _flags(b, "trend") == [*range(4, 11), *range(15, 22)]
    assert {b.points[i].signal for i in range(15, 22)} == {"concern"}
    # Department C: 'Two out of three points beyond two-sigma with the other point on the same
    # side of the mean' (03-22) and 'Three out of three points beyond two-sigma' (06-14).
    c = spc(M1_DEPARTMENT_C, direction="increase")
    assert _flags(c, "two_of_three") == [11, 12, 23, 24, 25]


@pytest.mark.parametrize(
    ("conflict", "shown"), [("concern", "concern"), ("improvement", "improvement")]
)
def test_nhse_sample_conflicts_follow_the_metric_conflict_rule(conflict: Any, shown: str) -> None:
    # Department D: 'Start of decrease (concern) while still above mean (improvement)' (03-01)
    # and 'Start of increase (improvement) while still below mean (concern)' (04-26).
    rules = SpcRules(conflict=conflict)
    d = spc(M1_DEPARTMENT_D, direction="increase", rules=rules)
    assert (d.points[8].signal, d.points[16].signal) == (shown, shown)


def test_nhse_sample_baseline_recalculation_and_ghost() -> None:
    r = spc(
        M2_TOTAL,
        direction="decrease",
        target=12.0,
        rules=SpcRules(baseline_points=24),
        recalculate_at=[44],
        ghosts=[57],
    )
    # The baseline's mean and limits carry on until the recalculation.
    assert {p.mean for p in r.points[:44]} == {371 / 24}
    # The ghost is shown with its partition's lines but left out: the mean is the other 21
    # points', 27 is not "outside", and the next moving range skips it.
    ghost = r.points[57]
    assert ghost.ghost and ghost.mean == 109 / 21
    assert ghost.upper is not None and ghost.value > ghost.upper
    assert (ghost.outside_limits, ghost.signal, ghost.moving_range) == (False, "common_cause", None)
    assert r.points[58].moving_range == 1.0  # |6 - 5|, from the point before the ghost
    # The fall from 21 (2019-06) to 3 (2019-12) is one trend across the recalculation (Step 4H).
    assert _flags(r, "trend") == list(range(41, 48))
    assert {r.points[i].signal for i in range(41, 48)} == {"improvement"}
    # The target 12 lies above the last partition's upper limit: low is good, so pass.
    assert (r.variation, r.assurance) == ("common_cause", "consistent_pass")
    assert spc(M2_TOTAL, direction="decrease", recalculate_at=[44]).points[57].mean != 109 / 21


def test_nhse_screening_matches_the_sql_reference_values() -> None:
    # MR outlier exclusion (@ExcludeMovingRangeOutliers = 1): NHSDigital/fdp-react-design-system
    # …/logic_v2/__tests__/fixtures/mrOutlier.sqlReference.json at commit
    # 00d48e5f0f8e01e84480558d7b068fc537fef2c3. MRs above 3.267 × their mean go, and so do the
    # points they lead to (40 and the 10.0 after it) from the mean.
    series = [10, 10.2, 9.9, 10.1, 40, 10.0, 9.8, 10.1, 10.0, 9.9, 10.2, 10.1, 9.9]
    rules = SpcRules(screen_moving_ranges=True, minimum_points=12)
    p = spc(series, direction="neutral", rules=rules).points[-1]
    got = (p.mean, p.upper, p.lower, p.upper_two_sigma, p.lower_two_sigma)
    expected = (10.018181818181818, 10.550181818181818, 9.486181818181818, 10.372848484848485,
                9.663515151515151)  # fmt: skip
    assert got == pytest.approx(expected, abs=1e-9)


# --- NHSRplotthedots: its test suite and vignettes -----------------------------------------------

# R's set.seed(123); rnorm(20), to 8 decimals (tests/test_spc.py checks them against the
# snapshot's 3 figures).
RNORM_123 = [
    -0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499, 0.46091621,
    -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383, 0.40077145, 0.11068272,
    -0.55584113, 1.78691314, 0.49785048, -1.96661716, 0.70135590, -0.47279141,
]  # fmt: skip
R_RULES = rules_for("nhsrplotthedots")


def _lines7(result: SpcResult) -> list[float]:
    p = result.points[0]
    assert p.mean is not None and p.lower is not None and p.upper is not None
    return [float(f"{x:.7g}") for x in (p.mean, p.lower, p.upper)]


def test_it_reproduces_the_ptd_spc_standard_snapshots() -> None:
    # _snaps/ptd_spc_standard.md: r1 as is; r2 with y[15] = 10, screened; r3 unscreened.
    assert _lines7(spc(RNORM_123, direction="increase", rules=R_RULES)) == [
        0.1416238,
        -3.01138,
        3.294627,
    ]
    spiked = [*RNORM_123[:14], 10.0, *RNORM_123[15:]]
    r2 = spc(spiked, direction="increase", rules=R_RULES)
    assert _lines7(r2) == [0.6694159, -2.383666, 3.722497]
    sides = [1 if p.mean is not None and p.value > p.mean else -1 for p in r2.points[:15]]
    assert sides == [-1, -1, 1, -1, -1, 1, -1, -1, -1, -1, 1, -1, -1, -1, 1]
    unscreened = rules_for("nhsrplotthedots", screen_moving_ranges=False)
    r3 = spc(spiked, direction="increase", rules=unscreened)
    assert _lines7(r3) == [0.6694159, -4.596625, 5.935457]


DEVIATIONS = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]


@pytest.mark.parametrize(
    ("convention", "lines"),
    [("nhsrplotthedots", (4.6, 1.94, -0.72)), ("mdc-single-chart-tool", (6.95, 1.94, -3.06))],
)
def test_it_reproduces_the_deviations_vignette(
    convention: Convention, lines: tuple[float, ...]
) -> None:
    # vignettes/deviations.Rmd: R screens outliers (UPL 4.6, mean 1.94, LPL -0.72); "setting
    # screen_outliers = FALSE produces the same output as Excel" (6.95, 1.94, -3.06). Either
    # way the 10 alone is special cause improvement.
    r = spc(DEVIATIONS, direction="increase", rules=rules_for(convention))
    p = r.points[0]
    assert p.upper is not None and p.mean is not None and p.lower is not None
    assert (round(p.upper, 2), round(p.mean, 2), round(p.lower, 2)) == lines
    assert [i for i, q in enumerate(r.points) if q.signal != "common_cause"] == [4]
    assert r.points[4].signal == "improvement"


def test_two_in_three_on_opposite_sides_is_common_cause() -> None:
    # test-ptd_spc_standard.R: ±1 alternating, then 5.5 and -5.5, each close to its limit.
    values = [1.0, -1.0] * 8
    values[14:] = [5.5, -5.5]
    r = spc(values, direction="increase", rules=R_RULES)
    assert [p.signal for p in r.points[-2:]] == ["common_cause", "common_cause"]


def test_the_rule_building_blocks_match_the_r_unit_tests() -> None:
    # test-ptd_calculate_point_type.R: ptd_part_of_seven_trend(ptd_seven_point_one_side_mean(v))
    assert runs([1] * 6, 7) == [0] * 6
    assert runs([1] * 6 + [-1], 7) == [0] * 7
    assert runs([1] * 8 + [-1], 7) == [1] * 8 + [0]
    assert runs([-1] * 8 + [1], 7) == [-1] * 8 + [0]
    # ptd_seven_point_trend with ptd_part_of_seven_trend
    assert trend_marks([1, 2, 3, 4, 5, 6], 7) == ([False] * 6, [False] * 6)
    assert trend_marks([1, 2, 3, 3, 4, 5, 6], 7) == ([False] * 7, [False] * 7)
    assert trend_marks([1, 2, 3, 4, 5, 6, 7], 7)[0] == [True] * 7
    assert trend_marks([2, 1, 2, 3, 4, 5, 6, 7, 3], 7)[0] == [False] + [True] * 7 + [False]
    assert trend_marks([7, 6, 5, 4, 3, 2, 1], 7)[1] == [True] * 7
    assert trend_marks([2, 7, 6, 5, 4, 3, 2, 1, 3], 7)[1] == [False] + [True] * 7 + [False]
    # ptd_part_of_two_in_three(ptd_two_in_three(close, relative_to_mean), close)
    same = [1] * 7
    assert two_of_three_marks(same[:3], [1, 0, 1]) == [1, 0, 1]
    assert two_of_three_marks(same[:3], [0, 1, 1]) == [0, 1, 1]
    assert two_of_three_marks(same[:3], [1, 1, 0]) == [1, 1, 0]
    assert two_of_three_marks(same, [0, 0, 1, 0, 1, 0, 0]) == [0, 0, 1, 0, 1, 0, 0]
    assert two_of_three_marks(same, [0, 0, 1, 1, 0, 0, 0]) == [0, 0, 1, 1, 0, 0, 0]
    assert two_of_three_marks(same[:4], [1, 0, 0, 1]) == [0, 0, 0, 0]
    assert two_of_three_marks(same[:5], [1, 0, 0, 1, 1]) == [0, 0, 0, 1, 1]
    alternating = [1, -1, 1, -1, 1, -1, 1]
    assert two_of_three_marks([1, -1, 1], [1, 0, 1]) == [0, 0, 0]
    assert two_of_three_marks(alternating, [0, 0, 1, 0, 1, 0, 0]) == [0] * 7


def test_r_labels_a_clash_by_rule_order() -> None:
    # ptd_special_cause_type's case_when: outside > trend > 2 in 3 > 7 points one side. On 1..13
    # the low points outside the limit are concern, the rest of the rising trend improvement;
    # six points either side of the mean are no 7-point shift.
    r = spc(range(1, 14), direction="increase", rules=R_RULES)
    assert _flags(r, "outside_limits") == [0, 1, 2, 3, 9, 10, 11, 12]
    assert _flags(r, "trend") == list(range(4, 13))
    assert _flags(r, "shift") == _flags(r, "two_of_three") == []
    assert _colours(r) == "o" * 4 + "b" * 9


def test_r_gives_a_trend_point_the_direction_of_its_next_step() -> None:
    # ptd_special_cause_type: a trend point followed by a trend point takes the step to it, and
    # a step that is not a rise reads "Decreasing": a peak joining two trends falls, and so does
    # the last point of a rise followed by a tie that starts a fall.
    assert trend_sides_by_next_point([1, 2, 3, 2, 1], [True] * 5) == [1, 1, -1, -1, -1]
    assert trend_sides_by_next_point([1, 2, 2, 1], [True] * 4) == [1, -1, -1, -1]
    assert trend_sides_by_next_point([5, 1, 2, 3], [False, True, True, True]) == [0, 1, 1, 1]
    # End to end: wide limits from a noisy start, then 1..7, 7, 6..1 (mean 3.875, limits ±36).
    values = [-20.0, 20.0, -20.0, 20.0, 1, 2, 3, 4, 5, 6, 7, 7, 6, 5, 4, 3, 2, 1]
    r = spc(values, direction="increase", rules=R_RULES)
    assert r.points[10].trend and r.points[10].signal == "concern"  # the 7 that ends the rise


@pytest.mark.parametrize(
    ("direction", "target", "assurance"),
    [
        ("increase", 200.0, "consistent_fail"),  # target above the upper limit
        ("increase", -200.0, "consistent_pass"),
        ("increase", 0.0, "hit_and_miss"),
        ("decrease", 200.0, "consistent_pass"),
        ("decrease", -200.0, "consistent_fail"),
        ("decrease", 0.0, "hit_and_miss"),
        ("increase", 133.0, "hit_and_miss"),  # on a limit: neither above nor below it
        ("decrease", -133.0, "hit_and_miss"),
    ],
)
def test_r_assurance_is_strict_at_the_limits(direction: Any, target: float, assurance: str) -> None:
    # test-ptd_calculate_assurance_type.R's three cases, both ways, on limits of exactly ±133;
    # ptd_calculate_assurance_type.R tests target > upl and target < lpl, so a target on a
    # limit is inconsistent.
    r = spc([-25.0, 25.0] * 7, direction=direction, target=target, rules=R_RULES)
    assert (r.points[0].upper, r.points[0].lower) == (133.0, -133.0)
    assert r.assurance == assurance


def test_r_draws_trial_limits_on_any_group() -> None:
    # No minimum: fewer than 13 points only warn (ptd_add_short_group_warnings.R).
    r = spc([3.0, 5.0, 4.0, 6.0, 5.0], direction="increase", rules=R_RULES)
    assert r.points[0].upper is not None and r.variation == "common_cause"
    with pytest.raises(ValueError, match="SpcRules.baseline_points must be at least 12"):
        rules_for("nhsrplotthedots", baseline_points=11)  # ptd_spc_options.R l.60-67


# --- where the three differ (domain-research.md §1) ----------------------------------------------


def _under_each(values: Sequence[float], **kwargs: Any) -> dict[str, SpcResult]:
    rules = kwargs.pop("rules", {})
    return {c: spc(values, rules=rules_for(c, **rules), **kwargs) for c in CONVENTIONS}


def test_run_lengths_differ() -> None:
    # Six points above the mean: a shift for NHSE (6, l.266) and the MDC tool (6 by default),
    # not for NHSRplotthedots (7).
    shifted = [1.0] * 6 + [-1.0, 1.0] * 3 + [-1.0]
    found = _under_each(shifted, direction="increase")
    assert {c: _flags(r, "shift") for c, r in found.items()} == {
        "nhse-sql-2.6": list(range(6)),
        "mdc-single-chart-tool": list(range(6)),
        "nhsrplotthedots": [],
    }


def test_a_point_beyond_the_limit_counts_for_two_of_three_in_nhse_only() -> None:
    # MDC's "two-sigma - 2": 7 is beyond two sigma and 2 beyond the lower limit. NHSE v2.6 counts
    # the 2, so both are flagged; the MDC tool and NHSRplotthedots do not (7 stays grey).
    values = _case("Special cause - two-sigma - 2")
    found = _under_each(values, direction="increase", rules={"shift_points": 7, "trend_points": 7})
    assert {c: _flags(r, "two_of_three") for c, r in found.items()} == {
        "nhse-sql-2.6": [0, 1, 2, 4, 20, 21],
        "mdc-single-chart-tool": [0, 1, 2, 4],
        "nhsrplotthedots": [0, 1, 2, 4],
    }
    assert {c: r.points[20].signal for c, r in found.items()} == {
        "nhse-sql-2.6": "concern",
        "mdc-single-chart-tool": "common_cause",
        "nhsrplotthedots": "common_cause",
    }


@pytest.mark.parametrize(
    ("rule", "name", "crossing"),
    [
        ("shift", "Special cause crossing recalculations - shift", {"mdc-single-chart-tool"}),
        (
            "trend",
            "Special cause crossing recalculations - trend",
            {"mdc-single-chart-tool", "nhse-sql-2.6"},
        ),
        (
            "two_of_three",
            "Special cause crossing recalculations - two-sigma",
            {"mdc-single-chart-tool"},
        ),
    ],
)
def test_which_rules_cross_a_recalculation_differs(
    rule: str, name: str, crossing: set[str]
) -> None:
    # MDC's "Special cause crossing recalculations" datasets (a recalculation before p16): the MDC
    # tool lets all three multi-point rules cross; NHSE only the trend (Step 4H; MDC doc, "Other
    # tools": "Only the trend rule crosses recalculations").
    for convention in ("nhse-sql-2.6", "mdc-single-chart-tool"):
        r = spc(_case(name), direction="increase", rules=rules_for(convention), recalculate_at=[15])
        assert any(getattr(p, rule) for p in r.points[13:17]) == (convention in crossing)


def test_nhsrplotthedots_runs_stop_at_a_rebase() -> None:
    # Every rule is grouped by rebase group (ptd_calculate_point_type): seven rising points
    # across a rebase are no trend there, and one trend for NHSE.
    values = [5.0, 7.0] * 5 + [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0] + [5.0, 7.0] * 5
    assert _flags(spc(values, direction="increase", rules=R_RULES), "trend") == list(range(10, 17))
    rebased = spc(values, direction="increase", rules=R_RULES, recalculate_at=[13])
    assert _flags(rebased, "trend") == []
    nhse = spc(values, direction="increase", recalculate_at=[13])
    assert _flags(nhse, "trend") == list(range(10, 17))


def test_a_clash_is_shown_differently() -> None:
    # MDC's "Special cause conflict - Low is good": the MDC tool shows improvement (blue); NHSE
    # shows [MetricConflictRule], 'Concern' here; NHSRplotthedots ranks the rules.
    values = _case("Special cause conflict - Low is good")
    found = _under_each(values, direction="decrease", rules={"shift_points": 7, "trend_points": 7})
    assert _colours(found["mdc-single-chart-tool"])[:4] == "bbbb"  # above the limit, falling
    assert _colours(found["nhse-sql-2.6"])[:4] == "oooo"
    assert _colours(found["nhsrplotthedots"])[:2] == "oo"  # outside beats the trend
    assert _colours(found["nhsrplotthedots"])[2:4] == "bb"  # the trend beats two of three


@pytest.mark.parametrize(
    ("convention", "on_upper", "on_lower"),
    [
        ("nhse-sql-2.6", "consistent_fail", "consistent_pass"),
        ("mdc-single-chart-tool", "consistent_fail", "consistent_pass"),
        ("nhsrplotthedots", "hit_and_miss", "hit_and_miss"),
    ],
)
def test_a_target_on_a_limit(convention: Convention, on_upper: str, on_lower: str) -> None:
    # NHSE v2.1+: "a pass/fail when the target is on a process limit"; R: inconsistent.
    rules = rules_for(convention, minimum_points=13)
    pm25 = [-25.0, 25.0] * 7
    assert spc(pm25, direction="increase", target=133.0, rules=rules).assurance == on_upper
    assert spc(pm25, direction="increase", target=-133.0, rules=rules).assurance == on_lower


def test_screening_differs() -> None:
    # The deviations vignette's series: NHSRplotthedots screens by default and keeps the mean;
    # NHSE screens only when asked, keeping MRs <= 3.267 × their mean and recomputing the mean
    # without the points the dropped MRs lead to (the 10 and the 1 after it); the MDC tool
    # cannot screen.
    r = spc(DEVIATIONS, direction="increase", rules=R_RULES).points[0]
    nhse = rules_for("nhse-sql-2.6", screen_moving_ranges=True)
    s = spc(DEVIATIONS, direction="increase", rules=nhse).points[0]
    assert (r.mean, r.upper) == (pytest.approx(35 / 18), pytest.approx(35 / 18 + 2.66))
    assert (s.mean, s.upper) == (pytest.approx(24 / 16), pytest.approx(24 / 16 + 2.66))
    with pytest.raises(ValueError, match="SpcRules.screen_moving_ranges must be False"):
        rules_for("mdc-single-chart-tool", screen_moving_ranges=True)


@pytest.mark.parametrize("convention", ["mdc-single-chart-tool", "nhsrplotthedots"])
def test_only_nhse_ghosts_points(convention: Convention) -> None:
    with pytest.raises(ValueError, match="ghosted points are an NHSE SQL feature"):
        spc(M2_TOTAL, direction="decrease", rules=rules_for(convention), ghosts=[57])
    with pytest.raises(ValueError, match="ghost index 66"):
        spc(M2_TOTAL, direction="decrease", ghosts=[66])


def test_a_nhse_baseline_fixes_the_first_partition_and_ends_its_runs() -> None:
    # NHSE's baseline is partition 0 and what follows it partition 1 (Step 4C), so six points
    # above the mean straddling its end are no shift; the MDC tool runs on. A recalculation
    # after the baseline gets its own limits in NHSE; the MDC tool implements only the baseline.
    values = [-1.0, 1.0] * 6 + [1.0, 1.0, 2.0, 2.0, 2.0, 2.0] + [-1.0, 1.0] * 4
    found = _under_each(values, direction="increase", rules={"baseline_points": 12})
    assert _flags(found["nhse-sql-2.6"], "shift") == list(range(12, 18))
    straddle = [-1.0, 1.0] * 5 + [-1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0] + [-1.0, 1.0] * 4
    found = _under_each(straddle, direction="increase", rules={"baseline_points": 14})
    assert _flags(found["nhse-sql-2.6"], "shift") == []
    assert _flags(found["mdc-single-chart-tool"], "shift") == list(range(11, 17))
    both = _under_each(
        values, direction="increase", rules={"baseline_points": 12}, recalculate_at=[12]
    )
    assert both["nhse-sql-2.6"].points[-1].mean != both["nhse-sql-2.6"].points[0].mean
    assert (
        both["mdc-single-chart-tool"].points[-1].mean
        == both["mdc-single-chart-tool"].points[0].mean
    )
    with pytest.raises(ValueError, match="inside the baseline"):
        spc(values, direction="increase", rules=SpcRules(baseline_points=12), recalculate_at=[6])


def test_the_mean_is_shown_below_the_minimum_under_every_convention() -> None:
    found = _under_each([3.0, 5.0, 4.0], direction="increase", rules={"minimum_points": 13})
    for r in found.values():
        assert [p.run_chart_mean for p in r.points] == [4.0, 4.0, 4.0]
        assert all(p.mean is None and p.upper is None for p in r.points)


def test_the_switch_changes_the_chart() -> None:
    # The same series and direction, three charts: a test that fails if the convention is
    # ignored. "Special cause conflict - High is good" (MDC) under each default.
    values = _case("Special cause conflict - High is good")
    found = {c: _colours(r) for c, r in _under_each(values, direction="increase").items()}
    assert found == {
        "mdc-single-chart-tool": "bbbbooobbbbbbbgggggg",
        "nhse-sql-2.6": "ooooooooooobbbgggggg",
        # p3, p4 are in the falling trend (concern), which outranks two of three (improvement)
        "nhsrplotthedots": "bbooooobbbbbbbgggggg",
    }
    assert {
        r.points[0].convention for r in _under_each(values, direction="increase").values()
    } == set(CONVENTIONS)


# --- the rules record and the configuration ------------------------------------------------------


def test_each_convention_sets_its_defaults() -> None:
    assert rules_for("nhse-sql-2.6") == SpcRules()
    r = rules_for("nhsrplotthedots")
    assert (r.shift_points, r.trend_points, r.screen_moving_ranges, r.minimum_points) == (
        7,
        7,
        True,
        2,
    )
    assert r.conflict == "precedence"
    m = rules_for("mdc-single-chart-tool", shift_points=7)
    assert (m.shift_points, m.trend_points, m.conflict, m.minimum_points) == (
        7,
        6,
        "improvement",
        13,
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"convention": "nhsrplotthedots", "shift_points": 6}, "shift_points"),
        ({"convention": "nhsrplotthedots", "trend_points": 8}, "trend_points"),
        ({"convention": "mdc-single-chart-tool", "shift_points": 8}, "shift_points"),
        (
            {"convention": "mdc-single-chart-tool", "screen_moving_ranges": True},
            "screen_moving_ranges",
        ),
        ({"convention": "mdc-single-chart-tool", "conflict": "concern"}, "conflict"),
        ({"conflict": "precedence"}, "conflict"),
        ({"convention": "nhsrplotthedots", "baseline_points": 11}, "baseline_points"),
    ],
)
def test_a_setting_the_implementation_cannot_take_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError, match=f"{field} must be"):
        SpcConfig(**changes)


def test_the_config_takes_the_conventions_defaults_and_explicit_overrides() -> None:
    assert SpcConfig() == SpcConfig(
        convention="nhse-sql-2.6", minimum_points=13, conflict="concern"
    )
    r = SpcConfig(convention="nhsrplotthedots")
    assert (r.shift_points, r.screen_moving_ranges, r.minimum_points) == (7, True, 2)
    explicit = SpcConfig(
        convention="nhsrplotthedots", screen_moving_ranges=False, minimum_points=12
    )
    assert (explicit.screen_moving_ranges, explicit.minimum_points) == (False, 12)
    # The config reaches the engine as a rules record (safer/app/assess.py, safer/app/national.py).
    rules = SpcRules(**explicit.model_dump())
    assert rules == rules_for("nhsrplotthedots", screen_moving_ranges=False, minimum_points=12)


def test_a_config_file_naming_a_convention_loads_and_a_misfit_is_named(tmp_path: Path) -> None:
    force = '[force]\nid = "cheshire"\npfa_code = "E23000006"\nname = "Cheshire Constabulary"\n'
    path = tmp_path / "safer.toml"
    path.write_text(f'{force}[indicators.spc]\nconvention = "nhsrplotthedots"\n', "utf-8")
    spc_config = load_config(path).indicators.spc
    assert (spc_config.convention, spc_config.shift_points, spc_config.minimum_points) == (
        "nhsrplotthedots",
        7,
        2,
    )
    path.write_text(
        f'{force}[indicators.spc]\nconvention = "nhsrplotthedots"\nshift_points = 6\n', "utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "indicators.spc" in str(caught.value)
    assert "shift_points must be 7 under nhsrplotthedots" in str(caught.value)


def test_the_digest_names_the_convention_in_words() -> None:
    assert method_words(["nhse-sql-2.6"]) == "SPC as NHS England's Making Data Count SQL v2.6"
    assert method_words(["nhsrplotthedots", "nhsrplotthedots"]) == (
        "SPC as NHS-R Community's NHSRplotthedots"
    )
    assert method_words([]) == ""


# --- edges ---------------------------------------------------------------------------------------

PM25 = [-25.0, 25.0] * 7  # mean 0, every moving range 50: limits exactly ±133


def test_the_icons_read_the_last_non_ghosted_point() -> None:
    # NHSE Step 4K takes PointExcludeGhostingRankDescending = 1; here the last point is a ghost
    # alone in its partition, which therefore has no lines.
    r = spc([*PM25, 500.0], direction="increase", target=-200.0, recalculate_at=[14], ghosts=[14])
    assert r.points[-1].ghost and r.points[-1].mean is None and r.points[-1].run_chart_mean is None
    assert (r.variation, r.assurance) == ("common_cause", "consistent_pass")
    assert describe(r) == (
        "common cause variation; the target is consistently met by the process limits"
    )


def test_a_one_point_partition_has_a_mean_but_no_limits() -> None:
    # NHSE: its [MovingRangeMean] is NULL, so no limits and no assurance; a trend can still reach
    # it, as trends cross partitions.
    r = spc([*PM25, 0.0], direction="increase", target=-200.0, recalculate_at=[14])
    last = r.points[-1]
    assert (last.mean, last.upper, last.run_chart_mean, last.moving_range) == (
        None,
        None,
        0.0,
        None,
    )
    assert (r.variation, r.assurance) == ("common_cause", "not_enough_data")
    rising = [10.0, 2.0] * 5 + [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    r = spc(rising, direction="increase", recalculate_at=[15])
    assert r.points[-1].trend and r.variation == "improvement_high"
    assert describe(r) == "special cause: improvement (6 points in a row increasing)"


def test_a_clash_without_a_direction_shows_high() -> None:
    # NHSE's [VariationIcon] CASE tests 'Neither (High)' first; 1..6 rise below the mean.
    r = spc(range(1, 14), direction="neutral")
    assert {p.signal for p in r.points[4:6]} == {"neutral_high"}
    assert {p.signal for p in r.points[:4]} == {"neutral_high"}  # outside low, rising too


def test_r_screening_leaves_a_flat_series_alone() -> None:
    # R would drop every zero moving range (mr < 3.267 × 0 is false) and draw no limits; a flat
    # series is better shown flat.
    assert spc([4.0] * 13, direction="increase", rules=R_RULES).points[0].upper == 4.0


def test_an_unknown_convention_is_refused() -> None:
    with pytest.raises(ValueError, match="SpcRules.convention must be one of"):
        rules_for("excel")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="SpcRules.convention must be one of"):
        SpcRules(convention="excel")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="convention"):
        SpcConfig(convention="excel")  # type: ignore[arg-type]
