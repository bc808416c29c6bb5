"""The call-handling return: a force's 999 and 101 figures, one row per month.

The template (``templates/returns/call-handling-v1``) is shaped like the 999 measures police.uk
publishes per force (calls answered in under 10 seconds, 10 to under 60, 60 or more; the average
answer time; HL1958, domain-research.md §2.4) plus the force's own 101 figures, for which there is
no national dataset. Forces send it monthly, as CSV or XLSX; every file in the folder is a batch
whose slot is its name. The figures are those of the files present now
(``pipelines.return_set``): a corrected file under the same name revises its months; two files
holding the same month are a conflict, and neither is used for it until one is removed; a file
taken out of the folder has its months withdrawn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from safer.kernel import faults
from safer.kernel.config import CallHandlingConfig, Settings
from safer.kernel.layouts import CALL_COLUMNS
from safer.kernel.periods import Grain
from safer.pipelines.load_ledger import LedgerEntry
from safer.pipelines.return_set import place_incoming, sync_present
from safer.pipelines.returns import expected_periods, read_return, return_due, return_files
from safer.pipelines.source import BatchOutcome, Promoted, SourceContext, SyncFiles, Wanted
from safer.pipelines.staging import Staged
from safer.pipelines.tabular import stage_sheets
from safer.store.db import Database, connect_staging

__all__ = ["CALL_HANDLING", "CallHandlingReturn"]

SOURCE = "call_handling"
AREA = "force_code"
"""The column naming a row's area: a file's pairs are (force, month)."""


@dataclass(frozen=True)
class CallHandlingReturn:
    id: str = SOURCE
    label: str = "call-handling return"
    suite: str = "call_handling"
    table: str = "call_handling"
    grain: Grain = "month"
    area_level: str = "force"
    # A month with no row is a month the force has not reported, not a month with no calls.
    zero_fill: bool = False

    def config(self, settings: Settings) -> CallHandlingConfig | None:
        cfg = settings.sources.call_handling
        return cfg if cfg is not None and cfg.enabled else None

    def _cfg(self, settings: Settings) -> CallHandlingConfig:
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
        sheet = read_return(landed, ("template_version", "month"), wanted.slot)
        return stage_sheets({"batch": sheet}, staging)

    def periods(self, staged: Staged, wanted: Wanted) -> tuple[dt.date, ...]:
        if "month" not in staged.columns:
            return ()
        with connect_staging(staged.path) as db:
            rows = db.rows(
                "SELECT DISTINCT try_strptime(trim(month), '%Y-%m')::DATE AS p FROM batch "
                "WHERE p IS NOT NULL ORDER BY 1"
            )
        return tuple(row[0] for row in rows)

    def promote(self, db: Database, settings: Settings, entry: LedgerEntry) -> Promoted:
        force = settings.force.pfa_code
        db.execute(
            "CREATE OR REPLACE TEMP TABLE incoming AS SELECT row, "
            "CAST(? AS VARCHAR) AS force_code, strptime(trim(month), '%Y-%m')::DATE AS period, "
            + ", ".join(
                f"TRY_CAST(trim({c}) AS {'DOUBLE' if c.startswith('average') else 'BIGINT'}) AS {c}"
                for c in CALL_COLUMNS[3:]
            )
            + " FROM stg.batch",
            [force],
        )
        # A month another file holds too is a conflict: neither file's row for it is used.
        replaced = place_incoming(db, settings, self, entry, AREA)
        faults.point("promote.deleted")
        db.execute(
            "INSERT INTO call_handling SELECT ?, period, ?, ?, row, "
            + ", ".join(CALL_COLUMNS[3:])
            + " FROM incoming ORDER BY period",
            [force, entry.data_batch, entry.slot],
        )
        periods = db.rows("SELECT DISTINCT period FROM incoming ORDER BY 1")
        rows = int(db.scalar("SELECT count(*) FROM incoming"))
        db.execute("DROP TABLE incoming")
        return Promoted(rows, 0, tuple(p[0] for p in periods), replaced)

    def due(self, settings: Settings, period: dt.date) -> dt.date:
        return return_due(self.config(settings) or CallHandlingConfig, period, self.grain)

    def expected(self, db: Database, settings: Settings, as_of: dt.date) -> list[dt.date]:
        return expected_periods(db, self.id, self.grain, self._cfg(settings), as_of)


CALL_HANDLING = CallHandlingReturn()
