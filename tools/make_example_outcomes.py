"""Write the EXAMPLE data.police.uk outcomes files the demo serves, from the real street files.

    .venv/bin/python tools/make_example_outcomes.py

No full published outcomes file for Cheshire was available (shared/data/PROVENANCE.md §2), so the
demo's outcomes files are derived, and marked as examples: for each 2025 month, every crime in
that month's real street file whose last outcome is an outcome (not "Under investigation" or
"Status update unavailable") gets one row dated to that month, with its real Crime ID, location
and last outcome; a crime whose last outcome is a court result also gets a "Suspect charged" row
first. The layout and header are exactly the published ones (PROVENANCE.md §2). The real monthly
outcomes file would date each outcome to the month it was recorded, often later.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
STREET = ROOT / "data" / "police-uk" / "street"
OUT = ROOT / "data" / "examples" / "police-uk-outcomes"
HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Outcome type"
)
NOT_OUTCOMES = ("Under investigation", "Status update unavailable")
# Court results follow a charge: the charge is recorded as an outcome first.
AFTER_CHARGE = (
    "Awaiting court outcome",
    "Court case unable to proceed",
    "Court result unavailable",
    "Defendant found not guilty",
    "Defendant sent to Crown Court",
    "Offender deprived of property",
    "Offender fined",
    "Offender given absolute discharge",
    "Offender given community sentence",
    "Offender given conditional discharge",
    "Offender given suspended prison sentence",
    "Offender ordered to pay compensation",
    "Offender otherwise dealt with",
    "Offender sent to prison",
)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for month in range(1, 13):
        label = f"2025-{month:02d}"
        source = STREET / f"{label}-cheshire-street.csv.gz"
        rows = con.execute(_QUERY, [str(source), list(NOT_OUTCOMES), list(AFTER_CHARGE)]).fetchall()
        body = "\n".join(",".join(_cell(v) for v in row[:-1]) for row in rows)
        data = f"{HEADER}\n{body}\n".encode()
        with gzip.GzipFile(OUT / f"{label}-cheshire-outcomes.csv.gz", "wb", mtime=0) as out:
            out.write(data)
        print(f"{label}: {len(rows):,} outcome rows")


_QUERY = """
WITH street AS (
    SELECT * FROM read_csv(?, all_varchar = true, header = true)
    WHERE "Crime type" <> 'Anti-social behaviour' AND "Last outcome category" IS NOT NULL
      AND NOT list_contains(?, "Last outcome category")
), charged AS (
    SELECT *, 'Suspect charged' AS outcome, 0 AS step FROM street
    WHERE list_contains(?, "Last outcome category")
), final AS (
    SELECT *, "Last outcome category" AS outcome, 1 AS step FROM street
)
SELECT "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
       "LSOA code", "LSOA name", outcome, step
FROM (SELECT * FROM charged UNION ALL SELECT * FROM final)
ORDER BY "Crime ID", step
"""


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


if __name__ == "__main__":
    main()
