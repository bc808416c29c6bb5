"""What the data checks' flags mean for one indicator: quarters withheld, warnings shown.

Pure: the flags come in, the two mappings ``evaluate.Context`` takes go out.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping

from safer.checks.models import DataFlag, Severity
from safer.indicators.definitions import Indicator
from safer.kernel.periods import period_start

__all__ = ["flag_effects"]


def flag_effects(
    indicator: Indicator, flags: Iterable[DataFlag], withheld: Mapping[dt.date, str]
) -> tuple[dict[dt.date, str], dict[tuple[str, dt.date], str]]:
    """The quarters to withhold (added to ``withheld``) and the warnings by (area, quarter).

    An error withholds the indicator's whole quarter in every area, because the force figure
    is the sum of its partnerships. A flag on a source month (no indicator) covers every
    indicator of that source; a warning without an area covers every area (key ``*``).
    """
    held: dict[dt.date, list[str]] = defaultdict(list)
    for quarter, reason in withheld.items():
        held[quarter].append(reason)
    warned: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    for flag in flags:
        if flag.indicator_id != indicator.id and not (
            flag.indicator_id is None and flag.source == indicator.source
        ):
            continue
        quarter = period_start(flag.period, indicator.evaluated_grain)
        if flag.severity is Severity.ERROR:
            held[quarter].append(f"a data check failed: {flag.sentence}")
        else:
            warned[(flag.area_code or "*", quarter)].append(flag.sentence)
    return (
        {q: "; ".join(dict.fromkeys(reasons)) for q, reasons in held.items()},
        {key: "; ".join(dict.fromkeys(items)) for key, items in warned.items()},
    )
