"""One pass of the job: load sources → check → measure → evaluate → digests.

``as_of`` and the clock are fixed by the caller; nothing below reads the time itself. Each unit
is recorded in ``run_units`` with its outcome, and the exit code says what needs attention.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import IntEnum

from alerts.deliver import Delivery, deliver
from alerts.send import send_message
from checks.cross_source import SUITE, CrossSourceLimits, DataFlag
from checks.gate import GateInput, GateOutcome, check_figures
from checks.models import Severity
from indicators.changes import format_value
from indicators.definitions import Catalogue, Indicator, Plan, load_catalogue, load_plans
from indicators.evaluate import Context, Evaluation, Measured, Status, evaluate
from indicators.flags import flag_effects
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
from pipelines.freshness import Missing, overdue
from pipelines.police_uk import SOURCE, MonthOutcome, sync_street
from pipelines.sources import SOURCES
from safer.config import Settings, smtp_password
from safer.errors import ConfigError
from safer.periods import month_label

__all__ = ["Assessment", "ExitCode", "RunReport", "assess", "run", "smtp_sender"]

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
    _check_routes(settings, catalogue, plans)
    run_id = f"{clock():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with connect(settings.database.path) as db:
        db.execute("INSERT INTO runs VALUES (?, ?, ?, NULL, NULL)", [run_id, as_of, clock()])
        report = _run_stages(db, settings, catalogue, plans, run_id, as_of, clock)
        db.execute(
            "UPDATE runs SET finished_at = ?, exit_code = ? WHERE run_id = ?",
            [clock(), int(report.exit_code), run_id],
        )
    return report


def _check_routes(settings: Settings, catalogue: Catalogue, plans: Sequence[Plan]) -> None:
    """A recipient following a priority no plan has would silently get nothing: refuse it."""
    known = {"all"} | {i.family for i in catalogue.indicators}
    known |= {p.id for plan in plans for p in plan.priorities}
    problems = [
        f"recipients.{n}.priorities: {topic!r} is neither a plan priority nor an indicator "
        f"family (known: {', '.join(sorted(known))})"
        for n, recipient in enumerate(settings.recipients)
        for topic in recipient.priorities
        if topic not in known
    ]
    if problems:
        raise ConfigError("\n".join(problems))


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
    names = {a.code: a.name for a in areas}
    found = assess(db, settings, catalogue, plans, run_id, as_of, clock, names, months)
    gate = found.gate
    delivery = deliver(
        db,
        settings,
        catalogue,
        plans,
        found.evaluations,
        found.notes,
        clock,
        smtp_sender(settings),
        run_id,
    )
    problems = []
    if gate.outcome == "broken" or any(m.outcome == "failed" for m in months):
        problems.append(ExitCode.JOB_ERROR)
    held = any(f.severity is Severity.ERROR for f in gate.flags)
    if held or any(m.outcome == "quarantined" for m in months):
        problems.append(ExitCode.CHECKS_FAILED)
    if delivery.waiting or delivery.failed:
        problems.append(ExitCode.DIGEST_NOT_SENT)
    return RunReport(run_id, tuple(months), delivery, tuple(problems))


@dataclass(frozen=True)
class Assessment:
    evaluations: tuple[Evaluation, ...]
    notes: tuple[str, ...]
    gate: GateOutcome


def assess(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    plans: tuple[Plan, ...],
    run_id: str,
    as_of: dt.date,
    clock: Clock,
    area_names: Mapping[str, str],
    months: Sequence[MonthOutcome] = (),
) -> Assessment:
    """Measure, check and evaluate what the database holds; the digest's data notes too.

    Writes only derived tables (observations, evaluations, flags, run units), so
    ``safer digest --preview`` runs it on a throwaway copy of the database.
    """
    # Measure first so the cross-source checks see this run's figures, then evaluate with
    # their flags. Measuring twice is cheap next to a digest showing an unchecked figure.
    _measure_all(db, settings, catalogue, run_id)
    gate = _gate(db, settings, catalogue, area_names, run_id, clock())
    evaluations = _evaluate_all(db, settings, catalogue, plans, run_id, gate)
    missing = _missing(db, settings, as_of)
    for item in missing:
        logger.warning("%s", item.sentence)
        _unit(
            db, run_id, f"freshness {SOURCE} {month_label(item.period)}", "overdue", item.sentence
        )
    notes = _data_notes(db, months, gate, missing)
    return Assessment(tuple(evaluations), tuple(notes), gate)


def _evaluate_all(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    plans: tuple[Plan, ...],
    run_id: str,
    gate: GateOutcome,
) -> list[Evaluation]:
    flags = (*gate.flags, *_batch_warnings(db))
    found: list[Evaluation] = []
    for indicator, measured in _measure_all(db, settings, catalogue, run_id).items():
        withheld, warnings = flag_effects(indicator, flags, withheld_quarters(db, indicator.source))
        context = Context(
            plans=plans,
            force_code=settings.force.pfa_code,
            withheld=withheld,
            spc_rules=SpcRules(**settings.indicators.spc.model_dump()),
            warnings=warnings,
        )
        evaluations = evaluate(indicator, measured, context)
        changed = store_evaluations(db, indicator.id, evaluations, run_id)
        counts = {s: sum(1 for e in evaluations if e.status is s) for s in Status}
        summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        _unit(db, run_id, f"indicator {indicator.id}", "evaluated", f"{summary}; {changed} changed")
        found += evaluations
    return found


def _measure_all(
    db: Database, settings: Settings, catalogue: Catalogue, run_id: str
) -> dict[Indicator, Measured]:
    """Every indicator with a source, measured; one broken query does not stop the others."""
    found = {}
    for indicator in catalogue.indicators:
        if indicator.sql is None:
            _unit(db, run_id, f"indicator {indicator.id}", "no_source", indicator.source_label)
            continue
        try:
            found[indicator] = measure(db, indicator, settings.force.pfa_code)
        except DatabaseError as exc:
            logger.error("indicator %s: query failed: %s", indicator.id, exc)
            _unit(db, run_id, f"indicator {indicator.id}", "failed", str(exc))
    return found


def _gate(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    area_names: Mapping[str, str],
    run_id: str,
    now: dt.datetime,
) -> GateOutcome:
    """The cross-source checks over what was measured (skipped when nothing changed)."""
    measured = {i.id: i for i in catalogue.indicators if i.sql is not None}
    limits = CrossSourceLimits(
        plausible_ratio=settings.checks.plausible_ratio,
        far_from_limits=settings.checks.far_from_limits,
        minimum_points=settings.indicators.spc.minimum_points,
    )
    given = GateInput(
        pfa_code=settings.force.pfa_code,
        units={i: ind.unit for i, ind in measured.items()},
        limits=limits,
        area_names=area_names,
        fmt=lambda indicator, value: format_value(measured[indicator], value),
        staging_dir=settings.paths.data_dir / "staging",
    )
    gate = check_figures(db, given, run_id, now)
    _unit(db, run_id, f"checks {SUITE}", gate.outcome, gate.message)
    return gate


def _batch_warnings(db: Database) -> list[DataFlag]:
    """Warning-level failures of the batches in use, shown beside every figure they feed."""
    rows = db.rows(
        "SELECT p.source, p.period, c.check_id, c.message FROM source_periods p "
        "JOIN check_results c USING (batch_id) "
        "WHERE c.severity = 'warning' AND NOT c.success ORDER BY ALL"
    )
    return [
        DataFlag(
            check_id,
            Severity.WARNING,
            period,
            f"the {month_label(period)} file {message}",
            source=source,
        )
        for source, period, check_id, message in rows
    ]


def _missing(db: Database, settings: Settings, as_of: dt.date) -> list[Missing]:
    """Wanted months neither loaded nor quarantined whose release is overdue."""
    cfg = settings.sources.police_uk_street
    present = {
        row[0]
        for row in db.rows(
            "SELECT period FROM source_periods WHERE source = ? UNION "
            "SELECT period FROM quarantine WHERE source = ? AND released_at IS NULL",
            [SOURCE, SOURCE],
        )
    }
    source = SOURCES[SOURCE]
    wanted = cfg.wanted_months(as_of)
    return overdue(source.label, wanted, present, as_of, cfg.release_grace_days, source.due)


def _data_notes(
    db: Database, months: Sequence[MonthOutcome], gate: GateOutcome, missing: Sequence[Missing]
) -> list[str]:
    """Sentences for the digest's caveats: withheld months, missing releases, failed checks,
    exclusions, unpublished months."""
    notes = [f"Withheld: {reason}." for reason in withheld_quarters(db, SOURCE).values()]
    notes += [item.sentence for item in missing]
    errors = [f for f in gate.flags if f.severity is Severity.ERROR]
    notes += [f"Withheld: a data check failed: {f.sentence}." for f in errors]
    if gate.outcome == "broken":
        notes.append(
            "The cross-source data checks could not run this time; the figures below are shown "
            "without them and the operator has been told."
        )
    outside = db.scalar(
        "SELECT sum(outside_area_rows) FROM source_periods WHERE source = ?", [SOURCE]
    )
    if outside:
        notes.append(
            f"{int(outside):,} data.police.uk rows located outside the force's Community Safety "
            "Partnerships (or with no location) are excluded from every figure."
        )
    late = {m.period for m in missing}
    waiting = [
        month_label(m.period)
        for m in months
        if m.outcome == "not_yet_available" and m.period not in late
    ]
    if waiting:
        notes.append(f"Not yet published: {', '.join(waiting)}.")
    return notes


def smtp_sender(settings: Settings) -> Callable[[EmailMessage], None] | None:
    """One attempt at handing a message to the configured server; None without [smtp]."""
    smtp = settings.smtp
    if smtp is None:
        return None
    password = smtp_password()
    return lambda message: send_message(smtp, password, message)


def _unit(db: Database, run_id: str, unit: str, outcome: str, message: str) -> None:
    db.execute("INSERT INTO run_units VALUES (?, ?, ?, ?)", [run_id, unit, outcome, message])
