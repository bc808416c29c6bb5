"""One pass of the job: load sources → check → measure → evaluate → digests.

``as_of`` and the clock are fixed by the caller; nothing below reads the time itself. Each unit
is recorded in ``run_units`` with its outcome, and the exit code says what needs attention.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import IntEnum

from alerts.deliver import Delivery, deliver
from alerts.send import send_message
from indicators.definitions import Catalogue, Plan, load_catalogue, load_plans
from indicators.evaluate import Context, Evaluation, Status, evaluate
from indicators.measure import (
    load_outcome_groups,
    load_population,
    measure,
    outcome_labels,
    store_evaluations,
    withheld_quarters,
)
from indicators.spc import SpcRules
from pipelines.areas import force_areas, load_lookup
from pipelines.db import Database, DatabaseError, connect
from pipelines.police_uk import SOURCE, MonthOutcome, sync_street
from safer.config import Settings, smtp_password
from safer.periods import month_label

__all__ = ["ExitCode", "RunReport", "run"]

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


class ExitCode(IntEnum):
    """What a run's exit status means; when several apply, the most serious wins."""

    OK = 0
    JOB_ERROR = 1  # a source could not be fetched, or the job itself failed
    CHECKS_FAILED = 3  # data was held back by its checks; figures are withheld
    DIGEST_NOT_SENT = 4  # a digest is still pending or failed to send


_PRECEDENCE = (ExitCode.JOB_ERROR, ExitCode.DIGEST_NOT_SENT, ExitCode.CHECKS_FAILED)


@dataclass(frozen=True)
class RunReport:
    run_id: str
    months: tuple[MonthOutcome, ...]
    delivery: Delivery
    problems: tuple[ExitCode, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> ExitCode:
        return next((code for code in _PRECEDENCE if code in self.problems), ExitCode.OK)


def run(settings: Settings, as_of: dt.date, clock: Clock) -> RunReport:
    """Run every stage once; raises ConfigError for a bad catalogue or plan before any work."""
    catalogue = load_catalogue(settings.indicators.catalogue_dir)
    plans = load_plans(settings.indicators.plans_dir, catalogue)
    run_id = f"{clock():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with connect(settings.database.path) as db:
        db.execute("INSERT INTO runs VALUES (?, ?, ?, NULL, NULL)", [run_id, as_of, clock()])
        report = _run_stages(db, settings, catalogue, plans, run_id, as_of, clock)
        db.execute(
            "UPDATE runs SET finished_at = ?, exit_code = ? WHERE run_id = ?",
            [clock(), int(report.exit_code), run_id],
        )
    return report


def _run_stages(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    plans: tuple[Plan, ...],
    run_id: str,
    as_of: dt.date,
    clock: Clock,
) -> RunReport:
    load_lookup(db)
    areas = force_areas(db, settings.force.pfa_code)
    logger.info("areas: %s", ", ".join(a.name for a in areas))
    load_outcome_groups(db)
    load_population(db)
    months = sync_street(db, settings, run_id, as_of, outcome_labels(), clock)
    for month in months:
        _unit(db, run_id, f"{SOURCE} {month_label(month.period)}", month.outcome, month.message)
    evaluations = _evaluate_all(db, settings, catalogue, plans, run_id)
    notes = _data_notes(db, months)
    delivery = deliver(
        db, settings, catalogue, plans, evaluations, notes, clock(), _sender(settings)
    )
    problems = []
    if any(m.outcome == "failed" for m in months):
        problems.append(ExitCode.JOB_ERROR)
    if any(m.outcome == "quarantined" for m in months):
        problems.append(ExitCode.CHECKS_FAILED)
    if delivery.waiting or delivery.failed:
        problems.append(ExitCode.DIGEST_NOT_SENT)
    return RunReport(run_id, tuple(months), delivery, tuple(problems))


def _evaluate_all(
    db: Database, settings: Settings, catalogue: Catalogue, plans: tuple[Plan, ...], run_id: str
) -> list[Evaluation]:
    found: list[Evaluation] = []
    for indicator in catalogue.indicators:
        if indicator.sql is None:
            _unit(db, run_id, f"indicator {indicator.id}", "no_source", indicator.source_label)
            continue
        try:
            measured = measure(db, indicator, settings.force.pfa_code)
        except DatabaseError as exc:
            # One broken query must not stop the other indicators or the digest.
            logger.error("indicator %s: query failed: %s", indicator.id, exc)
            _unit(db, run_id, f"indicator {indicator.id}", "failed", str(exc))
            continue
        context = Context(
            plans=plans,
            force_code=settings.force.pfa_code,
            withheld=withheld_quarters(db, indicator.source),
            spc_rules=SpcRules(**settings.indicators.spc.model_dump()),
        )
        evaluations = evaluate(indicator, measured, context)
        changed = store_evaluations(db, indicator.id, evaluations, run_id)
        counts = {s: sum(1 for e in evaluations if e.status is s) for s in Status}
        summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        _unit(db, run_id, f"indicator {indicator.id}", "evaluated", f"{summary}; {changed} changed")
        found += evaluations
    return found


def _data_notes(db: Database, months: Sequence[MonthOutcome]) -> list[str]:
    """Sentences for the digest's caveats: withheld months, exclusions, unpublished months."""
    notes = [f"Withheld: {reason}." for reason in withheld_quarters(db, SOURCE).values()]
    outside = db.scalar(
        "SELECT sum(outside_area_rows) FROM source_periods WHERE source = ?", [SOURCE]
    )
    if outside:
        notes.append(
            f"{int(outside):,} data.police.uk rows located outside the force's Community Safety "
            "Partnerships (or with no location) are excluded from every figure."
        )
    waiting = [month_label(m.period) for m in months if m.outcome == "not_yet_available"]
    if waiting:
        notes.append(f"Not yet published: {', '.join(waiting)}.")
    return notes


def _sender(settings: Settings) -> Callable[[EmailMessage], None] | None:
    smtp = settings.smtp
    if smtp is None:
        return None
    password = smtp_password()
    return lambda message: send_message(smtp, password, message)


def _unit(db: Database, run_id: str, unit: str, outcome: str, message: str) -> None:
    db.execute("INSERT INTO run_units VALUES (?, ?, ?, ?)", [run_id, unit, outcome, message])
