"""When each source's next release is due, and which releases are overdue. Pure.

data.police.uk publishes a month's street file at roughly the end of the following month, so
month M is due on the last day of M+1; a quarterly or annual return declares its own lag in days
after the period ends when its pipeline arrives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from safer.kernel.periods import Grain, add_months, month_label, period_label, period_start

__all__ = ["Missing", "monthly_due", "overdue", "period_end"]


def monthly_due(month: dt.date) -> dt.date:
    """The last day of the month after ``month``."""
    return add_months(month, 2) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Missing:
    label: str
    """The source in an officer's words, e.g. "data.police.uk street file"."""
    period: dt.date
    due: dt.date
    days_overdue: int
    grain: Grain = "month"
    """The source's grain: a month's file leaves its quarter incomplete; a quarterly or yearly
    release leaves that period without figures."""
    source: str = ""
    area: str | None = None
    """The partnership whose return is missing, when the others' arrived."""
    area_code: str | None = None

    @property
    def sentence(self) -> str:
        when = month_label(self.period) if self.grain == "month" else self.period_name
        if self.area is not None:
            return (
                f"Data missing: the {self.label} for {when} has no figures for {self.area}; "
                f"it was due by {self.due:%-d %b %Y} and is {self.days_overdue} days overdue, "
                "and the force's figure waits for it."
            )
        start = (
            f"Data missing: the {self.label} for {when} was due by "
            f"{self.due:%-d %b %Y} and is {self.days_overdue} days overdue; "
        )
        if self.grain == "month":
            quarter = period_label(period_start(self.period, "quarter"), "quarter")
            return start + f"{quarter} figures stay incomplete until it arrives."
        return start + f"there are no {self.period_name} figures from it until it arrives."

    @property
    def period_name(self) -> str:
        return period_label(self.period, self.grain)


def overdue(
    label: str,
    wanted: Iterable[dt.date],
    present: Collection[dt.date],
    as_of: dt.date,
    grace_days: int,
    due_on: Callable[[dt.date], dt.date] = monthly_due,
    grain: Grain = "month",
    source: str = "",
) -> list[Missing]:
    """Wanted periods not present whose release is more than ``grace_days`` late on ``as_of``."""
    found = []
    for period in wanted:
        due = due_on(period)
        late = (as_of - due).days
        if period not in present and late > grace_days:
            found.append(Missing(label, period, due, late, grain, source))
    return found


def period_end(start: dt.date, grain: Grain) -> dt.date:
    """The last day of the ``grain`` period starting ``start``."""
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    return add_months(start, months) - dt.timedelta(days=1)
