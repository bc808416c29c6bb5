"""Where an SPC chart's lines come from: its partitions, their baselines, their means and
moving ranges, as the convention draws them (domain-research.md §1.1, §1.6). Pure and exact.

Split from ``indicators/spc.py``, which applies the rules to these lines.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise

from safer.kernel.spc_conventions import Profile, SpcRules

__all__ = ["Layout", "Limits", "check_ghosts", "layout", "limits"]

# 2.66 = 3 / d2 with d2 = 1.128 for subgroups of 2; the two-sigma lines are 2/3 of it; 3.267 is
# D4 for subgroups of 2 (§1.1). Written as whole numbers, for the integer arithmetic below.
_LIMIT = (266, 100)
_MR_SCREEN = (3267, 1000)


@dataclass(frozen=True)
class Limits:
    """A partition's centre and lines, as whole numbers over a common denominator ``q``.

    The series is scaled to integers (``scale``) and every line is ``numerator / q``, so each
    rule is an integer comparison: exact, and as fast as Python arithmetic gets. With a mean of
    ``S`` over ``m`` points and a mean moving range of ``M / k``: q = 300·m·k, centre = 300·k·S,
    and the process and two-sigma offsets are 2.66 and (2/3)·2.66 mean MRs, that is 798·m·M and
    532·m·M. Without a moving range (one point) there is a centre and no spread.
    """

    q: int
    centre: int
    process_offset: int
    two_sigma_offset: int
    scale: int
    spread: bool

    @property
    def process(self) -> tuple[int, int]:
        return self.centre + self.process_offset, self.centre - self.process_offset

    @property
    def two_sigma(self) -> tuple[int, int]:
        return self.centre + self.two_sigma_offset, self.centre - self.two_sigma_offset

    @functools.cached_property
    def floats(self) -> tuple[float, float, float, float, float]:
        """Mean, upper, lower, upper two-sigma and lower two-sigma, as the points carry them."""
        d = self.q * self.scale
        (upper, lower), (upper2, lower2) = self.process, self.two_sigma

        def f(v: int) -> float:
            return v / d  # int / int rounds correctly: the float nearest the exact value

        return f(self.centre), f(upper), f(lower), f(upper2), f(lower2)


@dataclass(frozen=True)
class Layout:
    """Where each point's limits come from and which runs it can join."""

    part: list[int]
    """Point → its partition (an index into ``bases``), whose limits apply to it."""
    group: list[int]
    """Point → its run group: a run that does not cross a recalculation stays in one."""
    bases: list[list[int]]
    """Partition → the non-ghosted points its mean and limits come from."""
    starts: list[int]
    """Partition → the index of its first point."""
    live: frozenset[int]
    """The points that are not ghosted."""


def check_ghosts(ghosts: Collection[int], n: int, p: Profile) -> frozenset[int]:
    """The ghosted indices; raises ValueError for one outside the series or a convention
    without ghosting (the MDC doc: "Ghosting is not supported"; NHSRplotthedots has none)."""
    if ghosts and not p.ghosts:
        raise ValueError(f"ghosted points are an NHSE SQL feature; {p.title} has none")
    bad = sorted(i for i in ghosts if not 0 <= i < n)
    if bad:
        raise ValueError(f"ghost index {bad[0]} is outside the series (0..{n - 1})")
    return frozenset(ghosts)


def _partitions(n: int, recalculate_at: Collection[int]) -> list[range]:
    bad = sorted(i for i in recalculate_at if not 0 <= i < n)
    if bad:
        raise ValueError(f"recalculate_at index {bad[0]} is outside the series (0..{n - 1})")
    cuts = sorted({0, n, *recalculate_at})
    return [range(a, b) for a, b in pairwise(cuts) if b > a]


def layout(
    n: int, recalculate_at: Collection[int], ghosted: frozenset[int], rules: SpcRules, p: Profile
) -> Layout:
    """Partitions, their baselines and the run groups, as the convention draws them (§1.6)."""
    parts = _partitions(n, recalculate_at)
    fixed = rules.baseline_points
    if fixed and p.baseline == "whole_chart":
        # MDC: "When a recalculation is also added, only the baseline is implemented."
        parts = [range(0, n)] if n else []
    part, group, bases = [0] * n, [0] * n, []
    for k, r in enumerate(parts):
        live = [i for i in r if i not in ghosted]
        limited = fixed is not None and (k == 0 or p.baseline == "each_partition")
        basis = live[:fixed] if limited else live
        bases.append(basis)
        # NHSE makes the baseline partition 0 and what follows partition 1 (Step 4C), so a
        # shift or two-sigma run stops at the baseline's end; the others run on.
        end = basis[-1] if limited and p.baseline == "first_partition" and basis else n
        if end < n and len(parts) > 1 and len(live) < (fixed or 0):
            raise ValueError(
                f"recalculate_at index {parts[1].start} is inside the baseline of {fixed} "
                "points (NHSE's SQL warns: 'Recalculation of limits is within baseline')"
            )
        for i in r:
            part[i], group[i] = k, 2 * k + (i > end)
    return Layout(part, group, bases, [r.start for r in parts], frozenset(range(n)) - ghosted)


def limits(base: Sequence[int], rules: SpcRules, p: Profile, scale: int) -> Limits | None:
    """Mean and mean MR of a partition's basis; None for a partition of ghosts only."""
    if not base:
        return None
    mrs = [abs(b - a) for a, b in pairwise(base)]
    meaned = list(base)
    if rules.screen_moving_ranges and mrs:
        keep = _screen(mrs, p)
        if p.screening_method == "nhse":
            # MeanWithoutOutliers averages the points whose own MR was kept (or have none).
            meaned = [base[0], *(x for x, kept in zip(base[1:], keep, strict=True) if kept)]
        mrs = [mr for mr, kept in zip(mrs, keep, strict=True) if kept]
    total, k, m = sum(mrs), len(mrs), len(meaned)
    width, per = _LIMIT
    k_q = k or 1  # one point: a centre over q with no spread
    # q = 300·m·k; the centre S/m and the offsets w·total/k, each multiplied by q.
    return Limits(
        q=3 * per * m * k_q,
        centre=3 * per * k_q * sum(meaned),
        process_offset=3 * width * m * total,
        two_sigma_offset=2 * width * m * total,
        scale=scale,
        spread=k > 0,
    )


def _screen(mrs: Sequence[int], p: Profile) -> list[bool]:
    """Which moving ranges the limits keep (§1.1), as ``p`` screens them."""
    total, k = sum(mrs), len(mrs)
    limit, per = _MR_SCREEN
    if p.screening_method == "nhse":
        # MR <= 3.267 × mean MR, multiplied out (Step 4E)
        return [mr * k * per <= limit * total for mr in mrs]
    # mr < 3.267 × amr (ptd_spc_standard.R l.75). An all-zero list has nothing to screen: R
    # would drop every MR and draw no limits; we keep them.
    return [mr * k * per < limit * total or total == 0 for mr in mrs]
