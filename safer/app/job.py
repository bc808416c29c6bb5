"""One pass of the job: load sources → check → measure → evaluate → digests → operator alerts.

``as_of`` and the clock are fixed by the caller; nothing below reads the time itself. Each unit
is recorded in ``run_units`` with its outcome, and the exit code says what needs attention. A
stop request (SIGTERM) is honoured between units: the sources finish their current file and the
run ends without evaluating, which the next run does.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from enum import IntEnum

from safer.alerts.deliver import Delivery, RetryPolicy, deliver, send_queued
from safer.alerts.operator import check_overdue, note_run, raise_alert, send_alerts
from safer.alerts.send import send_message
from safer.app.assess import Assessment, assess, record_unit, report_missing
from safer.app.conditions import Condition, conditions
from safer.app.inputs import inputs_fingerprint, last_assessed
from safer.app.integrity import verify
from safer.app.sources import SOURCES, active_catalogue, configured
from safer.app.sync import sync_all
from safer.checks.models import Severity
from safer.indicators.definitions import Catalogue, Plan, load_catalogue, load_plans
from safer.indicators.measure import (
    load_outcome_groups,
    load_population,
    outcome_labels,
    read_population,
)
from safer.kernel import faults, stopping
from safer.kernel.clock import Clock
from safer.kernel.config import Settings, smtp_password
from safer.kernel.errors import ConfigError
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.health import record_health
from safer.pipelines.load_ledger import adopt_unowned_batches
from safer.pipelines.source import BatchOutcome
from safer.store.db import Database, DatabaseCorrupt, open_database

__all__ = ["Assessment", "ExitCode", "Parts", "RunReport", "assess", "run", "smtp_sender"]

logger = logging.getLogger(__name__)


class ExitCode(IntEnum):
    """What a run's exit status means; when several apply, the first in ``_PRECEDENCE`` wins."""

    OK = 0
    JOB_ERROR = 1  # a source could not be fetched, a check could not run, or the job failed
    CHECKS_FAILED = 3  # data was held back by its checks; figures are withheld
    DIGEST_NOT_SENT = 4  # a digest is still pending or failed to send
    BUSY = 5  # another run holds the lock: nothing was done
    STOPPED = 6  # stopped on request (SIGTERM/SIGINT) after finishing the current unit


_PRECEDENCE = (
    ExitCode.JOB_ERROR,
    ExitCode.STOPPED,
    ExitCode.DIGEST_NOT_SENT,
    ExitCode.CHECKS_FAILED,
)

_NO_DELIVERY = Delivery((), 0, 0, 0)


@dataclass(frozen=True)
class Parts:
    """What a run does: ``safer run`` does everything; ``safer schedule`` may split it."""

    sources: tuple[str, ...] | None = None
    """The sources to fetch and load; None for every configured one, () for none."""
    evaluate: bool = True
    """Whether to measure, check, evaluate and send digests."""


@dataclass(frozen=True)
class RunReport:
    run_id: str
    batches: tuple[BatchOutcome, ...]
    """One outcome per file each source brought up to date."""
    delivery: Delivery
    problems: tuple[ExitCode, ...] = field(default_factory=tuple)
    failed_units: tuple[str, ...] = ()
    """Every unit that failed, as "unit: message", for the log and the operator."""
    conditions: tuple[Condition, ...] = ()
    """What keeps the job from its work as the run ended (``safer.conditions``)."""

    @property
    def exit_code(self) -> ExitCode:
        return next((code for code in _PRECEDENCE if code in self.problems), ExitCode.OK)

    @property
    def status(self) -> str:
        return "stopped" if ExitCode.STOPPED in self.problems else "finished"


def run(settings: Settings, as_of: dt.date, clock: Clock, parts: Parts | None = None) -> RunReport:
    """Run every stage once (or ``parts`` of them); raises ConfigError for a bad catalogue,
    plan or population file before any work. The caller holds the run lock (``safer.lock``).
    """
    catalogue = active_catalogue(load_catalogue(settings.indicators.catalogue_dir), settings)
    plans = load_plans(settings.indicators.plans_dir, catalogue)
    _check_routes(settings, catalogue, plans)
    population = read_population(settings.indicators.population_file)
    run_id = f"{clock():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with open_database(settings.database) as db:
        _refuse_damaged(db)
        adopt_unowned_batches(db, settings.force.id)
        check_overdue(db, settings, clock())  # before this run can count as a success
        db.execute(
            "INSERT INTO runs (run_id, as_of, started_at) VALUES (?, ?, ?)",
            [run_id, as_of, clock()],
        )
        load_population(db, population)  # read and checked above, before any work
        report = _run_stages(db, settings, catalogue, plans, run_id, as_of, clock, parts or Parts())
        # The database was verified before the run began (_refuse_damaged).
        found = conditions(db, settings, clock(), database=False)
        report = _attend(db, report, found, clock())
        faults.point("run.finishing")
        summary = _summary(report)
        db.execute(
            "UPDATE runs SET finished_at = ?, exit_code = ?, status = ?, summary = ? "
            "WHERE run_id = ?",
            [clock(), int(report.exit_code), report.status, summary, run_id],
        )
        send_alerts(db, settings, smtp_sender(settings), clock())
    return report


def _refuse_damaged(db: Database) -> None:
    """Before anything is fetched, written or sent: a database that cannot be read in full, or
    fails its consistency checks, would make figures wrong (an indicator whose table cannot be
    read would read "no figures yet"), so the run stops here, in one line."""
    found = verify(db)
    if found:
        more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
        raise DatabaseCorrupt(
            f"{found[0]}{more}; the run stopped before fetching or sending anything: run "
            "`safer doctor`"
        )


# What each condition makes of a run's exit code (a damaged database stops the run first).
_CONDITION_CODES = {
    "source_skipped": ExitCode.JOB_ERROR,
    "quarantined": ExitCode.CHECKS_FAILED,
    "return_conflict": ExitCode.CHECKS_FAILED,
    "digests_refused": ExitCode.DIGEST_NOT_SENT,
    "digests_waiting": ExitCode.DIGEST_NOT_SENT,
}


def _attend(
    db: Database, report: RunReport, found: Sequence[Condition], now: dt.datetime
) -> RunReport:
    """Log every condition that holds, alert the operator once per episode, and let each
    count in the exit code for as long as it persists: a quarantined batch still withholding
    figures exits 3 at every run, not only the one that quarantined it."""
    for condition in found:
        logger.warning("needs attention: %s", condition.text)
        raise_alert(
            db,
            f"condition:{condition.key}",
            condition.kind,
            f"[safer] {condition.text}"[:200],
            f"{condition.text}\n\nThis holds until it is mended; `safer status --check` fails "
            "meanwhile. You are told once; every run logs it again.",
            now,
        )
    codes = tuple(_CONDITION_CODES[c.kind] for c in found)
    problems = tuple(dict.fromkeys((*report.problems, *codes)))
    return replace(report, problems=problems, conditions=tuple(found))


def _summary(report: RunReport) -> str:
    counts: dict[str, int] = {}
    for batch in report.batches:
        counts[batch.outcome] = counts.get(batch.outcome, 0) + 1
    files = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "no files"
    delivery = report.delivery
    return (
        f"{files}; {len(delivery.stored)} digests stored, {delivery.sent} sent, "
        f"{delivery.waiting} waiting, {delivery.failed} failed; exit {int(report.exit_code)}"
    )


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
    parts: Parts,
) -> RunReport:
    load_lookup(db)
    load_forces(db)
    areas = force_areas(db, settings.force.pfa_code)
    logger.info("areas: %s", ", ".join(a.name for a in areas))
    load_outcome_groups(db)
    batches = sync_all(db, settings, run_id, as_of, clock, outcome_labels(), parts.sources)
    for batch in batches:
        record_unit(db, run_id, f"{batch.source} {batch.slot}", batch.outcome, batch.message)
    tried = [s.id for s in configured(settings) if parts.sources is None or s.id in parts.sources]
    streaks = record_health(db, tried, batches, clock(), settings.operator.source_backoff_minutes)
    if stopping.requested():
        logger.warning("run %s stopped on request after loading; the next run evaluates", run_id)
        return _finish(
            db, settings, run_id, batches, _NO_DELIVERY, [ExitCode.STOPPED], streaks, clock
        )
    if not parts.evaluate:
        # A scheduled per-source fetch: figures and digests are the `digest` job's (or the
        # next whole run's); the new batches change the ledger, so that run assesses them.
        logger.info("run %s: fetched and loaded only; evaluating is left to a digest run", run_id)
        problems = _load_problems(db, run_id, batches)
        return _finish(db, settings, run_id, batches, _NO_DELIVERY, problems, streaks, clock)
    inputs = inputs_fingerprint(db, settings, catalogue, plans)
    before = last_assessed(db)
    if before is not None and before[1] == inputs:
        return _unchanged(
            db, settings, catalogue, run_id, before[0], batches, streaks, clock, inputs, as_of
        )
    names = {a.code: a.name for a in areas}
    found = assess(db, settings, catalogue, plans, run_id, as_of, clock, names, batches)
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
        as_of,
        SOURCES,
    )
    db.execute("UPDATE runs SET inputs = ? WHERE run_id = ?", [inputs, run_id])
    problems = []
    if gate.outcome == "broken" or _failed_units(db, run_id):
        problems.append(ExitCode.JOB_ERROR)
    held = any(f.severity is Severity.ERROR for f in gate.flags)
    if held or any(b.outcome == "quarantined" for b in batches):
        problems.append(ExitCode.CHECKS_FAILED)
    if delivery.waiting or delivery.failed:
        problems.append(ExitCode.DIGEST_NOT_SENT)
    return _finish(db, settings, run_id, batches, delivery, problems, streaks, clock)


def _load_problems(db: Database, run_id: str, batches: Sequence[BatchOutcome]) -> list[ExitCode]:
    """What a run that only fetched and loaded has to report."""
    problems = [ExitCode.JOB_ERROR] if _failed_units(db, run_id) else []
    if any(b.outcome == "quarantined" for b in batches):
        problems.append(ExitCode.CHECKS_FAILED)
    return problems


def _unchanged(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    run_id: str,
    last: str,
    batches: Sequence[BatchOutcome],
    streaks: dict[str, int],
    clock: Clock,
    inputs: str,
    as_of: dt.date,
) -> RunReport:
    """Nothing the figures depend on changed since ``last``: its evaluations and digests stand.
    Releases that have become overdue since are still reported, and queued digests sent."""
    logger.info("run %s: nothing changed since run %s; figures and digests stand", run_id, last)
    record_unit(db, run_id, "assess", "unchanged", f"inputs as at run {last}")
    report_missing(db, settings, run_id, as_of, clock(), catalogue)
    send = smtp_sender(settings)
    counts = send_queued(db, send, RetryPolicy.of(settings.smtp), clock, run_id) if send else {}
    delivery = Delivery(
        (), counts.get("sent", 0), counts.get("pending", 0), counts.get("failed", 0)
    )
    db.execute("UPDATE runs SET inputs = ? WHERE run_id = ?", [inputs, run_id])
    problems = [ExitCode.JOB_ERROR] if _failed_units(db, run_id) else []
    if delivery.waiting or delivery.failed:
        problems.append(ExitCode.DIGEST_NOT_SENT)
    return _finish(db, settings, run_id, batches, delivery, problems, streaks, clock)


def _finish(
    db: Database,
    settings: Settings,
    run_id: str,
    batches: Sequence[BatchOutcome],
    delivery: Delivery,
    problems: Sequence[ExitCode],
    streaks: dict[str, int],
    clock: Clock,
) -> RunReport:
    """The run's report, with the alerts its failures call for stored for the operator."""
    failed = _failed_units(db, run_id)
    if delivery.failed:
        failed.append(f"digests: {delivery.failed} refused permanently by the SMTP server")
    note_run(db, settings, run_id, failed, streaks, batches, clock())
    return RunReport(run_id, tuple(batches), delivery, tuple(problems), tuple(failed))


def _failed_units(db: Database, run_id: str) -> list[str]:
    return [
        f"{unit}: {message}"
        for unit, message in db.rows(
            "SELECT unit, message FROM run_units WHERE run_id = ? AND outcome IN "
            "('failed', 'broken') ORDER BY rowid",
            [run_id],
        )
    ]


def smtp_sender(settings: Settings) -> Callable[[EmailMessage], None] | None:
    """One attempt at handing a message to the configured server; None without [smtp]."""
    smtp = settings.smtp
    if smtp is None:
        return None
    password = smtp_password()
    return lambda message: send_message(smtp, password, message)
