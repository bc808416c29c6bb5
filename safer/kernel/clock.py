"""The clock's type and zone. The wall clock is read in one place, ``safer.app.commands.now``;
everything below it receives a ``Clock``, so a test replaces that one function and every time a
run records, compares or prints follows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

__all__ = ["LONDON", "Clock"]

LONDON = ZoneInfo("Europe/London")
"""Officers' time: cron triggers, due dates and the times a digest prints."""

Clock = Callable[[], dt.datetime]
"""Now, as an aware datetime."""
