"""Revision notices: each figure a recipient was sent that has changed since, in one line.

Pure. What was sent is the delivery ledger's last row for each indicator, area and period
(every digest records the figures it shows and the notices it gives, so once told, the
comparison matches and nothing is told again); why it changed is read from the load ledger's
rows since (a republished or corrected file, a file released after review, a file removed).

A change is a revision only when it shows at the precision the digest prints the figure
(``format_value``): float noise and a change lost in rounding are not news. A figure that is
now withheld is left to "what moved" (newly withheld), and one whose indicator could not be
measured this run is left alone: "could not tell" is never "withdrawn".
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from safer.alerts.model import Movement, Revision
from safer.alerts.words import STATUS_LABELS, join
from safer.indicators.changes import format_change, format_value
from safer.indicators.definitions import Catalogue, Indicator
from safer.indicators.evaluate import Evaluation, Status
from safer.kernel.logs import printable
from safer.kernel.periods import GRAIN_MONTHS, Grain, add_months, period_label

__all__ = [
    "NOTHING_SENT",
    "NO_FIGURE",
    "Sent",
    "SentRecord",
    "SourceEvent",
    "fold_status",
    "revision_kind",
    "revisions",
]

Key = tuple[str, str, dt.date]
NO_FIGURE = "no figure"


@dataclass(frozen=True)
class Sent:
    """A figure as a recipient was last sent it."""

    value: float | None
    """None when what was last sent was "no figure" (a withdrawal notice)."""
    digest_id: str
    at: dt.datetime
    """When that digest was stored: what changed the figure happened after."""
    rest_of_force: float | None = None
    """The rest of the force the figure was compared with, when its row showed one: its
    level, or its change on last year, as ``form`` says."""
    form: str | None = None
    """The target's form the figure was judged by."""
    context: bool = False
    """Sent as the force's figure beside a partnership's row (the recipient may not follow
    the force itself)."""


@dataclass(frozen=True)
class SourceEvent:
    """A load-ledger row that can change figures: a file loaded, revised, released, removed."""

    source: str
    table: str
    label: str
    """The source in an officer's words ("data.police.uk street file")."""
    grain: Grain
    status: str
    periods: tuple[dt.date, ...]
    at: dt.datetime
    name: str = ""
    """The file's name, for a return (whose files are named by the people who send them)."""


@dataclass(frozen=True)
class SentRecord:
    """What a recipient was last sent, figure by figure, and what the sources did since."""

    figures: Mapping[Key, Sent] = field(default_factory=dict)
    events: tuple[SourceEvent, ...] = ()


NOTHING_SENT = SentRecord()

_DONE = {
    "revised": "republished",
    "released": "released after review",
    "loaded": "added",
    "withdrawn": "removed",
}
"""What a load-ledger status did to a file, in words; other statuses change no figure."""


def revision_kind(indicator: Indicator, was: float | None, now: float | None) -> str | None:
    """``Revised``, ``Withdrawn`` or ``Restored``, or None when nothing changed that the digest
    would show (the same figure at the precision it prints)."""
    if was is None:
        return None if now is None else "Restored"
    if now is None:
        return "Withdrawn"
    changed = format_value(indicator, was) != format_value(indicator, now)
    return "Revised" if changed else None


def revisions(
    catalogue: Catalogue,
    area_names: Mapping[str, str],
    evaluations: Sequence[Evaluation],
    sent: SentRecord,
    follows: Callable[[str, str], bool],
    rank: Callable[[str], tuple[int, str]],
) -> tuple[Revision, ...]:
    """Every figure in ``sent`` that differs now, for the (indicator, area) pairs the recipient
    ``follows`` (or were sent beside one they follow); in catalogue order, then by ``rank`` of
    the area, then period. A row's rest-of-force comparison is told on its line."""
    found = {(e.indicator_id, e.area_code, e.period_start): e for e in evaluations}
    measured = {e.indicator_id for e in evaluations}
    known = {i.id: i for i in catalogue.indicators}
    lines = []
    for key, was in sent.figures.items():
        indicator_id, area, start = key
        indicator = known.get(indicator_id)
        if indicator is None or indicator_id not in measured:
            continue
        beside = was.context and any(follows(indicator_id, a) for a in area_names)
        if not (follows(indicator_id, area) or beside):
            continue
        e = found.get(key)
        if e is not None and e.status is Status.WITHHELD:
            continue  # "newly withheld" says so, and the figure is never shown as a number
        # A quarter no longer whole (a month's file removed) has no figure the digest shows.
        now = None if e is None or e.status is Status.INCOMPLETE else e.value
        rest = _rest_moved(indicator, was, e) if now is not None else ""
        kind = revision_kind(indicator, was.value, now) or ("Revised" if rest else None)
        if kind is not None:
            name = area_names.get(area, area)
            lines.append(_revision(kind, indicator, key, name, was, now, e, sent.events, rest))
    order = {i.id: n for n, i in enumerate(catalogue.indicators)}
    lines.sort(key=lambda r: (order[r.indicator_id], rank(r.area_code), r.period_start))
    return tuple(lines)


def _rest_moved(indicator: Indicator, was: Sent, e: Evaluation | None) -> str:
    """'rest of force 1.34 → 1.30' (or '−39.6% → −44.4%', its change on last year) when the
    comparison the row showed has changed as the digest prints it; '' otherwise, and when
    there is no comparison now or it is now of another form: not a revision."""
    if was.rest_of_force is None or e is None or e.target_form != was.form:
        return ""
    changed = was.form == "rest_of_force_change"
    now = e.comparator if changed else e.rest_of_force
    fmt = functools.partial(format_change if changed else format_value, indicator)
    if now is None:
        return ""
    before, after = fmt(was.rest_of_force), fmt(now)
    return "" if before == after else f"rest of force {before} → {after}"


def _revision(
    kind: str,
    indicator: Indicator,
    key: Key,
    area: str,
    was: Sent,
    now: float | None,
    e: Evaluation | None,
    events: Sequence[SourceEvent],
    rest: str = "",
) -> Revision:
    """The line; ``rest`` is the change in the row's rest-of-force comparison, said after the
    figure's, or alone when the figure itself reads the same."""
    start = key[2]
    grain = indicator.evaluated_grain
    before = NO_FIGURE if was.value is None else format_value(indicator, was.value)
    after = NO_FIGURE if now is None else format_value(indicator, now)
    label = period_label(start, grain)
    why = _why(kind, indicator, start, grain, was.at, events)
    return Revision(
        kind=kind,
        indicator_id=indicator.id,
        indicator=indicator.name,
        area_code=key[1],
        area=area,
        period=label,
        period_start=start,
        was=before,
        now=after,
        status=None if now is None or e is None else e.status,
        text=f"{indicator.name}, {area}, {label}: {_figures(before, after, rest)} ({why}).",
        sent_in=was.digest_id,
    )


def _figures(before: str, after: str, rest: str) -> str:
    if not rest:
        return f"{before} → {after}"
    return rest if before == after else f"{before} → {after}; {rest}"


def _why(
    kind: str,
    indicator: Indicator,
    start: dt.date,
    grain: Grain,
    since: dt.datetime,
    events: Sequence[SourceEvent],
) -> str:
    """What the sources did to the period's files after the figure was sent, in words:
    "data.police.uk street file for Mar 2025 republished"; "revised at source" when the
    ledger holds nothing that explains it."""
    end = add_months(start, GRAIN_MONTHS[grain])
    done: dict[tuple[str, str, bool], list[str]] = defaultdict(list)
    for event in events:
        feeds = event.source == indicator.source or event.table in indicator.tables
        periods = [p for p in event.periods if start <= p < end]
        if event.at <= since or not feeds or not periods or event.status not in _DONE:
            continue
        what = (
            [printable(event.name)]
            if event.name
            else [period_label(p, event.grain) for p in periods]
        )
        said = done[(event.label, event.status, bool(event.name))]
        said += [w for w in what if w not in said]
    if not done:
        return f"{kind.lower()} at source"
    return "; ".join(
        _done(label, status, files, names) for (label, status, files), names in sorted(done.items())
    )


def _done(label: str, status: str, files: bool, names: Sequence[str]) -> str:
    """'data.police.uk street file for Mar 2025 republished'; for a return, named by its
    files: 'council enforcement return halton-q3.csv removed', '… halton-q1.csv corrected'."""
    verb = _DONE[status]
    if files:
        verb = "corrected" if status == "revised" else verb
        return f"{label} {join(list(names))} {verb}"
    return f"{label} for {join(list(names))} {verb}"


def fold_status(
    found: Sequence[Revision], moved: Sequence[Movement]
) -> tuple[tuple[Revision, ...], tuple[Movement, ...]]:
    """One line per changed figure: a figure whose status moved against what it was last sent
    with ("back on track … it was off track when last sent", or released after being withheld)
    and whose value changed too is said once, on its revision line; that movement leaves
    "what moved"."""
    by_key = {(r.indicator_id, r.area_code, r.period_start): r for r in found}
    folded: dict[Key, Revision] = {}
    kept = []
    for m in moved:
        r = by_key.get((m.indicator_id, m.area_code, m.period_start))
        if r is None or m.was is None or r.status is None or r.status is m.was:
            kept.append(m)
            continue
        now, then = STATUS_LABELS[r.status].lower(), STATUS_LABELS[m.was].lower()
        text = f"{r.text} Now {now}; it was {then} when last sent."
        folded[(r.indicator_id, r.area_code, r.period_start)] = replace(r, text=text)
    lines = tuple(folded.get((r.indicator_id, r.area_code, r.period_start), r) for r in found)
    return lines, tuple(kept)
