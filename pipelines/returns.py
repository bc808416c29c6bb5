"""What the returns the project defines share: where their files are, and when one is late.

A return is a CSV or XLSX file in a documented template (``templates/returns/``), dropped into a
folder or published under a URL. Each file is a batch whose slot is its name, so a corrected
file with the same name is a revision. The figures are those of the files present now
(``pipelines.return_set``): a file no longer there has its figures withdrawn, and two files
holding the same area and period are a conflict, neither used for it. Hidden files, Excel's
``~$`` lock files and anything other than ``.csv`` and ``.xlsx`` in the folder are ignored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from safer.kernel.config import ReturnConfig
from safer.kernel.errors import LoadError
from safer.kernel.periods import GRAIN_MONTHS, Grain, add_months, period_start
from safer.pipelines.freshness import period_end
from safer.pipelines.source import SourceContext, Wanted
from safer.pipelines.tabular import Sheet, read_sheet, sheet_names
from safer.store.db import Database

__all__ = ["RETURN_SHEET", "expected_periods", "read_return", "return_due", "return_files"]

RETURN_SHEET = "return"
"""The sheet a return workbook's figures are on (or its only sheet)."""

SUFFIXES = (".csv", ".xlsx")


def return_files(cfg: ReturnConfig, ctx: SourceContext) -> list[Wanted]:
    """Every file of the return: the folder's files by name, or the configured URL files.

    Raises LoadError when the folder is missing or cannot be read: a failure of the source,
    never a folder of deleted files whose figures would be withdrawn."""
    if "://" in cfg.location:
        return [Wanted(name, name) for name in cfg.files]
    folder = Path(cfg.location)
    if not folder.is_dir():
        raise LoadError(f"{folder}: the return folder does not exist")
    try:
        names = sorted(
            p.name
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith((".", "~$"))
        )
    except OSError as exc:
        raise LoadError(f"{folder}: cannot read the return folder: {exc.strerror}") from exc
    return [Wanted(name, name) for name in names]


def read_return(path: Path, header: tuple[str, ...], name: str) -> Sheet:
    """The return's sheet (``return``, or a workbook's first sheet) or CSV file, its column
    names in lower case as the template writes them (``Month`` typed by hand still counts)."""
    sheet = None
    if path.suffix.lower() == ".xlsx":
        names = sheet_names(path)
        sheet = RETURN_SHEET if RETURN_SHEET in names else names[0]
    found = read_sheet(path, sheet=sheet, header=header, name=name)
    return replace(found, columns=tuple(c.lower() for c in found.columns))


def return_due(cfg: ReturnConfig | type[ReturnConfig], period: dt.date, grain: Grain) -> dt.date:
    """A period's return is due ``release_due_days`` after the period ends (the class's
    default when the source is not configured)."""
    days = (
        cfg.release_due_days
        if isinstance(cfg, ReturnConfig)
        else int(cfg.model_fields["release_due_days"].default)
    )
    return period_end(period, grain) + dt.timedelta(days=days)


def expected_periods(
    db: Database, source: str, grain: Grain, cfg: ReturnConfig, as_of: dt.date
) -> list[dt.date]:
    """The periods after the newest one in use, up to the last that has ended by ``as_of``:
    the returns that should have come (``freshness.overdue`` keeps those past due and grace).
    With nothing in use yet, only the last ended period: a new deployment is not told about
    years before it started."""
    newest = db.scalar("SELECT max(period) FROM source_periods WHERE source = ?", [source])
    step = GRAIN_MONTHS[grain]
    last = add_months(period_start(as_of, grain), -step)
    first = add_months(newest, step) if newest else last
    found = []
    while first <= last:
        found.append(first)
        first = add_months(first, step)
    return found
