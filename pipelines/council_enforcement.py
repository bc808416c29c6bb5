"""The council enforcement return: what each partnership's council did about ASB and
environmental crime in a quarter, one row per CSP × financial-year quarter × action type.

The template (``templates/returns/council-enforcement-v1``, README "Council enforcement return")
is the project's own: there is no national dataset of ASB powers used by councils. Councils send
it quarterly, as CSV or XLSX, one file per partnership or one for several; every file in the
folder (or listed under the URL) is a batch whose slot is its name. The figures are those of the
files present now (``pipelines.return_set``): a file holds exactly the (partnership, quarter)
pairs in it, so Halton's and Warrington's files for the same quarter stand side by side; a
corrected file under the same name revises its pairs; a second file holding the same pair under
another name is a conflict, and neither file's figures for it are used until one is removed; a
file taken out of the folder has its figures withdrawn. A partnership that sent no return has
no figure, never 0.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from safer.kernel.config import CouncilEnforcementConfig, Settings
from safer.kernel.layouts import period_sql
from safer.kernel.periods import Grain
from safer.pipelines.areas import LOOKUP_FILE
from safer.pipelines.load_ledger import LedgerEntry
from safer.pipelines.return_set import place_incoming, sync_present
from safer.pipelines.returns import expected_periods, read_return, return_due, return_files
from safer.pipelines.source import BatchOutcome, Promoted, SourceContext, SyncFiles, Wanted
from safer.pipelines.staging import Staged
from safer.pipelines.tabular import stage_sheets
from safer.store.db import Database, connect_staging

__all__ = ["COUNCIL_ENFORCEMENT", "CouncilEnforcementReturn", "force_csps"]

SOURCE = "council_enforcement"
HEADER = ("template_version", "action_type")
"""The columns that find the header row: a file without them is not this template."""
ABOUT = "about"
"""A one-row staged table naming the sheet read, so the checks can name it too."""
AREA = "csp_code"
"""The column naming a row's area: a file's pairs are (partnership, quarter)."""


def force_csps(pfa_code: str) -> dict[str, str]:
    """The force's partnerships, code → name, from the bundled ONS lookup.

    ``checks()`` has no database, and the lookup is what ``pipelines.areas.force_areas`` writes
    to ``areas`` at the start of every run, so reading the same file gives the same codes
    without widening the Source protocol for one source.
    """
    text = (resources.files("safer.pipelines") / "data" / LOOKUP_FILE).read_text(
        encoding="utf-8-sig"
    )
    rows = csv.DictReader(text.splitlines())
    found = {r["CSP17CD"]: r["CSP17NM"] for r in rows if r["PFA17CD"] == pfa_code}
    return dict(sorted(found.items(), key=lambda item: item[1]))


@dataclass(frozen=True)
class CouncilEnforcementReturn:
    id: str = SOURCE
    label: str = "council enforcement return"
    suite: str = "council_enforcement"
    table: str = "council_enforcement"
    grain: Grain = "quarter"
    area_level: str = "csp"
    # A partnership that has not sent its return has no figure: never counted as 0.
    zero_fill: bool = False

    def config(self, settings: Settings) -> CouncilEnforcementConfig | None:
        cfg = settings.sources.council_enforcement
        return cfg if cfg is not None and cfg.enabled else None

    def _cfg(self, settings: Settings) -> CouncilEnforcementConfig:
        cfg = self.config(settings)
        assert cfg is not None, f"{self.id} is not configured"
        return cfg

    def base(self, settings: Settings) -> str:
        return self._cfg(settings).location

    def wanted(self, db: Database, ctx: SourceContext) -> list[Wanted]:
        return return_files(self._cfg(ctx.settings), ctx)

    def sync_set(
        self, db: Database, ctx: SourceContext, files: list[Wanted], sync: SyncFiles
    ) -> list[BatchOutcome]:
        return sync_present(db, self, AREA, ctx, files, sync)

    def stage(self, landed: Path, staging: Path, wanted: Wanted) -> Staged:
        sheet = read_return(landed, HEADER, wanted.slot)
        staged = stage_sheets({"batch": sheet}, staging)
        with connect_staging(staging) as db:
            db.execute(f"CREATE TABLE {ABOUT} AS SELECT CAST(? AS VARCHAR) AS sheet", [sheet.name])
        return staged

    def periods(self, staged: Staged, wanted: Wanted) -> tuple[dt.date, ...]:
        if not {"financial_year", "quarter"} <= set(staged.columns):
            return ()
        with connect_staging(staged.path) as db:
            rows = db.rows(
                f"SELECT DISTINCT {period_sql()} AS p FROM batch WHERE p IS NOT NULL ORDER BY 1"
            )
        return tuple(row[0] for row in rows)

    def promote(self, db: Database, settings: Settings, entry: LedgerEntry) -> Promoted:
        """Put the file's (partnership, quarter) pairs that no other file holds into use, and
        take those another file holds too out of use (``place_incoming``)."""
        db.execute(
            "CREATE OR REPLACE TEMP TABLE incoming AS SELECT row, trim(csp_code) AS csp_code, "
            f"{period_sql()} AS period, trim(action_type) AS action_type, "
            "CAST(trim(\"count\") AS BIGINT) AS count, nullif(trim(notes), '') AS notes "
            "FROM stg.batch"
        )
        replaced = place_incoming(db, settings, self, entry, AREA)
        db.execute(
            "INSERT INTO council_enforcement (csp_code, period, action_type, count, batch_id, "
            "file_name, record_no, notes) SELECT csp_code, period, action_type, count, ?, ?, "
            "row, notes FROM incoming ORDER BY row",
            [entry.data_batch, entry.slot],
        )
        periods = db.rows("SELECT DISTINCT period FROM incoming ORDER BY 1")
        rows = int(db.scalar("SELECT count(*) FROM incoming"))
        db.execute("DROP TABLE incoming")
        return Promoted(rows, 0, tuple(p[0] for p in periods), replaced)

    def due(self, settings: Settings, period: dt.date) -> dt.date:
        return return_due(self.config(settings) or CouncilEnforcementConfig, period, self.grain)

    def expected(self, db: Database, settings: Settings, as_of: dt.date) -> list[dt.date]:
        return expected_periods(db, self.id, self.grain, self._cfg(settings), as_of)


def where(staged: Staged, wanted: Wanted) -> str:
    """The file as its sender knows it, and the sheet when it is a workbook."""
    with connect_staging(staged.path) as db:
        sheet = db.scalar(f"SELECT sheet FROM {ABOUT}")
    return wanted.slot if sheet is None else f"{wanted.slot}, sheet {sheet!r}"


COUNCIL_ENFORCEMENT = CouncilEnforcementReturn()
