"""What moved: one indicator and area read across its periods, not one quarter at a time.

Pure. A figure's movement is worded from its own history (the judged period before it), so a
quarter that is off track after three others were is "still off track, 4th quarter running",
never "newly" again; a recovery is "back on track". Whether to *tell* it is the recipient's
notification record: only what they have not been sent for that period is news.

Judged periods are green, amber or red. "Newly off track" compares with the judged period
before (whatever lies between); a run ("4th quarter running") is of consecutive periods, so a
gap, or a period withheld or not judged, ends it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from indicators.evaluate import OFF_TRACK, Evaluation, Status
from safer.periods import GRAIN_MONTHS, add_months

__all__ = ["JUDGED", "Kind", "Track", "movements", "signal_key", "track"]

JUDGED = frozenset({Status.GREEN, Status.AMBER, Status.RED})


class Kind(StrEnum):
    """A movement, in order of severity: the digest lists the most severe first."""

    NEWLY_OFF_TRACK = "Newly off track"
    WORSE = "Worse while off track"
    NEWLY_WITHHELD = "Newly withheld"
    CONCERN = "Special cause concern"
    STILL_OFF_TRACK = "Still off track"
    BETTER = "Better while off track"
    BACK_ON_TRACK = "Back on track"
    RELEASED = "Released"
    IMPROVEMENT = "Special cause improvement"

    @property
    def severity(self) -> int:
        return list(Kind).index(self)

    @property
    def off_track(self) -> bool:
        return self in (Kind.NEWLY_OFF_TRACK, Kind.WORSE, Kind.STILL_OFF_TRACK, Kind.BETTER)


@dataclass(frozen=True)
class Track:
    """One indicator and area: its latest whole period and the judged period before it."""

    latest: Evaluation
    previous: Evaluation | None
    """The latest judged period before ``latest``."""
    before: Evaluation | None
    """The whole period just before ``latest``, judged or not (its SPC reading as it stood)."""
    streak: int
    """Consecutive judged periods, ending at ``latest``, in its state (off track counts amber
    and red together); 0 when ``latest`` is not judged."""
    history: tuple[Evaluation, ...]
    """Every whole period, oldest first."""


def track(evaluations: Sequence[Evaluation]) -> Track | None:
    """The track of one indicator and area's evaluations; None when no period is whole.

    A quarter still being filled (incomplete) is never the one shown: it will be judged when
    its last month arrives.
    """
    whole = sorted(
        (e for e in evaluations if e.status is not Status.INCOMPLETE), key=lambda e: e.period_start
    )
    if not whole:
        return None
    latest = whole[-1]
    judged = [e for e in whole[:-1] if e.status in JUDGED]
    return Track(
        latest=latest,
        previous=judged[-1] if judged else None,
        before=whole[-2] if len(whole) > 1 else None,
        streak=_streak(whole),
        history=tuple(whole),
    )


def _streak(whole: Sequence[Evaluation]) -> int:
    """Consecutive judged periods in the latest's state: a gap in the periods (a quarter with
    no data, or still incomplete), a withheld or unjudged period, ends the run."""
    latest = whole[-1]
    if latest.status not in JUDGED:
        return 0
    count, expected = 0, latest.period_start
    for e in reversed(whole):
        if e.period_start != expected or e.status not in JUDGED:
            break
        if _state(e.status) != _state(latest.status):
            break
        count += 1
        expected = add_months(e.period_start, -GRAIN_MONTHS[e.grain])
    return count


def _state(status: Status) -> str:
    return "off" if status in OFF_TRACK else status.value


Told = Mapping[dt.date, set[str]]
"""Period start → what the recipient has been sent for it: statuses and ``spc:`` signals."""


def movements(t: Track, told: Told) -> list[tuple[Kind, Evaluation]]:
    """The movements of ``t`` the recipient has not been told, each with the period it is of."""
    found: list[tuple[Kind, Evaluation]] = []
    latest = t.latest
    kind = _status_kind(t)
    if kind is not None and latest.status.value not in told.get(latest.period_start, set()):
        found.append((kind, latest))
    signal = signal_key(latest)
    if (
        signal is not None
        and (t.before is None or signal_key(t.before) != signal)
        and signal not in told.get(latest.period_start, set())
    ):
        found.append((Kind.CONCERN if "concern" in signal else Kind.IMPROVEMENT, latest))
    found += [(Kind.RELEASED, e) for e in _released(t, told)]
    return found


def _status_kind(t: Track) -> Kind | None:
    status, before = t.latest.status, t.previous.status if t.previous else None
    if status is Status.WITHHELD:
        return Kind.NEWLY_WITHHELD
    if status in OFF_TRACK:
        if before not in OFF_TRACK:
            return Kind.NEWLY_OFF_TRACK
        if (before, status) == (Status.AMBER, Status.RED):
            return Kind.WORSE
        if (before, status) == (Status.RED, Status.AMBER):
            return Kind.BETTER
        return Kind.STILL_OFF_TRACK
    if status is Status.GREEN and before in OFF_TRACK:
        return Kind.BACK_ON_TRACK
    return None


def _released(t: Track, told: Told) -> list[Evaluation]:
    """Periods the recipient was told were withheld whose figures now stand, not yet told."""
    return [
        e
        for e in t.history
        if e.status is not Status.WITHHELD
        and "withheld" in told.get(e.period_start, set())
        and e.status.value not in told[e.period_start]
    ]


def signal_key(e: Evaluation) -> str | None:
    """A special-cause signal worth telling, as its notification key (``spc:concern_high``)."""
    if e.status in (Status.WITHHELD, Status.INCOMPLETE):
        return None
    if e.spc_variation.startswith(("concern", "improvement")):
        return f"spc:{e.spc_variation}"
    return None
