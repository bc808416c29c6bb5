"""What a digest holds, as plain values: everything a template shows is computed before it.

The shape follows what officers read in thirty seconds (shared/docs/digest-mockup.md) and
NHS England's Making Data Count summary tables: one screen that answers "what needs my
attention", what moved since the last digest, the charts behind the summary, data notes, and
then, folded into an appendix, everything monitored without a target.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from safer.alerts.charts import Chart
from safer.alerts.icons import Icon
from safer.alerts.lifecycle import Kind
from safer.indicators.status import OFF_TRACK, Status
from safer.kernel.config import Recipient
from safer.kernel.spc_conventions import method_words

__all__ = [
    "Digest",
    "Group",
    "Monitored",
    "MonitoredItem",
    "Movement",
    "NotificationKey",
    "Revision",
    "Row",
]

NotificationKey = tuple[str, str, dt.date, str]
"""(indicator, area, period start, status or ``spc:`` signal): what a recipient was told."""


@dataclass(frozen=True)
class Row:
    """One indicator and area at its latest whole period, in the summary table."""

    indicator_id: str
    indicator: str
    area_code: str
    area: str
    period: str
    period_start: dt.date
    value: str
    """As the table shows it, under a heading that names the unit ("2.08")."""
    figure: str
    """With its unit, as the ledger keeps it ("2.08 per 1,000", or "withheld")."""
    status: Status
    status_label: str
    streak: str
    """How long it has held that state: "4 quarters running", "new", "first judged"."""
    reason: str
    """The judgement in words (or why there is none)."""
    last_year: str
    """The change on the same period last year: "−20.0%", "+1.2 pts", or "n/a"."""
    last_quarter: str
    """The change on the period before, as ``last_year`` (kept in the ledger)."""
    comparison: str
    """The comparison the plan makes: "rest of force 1.34 (+56%)", "target ≥ 90.0%"."""
    context: str = ""
    """The force's figure beside a partnership's, when the force has no row of its own."""
    context_area: str = ""
    """The force's area code when ``context`` (or the group's) shows its figure: the ledger
    keeps that figure too, so a revision of it is told (alerts/revisions.py)."""
    shown_period: str = ""
    """The period, when it is not the digest's (a yearly figure, an older quarter)."""
    mark: str = ""
    """† or ‡ when the target is not one the plan publishes (explained under the table)."""
    origin: str = ""
    """Where the target comes from, in words, said beside the judgement."""
    variation: Icon | None = None
    assurance: Icon | None = None
    spc: str = ""
    """The icons in words, for the plain-text part."""
    chart: Chart | None = None
    chart_title: str = ""
    chart_caption: str = ""
    warning: str = ""
    covers: tuple[Row, ...] = ()
    """The rows one row stands for ("All 5 areas: withheld"), each kept in the ledger."""

    @property
    def off_track(self) -> bool:
        return self.status in OFF_TRACK


@dataclass(frozen=True)
class Group:
    """An indicator's rows in the summary, under its name and the plan's comparison."""

    indicator_id: str
    indicator: str
    target: str
    """What it is judged against, in words ("fewer than the same quarter last year")."""
    rows: tuple[Row, ...]
    context: str = ""
    """The force's figure, once for the group, when every row would show the same."""
    note_mark: str = ""
    """§ when its source has a standing note (EXAMPLE data), said under the table."""


@dataclass(frozen=True)
class Movement:
    """One line of "what moved": its kind, and the sentence after the kind."""

    kind: Kind
    indicator_id: str
    indicator: str
    area_code: str
    period_start: dt.date
    status: Status
    text: str
    was: Status | None = None
    """The status the period was last sent with, when the movement is a revision of it."""

    @property
    def off_track(self) -> bool:
        return self.kind.off_track


@dataclass(frozen=True)
class Revision:
    """A figure the recipient was sent that has changed since: one line near the top.

    "Revised: ASB incidents, Cheshire, 2024/25 Q4: 1,463 → 1,368 (data.police.uk street file
    for Mar 2025 republished)."
    """

    kind: str
    """``Revised``, ``Withdrawn`` (sent, now no figure) or ``Restored`` (withdrawn, now back)."""
    indicator_id: str
    indicator: str
    area_code: str
    area: str
    period: str
    period_start: dt.date
    was: str
    """The figure as last sent, formatted as the digest formats it ("no figure" if none)."""
    now: str
    status: Status | None
    """The figure's status now; None when there is no figure."""
    text: str
    """The line after the kind."""
    sent_in: str
    """The digest that sent ``was``: with ``now``, what makes this notice news."""


@dataclass(frozen=True)
class MonitoredItem:
    area_code: str
    area: str
    period_start: dt.date
    status: Status
    value: str
    change: str
    """The change on a year ago ("+9.7%"), or on the quarter before ("−2.0% on Q2"), or ""."""
    covers: tuple[MonitoredItem, ...] = ()
    """The items one item stands for ("All 5 areas: withheld"), each kept in the ledger."""


@dataclass(frozen=True)
class Monitored:
    """One line of the appendix: an indicator without a target, its figure per area."""

    indicator_id: str
    indicator: str
    period: str
    items: tuple[MonitoredItem, ...]
    why: str = ""
    """Why it is not judged, when that is not simply "no target" ("withheld: …")."""
    note_mark: str = ""
    """§ when its source has a standing note (EXAMPLE data), said under the summary."""


@dataclass(frozen=True)
class Digest:
    recipient: Recipient
    subject: str
    title: str
    intro: str
    period: str
    plan: str
    groups: tuple[Group, ...]
    movements: tuple[Movement, ...]
    notes: tuple[str, ...]
    monitored: tuple[Monitored, ...]
    stale: tuple[str, ...]
    """One sentence per source with no current data ("no data since February 2019")."""
    unmeasured: tuple[str, ...]
    """Indicators the recipient follows that no configured source gives."""
    footnotes: tuple[str, ...]
    bases: tuple[tuple[str, str], ...]
    new_keys: tuple[NotificationKey, ...]
    revisions: tuple[Revision, ...] = ()
    """Figures sent before that have changed since, one line each."""

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(row for group in self.groups for row in group.rows)

    @property
    def charts(self) -> tuple[Chart, ...]:
        """Every distinct chart, in order (one image per Content-ID)."""
        found = {row.chart.cid: row.chart for row in self.rows if row.chart is not None}
        return tuple(found.values())

    @property
    def spc_method(self) -> str:
        """Whose SPC rules the charts follow, for the note under their heading: "SPC as NHS
        England's Making Data Count SQL v2.6" (docs/spc-conventions.md)."""
        return method_words(p.convention for chart in self.charts for p in chart.points)

    @property
    def icons(self) -> tuple[Icon, ...]:
        """Every distinct icon the summary shows, in order."""
        found = {
            icon.cid: icon
            for row in self.rows
            for icon in (row.variation, row.assurance)
            if icon is not None
        }
        return tuple(found.values())
