"""The ``safer`` command: ``safer run`` for one pass (cron, containers), ``safer export``,
``safer quarantine list|show|release`` for an operator reviewing batches held back by checks,
and ``safer digest --preview|--resend`` to look at digests before they go or send them again.

Thin by design: parse arguments, set up logging, fix ``as_of`` and the clock once, call the job,
map the outcome to an exit code (see ``safer.job.ExitCode``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from safer.config import Settings, load_config
from safer.errors import SaferError

if TYPE_CHECKING:
    from pipelines.db import Database

__all__ = ["cli", "main"]

LONDON = ZoneInfo("Europe/London")
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
    export = commands.add_parser("export", help="write the computed observations as CSV")
    _add_config(export)
    export.add_argument("--out", type=Path, help="CSV file to write (default standard output)")
    _add_quarantine(commands)
    _add_digest(commands)
    return parser


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
        "quarantine", help="list, show or release batches held back by their checks"
    )
    actions = quarantine.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="one line per batch in quarantine")
    listing.add_argument(
        "--all", action="store_true", dest="include_released", help="released batches too"
    )
    show = actions.add_parser("show", help="a batch's failed checks, failing rows and history")
    release = actions.add_parser("release", help="put a reviewed batch into use")
    for action in (show, release):
        action.add_argument("batch_id", metavar="ID", help="the batch ID, as the list shows it")
    release.add_argument("--by", help="who reviewed it (default: the login name)")
    release.add_argument("--note", help="why it is fit to use; kept in the ledger")
    for action in (listing, show, release):
        _add_config(action)


def _add_config(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--config",
        type=Path,
        default=Path("safer.toml"),
        help="path to safer.toml (default: safer.toml in the current directory)",
    )


def _now() -> dt.datetime:
    return dt.datetime.now(LONDON)


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # GX logs every expectation's defaults at INFO; only its warnings matter to an operator.
    for handler in logging.getLogger().handlers:
        handler.addFilter(_quiet_gx)


def _quiet_gx(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or not record.name.startswith("great_expectations")


def _run(settings: Settings, as_of: dt.date | None) -> int:
    from safer.job import run

    report = run(settings, as_of or _now().date(), _now)
    for stored in report.delivery.stored:
        print(f"digest for {stored.recipient}: {stored.html_path}")
    delivery = report.delivery
    logger.info(
        "run %s: %d digests stored, %d sent (%d reconciled), %d waiting, %d failed; exit %d",
        report.run_id,
        len(delivery.stored),
        delivery.sent,
        delivery.reconciled,
        delivery.waiting,
        delivery.failed,
        report.exit_code,
    )
    return int(report.exit_code)


def _export(settings: Settings, out: Path | None) -> int:
    from indicators.export import export_observations
    from pipelines.db import connect

    with connect(settings.database.path) as db:
        if out is None:
            count = export_observations(db, sys.stdout)
        else:
            with out.open("w", encoding="utf-8", newline="") as handle:
                count = export_observations(db, handle)
    logger.info("exported %d observations to %s", count, out or "standard output")
    return 0


def _quarantine(settings: Settings, args: argparse.Namespace) -> int:
    from pipelines.db import connect

    with connect(settings.database.path) as db:
        if args.action == "list":
            lines = _list_quarantine(db, args.include_released)
        elif args.action == "show":
            lines = _show_quarantined(db, settings, args.batch_id)
        else:
            lines = _release(db, settings, args.batch_id, args.by or _login(), args.note)
    print("\n".join(lines))
    return 0


def _list_quarantine(db: Database, include_released: bool) -> list[str]:
    from pipelines.quarantine import list_batches
    from pipelines.quarantine_text import describe_list

    batches = list_batches(db, include_released=include_released)
    return describe_list(batches, include_released=include_released)


def _show_quarantined(db: Database, settings: Settings, batch_id: str) -> list[str]:
    from pipelines.batch import staging_path
    from pipelines.quarantine import find_batch, ledger_history
    from pipelines.quarantine_text import describe_batch

    batch = find_batch(db, batch_id)
    staged = staging_path(settings.paths.data_dir, batch.batch_id)
    history = ledger_history(db, batch.source, batch.slot)
    return describe_batch(batch, history, staged, staged.is_file())


def _release(
    db: Database, settings: Settings, batch_id: str, actor: str, note: str | None
) -> list[str]:
    from pipelines.quarantine import release_batch
    from pipelines.quarantine_text import describe_release

    text = describe_release(release_batch(db, settings, batch_id, actor, note, _now))
    logger.info("quarantine: %s (by %s)", text, actor)
    return [text]


def _login() -> str:
    """Who is releasing, when ``--by`` is not given: the login name, if the system knows it."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER variable and no passwd entry, as in some containers
        return "unknown"


def _digest(settings: Settings, args: argparse.Namespace) -> int:
    if args.preview:
        return _preview(settings, args.out, args.as_of, args.recipient)
    return _resend(settings, args.resend, args.recipient)


def _preview(settings: Settings, out: Path, as_of: dt.date | None, recipient: str | None) -> int:
    from alerts.outbox import slug
    from alerts.render import preview_html
    from safer.preview import preview

    previews = preview(settings, as_of or _now().date(), _now, recipient)
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
    from alerts.deliver import RetryPolicy
    from alerts.resend import resend
    from pipelines.db import connect
    from safer.job import ExitCode, smtp_sender

    send = smtp_sender(settings)
    with connect(settings.database.path) as db:
        ids, counts = resend(db, run_id, recipient, send, RetryPolicy.of(settings.smtp), _now)
    print(f"run {run_id}: re-sent {counts['sent']} of {len(ids)} digests ({', '.join(ids)})")
    logger.info(
        "resend of run %s: %d sent, %d waiting (the next run sends them), %d failed",
        run_id,
        counts["sent"],
        counts["pending"],
        counts["failed"],
    )
    return int(ExitCode.DIGEST_NOT_SENT if counts["pending"] or counts["failed"] else ExitCode.OK)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    _configure_logging()
    try:
        settings = load_config(args.config)
        if args.command == "run":
            code = _run(settings, args.as_of)
        elif args.command == "export":
            code = _export(settings, args.out)
        elif args.command == "digest":
            code = _digest(settings, args)
        else:
            code = _quarantine(settings, args)
    except SaferError as exc:
        logger.error("%s", exc)
        code = 1
    return code


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
