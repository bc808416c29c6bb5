"""What moved: one indicator and area read across its periods, not one quarter at a time.

Pure. A figure's movement is worded from its own history (the judged period before it), so a
quarter that is off track after three others were is "still off track, 4th quarter running",
never "newly" again; a recovery is "back on track". Whether to *tell* it is the recipient's
notification record: only what they have not been sent for that period is news, and a figure
revised since it was sent is worded against what was sent (off track when sent, on track now:
"back on track").

Judged periods are green, amber or red. "Newly off track" compares with the judged period
before (whatever lies between); a run ("4th quarter running") is of consecutive periods, so a
gap, or a period withheld or not judged, ends it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from safer.indicators.evaluate import OFF_TRACK, Evaluation, Status
from safer.kernel.periods import GRAIN_MONTHS, add_months

__all__ = [
    "JUDGED",
    "Kind",
    "Move",
    "Said",
    "Track",
    "last_status",
    "movements",
    "signal_key",
    "track",
]

JUDGED = frozenset({Status.GREEN, Status.AMBER, Status.RED})


class Kind(StrEnum):
    """A movement, in order of severity: the digest lists the most severe first."""

    NEWLY_OFF_TRACK = "Newly off track"
    WORSE = "Worse while off track"
    NEWLY_WITHHELD = "Newly withheld"
    CONCERN = "Special cause concern"
    STILL_OFF_TRACK = "Still off track"
    STILL_WITHHELD = "Still withheld"
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


Said = Mapping[dt.date, Sequence[str]]
"""Period start → what the recipient has been sent for it, oldest first: statuses and ``spc:``
signals. The order matters: a figure revised back to a status told before is news again."""


@dataclass(frozen=True)
class Move:
    """A movement of one period, with the status it was last sent with when it is a revision
    (``was``: withheld for a release, a judged status for a revised figure)."""

    kind: Kind
    evaluation: Evaluation
    was: Status | None = None


def last_status(said: Sequence[str]) -> Status | None:
    """The status a period was last sent with, if it was sent."""
    statuses = [Status(x) for x in said if not x.startswith("spc:")]
    return statuses[-1] if statuses else None


def movements(t: Track, told: Said) -> list[Move]:
    """The movements of ``t`` the recipient has not been told, most recent period last."""
    latest = t.latest
    said = told.get(latest.period_start, ())
    was = last_status(said)
    found = [m for m in _released(t, told) if m.evaluation is not latest]
    if latest.status is not was:
        kind = _status_kind(t, was)
        if kind is not None:
            found.append(Move(kind, latest, was))
    signal = signal_key(latest)
    if (
        signal is not None
        and (t.before is None or signal_key(t.before) != signal)
        and signal not in said
    ):
        found.append(Move(Kind.CONCERN if "concern" in signal else Kind.IMPROVEMENT, latest))
    return found


def _status_kind(t: Track, was: Status | None) -> Kind | None:
    """The latest period's movement: against what it was last sent as (a revision or a
    release), else against the judged period before it."""
    status = t.latest.status
    if status is Status.WITHHELD:
        held_before = t.before is not None and t.before.status is Status.WITHHELD
        return Kind.STILL_WITHHELD if held_before and was is None else Kind.NEWLY_WITHHELD
    prior = was if was in JUDGED else (t.previous.status if t.previous else None)
    if status in OFF_TRACK:
        if prior not in OFF_TRACK:
            return Kind.NEWLY_OFF_TRACK
        if (prior, status) == (Status.AMBER, Status.RED):
            return Kind.WORSE
        if (prior, status) == (Status.RED, Status.AMBER):
            return Kind.BETTER
        return Kind.STILL_OFF_TRACK
    if status is Status.GREEN and prior in OFF_TRACK:
        return Kind.BACK_ON_TRACK
    return Kind.RELEASED if was is Status.WITHHELD and status in JUDGED else None


def _released(t: Track, told: Said) -> list[Move]:
    """Periods last sent as withheld whose figures now stand."""
    return [
        Move(Kind.RELEASED, e, Status.WITHHELD)
        for e in t.history
        if e.status is not Status.WITHHELD
        and last_status(told.get(e.period_start, ())) is Status.WITHHELD
    ]


def signal_key(e: Evaluation) -> str | None:
    """A special-cause signal worth telling, as its notification key (``spc:concern_high``)."""
    if e.status in (Status.WITHHELD, Status.INCOMPLETE):
        return None
    if e.spc_variation.startswith(("concern", "improvement")):
        return f"spc:{e.spc_variation}"
    return None
