"""When each source's next release is due, and which releases are overdue. Pure.

data.police.uk publishes a month's street file at roughly the end of the following month, so
month M is due on the last day of M+1; a quarterly or annual return declares its own lag in days
after the period ends when its pipeline arrives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from safer.periods import add_months, month_label, quarter_label, quarter_start

__all__ = ["Missing", "monthly_due", "overdue"]


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

    @property
    def sentence(self) -> str:
        return (
            f"Data missing: the {self.label} for {month_label(self.period)} was due by "
            f"{self.due:%-d %b %Y} and is {self.days_overdue} days overdue; "
            f"{quarter_label(quarter_start(self.period))} figures stay incomplete until it "
            "arrives."
        )


def overdue(
    label: str,
    wanted: Iterable[dt.date],
    present: Collection[dt.date],
    as_of: dt.date,
    grace_days: int,
    due_on: Callable[[dt.date], dt.date] = monthly_due,
) -> list[Missing]:
    """Wanted months not present whose release is more than ``grace_days`` late on ``as_of``."""
    found = []
    for month in wanted:
        due = due_on(month)
        late = (as_of - due).days
        if month not in present and late > grace_days:
            found.append(Missing(label, month, due, late))
    return found
