"""data.police.uk monthly stop-and-search CSVs for one force: every search with its outcome.

The file carries coordinates (often blank) but no LSOA, so its figures are for the force as a
whole. A month's file covers the whole force, so a month with no rows had no searches; the
suite's minimum row count (``min_rows``, default 1) refuses an empty file as implausible.
"""

from __future__ import annotations

from dataclasses import dataclass

from safer.kernel.config import Settings
from safer.pipelines.load_ledger import LedgerEntry
from safer.pipelines.police_uk import replaced_batches
from safer.pipelines.police_uk_monthly import MonthlyFiles
from safer.pipelines.source import Promoted
from safer.store.db import Database

__all__ = ["STOP_SEARCH", "StopSearchFiles"]


def _flag(column: str) -> str:
    return f"CASE b.\"{column}\" WHEN 'True' THEN true WHEN 'False' THEN false END"


@dataclass(frozen=True)
class StopSearchFiles(MonthlyFiles):
    def promote(self, db: Database, settings: Settings, entry: LedgerEntry) -> Promoted:
        assert entry.period is not None
        force = settings.force.id
        replaced = replaced_batches(db, self.table, force, entry.period)
        db.execute(
            "DELETE FROM police_stop_search WHERE force_id = ? AND period = ?",
            [force, entry.period],
        )
        db.execute(
            'INSERT INTO police_stop_search SELECT ?, ?, ?, b.record_no, b."Type", '
            'CAST(b."Date" AS TIMESTAMPTZ), '
            f'{_flag("Part of a policing operation")}, b."Policing operation", '
            'TRY_CAST(b."Latitude" AS DOUBLE), TRY_CAST(b."Longitude" AS DOUBLE), b."Gender", '
            'b."Age range", b."Self-defined ethnicity", b."Officer-defined ethnicity", '
            'b."Legislation", b."Object of search", b."Outcome", '
            f"{_flag('Outcome linked to object of search')}, "
            f"{_flag('Removal of more than just outer clothing')} "
            "FROM stg.batch b ORDER BY b.record_no",
            [force, entry.period, entry.data_batch],
        )
        rows = db.scalar(
            "SELECT count(*) FROM police_stop_search WHERE force_id = ? AND period = ?",
            [force, entry.period],
        )
        return Promoted(int(rows), 0, (entry.period,), replaced)


STOP_SEARCH = StopSearchFiles(
    id="police_uk_stop_search",
    label="data.police.uk stop-and-search file",
    suite="police_stop_search",
    table="police_stop_search",
    kind="stop-and-search",
    area_level="force",
)
