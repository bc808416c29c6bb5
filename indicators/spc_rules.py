"""The special-cause rules on integer sides, and how a point flagged both ways is resolved:
pure, no floats. ``indicators/spc.py`` feeds them; which runs may cross a recalculation and how
a clash resolves depend on the convention (``safer/kernel/spc_conventions.py``).

A side is +1 (above the mean, beyond the upper line, rising), -1 (the mirror) or 0 (neither).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from safer.kernel.spc_conventions import Conflict

__all__ = [
    "Marks",
    "chunks",
    "resolve",
    "runs",
    "sign",
    "trend_marks",
    "trend_sides_by_next_point",
    "two_of_three_marks",
]


def sign(x: int) -> int:
    return (x > 0) - (x < 0)


def chunks(groups: Sequence[int]) -> list[range]:
    """The index ranges over which ``groups`` keeps one value."""
    found: list[range] = []
    start = 0
    for i in range(1, len(groups) + 1):
        if i == len(groups) or groups[i] != groups[start]:
            found.append(range(start, i))
            start = i
    return found


def runs(keys: Sequence[int], min_len: int) -> list[int]:
    """Each key that is part of a run of at least ``min_len`` equal non-zero keys; else 0."""
    marks = [0] * len(keys)
    for part in chunks(keys):
        if keys[part.start] and len(part) >= min_len:
            marks[part.start : part.stop] = [keys[part.start]] * len(part)
    return marks


def trend_marks(xs: Sequence[int], points: int) -> tuple[list[bool], list[bool]]:
    """Which points are in a rising run, and which in a falling run, of ``points`` points
    including endpoints (``points - 1`` strict steps; a tie breaks it, §1.2). A turning point is
    in both."""
    steps = runs([sign(b - a) for a, b in pairwise(xs)], points - 1)
    arriving, leaving = [0, *steps], [*steps, 0]
    rising = [a > 0 or b > 0 for a, b in zip(arriving, leaving, strict=True)]
    falling = [a < 0 or b < 0 for a, b in zip(arriving, leaving, strict=True)]
    return (rising, falling) if xs else ([], [])


def trend_sides_by_next_point(xs: Sequence[int], part: Sequence[bool]) -> list[int]:
    """NHSRplotthedots' one direction per trend point (ptd_special_cause_type): the step to the
    next point when that point is in a trend too, else the step from the one before; a step
    that is not a rise counts as falling ("De"creasing), as R's ifelse(sdy == 1, ...) does."""
    sides = []
    for j, flagged in enumerate(part):
        if not flagged:
            sides.append(0)
            continue
        if j + 1 < len(xs) and part[j + 1]:
            step = sign(xs[j + 1] - xs[j])
        else:
            step = sign(xs[j] - xs[j - 1]) if j else 0
        sides.append(1 if step == 1 else -1)
    return sides


def two_of_three_marks(sides: Sequence[int], beyond: Sequence[int]) -> list[int]:
    """Flag the points beyond a two-sigma line (``beyond``) in any window of three consecutive
    points all on one side of the mean (``sides``) with two or three beyond on that side."""
    marks = [0] * len(sides)
    for w in range(len(sides) - 2):
        side = sides[w]
        window = range(w, w + 3)
        if side and all(sides[i] == side for i in window):
            if sum(beyond[i] == side for i in window) >= 2:
                for i in window:
                    if beyond[i] == side:
                        marks[i] = side
    return marks


@dataclass(frozen=True)
class Marks:
    """The sides one point meets each rule on: outside a limit, each trend it is in (a turning
    point is in two), two of three, shift."""

    outside: int
    trend: tuple[int, ...]
    two_of_three: int
    shift: int


def resolve(marks: Marks, conflict: Conflict, good: int) -> tuple[int, Marks]:
    """The side a point is shown on and the marks that give it that side.

    ``good`` is +1 when rising is improvement, -1 when falling is, 0 for neither. A point met
    on both sides is shown by ``conflict`` (§1.3): as improvement or concern (NHSE's
    [MetricConflictRule]; with no direction, high, the order of NHSE's icon CASE), or by its
    first rule in the order outside > trend > two of three > shift (NHSRplotthedots). The marks
    returned drop the losing side, so each says why the point has its signal.
    """
    if not (marks.outside or marks.trend or marks.two_of_three or marks.shift):
        return 0, marks
    met = [s for s in (marks.outside, *marks.trend, marks.two_of_three, marks.shift) if s]
    if conflict == "precedence" or len(set(met)) == 1:
        side = met[0]
    elif good == 0:
        side = 1
    else:
        side = good if conflict == "improvement" else -good
    kept = Marks(
        outside=marks.outside if marks.outside == side else 0,
        trend=tuple(t for t in marks.trend if t == side),
        two_of_three=marks.two_of_three if marks.two_of_three == side else 0,
        shift=marks.shift if marks.shift == side else 0,
    )
    return side, kept
