"""The ``safer`` command: ``safer run`` for one pass (cron, containers), ``safer export``.

Thin by design: parse arguments, set up logging, fix ``as_of`` and the clock once, call the job,
map the outcome to an exit code (see ``safer.job.ExitCode``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from safer.config import Settings, load_config
from safer.errors import SaferError

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
    run.add_argument("--config", type=Path, required=True, help="path to safer.toml")
    run.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        help="the date the run acts for (YYYY-MM-DD; default today in Europe/London)",
    )
    export = commands.add_parser("export", help="write the computed observations as CSV")
    export.add_argument("--config", type=Path, required=True, help="path to safer.toml")
    export.add_argument("--out", type=Path, help="CSV file to write (default standard output)")
    return parser


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
        "run %s: %d digests stored, %d sent, %d waiting, %d failed; exit %d",
        report.run_id,
        len(delivery.stored),
        delivery.sent,
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging()
    try:
        settings = load_config(args.config)
        if args.command == "run":
            code = _run(settings, args.as_of)
        else:
            code = _export(settings, args.out)
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
