"""data.police.uk monthly outcomes CSVs for one force: outcomes by the month they were recorded.

The street file gives each crime's latest outcome against the month the crime was recorded (a
cohort that matures for months); this file gives every outcome in the month it was recorded, a
crime appearing once per outcome. Rows are located by LSOA exactly as street rows are; rows
outside the force's CSPs are kept with no CSP and counted. Outcome labels changed over the years
(domain-research.md §2.3): both the older and the newer labels are in the mapping, and indicator
queries compare them with ``outcome_key`` (no case, articles or extra spaces).
"""

from __future__ import annotations

from dataclasses import dataclass

from safer.kernel.config import Settings
from safer.pipelines.areas import LAD_FROM_LSOA_NAME_SQL
from safer.pipelines.load_ledger import LedgerEntry
from safer.pipelines.police_uk import replaced_batches
from safer.pipelines.police_uk_monthly import MonthlyFiles
from safer.pipelines.source import Promoted
from safer.store.db import Database

__all__ = ["OUTCOMES", "OutcomeFiles"]


@dataclass(frozen=True)
class OutcomeFiles(MonthlyFiles):
    def promote(self, db: Database, settings: Settings, entry: LedgerEntry) -> Promoted:
        assert entry.period is not None
        force = settings.force
        replaced = replaced_batches(db, self.table, force.id, entry.period)
        db.execute(
            "DELETE FROM police_outcomes WHERE force_id = ? AND period = ?",
            [force.id, entry.period],
        )
        lad_name = LAD_FROM_LSOA_NAME_SQL.format(col='b."LSOA name"')
        db.execute(
            'INSERT INTO police_outcomes SELECT ?, ?, ?, b.record_no, b."Crime ID", b."Month", '
            'b."Reported by", b."Falls within", TRY_CAST(b."Longitude" AS DOUBLE), '
            'TRY_CAST(b."Latitude" AS DOUBLE), b."Location", b."LSOA code", b."LSOA name", '
            'b."Outcome type", l.lad_code, CASE WHEN l.pfa_code = ? THEN l.csp_code END '
            f"FROM stg.batch b LEFT JOIN lad_lookup l ON lower(l.lad_name) = {lad_name} "
            "ORDER BY b.record_no",
            [force.id, entry.period, entry.data_batch, force.pfa_code],
        )
        rows, outside = db.rows(
            "SELECT count(*), count(*) FILTER (WHERE csp_code IS NULL) FROM police_outcomes "
            "WHERE force_id = ? AND period = ?",
            [force.id, entry.period],
        )[0]
        return Promoted(int(rows), int(outside), (entry.period,), replaced)


OUTCOMES = OutcomeFiles(
    id="police_uk_outcomes",
    label="data.police.uk outcomes file",
    suite="police_outcomes",
    table="police_outcomes",
    kind="outcomes",
    area_level="csp",
)
