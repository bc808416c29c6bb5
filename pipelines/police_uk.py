"""data.police.uk monthly street CSVs for one force: ASB incidents and crimes with their latest
outcome, located by LSOA in the force's Community Safety Partnerships.

Each month is one batch (``safer.app.batch``): promoted into ``police_street`` only when every
error-level check passes, replacing whatever that month held before. Each row is mapped via its
LSOA name to local authority, CSP and force; rows outside the force's CSPs are kept with no CSP
and counted, never dropped. A month not yet published (404) is "not yet available".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from safer.kernel import faults
from safer.kernel.config import Settings
from safer.pipelines.areas import LAD_FROM_LSOA_NAME_SQL
from safer.pipelines.load_ledger import LedgerEntry
from safer.pipelines.police_uk_monthly import MonthlyFiles
from safer.pipelines.source import Promoted
from safer.store.db import Database

__all__ = ["SOURCE", "STREET", "StreetFiles", "replaced_batches"]

SOURCE = "police_uk_street"


@dataclass(frozen=True)
class StreetFiles(MonthlyFiles):
    def promote(self, db: Database, settings: Settings, entry: LedgerEntry) -> Promoted:
        assert entry.period is not None
        force = settings.force
        replaced = replaced_batches(db, self.table, force.id, entry.period)
        db.execute(
            "DELETE FROM police_street WHERE force_id = ? AND period = ?", [force.id, entry.period]
        )
        faults.point("promote.deleted")
        lad_name = LAD_FROM_LSOA_NAME_SQL.format(col='b."LSOA name"')
        db.execute(
            'INSERT INTO police_street SELECT ?, ?, ?, b.record_no, b."Crime ID", b."Month", '
            'b."Reported by", b."Falls within", TRY_CAST(b."Longitude" AS DOUBLE), '
            'TRY_CAST(b."Latitude" AS DOUBLE), b."Location", b."LSOA code", b."LSOA name", '
            'b."Crime type", b."Last outcome category", b."Context", l.lad_code, '
            "CASE WHEN l.pfa_code = ? THEN l.csp_code END "
            f"FROM stg.batch b LEFT JOIN lad_lookup l ON lower(l.lad_name) = {lad_name} "
            "ORDER BY b.record_no",
            [force.id, entry.period, entry.data_batch, force.pfa_code],
        )
        rows, outside = db.rows(
            "SELECT count(*), count(*) FILTER (WHERE csp_code IS NULL) FROM police_street "
            "WHERE force_id = ? AND period = ?",
            [force.id, entry.period],
        )[0]
        return Promoted(int(rows), int(outside), (entry.period,), replaced)


def replaced_batches(db: Database, table: str, force_id: str, period: dt.date) -> tuple[str, ...]:
    """The batches whose rows a month's new file is about to replace."""
    return tuple(
        row[0]
        for row in db.rows(
            f"SELECT DISTINCT batch_id FROM {table} WHERE force_id = ? AND period = ? ORDER BY 1",
            [force_id, period],
        )
    )


STREET = StreetFiles(
    id=SOURCE,
    label="data.police.uk street file",
    suite="police_street",
    table="police_street",
    kind="street",
    area_level="csp",
)
