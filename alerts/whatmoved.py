"""A recipient's "what moved": the untold movements of the tracks a digest shows, ordered and
merged, and the notification keys the digest records. Pure.

Lines are ordered most severe first, then by the recipient's areas, then catalogue order. Two
kinds of movement are merged, because one cause would otherwise fill the list: figures withheld
for one reason (a month's file that failed its checks holds back every figure it feeds), and
one area's figures with the same special-cause pattern (a count and its rate per 1,000
residents move together).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence

from safer.alerts.lifecycle import Kind, Move, Track, last_status, movements, signal_key
from safer.alerts.model import Movement, NotificationKey
from safer.alerts.moves import movement, pattern, spc_story, withheld
from safer.indicators.definitions import Catalogue, Plan, Target, plan_for
from safer.indicators.evaluate import Evaluation
from safer.kernel.config import Recipient

__all__ = ["Told", "area_rank", "new_keys", "target_of", "what_moved"]

Told = Mapping[tuple[str, str, dt.date], Sequence[str]]
"""(indicator, area, period start) → the statuses and signals a recipient has been sent,
oldest first."""

_Key = tuple[str, str]
_Rank = tuple[int, tuple[int, str], int]
_Together = tuple[object, ...]
"""What merges lines: (kind, period start, reason) for withheld figures; (kind, area, period
start, the run in words without values) for a special-cause pattern."""

_HELD = (Kind.NEWLY_WITHHELD, Kind.STILL_WITHHELD)
_SPC = (Kind.CONCERN, Kind.IMPROVEMENT)


def plan_of(plans: Sequence[Plan], e: Evaluation) -> Plan | None:
    """The plan that judged ``e`` (or is in force for its period)."""
    return next((p for p in plans if p.id == e.plan_id), None) or plan_for(plans, e.period_start)


def target_of(plans: Sequence[Plan], e: Evaluation) -> Target | None:
    plan = plan_of(plans, e)
    return plan.target_for(e.indicator_id) if plan else None


def area_rank(
    recipient: Recipient, area: str, force: str, names: Mapping[str, str]
) -> tuple[int, str]:
    """The recipient's areas in the order they listed them; for every area, the force first,
    then the partnerships by name."""
    if area in recipient.areas:
        return recipient.areas.index(area), area
    return (0 if area == force else 1), names.get(area, area)


def what_moved(
    catalogue: Catalogue,
    plans: Sequence[Plan],
    area_names: Mapping[str, str],
    tracks: Mapping[_Key, Track],
    shown: Sequence[_Key],
    told: Told,
    recipient: Recipient,
    force: str,
) -> tuple[Movement, ...]:
    """The untold movements of the ``shown`` tracks, as the digest lists them."""
    found: list[tuple[_Rank, _Together | None, Move, Movement]] = []
    members: dict[_Together, list[tuple[str, str]]] = defaultdict(list)
    for position, key in enumerate(shown):
        t, indicator = tracks[key], catalogue.get(key[0])
        area = area_names.get(key[1], key[1])
        for move in movements(t, _told_for(told, key)):
            rank = (move.kind.severity, area_rank(recipient, key[1], force, area_names), position)
            line = movement(move, indicator, target_of(plans, move.evaluation), t, area)
            together = _together(move)
            if together is not None:
                if members[together]:
                    members[together].append((indicator.name, area))
                    continue
                members[together].append((indicator.name, area))
            found.append((rank, together, move, line))
    found.sort(key=lambda x: x[0])
    return tuple(
        _line(move, line, members.get(together or ())) for _, together, move, line in found
    )


def _together(move: Move) -> _Together | None:
    e = move.evaluation
    if move.kind in _HELD:
        return (move.kind, e.period_start, e.reason)
    if move.kind in _SPC:
        return (move.kind, e.area_code, e.period_start, spc_story(e, None))
    return None


def _line(move: Move, line: Movement, figures: Sequence[tuple[str, str]] | None) -> Movement:
    """The line as found, or the merged line for the figures that share it."""
    if move.kind in _HELD and figures:
        return withheld(move.kind, move.evaluation, figures)
    if move.kind in _SPC and figures and len(figures) > 1:
        return pattern(move.kind, move.evaluation, [name for name, _ in figures], figures[0][1])
    return line


def _told_for(told: Told, key: _Key) -> dict[dt.date, Sequence[str]]:
    return {start: statuses for (i, a, start), statuses in told.items() if (i, a) == key}


def new_keys(
    tracks: Sequence[Track], moved: Sequence[Movement], told: Told
) -> tuple[NotificationKey, ...]:
    """What this digest tells: each shown period's status and signal, and each movement."""
    keys: list[NotificationKey] = []
    for t in tracks:
        e = t.latest
        for status in (e.status.value, signal_key(e)):
            if status:
                keys.append((e.indicator_id, e.area_code, e.period_start, status))
    keys += [(m.indicator_id, m.area_code, m.period_start, m.status.value) for m in moved]
    return tuple(dict.fromkeys(k for k in keys if _untold(k, told.get(k[:3], ()))))


def _untold(key: NotificationKey, said: Sequence[str]) -> bool:
    """A signal is told once per period; a status is news again when it differs from the one
    the period was last sent with (a revision back to an earlier status included)."""
    if key[3].startswith("spc:"):
        return key[3] not in said
    last = last_status(said)
    return last is None or key[3] != last.value
