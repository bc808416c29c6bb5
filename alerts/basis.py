"""How an indicator is counted, with what the shown figures rest on: the population estimate a
rate per head divides by, and the share of an outcome cohort still awaiting an outcome. Pure.

"How these are counted" is where an analyst looks to answer "is this comparison fair?": the
basis says the method, the sentence after it says what this digest's figures used.
"""

from __future__ import annotations

from collections.abc import Sequence

from safer.alerts.words import join
from safer.indicators.definitions import Indicator
from safer.indicators.evaluate import Evaluation
from safer.kernel.periods import add_months, period_label

__all__ = ["basis"]


def basis(indicator: Indicator, shown: Sequence[Evaluation]) -> str:
    """The indicator's basis, then what the ``shown`` figures (its latest, one per area) rest
    on: "Population: mid-2021 estimates." "Still awaiting an outcome, left out: 1.8% of
    2024/25 Q4's crimes; 19.2% of 2023/24 Q4's."."""
    notes = [_population(shown), _pending(shown)]
    return " ".join([indicator.basis, *(n for n in notes if n)])


def _population(shown: Sequence[Evaluation]) -> str:
    notes = sorted({e.denominator_note for e in shown if e.denominator_note})
    return f"Residents: {join(notes)}." if notes else ""


def _pending(shown: Sequence[Evaluation]) -> str:
    cohorts = [e for e in shown if e.pending_share is not None]
    if not cohorts:
        return ""
    latest = max(e.period_start for e in cohorts)
    now = [e.pending_share for e in cohorts if e.period_start == latest]
    then = [
        e.comparison_pending_share
        for e in cohorts
        # A baseline's share is named by the judgement itself, which names its period.
        if e.period_start == latest and e.target_form != "baseline_change"
    ]
    grain = cohorts[0].grain
    said = f"{_range(now)} of {period_label(latest, grain)}'s crimes"
    if any(s is not None for s in then):
        said += f"; {_range(then)} of {period_label(add_months(latest, -12), grain)}'s"
    return f"Still awaiting an outcome, so left out: {said}."


def _range(shares: Sequence[float | None]) -> str:
    """'1.8%', or '1.5–2.2%' across the areas shown."""
    words = sorted({f"{100 * s:.1f}" for s in shares if s is not None}, key=float)
    return f"{words[0]}%" if len(words) == 1 else f"{words[0]}–{words[-1]}%"
