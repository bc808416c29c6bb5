"""Build one recipient's digest from evaluations: pure, no database, clock or templates.

Each indicator and area is read as a track across its periods (alerts/lifecycle.py). What the
plan judges goes to the summary table, with a chart; what it only monitors folds into the
appendix, one line each; a series with no current data is one sentence. A digest exists only
when the recipient has something not yet told for the periods it shows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from alerts.lifecycle import Kind, Track, movements, signal_key, track
from alerts.model import Digest, Group, Monitored, Movement, NotificationKey, Row
from alerts.moves import movement, withheld
from alerts.notes import DataNote, merge_notes
from alerts.rows import monitored_item, summary_row, target_words
from alerts.words import capital, join
from indicators.definitions import Catalogue, Indicator, Plan, Target, plan_for
from indicators.evaluate import Evaluation, Status
from safer.config import Recipient
from safer.periods import Grain, add_months, period_label

__all__ = ["Digest", "NotificationKey", "Told", "build_digest"]

Told = Mapping[tuple[str, str, dt.date], set[str]]
"""(indicator, area, period start) → the statuses and signals a recipient has been sent."""

_Key = tuple[str, str]
_Held = tuple[dt.date, str]
"""(period start, reason): figures withheld together."""


def build_digest(
    recipient: Recipient,
    catalogue: Catalogue,
    plans: Sequence[Plan],
    area_names: Mapping[str, str],
    evaluations: Sequence[Evaluation],
    notified: Told,
    notes: Sequence[DataNote],
    force: str,
    stale: Mapping[str, tuple[str, str]] | None = None,
) -> Digest | None:
    """The digest for ``recipient``, or None when they have already been told everything.

    ``evaluations`` are every period's (the history the movements are read from); ``force`` is
    the force's area code; ``stale`` maps an indicator with no current data to its source
    and latest period ("data.police.uk stop-and-search file", "February 2019").
    """
    tracks = _tracks(recipient, catalogue, plans, evaluations)
    stale = stale or {}
    current = {k: t for k, t in tracks.items() if k[0] not in stale}
    judged = {k for k, t in current.items() if _summarised(plans, t.latest)}
    shown = _shown(recipient, current, judged, force, catalogue, area_names)
    summary = [k for k in shown if k in judged]
    by_key = {(e.indicator_id, e.area_code, e.period_start): e for e in evaluations}
    period = _period([current[k].latest for k in summary] or [current[k].latest for k in shown])
    if period is None:
        return None
    moved = _movements(catalogue, plans, area_names, current, shown, notified, recipient, force)
    keys = _new_keys([current[k] for k in shown], moved, notified)
    if not keys:
        return None
    groups = _groups(catalogue, plans, area_names, current, summary, by_key, force, period)
    monitored = _monitored(catalogue, area_names, current, [k for k in shown if k not in judged])
    plan = plan_for(plans, period[0]) or (plans[-1] if plans else None)
    scope = _scope(recipient, area_names, force)
    label = period_label(*period)
    return Digest(
        recipient=recipient,
        subject=_subject(label, scope, moved, groups),
        title=f"Community safety — {scope} — {label}",
        intro=f"For {recipient.name}: {label} ({_span(*period)}), "
        f"judged against the {plan.name if plan else 'plan (none in force)'}.",
        period=label,
        plan=plan.name if plan else "no plan in force",
        groups=groups,
        movements=moved,
        notes=merge_notes([*notes, *_doubts(catalogue, current, shown)], _areas(recipient)),
        monitored=monitored,
        stale=_stale_lines(catalogue, {i for i, _ in tracks if i in stale}, stale),
        unmeasured=_unmeasured(recipient, catalogue, plans),
        footnotes=_footnotes(groups),
        bases=tuple(
            (i.name, i.basis) for i in catalogue.indicators if i.id in {k[0] for k in shown}
        ),
        new_keys=keys,
    )


def _tracks(
    recipient: Recipient, catalogue: Catalogue, plans: Sequence[Plan], found: Iterable[Evaluation]
) -> dict[_Key, Track]:
    """The recipient's indicators and areas, each read across its periods."""
    series: dict[_Key, list[Evaluation]] = defaultdict(list)
    for e in found:
        if recipient.wants(e.area_code) and recipient.wants_any(_topics(catalogue, plans, e)):
            series[(e.indicator_id, e.area_code)].append(e)
    tracks = {key: track(history) for key, history in series.items()}
    return {key: t for key, t in tracks.items() if t is not None}


def _topics(catalogue: Catalogue, plans: Sequence[Plan], e: Evaluation) -> tuple[str, ...]:
    """The indicator's family and its priority in the plan that judged the period."""
    family = catalogue.get(e.indicator_id).family
    plan = _plan(plans, e)
    found = plan.priority_of(e.indicator_id) if plan else None
    return (family, found.id) if found else (family,)


def _plan(plans: Sequence[Plan], e: Evaluation) -> Plan | None:
    return next((p for p in plans if p.id == e.plan_id), None) or plan_for(plans, e.period_start)


def _target(plans: Sequence[Plan], e: Evaluation) -> Target | None:
    plan = _plan(plans, e)
    return plan.target_for(e.indicator_id) if plan else None


def _summarised(plans: Sequence[Plan], e: Evaluation) -> bool:
    """The summary holds what the plan judges and was judged (or withheld: a figure that
    would be judged but failed its checks); the rest is monitored, in the appendix."""
    target = _target(plans, e)
    if target is None or target.form == "monitor":
        return False
    return e.status in (Status.GREEN, Status.AMBER, Status.RED, Status.WITHHELD)


def _shown(
    recipient: Recipient,
    tracks: Mapping[_Key, Track],
    judged: set[_Key],
    force: str,
    catalogue: Catalogue,
    names: Mapping[str, str],
) -> list[_Key]:
    """The tracks the digest shows, in catalogue and the recipient's area order.

    The force is context, not a row, for a partnership's officer (its figure sits beside
    theirs) and wherever the plan compares a partnership with the rest of the force; it keeps
    its row for an indicator only the force has (999 calls).
    """
    partnership = "all" not in recipient.areas and any(a != force for a in recipient.areas)
    has_csp = {i for i, area in tracks if area != force}
    keep = []
    for key in tracks:
        indicator, area = key
        if area == force and indicator in has_csp:
            if partnership or tracks[key].latest.target_form == "rest_of_force":
                continue
        keep.append(key)
    order = [i.id for i in catalogue.indicators]
    return sorted(keep, key=lambda k: (order.index(k[0]), _rank(recipient, k[1], force, names)))


def _rank(recipient: Recipient, area: str, force: str, names: Mapping[str, str]) -> tuple[int, str]:
    """The recipient's areas in the order they listed them; for every area, the force first,
    then the partnerships by name."""
    if area in recipient.areas:
        return recipient.areas.index(area), area
    return (0 if area == force else 1), names.get(area, area)


def _period(latest: Sequence[Evaluation]) -> tuple[dt.date, Grain] | None:
    """The digest's period: the latest quarter shown, or the latest year if it shows only
    yearly figures."""
    quarters = [e.period_start for e in latest if e.grain == "quarter"]
    if quarters:
        return max(quarters), "quarter"
    years = [e.period_start for e in latest]
    return (max(years), "year") if years else None


def _span(start: dt.date, grain: Grain) -> str:
    last = add_months(start, 11 if grain == "year" else 2)
    if start.year == last.year:
        return f"{start:%B} to {last:%B %Y}"
    return f"{start:%B %Y} to {last:%B %Y}"


def _movements(
    catalogue: Catalogue,
    plans: Sequence[Plan],
    area_names: Mapping[str, str],
    tracks: Mapping[_Key, Track],
    shown: Sequence[_Key],
    told: Told,
    recipient: Recipient,
    force: str,
) -> tuple[Movement, ...]:
    """Untold movements, most severe first, then by the recipient's areas, then catalogue.
    Figures withheld for one reason (a month's file that failed its checks holds back every
    figure it feeds) are one line, not one per indicator and area."""
    found: list[tuple[tuple[int, tuple[int, str], int], _Held | None, Movement | Evaluation]] = []
    held: dict[_Held, list[tuple[str, str]]] = defaultdict(list)
    for position, key in enumerate(shown):
        t, indicator = tracks[key], catalogue.get(key[0])
        for kind, e in movements(t, _told_for(told, key)):
            area = area_names.get(key[1], key[1])
            rank = (kind.severity, _rank(recipient, key[1], force, area_names), position)
            if kind is Kind.NEWLY_WITHHELD:
                if not held[(e.period_start, e.reason)]:
                    found.append((rank, (e.period_start, e.reason), e))
                held[(e.period_start, e.reason)].append((indicator.name, area))
                continue
            found.append((rank, None, movement(kind, indicator, _target(plans, e), t, e, area)))
    lines = []
    for _, group, line in sorted(found, key=lambda x: x[0]):
        if isinstance(line, Movement):
            lines.append(line)
        elif group is not None:
            lines.append(withheld(line, held[group]))
    return tuple(lines)


def _told_for(told: Told, key: _Key) -> dict[dt.date, set[str]]:
    return {start: statuses for (i, a, start), statuses in told.items() if (i, a) == key}


def _new_keys(
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
    untold = [k for k in keys if k[3] not in told.get(k[:3], set())]
    return tuple(dict.fromkeys(untold))


def _groups(
    catalogue: Catalogue,
    plans: Sequence[Plan],
    area_names: Mapping[str, str],
    tracks: Mapping[_Key, Track],
    summary: Sequence[_Key],
    by_key: Mapping[tuple[str, str, dt.date], Evaluation],
    force: str,
    period: tuple[dt.date, Grain],
) -> tuple[Group, ...]:
    """The summary: an indicator's rows under its target, what is off track first."""
    label = period_label(*period)
    rows: dict[str, list[Row]] = defaultdict(list)
    for indicator_id, area in summary:
        t, indicator = tracks[(indicator_id, area)], catalogue.get(indicator_id)
        context = None
        if area != force and (indicator_id, force) not in summary:
            context = by_key.get((indicator_id, force, t.latest.period_start))
        target = _target(plans, t.latest)
        name = area_names.get(area, area)
        rows[indicator_id].append(summary_row(indicator, target, t, name, label, context))
    groups = [
        _group(i, catalogue.get(i).name, _target_words(catalogue.get(i), plans, tracks, i), r)
        for i, r in rows.items()
    ]
    plan = plan_for(plans, period[0])
    order = [t.indicator for _, t in plan.targets()] if plan else []
    place = {i: n for n, i in enumerate(order)}
    # What is off track first; otherwise in the order the plan lists its targets.
    return tuple(
        sorted(
            groups,
            key=lambda g: (
                not any(r.off_track for r in g.rows),
                place.get(g.indicator_id, len(order)),
            ),
        )
    )


def _group(indicator_id: str, name: str, target: str, rows: Sequence[Row]) -> Group:
    """The group, with the force's figure said once when every row would repeat it, and one
    row when every area's figure is withheld for the same reason."""
    if len(rows) > 1 and len({(r.status, r.reason) for r in rows}) == 1:
        if rows[0].status is Status.WITHHELD:
            every = replace(rows[0], area=_areas_text([r.area for r in rows]), context="")
            return Group(indicator_id, name, target, (every,))
    contexts = {row.context for row in rows}
    if len(rows) > 1 and len(contexts) == 1:
        shared = contexts.pop()
        return Group(
            indicator_id, name, target, tuple(replace(r, context="") for r in rows), shared
        )
    return Group(indicator_id, name, target, tuple(rows))


def _areas_text(areas: Sequence[str]) -> str:
    """'Halton and Warrington', or 'All 5 areas' for more than three."""
    return join(list(areas)) if len(areas) <= 3 else f"All {len(areas)} areas"


def _target_words(
    indicator: Indicator, plans: Sequence[Plan], tracks: Mapping[_Key, Track], indicator_id: str
) -> str:
    latest = max(
        (t.latest for (i, _), t in tracks.items() if i == indicator_id),
        key=lambda e: e.period_start,
    )
    target = _target(plans, latest)
    return target_words(indicator, target) if target else ""


def _monitored(
    catalogue: Catalogue,
    area_names: Mapping[str, str],
    tracks: Mapping[_Key, Track],
    keys: Sequence[_Key],
) -> tuple[Monitored, ...]:
    """The appendix: one line per indicator, its latest figure for each area shown."""
    by_indicator: dict[str, list[Track]] = defaultdict(list)
    for key in keys:
        by_indicator[key[0]].append(tracks[key])
    lines = []
    for indicator_id, found in by_indicator.items():
        indicator = catalogue.get(indicator_id)
        items = tuple(
            monitored_item(indicator, t.latest, area_names.get(t.latest.area_code, "?"))
            for t in found
        )
        if len(items) > 1 and all(i.status is Status.WITHHELD for i in items):
            items = (replace(items[0], area=_areas_text([i.area for i in items])),)
        periods = sorted({t.latest.period_label for t in found})
        lines.append(
            Monitored(indicator_id, indicator.name, " / ".join(periods), items, _why(found))
        )
    return tuple(lines)


def _why(found: Sequence[Track]) -> str:
    """Why figures of a targeted indicator are in the appendix: withheld, or nothing to judge
    them against yet ("not judged: no complete figure in 2024/25 Q3 to compare with")."""
    reasons = []
    for t in found:
        e = t.latest
        if e.status is Status.WITHHELD:
            reasons.append(e.reason)
        elif e.target_form not in (None, "monitor") and not e.reason.startswith("monitoring"):
            reasons.append(f"not judged: {e.reason}")
    return "; ".join(dict.fromkeys(reasons))


def _doubts(
    catalogue: Catalogue, tracks: Mapping[_Key, Track], shown: Sequence[_Key]
) -> list[DataNote]:
    """Data warnings on the figures shown, as notes: each names its file or figure."""
    return [
        DataNote("", "doubtful", capital(warning))
        for key in shown
        if (warning := tracks[key].latest.data_warning)
        and tracks[key].latest.status is not Status.WITHHELD
    ]


def _stale_lines(
    catalogue: Catalogue, indicators: set[str], latest: Mapping[str, tuple[str, str]]
) -> tuple[str, ...]:
    """One sentence per source whose series stopped: 'no data since February 2019'."""
    by_source: dict[tuple[str, str], list[str]] = defaultdict(list)
    for indicator in catalogue.indicators:
        if indicator.id in indicators:
            by_source[latest[indicator.id]].append(indicator.name)
    return tuple(
        f"{capital(source)}: no data since {since} ({join(names)})."
        for (source, since), names in by_source.items()
    )


def _unmeasured(
    recipient: Recipient, catalogue: Catalogue, plans: Sequence[Plan]
) -> tuple[str, ...]:
    return tuple(
        i.name
        for i in catalogue.indicators
        if i.sql is None and recipient.wants_any(_indicator_topics(i, plans))
    )


def _indicator_topics(indicator: Indicator, plans: Sequence[Plan]) -> tuple[str, ...]:
    found = [p.priority_of(indicator.id) for p in plans]
    return (indicator.family, *(p.id for p in found if p is not None))


def _areas(recipient: Recipient) -> tuple[str, ...] | None:
    return None if "all" in recipient.areas else recipient.areas


def _scope(recipient: Recipient, area_names: Mapping[str, str], force: str) -> str:
    """Whose figures: the force's name for a force-wide recipient, else the partnerships."""
    if "all" in recipient.areas:
        return area_names.get(force, force)
    own = [area_names.get(a, a) for a in recipient.areas if a != force]
    return join(own) if own else area_names.get(force, force)


def _subject(period: str, scope: str, moved: Sequence[Movement], groups: Sequence[Group]) -> str:
    counts = Counter(m.kind for m in moved)
    ranked = sorted(counts.items(), key=lambda kv: kv[0].severity)
    parts = [f"{n} {kind.value.lower()}" for kind, n in ranked][:3]
    if not parts:
        off = sum(1 for g in groups for r in g.rows if r.off_track)
        parts = [f"{off} off track" if off else "nothing off track"]
    return f"Community safety {period}, {scope}: {', '.join(parts)}"


def _footnotes(groups: Sequence[Group]) -> tuple[str, ...]:
    marks = {(r.mark, r.origin) for g in groups for r in g.rows if r.mark}
    return tuple(f"{mark} {origin[:1].upper()}{origin[1:]}." for mark, origin in sorted(marks))
