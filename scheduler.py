"""The ``safer`` command: ``safer run`` for one pass (cron, systemd timers, containers),
``safer schedule`` to run it on cron triggers, ``safer status`` for the operator, ``safer export``,
``safer quarantine list|show|release|refetch`` for batches held back by checks, ``safer digest
--preview|--resend`` to look at digests before they go or send them again, and ``safer doctor``
and ``safer backup`` for the database file (README, "Recovery").

Thin by design: parse arguments, set up logging, call the command (``safer.app.commands``), map the
outcome to an exit code (see ``safer.app.job.ExitCode``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from safer.app import commands, schedule
from safer.kernel import stopping
from safer.kernel.config import Settings, load_config, smtp_password
from safer.kernel.errors import SaferError
from safer.kernel.logs import configure_logging, printable

__all__ = ["cli", "main"]

logger = logging.getLogger("safer")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safer",
        description="Watch a Police and Crime Plan's indicators and email officers.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="fetch, check, evaluate and send digests once")
    _add_config(run)
    run.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        help="the date the run acts for (YYYY-MM-DD; default today in Europe/London)",
    )
    schedule = commands.add_parser(
        "schedule", help="run the job on the [schedule] cron triggers until stopped"
    )
    _add_config(schedule)
    status = commands.add_parser(
        "status", help="last runs, sources, schedule, quarantine and unsent emails"
    )
    status.add_argument("--json", action="store_true", help="as JSON, for monitoring tools")
    status.add_argument(
        "--check", action="store_true", help="exit 1 when something needs attention"
    )
    _add_config(status)
    _add_backfill(commands)
    export = commands.add_parser("export", help="write the computed observations as CSV")
    _add_config(export)
    export.add_argument("--out", type=Path, help="CSV file to write (default standard output)")
    export.add_argument(
        "--parquet",
        type=Path,
        metavar="DIR",
        help="instead, the source tables as Parquet partitioned by force and month, and the "
        "figures, for other engines to read",
    )
    doctor = commands.add_parser(
        "doctor",
        help="check the database file: who holds it, damage, schema version, consistency; "
        "exit 1 with each problem and what to do",
    )
    _add_config(doctor)
    backup = commands.add_parser(
        "backup",
        help="write a consistent, checked copy of the database (waits for no run: refuses "
        "with exit 5 while one holds the lock)",
    )
    backup.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="the copy to write (a folder: safer-<time>.duckdb in it)",
    )
    _add_config(backup)
    _add_quarantine(commands)
    _add_digest(commands)
    return parser


def _add_backfill(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backfill = commands.add_parser(
        "backfill",
        help="load many months of data.police.uk street and outcomes files, for this force or "
        "all, fast (bulk checks, one transaction per month)",
    )
    backfill.add_argument("--from", dest="first", required=True, metavar="YYYY-MM")
    backfill.add_argument("--to", dest="last", required=True, metavar="YYYY-MM")
    backfill.add_argument(
        "--forces",
        default=None,
        metavar="all|SLUG,...",
        help="data.police.uk force slugs, or all (default: the configured force)",
    )
    backfill.add_argument(
        "--jobs", type=int, default=4, help="files downloaded at once over HTTP (default 4)"
    )
    backfill.add_argument(
        "--evaluate",
        action="store_true",
        help="then measure and evaluate every indicator for every partnership and force",
    )
    _add_config(backfill)


def _add_digest(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    digest = commands.add_parser(
        "digest", help="preview the digests a run would send, or re-send a past run's"
    )
    mode = digest.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--preview",
        action="store_true",
        help="render each digest a run would send now, from the current database, without "
        "fetching, sending or recording anything (with nothing new: the full current table)",
    )
    mode.add_argument(
        "--resend", metavar="RUN", help="send the digests run RUN stored again (new Message-ID)"
    )
    digest.add_argument(
        "--recipient", metavar="NAME_OR_EMAIL", help="only this recipient (name or address)"
    )
    digest.add_argument(
        "--out",
        type=Path,
        metavar="FILE.html",
        help="where --preview writes the HTML; with several recipients, FILE-<name>.html each",
    )
    digest.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        help="with --preview: the date the run would act for (default today in Europe/London)",
    )
    _add_config(digest)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "digest":
        if args.preview and args.out is None:
            parser.error("digest --preview needs --out FILE.html")
        if args.resend is not None and (args.out is not None or args.as_of is not None):
            parser.error("--out and --as-of go with digest --preview, not --resend")
    return args


def _add_quarantine(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    quarantine = commands.add_parser(
        "quarantine", help="list, show, release or refetch batches held back by their checks"
    )
    actions = quarantine.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="one line per batch in quarantine")
    listing.add_argument(
        "--all", action="store_true", dest="include_released", help="released batches too"
    )
    show = actions.add_parser("show", help="a batch's failed checks, failing rows and history")
    release = actions.add_parser("release", help="put a reviewed batch into use")
    refetch = actions.add_parser(
        "refetch", help="fetch a batch's file again and check it anew (after a local fault)"
    )
    for action in (show, release, refetch):
        action.add_argument("batch_id", metavar="ID", help="the batch ID, as the list shows it")
    release.add_argument("--by", help="who reviewed it (default: the login name)")
    release.add_argument("--note", help="why it is fit to use; kept in the ledger")
    for action in (listing, show, release, refetch):
        _add_config(action)


def _add_config(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--config",
        type=Path,
        default=Path("safer.toml"),
        help="path to safer.toml (default: safer.toml in the current directory)",
    )


def local_fault(exc: OSError) -> str:
    """'cannot use /srv/safer/var: File exists (a file where a folder should be)'."""
    where = exc.filename if exc.filename is not None else "a local file"
    why = exc.strerror or str(exc)
    hint = {
        errno.EEXIST: " (a file where a folder should be)",
        errno.ENOTDIR: " (a file where a folder should be)",
        errno.EACCES: " (no permission: check the folder's owner and mode)",
        errno.EROFS: " (a read-only file system)",
        errno.ENOSPC: " (the disk is full)",
    }.get(exc.errno or 0, "")
    return f"cannot use {printable(str(where))}: {why}{hint}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        secret = smtp_password()
    except SaferError:
        secret = None  # unreadable: reported where it is needed; nothing to redact
    configure_logging(secrets=[secret] if secret else [])
    settings = None
    try:
        settings = load_config(args.config)
        code = _dispatch(settings, args)
    except SaferError as exc:
        logger.error("%s", exc)
        code = 1
    except OSError as exc:
        # Our own files, not the data: a full disk, a read-only folder, a file where a folder
        # should be. One line naming the path, not a traceback.
        logger.error("%s", local_fault(exc))
        code = 1
    except Exception as exc:
        from safer.store.db import database_problem

        # A damaged or locked database file met mid-command: say so, and name the recovery.
        problem = database_problem(exc, settings.database.path if settings else None)
        if problem is None:
            raise
        logger.error("%s", problem)
        code = 1
    return code


def _dispatch(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "run":
        stopping.install()
        return commands.run_command(settings, args.as_of)
    if args.command == "schedule":
        return schedule.schedule_command(settings, args.config)
    if args.command == "status":
        return commands.status_command(settings, args.json, args.check)
    if args.command == "backfill":
        stopping.install()
        return commands.backfill_command(
            settings, args.first, args.last, args.forces, args.jobs, args.evaluate
        )
    if args.command == "export":
        return commands.export_command(settings, args.out, args.parquet)
    if args.command == "digest":
        return commands.digest_command(settings, args)
    if args.command == "doctor":
        return commands.doctor_command(settings)
    if args.command == "backup":
        return commands.backup_command(settings, args.out)
    return commands.quarantine_command(settings, args)


def _exit(code: int) -> None:
    """Exit without running interpreter teardown once GX has been imported.

    GX's dependency tree leaves nanobind objects alive at exit, which print pages of "leaked"
    warnings into cron mail (gx-duckdb-probe.md); everything is flushed and closed by now.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if "great_expectations" in sys.modules:
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


def cli() -> None:
    """The console-script entry point."""
    _exit(main())


if __name__ == "__main__":
    cli()
