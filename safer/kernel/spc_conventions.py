"""The three published SPC implementations the charts can reproduce, and the rules record that
names one. Pure data and validation; the arithmetic is in ``indicators/spc.py``.

Analysts compare our charts with the tool they already use, and the three differ on the points
of domain-research.md §1. Each :class:`Profile` below records one implementation's published
behaviour on each of those points, with where it is published; docs/spc-conventions.md has the
same as a table. Sources (read, not copied):

- NHSE SQL: NHS England's "SPC CHARTS SQL QUERY v2.6" (Making Data Count, 10/01/2024), the copy
  in NHSDigital/fdp-react-design-system at commit 330ba8a1370cd015959f8593905c65d4e22c8447,
  ``src/components/DataVisualisation/charts/SPC/SPCChart/logic/NHSE SPC Charts SQL Query
  v2.6.sql`` ("SQL l.N" below).
- MDC doc: the Making Data Count team's "SPC Charts XmR Testing" checks for its Single Chart
  Tool v5.0, as transcribed in the same repository at commit
  962138d32448a0273cff5844eabc90ed3f8363eb, ``…/SPCChart/test-data/SPC-Charts-XmR-Testing.md``,
  with its datasets and expected colours in ``…/test-data/Test Data.csv`` (commit
  28cd7323f3b8405ff77c7d99209c8a77bb5ee417); and M. Callus (MDC) in
  nhs-r-community/NHSRplotthedots issue #194.
- R: nhs-r-community/NHSRplotthedots v0.2.2, commit 050b07d7eacc011767532732f69b8fd7d6a28fd3,
  ``R/ptd_spc_standard.R``, ``R/ptd_calculate_point_type.R``,
  ``R/ptd_calculate_assurance_type.R``, ``R/ptd_spc_options.R``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CONVENTIONS",
    "PROFILES",
    "Conflict",
    "Convention",
    "Profile",
    "SpcRules",
    "convention_defaults",
    "method_words",
    "rules_for",
]

Convention = Literal["nhse-sql-2.6", "mdc-single-chart-tool", "nhsrplotthedots"]
CONVENTIONS: tuple[Convention, ...] = ("nhse-sql-2.6", "mdc-single-chart-tool", "nhsrplotthedots")

Conflict = Literal["improvement", "concern", "precedence"]
"""How a point flagged both ways (a rising trend below the mean, say) is shown: as improvement,
as concern, or by the side of its highest-ranked rule (outside limits > trend > two of three >
shift, NHSRplotthedots' label order)."""

Rule = Literal["shift", "trend", "two_of_three"]
Screening = Literal["nhse", "nhsrplotthedots"]
Baseline = Literal["first_partition", "whole_chart", "each_partition"]


@dataclass(frozen=True)
class Profile:
    """One implementation's behaviour on each point of domain-research.md §1."""

    title: str
    """Its name in the digest's words."""
    run_points: tuple[int, ...]
    """Shift and trend lengths it can be set to; the first is its default."""
    conflicts: tuple[Conflict, ...]
    """How it can show a point flagged both ways; the first is its default."""
    beyond_limits_count: bool
    """Whether a point beyond a process limit counts towards two of three."""
    crossing: frozenset[Rule]
    """The rules whose runs carry on across a recalculation."""
    on_limit_passes_or_fails: bool
    """Whether a target exactly on a process limit gives pass/fail (else hit and miss)."""
    screening: tuple[bool, ...]
    """Whether it screens moving-range outliers: the values it allows, its default first."""
    screening_method: Screening
    """Whose screening: NHSE's (keeps MR <= 3.267 × mean MR, recomputes the mean) or
    NHSRplotthedots' (keeps mr < 3.267 × amr, keeps the mean)."""
    ghosts: bool
    """Whether a point can be ghosted: shown, but left out of every calculation."""
    minimum_points: int
    """Non-ghosted points the whole chart needs before limits, signals and icons show."""
    baseline: Baseline
    """Which partitions a baseline fixes the limits of."""
    minimum_baseline: int
    """The fewest points it accepts for a baseline."""


PROFILES: dict[Convention, Profile] = {
    "nhse-sql-2.6": Profile(
        title="NHS England's Making Data Count SQL v2.6",
        # Defaults 6 and 6 (l.266, l.269); a warning outside 6..8 (Step 5), which we refuse.
        run_points=(6, 7, 8),
        # [MetricConflictRule] is set per metric, 'Improvement' or 'Concern' (l.2361ff); its
        # sample metrics all use 'Concern' (Step 3a), as do we: a police digest should not call
        # a point that is both an improvement.
        conflicts=("concern", "improvement"),
        # v2.6 changelog: "allowing points beyond three-sigma to count" (Step 4I, Value >
        # [UpperTwoSigma]).
        beyond_limits_count=True,
        # Step 4H partitions the trend by chart only; shifts and two-sigma runs by partition
        # (Steps 4G, 4I); MDC doc, "Other tools": "Only the trend rule crosses recalculations".
        crossing=frozenset({"trend"}),
        # v2.1 changelog: "[AssuranceIcon] to be a pass/fail when the target is on a process
        # limit" (Step 4K: Target <= LPL, Target >= UPL).
        on_limit_passes_or_fails=True,
        screening=(False, True),  # @ExcludeMovingRangeOutliers BIT = 0 (Step 2a)
        screening_method="nhse",
        ghosts=True,  # [GhostFlag] (Step 3b)
        # @SettingMinimumPoints = 13 non-ghosted points per chart (Step 2b); Step 6 then blanks
        # the limits, special cause and icons but still returns [Mean]. The per-partition 12
        # (@SettingMinimumPointsPartition) only raises a warning (Step 5).
        minimum_points=13,
        # Baseline points become partition 0 and only partition 1 takes their limits (Step 4C,
        # Step 4E "first partition after baseline"); shifts and two-sigma runs therefore stop at
        # the baseline's end.
        baseline="first_partition",
        minimum_baseline=2,
    ),
    "mdc-single-chart-tool": Profile(
        title="NHS England's Making Data Count single chart tool",
        # MDC doc, shift and trend: "usually set to at least 6 points but may be set to at
        # least 7 points".
        run_points=(6, 7),
        # MDC doc, "Special cause conflict": "The Excel tool shows blue where this is a conflict";
        # Callus, NHSRplotthedots #194: "In the Single Chart tool, improvement is shown".
        conflicts=("improvement",),
        # MDC doc, two-sigma: "If a point is beyond three-sigma (i.e. the process limit), it
        # does not count for this rule"; its dataset "two-sigma - 2" shows it.
        beyond_limits_count=False,
        # MDC doc, "Special cause crossing recalculations": the three multi-point rules "can
        # cross a recalculation".
        crossing=frozenset({"shift", "trend", "two_of_three"}),
        # Inference (UNCONFIRMED): the MDC doc says only "within" (hit or miss) and "outside"
        # (pass/fail); we follow the SQL the same team changed to pass/fail on the limit.
        on_limit_passes_or_fails=True,
        screening=(False,),  # MDC doc, "Moving range outliers": "not supported"
        screening_method="nhse",
        ghosts=False,  # MDC doc, "Ghosting": "Ghosting is not supported"
        # MDC doc, "Number of points": limits and icons at 13 points or more; "The mean and the
        # target if provided are shown" below that.
        minimum_points=13,
        # MDC doc, "Baselines": limits from the baseline period, extended to the rest; "When a
        # recalculation is also added, only the baseline is implemented".
        baseline="whole_chart",
        minimum_baseline=2,
    ),
    "nhsrplotthedots": Profile(
        title="NHS-R Community's NHSRplotthedots",
        # 7 for both, fixed (ptd_seven_point_trend, ptd_seven_point_one_side_mean); issue #202
        # asking for 6 is open.
        run_points=(7,),
        # case_when label order, outside > trend > 2 in 3 > shift (ptd_special_cause_type).
        conflicts=("precedence",),
        # close_to_limits = !outside_limits & (...) (ptd_spc_standard.R l.93).
        beyond_limits_count=False,
        # Every rule is grouped by facet and rebase group (ptd_calculate_point_type).
        crossing=frozenset(),
        # target > upl / target < lpl, else "inconsistent" (ptd_calculate_assurance_type).
        on_limit_passes_or_fails=False,
        screening=(True, False),  # screen_outliers = TRUE (ptd_spc_options.R)
        screening_method="nhsrplotthedots",
        ghosts=False,
        # No minimum: every group gets (trial) limits; under 13 points only a warning
        # (ptd_add_short_group_warnings.R). Two points give the first moving range.
        minimum_points=2,
        # fix_after_n_points counts within each rebase group and must be >= 12
        # (ptd_spc_standard.R l.67, ptd_spc_options.R l.60-67).
        baseline="each_partition",
        minimum_baseline=12,
    ),
}


def method_words(conventions: Iterable[Convention]) -> str:
    """'SPC as NHS England's Making Data Count SQL v2.6' for the digest's method note ("" for
    none)."""
    titles = sorted({PROFILES[c].title for c in conventions})
    return f"SPC as {' and '.join(titles)}" if titles else ""


def convention_defaults(convention: Convention) -> dict[str, Any]:
    """The rule settings ``convention`` uses when none is given (SpcRules field names)."""
    p = PROFILES[convention]
    return {
        "shift_points": p.run_points[0],
        "trend_points": p.run_points[0],
        "screen_moving_ranges": p.screening[0],
        "minimum_points": p.minimum_points,
        "conflict": p.conflicts[0],
    }


def rules_for(convention: Convention, **changes: Any) -> SpcRules:
    """``convention``'s rules, with ``changes`` (SpcRules fields) applied; raises ValueError
    naming a field the implementation cannot be set to."""
    if convention not in PROFILES:
        raise ValueError(f"SpcRules.convention must be one of {', '.join(CONVENTIONS)}")
    return SpcRules(**{**convention_defaults(convention), **changes, "convention": convention})


@dataclass(frozen=True)
class SpcRules:
    """Which implementation's rules apply, and their settings (defaults: NHSE SQL v2.6).

    Use :func:`rules_for` for another convention: its defaults differ (NHSRplotthedots runs 7
    points, screens moving ranges and has no minimum), and a setting that implementation cannot
    take is refused rather than silently charted under its name. ``two_of_three``,
    ``minimum_points`` and ``baseline_points`` are local choices any convention accepts.
    """

    shift_points: int = 6
    trend_points: int = 6
    two_of_three: bool = True
    screen_moving_ranges: bool = False
    minimum_points: int = 13
    baseline_points: int | None = None
    convention: Convention = "nhse-sql-2.6"
    conflict: Conflict = "concern"

    def __post_init__(self) -> None:
        # NHSE v2.6 warns outside 6..8 (§1.2); we refuse, so a typo cannot silently weaken a rule.
        for name in ("shift_points", "trend_points"):
            value = getattr(self, name)
            if not 6 <= value <= 8:
                raise ValueError(f"SpcRules.{name} must be between 6 and 8, got {value}")
        if self.minimum_points < 2:
            raise ValueError(
                f"SpcRules.minimum_points must be at least 2, got {self.minimum_points}"
            )
        if self.baseline_points is not None and self.baseline_points < 2:
            raise ValueError(
                f"SpcRules.baseline_points must be at least 2, got {self.baseline_points}"
            )
        if self.convention not in PROFILES:
            raise ValueError(
                f"SpcRules.convention must be one of {', '.join(CONVENTIONS)}, "
                f"got {self.convention!r}"
            )
        misfit = _misfit(self, PROFILES[self.convention])
        if misfit:
            raise ValueError(f"SpcRules.{misfit}")


def _misfit(rules: SpcRules, p: Profile) -> str:
    """The first setting ``p``'s implementation cannot take, in words ("" if none)."""
    who = f"under {rules.convention} ({p.title})"
    for name in ("shift_points", "trend_points"):
        value = getattr(rules, name)
        if value not in p.run_points:
            allowed = " or ".join(str(v) for v in p.run_points)
            return f"{name} must be {allowed} {who}, got {value}"
    if rules.conflict not in p.conflicts:
        allowed = " or ".join(repr(c) for c in p.conflicts)
        return f"conflict must be {allowed} {who}, got {rules.conflict!r}"
    if rules.screen_moving_ranges not in p.screening:
        return f"screen_moving_ranges must be {p.screening[0]} {who}: it has no such option"
    base = rules.baseline_points
    if base is not None and base < p.minimum_baseline:
        return f"baseline_points must be at least {p.minimum_baseline} {who}, got {base}"
    return ""
