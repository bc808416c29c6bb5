"""Build one recipient's digest from evaluations: pure, no database, clock or templates.

Each indicator and area is read as a track across its periods (alerts/lifecycle.py). What the
plan judges goes to the summary table, with a chart; what it only monitors folds into the
appendix, one line each; a series with no current data is one sentence. A digest exists only
when the recipient has something not yet told for the periods it shows, or a figure they were
sent has changed since (alerts/revisions.py): that alone is worth a digest.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from safer.alerts.basis import basis
from safer.alerts.lifecycle import Track, track
from safer.alerts.model import Digest, Group, Monitored, Movement, NotificationKey
from safer.alerts.notes import DataNote, merge_notes
from safer.alerts.revisions import NOTHING_SENT, SentRecord, fold_status, revisions
from safer.alerts.summary import appendix, summary_groups
from safer.alerts.whatmoved import Told, area_rank, new_keys, target_of, what_moved
from safer.alerts.words import capital, join
from safer.indicators.definitions import Catalogue, Indicator, Plan, plan_for
from safer.indicators.evaluate import Evaluation, Status
from safer.kernel.config import Recipient
from safer.kernel.periods import Grain, add_months, period_label

__all__ = ["Digest", "NotificationKey", "Told", "build_digest"]

REST_OF_FORCE_FORMS = ("rest_of_force", "rest_of_force_change")
"""Targets comparing each partnership with the rest of the force: the force is their context."""

_Key = tuple[str, str]


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
    sent: SentRecord = NOTHING_SENT,
) -> Digest | None:
    """The digest for ``recipient``, or None when they have already been told everything.

    ``evaluations`` are every period's (the history the movements are read from); ``force`` is
    the force's area code; ``stale`` maps an indicator with no current data to its source
    and latest period ("data.police.uk stop-and-search file", "February 2019"); ``sent`` is
    what the recipient was last sent, figure by figure, for the revision notices.
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
    moved = what_moved(catalogue, plans, area_names, current, shown, notified, recipient, force)
    keys = new_keys([current[k] for k in shown], moved, notified)
    revised = revisions(
        catalogue,
        area_names,
        evaluations,
        sent,
        # Whether they still follow it: routes and areas can change after a figure was sent.
        lambda i, area: (
            recipient.wants(area)
            and recipient.wants_any(_indicator_topics(catalogue.get(i), plans))
        ),
        lambda area: area_rank(recipient, area, force, area_names),
    )
    if not keys and not revised:
        return None
    revised, told_moves = fold_status(revised, moved)
    groups = summary_groups(catalogue, plans, area_names, current, summary, by_key, force, period)
    monitored = appendix(catalogue, area_names, current, [k for k in shown if k not in judged])
    groups, monitored, standing, noted = _mark_standing(catalogue, notes, groups, monitored)
    stopped = {stale[i][0] for i, _ in tracks if i in stale}
    plan = plan_for(plans, period[0])
    scope = _scope(recipient, area_names, force)
    label = period_label(*period)
    return Digest(
        recipient=recipient,
        subject=_subject(label, scope, moved, groups, len(revised)),
        title=f"Community safety — {scope} — {label}",
        intro=f"For {recipient.name}: {label} ({_span(*period)}), "
        f"judged against the {plan.name if plan else 'plan (none in force)'}.",
        period=label,
        plan=plan.name if plan else "no plan in force",
        groups=groups,
        movements=told_moves,
        notes=merge_notes(
            [*_kept(notes, standing, stopped), *_doubts(current, shown)],
            _note_areas(recipient, force),
        ),
        monitored=monitored,
        stale=_stale_lines(catalogue, {i for i, _ in tracks if i in stale}, stale),
        unmeasured=_unmeasured(recipient, catalogue, plans),
        footnotes=(*_footnotes(groups), *noted),
        bases=tuple(
            (i.name, basis(i, [current[k].latest for k in shown if k[0] == i.id]))
            for i in catalogue.indicators
            if i.id in {k[0] for k in shown}
        ),
        new_keys=keys,
        revisions=revised,
    )


def _tracks(
    recipient: Recipient, catalogue: Catalogue, plans: Sequence[Plan], found: Iterable[Evaluation]
) -> dict[_Key, Track]:
    """The recipient's indicators and areas, each read across its periods."""
    series: dict[_Key, list[Evaluation]] = defaultdict(list)
    for e in found:
        # Topics from every plan, not the one that judged the period: a recipient routed by a
        # priority keeps the history from before the plan that named it.
        topics = _indicator_topics(catalogue.get(e.indicator_id), plans)
        if recipient.wants(e.area_code) and recipient.wants_any(topics):
            series[(e.indicator_id, e.area_code)].append(e)
    tracks = {key: track(history) for key, history in series.items()}
    return {key: t for key, t in tracks.items() if t is not None}


def _summarised(plans: Sequence[Plan], e: Evaluation) -> bool:
    """The summary holds what the plan judges and was judged (or withheld: a figure that
    would be judged but failed its checks); the rest is monitored, in the appendix."""
    target = target_of(plans, e)
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
            if partnership or tracks[key].latest.target_form in REST_OF_FORCE_FORMS:
                continue
        keep.append(key)
    order = [i.id for i in catalogue.indicators]
    return sorted(keep, key=lambda k: (order.index(k[0]), area_rank(recipient, k[1], force, names)))


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


_MARKS = ("§", "¶", "#", "**")
"""Marks for standing notes, one per distinct note (after † and ‡ for target origins)."""


def _mark_standing(
    catalogue: Catalogue,
    notes: Sequence[DataNote],
    groups: tuple[Group, ...],
    monitored: tuple[Monitored, ...],
) -> tuple[tuple[Group, ...], tuple[Monitored, ...], list[DataNote], tuple[str, ...]]:
    """Mark each figure whose source has a standing note (EXAMPLE data, a known caveat), one
    mark per distinct note, said under the summary, so the caveat sits beside the figures.

    Returns the marked groups and lines, the notes said as footnotes (left out of the data
    notes) and the footnotes. Without a summary table there is nowhere to put a footnote:
    nothing is marked.
    """
    standing = {n.source_id: n for n in notes if n.kind == "about" and n.source_id}
    shown = [g.indicator_id for g in groups] + [m.indicator_id for m in monitored]
    used = dict.fromkeys(source for i in shown if (source := catalogue.get(i).source) in standing)
    if not groups or not used:
        return groups, monitored, [], ()
    texts = list(dict.fromkeys(standing[source].text for source in used))[: len(_MARKS)]
    mark_of = {
        source: _MARKS[texts.index(standing[source].text)]
        for source in used
        if standing[source].text in texts
    }

    def mark(indicator_id: str) -> str:
        return mark_of.get(catalogue.get(indicator_id).source, "")

    said = [standing[source] for source in mark_of]
    footnotes = tuple(
        f"{_MARKS[n]} {line}"
        for n, text in enumerate(texts)
        for line in merge_notes([note for note in said if note.text == text])
    )
    return (
        tuple(replace(g, note_mark=mark(g.indicator_id)) for g in groups),
        tuple(replace(m, note_mark=mark(m.indicator_id)) for m in monitored),
        said,
        footnotes,
    )


def _kept(
    notes: Sequence[DataNote], standing: Sequence[DataNote], stopped: set[str]
) -> list[DataNote]:
    """The data notes still to say: not those said as footnotes, nor a stopped source's overdue
    releases (its line says "no data since 2021/22")."""
    return [
        n for n in notes if n not in standing and not (n.kind == "missing" and n.source in stopped)
    ]


def _doubts(tracks: Mapping[_Key, Track], shown: Sequence[_Key]) -> list[DataNote]:
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


def _note_areas(recipient: Recipient, force: str) -> tuple[str, ...] | None:
    """The areas whose notes a recipient gets: every area's for a force-wide recipient (the
    force's figure waits for a partnership's missing return), else their own."""
    if "all" in recipient.areas or all(a == force for a in recipient.areas):
        return None
    return recipient.areas


def _scope(recipient: Recipient, area_names: Mapping[str, str], force: str) -> str:
    """Whose figures: the force's name for a force-wide recipient, else the partnerships."""
    if "all" in recipient.areas:
        return area_names.get(force, force)
    own = [area_names.get(a, a) for a in recipient.areas if a != force]
    return join(own) if own else area_names.get(force, force)


def _subject(
    period: str, scope: str, moved: Sequence[Movement], groups: Sequence[Group], revised: int
) -> str:
    """The period, whose figures, and the news: movements by severity, then revisions."""
    counts = Counter(m.kind for m in moved)
    ranked = sorted(counts.items(), key=lambda kv: kv[0].severity)
    parts = [f"{n} {kind.value.lower()}" for kind, n in ranked][:3]
    if revised:
        parts = [*parts[:2], f"{revised} revised"]
    if not parts:
        off = sum(1 for g in groups for r in g.rows if r.off_track)
        parts = [f"{off} off track" if off else "nothing off track"]
    return f"Community safety {period}, {scope}: {', '.join(parts)}"


def _footnotes(groups: Sequence[Group]) -> tuple[str, ...]:
    """How to read the summary: what its change column compares, what its marks mean."""
    if not groups:
        return ()
    marks = {(r.mark, r.origin) for g in groups for r in g.rows if r.mark}
    quarter = any(" on " in r.last_year for g in groups for r in g.rows)
    change = "Change: on the same period a year ago" + (
        ", or on the quarter named where there is no figure a year ago." if quarter else "."
    )
    return (change, *(f"{mark} {capital(origin)}." for mark, origin in sorted(marks)))
