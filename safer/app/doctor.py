"""``safer doctor`` and ``safer backup``: is the database file sound, and a copy of it that is.

``safer doctor`` takes the run lock (so no run starts while it looks), opens the database
read-only without migrating it, and reports: who holds it when it cannot (a safer run, named
from the run lock, or another program, named from DuckDB's lock error); a damaged file (DuckDB
cannot open it, or a block fails its checksum when every table is read in full) with the
recovery; the schema version against the code's latest migration; and the consistency checks
of ``safer.integrity``. It changes nothing. Exit 0 when healthy, 1 with one ``problem:`` line
per problem, each followed by what to do.

``safer backup --out FILE`` writes a consistent copy under the run lock (a run under way makes
it refuse with exit 5, as a second run would): checkpointed, copied, then opened and checked as
``doctor`` checks the original, and renamed into place only when it passes (a failing copy is
deleted, exit 1). It prints the copy's path, size and each table's row count.
Restoring is copying it back (README, "Recovery").
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from safer.app.integrity import in_flight, problems, read_every_table
from safer.app.lock import Busy, held_by, run_lock
from safer.kernel.clock import Clock
from safer.kernel.config import Settings
from safer.kernel.errors import LoadError
from safer.store.db import (
    Database,
    DatabaseCorrupt,
    DatabaseError,
    DatabaseLocked,
    copy_database,
    database_problem,
    latest_version,
    open_read_only,
    schema_version,
)

__all__ = ["Report", "backup", "backup_command", "diagnose", "doctor_command"]

logger = logging.getLogger(__name__)


LOST_WITHOUT_BACKUP = (
    "not recoverable without a backup: the outbox and delivery ledger (which digest said what "
    "to whom), the notifications (so the next digests repeat items already sent, once), "
    "quarantine releases (a released batch is quarantined again until released again) and the "
    "run history; months data.police.uk no longer publishes cannot be fetched again (the raw "
    "files stay under {landing})"
)


@dataclass
class Report:
    """What doctor found: ``ok`` and ``note`` lines, and problems each with what to do."""

    path: Path
    ok: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"safer doctor: {self.path}"]
        out += [f"ok: {line}" for line in self.ok]
        out += [f"note: {line}" for line in self.notes]
        for problem, remedy in self.problems:
            out.append(f"problem: {problem}")
            if remedy:
                out.append(f"  what to do: {remedy}")
        out.append("healthy" if self.healthy else f"{len(self.problems)} problem(s)")
        return out


def diagnose(settings: Settings, now: Clock) -> Report:
    """Check the database as ``safer doctor`` does; changes nothing."""
    path = settings.database.path
    report = Report(path)
    try:
        with run_lock(settings.paths.data_dir, "safer doctor", now()):
            _diagnose_file(settings, report)
    except Busy:
        holder = held_by(settings.paths.data_dir)
        who = holder.describe() if holder else "another safer command"
        report.problems.append(
            (
                f"{path}: a safer command holds the run lock and the database ({who}), so it "
                "cannot be checked now",
                "wait for it to finish and run `safer doctor` again; one that hangs can be "
                "stopped with `kill PID` (SIGTERM: it finishes the file under way) or, failing "
                "that, `kill -9 PID`; every file is loaded in one transaction, so the next run "
                "carries on",
            )
        )
    return report


def _diagnose_file(settings: Settings, report: Report) -> None:
    path = settings.database.path
    if not path.is_file():
        report.problems.append(
            (f"{path}: no database file", "run `safer run` to create it (or restore a backup)")
        )
        return
    try:
        db = open_read_only(path)
    except DatabaseLocked as exc:
        report.problems.append(
            (
                str(exc),
                "no safer run holds the run lock, so another program has the file open (a "
                "`safer status`, `export` or `quarantine` still running, a DuckDB shell, a "
                "notebook, a stuck process): let it finish or close it; safer holds the file "
                "only while a command runs",
            )
        )
        return
    except DatabaseCorrupt as exc:
        report.problems.append((str(exc), _recovery(settings)))
        return
    except LoadError as exc:
        report.problems.append((str(exc), _recovery(settings)))
        return
    with db:
        size = path.stat().st_size
        report.ok.append(f"opened read-only ({size / 1e6:,.1f} MB)")
        if not _check_schema(db, report):
            return
        if not _read_everything(db, settings, report):
            return
        if schema_version(db) == latest_version():
            _check_integrity(db, settings, report)
        report.notes += in_flight(db)
    report.notes += _leftovers(settings)


def _check_schema(db: Database, report: Report) -> bool:
    version, latest = schema_version(db), latest_version()
    if version is None:
        report.problems.append(
            (
                f"{report.path}: not a safer database (no schema_migrations table)",
                "check [database] path in the config",
            )
        )
        return False
    if version > latest:
        report.problems.append(
            (
                f"{report.path}: schema version {version} is newer than this code's latest "
                f"migration ({latest}): a newer safer wrote it",
                "upgrade safer to the version that wrote it; do not run this one against it",
            )
        )
        return False
    if version < latest:
        report.notes.append(
            f"schema version {version}; this code's latest is {latest}: the next safer command "
            "migrates it (consistency checks run once it has; `safer backup` first if wanted)"
        )
    else:
        report.ok.append(f"schema version {version} (the code's latest)")
    return True


def _read_everything(db: Database, settings: Settings, report: Report) -> bool:
    """Read every column of every table: a damaged block fails its checksum here."""
    try:
        tables, total = read_every_table(db)
    except DatabaseError as exc:
        problem = database_problem(exc, report.path)
        text = str(problem) if problem else f"{report.path}: {exc}"
        report.problems.append((text, _recovery(settings)))
        return False
    report.ok.append(f"every table read in full: {tables} tables, {total:,} rows")
    return True


def _check_integrity(db: Database, settings: Settings, report: Report) -> None:
    found = problems(db)
    if not found:
        periods, batches, digests = db.rows(
            "SELECT (SELECT count(*) FROM source_periods), (SELECT count(*) FROM load_ledger), "
            "(SELECT count(*) FROM outbox)"
        )[0]
        report.ok.append(
            f"consistent: {periods} periods in use, {batches} ledger rows, {digests} digests"
        )
        return
    remedy = "a run should never leave this (please report it, with the file); " + _recovery(
        settings
    )
    report.problems += [(line, remedy) for line in found]


def _recovery(settings: Settings) -> str:
    path = settings.database.path
    return (
        f"stop cron or the scheduler, then either restore the latest backup (`cp BACKUP {path}`, "
        f"removing any {path.name}.wal beside it; BACKUP made by `safer backup`), losing only "
        f"what runs did since, or move the file aside (`mv {path} {path}.damaged`, and its "
        ".wal) and run `safer run`, which builds a new database and fetches every configured "
        "source again; " + LOST_WITHOUT_BACKUP.format(landing=settings.paths.data_dir / "landing")
    )


def _leftovers(settings: Settings) -> list[str]:
    """Partial downloads a killed run left; harmless (the next fetch overwrites them)."""
    landing = settings.paths.data_dir / "landing"
    partial = (
        [p for pattern in ("*.download", "*.part") for p in landing.rglob(pattern)]
        if landing.is_dir()
        else []
    )
    if not partial:
        return []
    return [
        f"{len(partial)} partial download(s) under {landing} from an interrupted fetch; "
        "harmless (the next fetch replaces them), and safe to delete"
    ]


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    tables: tuple[tuple[str, int], ...]
    report: Report


def backup(settings: Settings, out: Path, now: Clock) -> Backup:
    """Write a consistent copy of the database to ``out`` (a file, or a folder to put
    ``safer-<time>.duckdb`` in) under the run lock, checked as doctor would check it.

    The copy is written and checked under a hidden ``.partial`` name and renamed to ``out``
    only when it passes, so the newest backup is never a damaged one; a copy that fails is
    deleted and the report says why. Raises Busy while a run holds the lock, LoadError when
    the database cannot be read or ``out`` is the database itself.
    """
    path = settings.database.path
    started = now()
    if out.is_dir():
        out = out / f"safer-{started:%Y%m%dT%H%M%S}.duckdb"
    if out.resolve() in {path.resolve(), path.with_name(f"{path.name}.wal").resolve()}:
        raise LoadError(f"{out}: that is the database itself; give another --out")
    partial = out.with_name(f".{out.name}.partial")
    with run_lock(settings.paths.data_dir, "safer backup", started):
        copy_database(path, partial)
    try:
        size = partial.stat().st_size
        report, tables = _check_copy(partial, settings)
        if report.healthy:
            os.replace(partial, out)
        else:
            report.problems.append(
                (
                    f"{out}: not written: the copy failed the checks above and was deleted",
                    "run `safer doctor`: the database itself may be damaged",
                )
            )
    finally:
        partial.unlink(missing_ok=True)
    return Backup(out, size, tables, report)


def _check_copy(copy_path: Path, settings: Settings) -> tuple[Report, tuple[tuple[str, int], ...]]:
    """Doctor's checks on the copy, and each table's row count when it passes them."""
    report = Report(copy_path)
    try:
        copy = open_read_only(copy_path)
    except (DatabaseCorrupt, DatabaseLocked, LoadError) as exc:
        report.problems.append((str(exc), ""))
        return report, ()
    with copy:
        if _check_schema(copy, report) and _read_everything(copy, settings, report):
            if schema_version(copy) == latest_version():
                _check_integrity(copy, settings, report)
        if not report.healthy:
            return report, ()
        tables = tuple(
            (str(name), int(copy.scalar(f'SELECT count(*) FROM "{name}"')))
            for (name,) in copy.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_type = "
                "'BASE TABLE' AND table_catalog = current_database() ORDER BY table_name"
            )
        )
    return report, tables


def doctor_command(settings: Settings, now: Clock) -> int:
    report = diagnose(settings, now)
    print("\n".join(report.lines()))
    return 0 if report.healthy else 1


def backup_command(settings: Settings, out: Path, now: Clock) -> int:
    try:
        made = backup(settings, out, now)
    except Busy as exc:
        logger.warning("%s", exc)
        return 5  # ExitCode.BUSY, as for a second run
    if not made.report.healthy:
        print("\n".join(made.report.lines()))
        return 1
    print(f"backup: {made.path} ({made.size:,} bytes)")
    for name, count in made.tables:
        print(f"  {name}: {count:,} rows")
    for note in made.report.notes:
        print(f"note: {note}")
    print(f"backup: {made.path} opens and passes safer doctor's checks")
    logger.info(
        "backup of %s written to %s (%d bytes)", settings.database.path, made.path, made.size
    )
    return 0
