"""What each ``safer`` command does once its arguments are parsed (``scheduler.py`` parses them).

Every command that writes takes the run lock (``safer.lock``), so cron, a running scheduler and an
operator's command never write at the same time; the clock is read here and nowhere below.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from safer.kernel.clock import LONDON
from safer.kernel.config import Settings, load_config
from safer.kernel.errors import SaferError
from safer.kernel.logs import printable

if TYPE_CHECKING:
    from safer.store.db import Database

__all__ = [
    "backup_command",
    "backfill_command",
    "digest_command",
    "doctor_command",
    "export_command",
    "now",
    "quarantine_command",
    "run_command",
    "run_once",
    "status_command",
]

logger = logging.getLogger("safer")


def now() -> dt.datetime:
    return dt.datetime.now(LONDON)


def run_command(
    settings: Settings, as_of: dt.date | None, kind: str = "run", source: str | None = None
) -> int:
    """One pass under the run lock; ``kind`` and ``source`` pick part of it (``safer schedule``)."""
    from safer.app.job import ExitCode, Parts, run
    from safer.app.lock import Busy, run_lock
    from safer.app.status_report import collect, snapshot_path, write_snapshot
    from safer.kernel import stopping
    from safer.store.db import open_database

    parts = {
        "run": Parts(),
        # A per-source job fetches and loads that source only; the `digest` job evaluates.
        "source": Parts(sources=(source,) if source else (), evaluate=False),
        "digest": Parts(sources=()),
    }.get(kind)
    try:
        with run_lock(settings.paths.data_dir, f"safer {kind} {source or ''}".strip(), now()):
            if kind == "check":
                return _check_overdue(settings)
            assert parts is not None, kind
            report = run(settings, as_of or now().date(), now, parts)
            with open_database(settings.database) as db:
                snapshot = collect(db, settings, now(), report.conditions)
                write_snapshot(snapshot, snapshot_path(settings))
    except Busy as exc:
        logger.warning("%s", exc)
        return int(ExitCode.BUSY)
    finally:
        stopping.clear()
    for stored in report.delivery.stored:
        print(f"digest for {stored.recipient}: {stored.html_path}")
    for failure in report.failed_units:
        logger.error("failed: %s", failure)
    delivery = report.delivery
    logger.info(
        "run %s %s: %d digests stored, %d sent (%d reconciled), %d waiting, %d failed; exit %d",
        report.run_id,
        report.status,
        len(delivery.stored),
        delivery.sent,
        delivery.reconciled,
        delivery.waiting,
        delivery.failed,
        report.exit_code,
    )
    return int(report.exit_code)


def _check_overdue(settings: Settings) -> int:
    """The scheduler's hourly self-check: report a missed window, send pending alerts."""
    from safer.alerts.operator import check_overdue, send_alerts
    from safer.app.job import smtp_sender
    from safer.store.db import open_database

    with open_database(settings.database) as db:
        check_overdue(db, settings, now())
        send_alerts(db, settings, smtp_sender(settings), now())
    return 0


def run_once(config: Path, kind: str, source: str | None) -> int:
    """A scheduled firing: the config is read afresh, so an edit applies from the next one."""
    return run_command(load_config(config), None, kind, source)


def status_command(settings: Settings, as_json: bool, check: bool) -> int:
    """Print the status (or its JSON); with ``check``, exit 1 when it needs attention."""
    from safer.app.status_report import in_progress, read_snapshot, recheck, render
    from safer.store.db import DatabaseCorrupt, DatabaseError, database_problem

    running = in_progress(settings)
    found = None
    damaged = None
    if running is None:
        try:
            found = _live_status(settings)
        except (DatabaseError, SaferError) as exc:
            logger.warning(
                "status: cannot read %s (%s); showing the last snapshot",
                settings.database.path,
                exc,
            )
            # A damaged block read part-way through is a raw duckdb error: as damaged as a
            # file that will not open.
            problem = database_problem(exc, settings.database.path)
            damaged = exc if isinstance(exc, DatabaseCorrupt) or problem else None
    if found is None:
        snapshot = read_snapshot(settings)
        if snapshot is None:
            raise SaferError(f"{settings.database.path}: no status yet (no run has finished)")
        found = recheck(snapshot, settings, now()) | {"running": running}
    if damaged is not None:  # the snapshot predates the damage: not healthy, whatever it says
        before = found.get("problems")
        found["problems"] = [
            f"{settings.database.path} is damaged and cannot be read: run `safer doctor`",
            *(before if isinstance(before, list) else []),
        ]
        found["healthy"] = False
    # JSON escapes control characters itself; the terminal view shows them as \x1b.
    print(json.dumps(found, indent=2, default=str) if as_json else _lines(render(found)))
    return 1 if check and not found["healthy"] else 0


def _live_status(settings: Settings) -> dict[str, object]:
    from safer.app.status_report import collect
    from safer.store.db import open_database

    if not settings.database.path.is_file():
        raise SaferError(f"{settings.database.path}: no database yet (run `safer run` first)")
    with open_database(settings.database) as db:
        return collect(db, settings, now())


def doctor_command(settings: Settings) -> int:
    """Check the database file (``safer.app.doctor``); exit 1 with each problem on its own line."""
    from safer.app import doctor

    return doctor.doctor_command(settings, now)


def backup_command(settings: Settings, out: Path) -> int:
    """Write a checked, consistent copy of the database under the run lock
    (``safer.app.doctor``)."""
    from safer.app import doctor

    return doctor.backup_command(settings, out, now)


def backfill_command(
    settings: Settings,
    first: str,
    last: str,
    forces: str | None,
    jobs: int,
    evaluate: bool,
) -> int:
    """``safer backfill``: months of street and outcomes files, under the run lock."""
    from safer.app.backfill import backfill

    return _locked(
        settings,
        "safer backfill",
        lambda: backfill(settings, first, last, forces, jobs, evaluate, now),
    )


def _locked(settings: Settings, command: str, work: Callable[[], int]) -> int:
    """``work`` under the run lock; exit 5 (BUSY), having done nothing, while another command
    holds it, naming the holder as a second run does."""
    from safer.app.job import ExitCode
    from safer.app.lock import Busy, run_lock

    try:
        with run_lock(settings.paths.data_dir, command, now()):
            return work()
    except Busy as exc:
        logger.warning("%s", exc)
        return int(ExitCode.BUSY)


def export_command(settings: Settings, out: Path | None, parquet: Path | None = None) -> int:
    from safer.indicators.export import export_observations
    from safer.store.db import open_database

    if parquet is not None:
        from safer.pipelines.parquet import export_parquet

        with open_database(settings.database) as db:
            counts = export_parquet(db, parquet)
        shown = ", ".join(f"{table} {rows:,}" for table, rows in counts.items())
        logger.info("exported to %s: %s rows", parquet, shown)
        return 0
    with open_database(settings.database) as db:
        if out is None:
            count = export_observations(db, sys.stdout)
        else:
            try:
                with out.open("w", encoding="utf-8", newline="") as handle:
                    count = export_observations(db, handle)
            except OSError as exc:  # a missing folder, no permission, a full disk: one line
                raise SaferError(f"{out}: cannot write the export: {exc.strerror or exc}") from None
    logger.info("exported %d observations to %s", count, out or "standard output")
    return 0


def quarantine_command(settings: Settings, args: argparse.Namespace) -> int:
    """``list`` and ``show`` only read, so they take no run lock (during a run DuckDB's own
    lock refuses them in one line); ``release`` loads a batch, so it writes under the lock."""
    if args.action in ("release", "refetch"):
        return _locked(
            settings,
            f"safer quarantine {args.action} {args.batch_id}",
            lambda: _quarantine_action(settings, args),
        )
    return _quarantine_action(settings, args)


def _quarantine_action(settings: Settings, args: argparse.Namespace) -> int:
    from safer.store.db import open_database

    with open_database(settings.database) as db:
        if args.action == "list":
            lines = _list_quarantine(db, args.include_released)
        elif args.action == "show":
            lines = _show_quarantined(db, settings, args.batch_id)
        elif args.action == "refetch":
            return _refetch(db, settings, args.batch_id)
        else:
            lines = _release(db, settings, args.batch_id, args.by or _login(), args.note)
    print(_lines(lines))
    return 0


def _list_quarantine(db: Database, include_released: bool) -> list[str]:
    from safer.app.quarantine import list_batches
    from safer.app.quarantine_text import describe_list

    batches = list_batches(db, include_released=include_released)
    return describe_list(batches, include_released=include_released)


def _show_quarantined(db: Database, settings: Settings, batch_id: str) -> list[str]:
    from safer.app.quarantine import find_batch, ledger_history
    from safer.app.quarantine_text import describe_batch
    from safer.pipelines.source import staging_path

    batch = find_batch(db, batch_id)
    staged = staging_path(settings.paths.data_dir, batch.batch_id)
    history = ledger_history(db, batch.source, batch.slot, batch.force_id)
    return describe_batch(batch, history, staged, staged.is_file())


def _release(
    db: Database, settings: Settings, batch_id: str, actor: str, note: str | None
) -> list[str]:
    from safer.app.quarantine import release_batch
    from safer.app.quarantine_text import describe_release

    text = describe_release(release_batch(db, settings, batch_id, actor, note, now))
    logger.info("quarantine: %s (by %s)", text, actor)
    return [text]


def _refetch(db: Database, settings: Settings, batch_id: str) -> int:
    """Fetch a quarantined batch's file again and check it anew; exit 0 when it is now in use,
    3 when it is quarantined again, 1 when it could not be fetched."""
    from safer.app.quarantine import refetch_batch
    from safer.indicators.measure import outcome_labels
    from safer.pipelines.source import SourceContext

    moment = now()
    ctx = SourceContext(settings, f"{moment:%Y%m%dT%H%M%S}-refetch", moment.date(), now)
    outcome = refetch_batch(db, replace(ctx, outcome_labels=outcome_labels()), batch_id)
    text = f"refetched {outcome.slot} of {outcome.source}: {outcome.outcome}: {outcome.message}"
    logger.info("quarantine: %s", text)
    print(_lines([text]))
    codes = {"loaded": 0, "revised": 0, "unchanged": 0, "quarantined": 3}
    return codes.get(outcome.outcome, 1)


def _login() -> str:
    """Who is releasing, when ``--by`` is not given: the login name, if the system knows it."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER variable and no passwd entry, as in some containers
        return "unknown"


def digest_command(settings: Settings, args: argparse.Namespace) -> int:
    """A preview reads a copy of the database and records nothing; a resend stores and sends
    digests, so it writes under the run lock."""
    if args.preview:
        return _preview(settings, args.out, args.as_of, args.recipient)
    return _locked(
        settings,
        f"safer digest --resend {args.resend}",
        lambda: _resend(settings, args.resend, args.recipient),
    )


def _preview(settings: Settings, out: Path, as_of: dt.date | None, recipient: str | None) -> int:
    from safer.alerts.outbox import slug
    from safer.alerts.render import preview_html
    from safer.app.preview import preview

    previews = preview(settings, as_of or now().date(), now, recipient)
    for item in previews:
        path = out
        if len(previews) > 1:
            path = out.with_name(f"{out.stem}-{slug(item.recipient.name)}{out.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(preview_html(item.rendered), encoding="utf-8")
        print(f"preview for {item.recipient.name} <{item.recipient.email}>: {path}")
        logger.info("preview for %s: %s (%s)", item.recipient.email, path, item.digest.subject)
    return 0


def _resend(settings: Settings, run_id: str, recipient: str | None) -> int:
    from safer.alerts.deliver import RetryPolicy
    from safer.alerts.resend import resend
    from safer.app.job import ExitCode, smtp_sender
    from safer.store.db import open_database

    send = smtp_sender(settings)
    with open_database(settings.database) as db:
        ids, counts = resend(db, run_id, recipient, send, RetryPolicy.of(settings.smtp), now)
    print(f"run {run_id}: re-sent {counts['sent']} of {len(ids)} digests ({', '.join(ids)})")
    logger.info(
        "resend of run %s: %d sent, %d waiting (the next run sends them), %d failed",
        run_id,
        counts["sent"],
        counts["pending"],
        counts["failed"],
    )
    return int(ExitCode.DIGEST_NOT_SENT if counts["pending"] or counts["failed"] else ExitCode.OK)


def _lines(lines: Iterable[str]) -> str:
    """Lines for the terminal, each with control characters escaped: file names and sample
    values come from sources and may carry escape sequences."""
    return "\n".join(printable(line) for line in lines)
