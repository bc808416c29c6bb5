"""The digest's two tables: the summary (what the plan judges, an indicator's rows under its
target, what is off track first) and the appendix (what is only monitored, one line per
indicator). Pure.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

from safer.alerts.lifecycle import Track
from safer.alerts.model import Group, Monitored, Row
from safer.alerts.rows import monitored_item, summary_row, target_words
from safer.alerts.whatmoved import target_of
from safer.alerts.words import join
from safer.indicators.definitions import Catalogue, Indicator, Plan, plan_for
from safer.indicators.evaluate import FORCE_IS_CONTEXT, Evaluation, Status
from safer.kernel.periods import Grain, period_label

__all__ = ["appendix", "summary_groups"]

_Key = tuple[str, str]


def summary_groups(
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
        target = target_of(plans, t.latest)
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
            # The force's figure is not shown beside "All 5 areas: withheld".
            bare = tuple(replace(r, context="", context_area="") for r in rows)
            every = replace(bare[0], area=_areas_text([r.area for r in rows]), covers=bare)
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
    target = target_of(plans, latest)
    return target_words(indicator, target) if target else ""


def appendix(
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
            every = _areas_text([i.area for i in items])
            items = (replace(items[0], area=every, covers=items),)
        periods = sorted({t.latest.period_label for t in found})
        why = _why(found)
        if not any(i.change for i in items) and any(i.status is not Status.WITHHELD for i in items):
            # Said once for the line, not "(no earlier figure)" after every area.
            why = "; ".join(x for x in (why, "no earlier figure to compare with") if x)
        lines.append(Monitored(indicator_id, indicator.name, " / ".join(periods), items, why))
    return tuple(lines)


def _why(found: Sequence[Track]) -> str:
    """Why figures of a targeted indicator are in the appendix: withheld, or nothing to judge
    them against yet ("not judged: no complete figure in 2024/25 Q3 to compare with")."""
    withheld, unjudged = [], []
    for t in found:
        e = t.latest
        if e.status is Status.WITHHELD:
            withheld.append(e.reason)
        elif e.target_form not in (None, "monitor") and not e.reason.startswith("monitoring"):
            unjudged.append(e.reason)
    if len(set(unjudged)) > 1:
        # The force is context wherever its partnerships are compared with it: said only when
        # nothing else explains the line.
        unjudged = [r for r in unjudged if r != FORCE_IS_CONTEXT]
    said = list(dict.fromkeys(withheld))
    if unjudged:
        said.append("not judged: " + "; ".join(dict.fromkeys(unjudged)))
    return "; ".join(said)
