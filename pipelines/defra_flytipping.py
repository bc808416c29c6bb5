"""DEFRA's fly-tipping incidents and enforcement actions by local authority, per financial year.

DEFRA publishes one file (``Fly-tipping in England``, from WasteDataFlow) holding every year
since 2012-13, so the source is that one file, fetched over HTTP or read from a local path
(``[sources.defra_flytipping] location``). Its slot is the file's name: a re-published file of
the same name is a revision, and a new release replaces the years it holds.

A release is accepted in one of two forms, decided by the file's suffix:

* ``.xlsx``, the workbook: ``LA_actions`` gives the actions and ``LA_incidents`` gives Total
  Incidents; both sheets must be there.
* ``.csv``, a later release's actions table: the ``LA_actions`` columns, with or without the
  title rows above the header. It holds no incidents, so its years load with incidents NULL and
  actions per incident has no figure for them.

Rows join on ``ONS Code``, never on names (DEFRA's names carry trailing spaces, and E06000049 is
"Cheshire" in 2020-21). DEFRA's England and region totals (``*Total``) are skipped, and counted
in the log; the force's figure is the sum of its own authorities. ``:`` (not available) loads
as NULL, so a partnership without a figure has none rather than 0. An authority is placed in a
Community Safety Partnership by the indicator queries, through ``lad_lookup``; one outside the
force's CSPs (another force's, or a council created after the 2017 lookup) is kept and counted
as outside the area.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from safer.kernel.config import DefraFlytippingConfig, Settings
from safer.kernel.errors import LoadError
from safer.kernel.layouts import (
    ACTION_COLUMNS,
    ACTIONS_SHEET,
    AGGREGATE,
    INCIDENT_COLUMNS,
    INCIDENTS_SHEET,
)
from safer.kernel.periods import Grain, add_months, fy_start
from safer.pipelines.areas import LOOKUP_FILE
from safer.pipelines.freshness import period_end
from safer.pipelines.load_ledger import LedgerEntry
from safer.pipelines.source import Promoted, SourceContext, Wanted
from safer.pipelines.staging import Staged
from safer.pipelines.tabular import read_sheet, stage_sheets
from safer.store.db import Database, connect_staging

__all__ = ["DEFRA_FLYTIPPING", "DefraFlytipping", "force_las"]

logger = logging.getLogger(__name__)

SOURCE = "defra_flytipping"
HEADER = ("Year", "ONS Code")
"""The columns that find the header row; any other missing column reaches the columns check,
which names it."""

_COLUMNS = {**ACTION_COLUMNS, **INCIDENT_COLUMNS}
_NO_INCIDENTS = (
    '(SELECT NULL::BIGINT AS row, NULL::VARCHAR AS "ONS Code", NULL::VARCHAR AS "Year", '
    'NULL::VARCHAR AS "Total Incidents" WHERE false)'
)


@dataclass(frozen=True)
class DefraFlytipping:
    id: str = SOURCE
    label: str = "DEFRA fly-tipping release"
    suite: str = "defra_flytipping"
    table: str = "defra_flytipping"
    grain: Grain = "year"
    area_level: str = "csp"
    # A year without an authority's row is missing, not a year with no fly-tipping.
    zero_fill: bool = False

    def config(self, settings: Settings) -> DefraFlytippingConfig | None:
        cfg = settings.sources.defra_flytipping
        return cfg if cfg is not None and cfg.enabled else None

    def _cfg(self, settings: Settings) -> DefraFlytippingConfig:
        cfg = self.config(settings)
        assert cfg is not None, f"{self.id} is not configured"
        return cfg

    def base(self, settings: Settings) -> str:
        return _split(self._cfg(settings).location)[0]

    def wanted(self, db: Database, ctx: SourceContext) -> list[Wanted]:
        location = self._cfg(ctx.settings).location
        if "://" not in location and not Path(location).is_file():
            raise LoadError(f"{location}: the configured DEFRA fly-tipping file does not exist")
        name = _split(location)[1]
        return [Wanted(name, name)]

    def stage(self, landed: Path, staging: Path, wanted: Wanted) -> Staged:
        name = wanted.slot
        if is_csv(name):
            sheets = {"actions": read_sheet(landed, header=HEADER, name=name)}
        else:
            sheets = {
                "actions": read_sheet(landed, sheet=ACTIONS_SHEET, header=HEADER, name=name),
                "incidents": read_sheet(landed, sheet=INCIDENTS_SHEET, header=HEADER, name=name),
            }
        return stage_sheets(sheets, staging)

    def periods(self, staged: Staged, wanted: Wanted) -> tuple[dt.date, ...]:
        if "Year" not in staged.columns:
            return ()
        with connect_staging(staged.path) as db:
            rows = db.rows(
                f"SELECT DISTINCT {_PERIOD} AS p FROM actions "
                """WHERE regexp_matches(trim("Year"), '^[0-9]{4}-[0-9]{2}$') ORDER BY 1"""
            )
        return tuple(row[0] for row in rows)

    def promote(self, db: Database, settings: Settings, entry: LedgerEntry) -> Promoted:
        incidents = "stg.incidents" if _staged_has(db, "incidents") else _NO_INCIDENTS
        db.execute(_incoming_sql(incidents))
        replaced = db.rows(
            "SELECT DISTINCT batch_id FROM defra_flytipping "
            "WHERE period IN (SELECT period FROM incoming) ORDER BY 1"
        )
        db.execute("DELETE FROM defra_flytipping WHERE period IN (SELECT period FROM incoming)")
        columns = ", ".join(_COLUMNS)
        db.execute(
            "INSERT INTO defra_flytipping (la_code, la_name, period, batch_id, actions_row, "
            f"incidents_row, {columns}) SELECT la_code, la_name, period, ?, actions_row, "
            f"incidents_row, {columns} FROM incoming ORDER BY period, la_code",
            [entry.data_batch],
        )
        periods = tuple(p[0] for p in db.rows("SELECT DISTINCT period FROM incoming ORDER BY 1"))
        rows = int(db.scalar("SELECT count(*) FROM incoming"))
        outside = int(
            db.scalar(
                "SELECT count(*) FROM incoming WHERE la_code NOT IN (SELECT l.lad_code "
                "FROM lad_lookup l JOIN areas a ON a.area_code = l.csp_code "
                "WHERE a.area_type = 'csp' AND a.pfa_code = ?)",
                [settings.force.pfa_code],
            )
        )
        totals = int(db.scalar(f"SELECT count(*) FROM stg.actions WHERE {AGGREGATE}"))
        logger.info("%s: %d DEFRA total rows (*Total) skipped", entry.data_batch, totals)
        db.execute("DROP TABLE incoming")
        return Promoted(rows, outside, periods, tuple(r[0] for r in replaced))

    def due(self, settings: Settings, period: dt.date) -> dt.date:
        cfg = self.config(settings)
        days = (
            cfg.release_due_days
            if cfg is not None
            else int(DefraFlytippingConfig.model_fields["release_due_days"].default)
        )
        return period_end(period, self.grain) + dt.timedelta(days=days)

    def expected(self, db: Database, settings: Settings, as_of: dt.date) -> list[dt.date]:
        """The financial years after the newest in use, up to the last that has ended; with
        nothing in use, that last year only (``freshness.overdue`` keeps those past due)."""
        newest = db.scalar("SELECT max(period) FROM source_periods WHERE source = ?", [self.id])
        last = add_months(fy_start(as_of), -12)
        year = add_months(newest, 12) if newest else last
        found = []
        while year <= last:
            found.append(year)
            year = add_months(year, 12)
        return found


_PERIOD = """make_date(CAST(left(trim("Year"), 4) AS INTEGER), 4, 1)"""


def _incoming_sql(incidents: str) -> str:
    """The authorities' rows of the staged actions, each with its incidents row (joined on ONS
    Code and Year); ``:`` and anything else that is not a number become NULL."""
    counts = [f"{_number('a', name)} AS {column}" for column, name in ACTION_COLUMNS.items()]
    counts += [f"{_number('i', name)} AS {column}" for column, name in INCIDENT_COLUMNS.items()]
    return (
        "CREATE OR REPLACE TEMP TABLE incoming AS "
        """SELECT trim(a."ONS Code") AS la_code, trim(a."LA Name") AS la_name, a.period, """
        f"a.row AS actions_row, i.row AS incidents_row, {', '.join(counts)} "
        f"FROM (SELECT *, {_PERIOD} AS period FROM stg.actions WHERE NOT {AGGREGATE}) a "
        f"LEFT JOIN (SELECT * FROM {incidents} WHERE NOT {AGGREGATE}) i "
        """ON trim(i."ONS Code") = trim(a."ONS Code") AND trim(i."Year") = trim(a."Year")"""
    )


def _number(alias: str, name: str) -> str:
    return f"""TRY_CAST(nullif(trim({alias}."{name}"), ':') AS BIGINT)"""


def _staged_has(db: Database, table: str) -> bool:
    return bool(
        db.scalar(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'stg' AND table_name = ?",
            [table],
        )
    )


def header_rows(staging: Path) -> dict[str, int]:
    """Each staged table's header row: the row above its first data row (row 3 in DEFRA's
    sheets, line 1 of a CSV without title rows)."""
    with connect_staging(staging) as db:
        tables = [r[0] for r in db.rows("SELECT table_name FROM duckdb_tables() ORDER BY 1")]
        return {t: int(db.scalar(f'SELECT coalesce(min(row), 2) - 1 FROM "{t}"')) for t in tables}


@functools.cache
def force_las(pfa_code: str) -> tuple[str, ...]:
    """The ONS codes of the force's local authorities, from the bundled lookup that
    ``areas.load_lookup`` loads (the checks run before the main database is touched)."""
    text = (resources.files("safer.pipelines") / "data" / LOOKUP_FILE).read_text(
        encoding="utf-8-sig"
    )
    return tuple(
        sorted(r["LAD17CD"] for r in csv.DictReader(text.splitlines()) if r["PFA17CD"] == pfa_code)
    )


def _split(location: str) -> tuple[str, str]:
    """The folder or URL the file is under, and its name."""
    if "://" in location:
        base, _, name = location.rstrip("/").rpartition("/")
        return base, name
    path = Path(location)
    return str(path.parent), path.name


def is_csv(name: str) -> bool:
    return name.lower().endswith(".csv")


DEFRA_FLYTIPPING = DefraFlytipping()
