"""Derive the small reference tables the benchmark data generator (``bench/generate.py``) uses.

Run once (from the repository root) when a source changes; the outputs are bundled so the
generator needs neither ``../shared`` nor a spreadsheet parser at run time::

    .venv/bin/python tools/extract_la_population_all.py [WORKBOOK]

Writes, under ``bench/data/``:

``lad_population.csv`` (``lad_code, lad_name, pfa_code, population, basis``)
    One row per local authority district of the ONS January 2017 lookup
    (``pipelines/data/lad_csp_pfa_2017.csv``; names and force area are the lookup's). English
    populations are DEFRA's ``Mid population estimates `` (sheet ``LA_incidents`` of the
    fly-tipping workbook) for **2019-20**, the first year the sheet fills that column and the
    last in which almost all 2017 district codes still exist. Districts merged on 1 April 2019
    (Dorset, Suffolk, Somerset West and Taunton) have no row of their own that year: their
    successor's 2019-20 figure is split equally among them, so force totals stay right.
    DEFRA covers England only: Welsh districts get ONS mid-2019 estimates rounded to the nearest
    thousand, typed in below (``WALES``); they are approximate and only size the synthetic data.
``cheshire_mix.csv`` (``crime_type, last_outcome_category, rows``)
    Row counts by crime type and last outcome over all bundled real Cheshire months
    (``data/police-uk/street/*.csv.gz``); ASB's outcome is empty.
``cheshire_months.csv`` (``month, rows, asb_rows``)
    Rows per bundled month, for the mean monthly volume.
``locations.csv`` (``location, rows``)
    The 1,000 most frequent ``Location`` values in the same months (ties by name), a weighted
    pool of realistic "On or near ..." labels.

Output is sorted and written as UTF-8 with LF endings, so reruns reproduce the files byte for
byte. Anything unexpected (a district with no population, a missing column) stops the script.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import openpyxl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKBOOK = ROOT.parent / "shared/data/defra-fly-tipping/Flytipping.xlsx"
LOOKUP = ROOT / "pipelines/data/lad_csp_pfa_2017.csv"
STREET_GLOB = str(ROOT / "data/police-uk/street/*-street.csv.gz")
OUT_DIR = ROOT / "bench/data"

SHEET = "LA_incidents"
HEADER_ROW = 3  # row 1 is a title, row 2 holds group labels
YEAR = "2019-20"
POPULATION_COLUMN = "Mid population estimates "  # sic: trailing space in the workbook
LOCATIONS_KEPT = 1000

# Districts abolished on 1 April 2019 -> the successor whose 2019-20 figure they share.
MERGED_2019 = {
    "E06000028": "E06000058",  # Bournemouth -> Bournemouth, Christchurch and Poole
    "E06000029": "E06000058",  # Poole
    "E07000048": "E06000058",  # Christchurch
    "E07000049": "E06000059",  # East Dorset -> Dorset
    "E07000050": "E06000059",  # North Dorset
    "E07000051": "E06000059",  # Purbeck
    "E07000052": "E06000059",  # West Dorset
    "E07000053": "E06000059",  # Weymouth and Portland
    "E07000190": "E07000246",  # Taunton Deane -> Somerset West and Taunton
    "E07000191": "E07000246",  # West Somerset
    "E07000201": "E07000245",  # Forest Heath -> West Suffolk
    "E07000204": "E07000245",  # St Edmundsbury
    "E07000205": "E07000244",  # Suffolk Coastal -> East Suffolk
    "E07000206": "E07000244",  # Waveney
}

# ONS mid-2019 population estimates for Welsh districts, rounded to the nearest thousand
# (typed in; not in any bundled file). Force totals: North Wales 701k, Dyfed-Powys 520k,
# South Wales 1,340k, Gwent 594k.
WALES = {
    "W06000001": 70_000,  # Isle of Anglesey
    "W06000002": 125_000,  # Gwynedd
    "W06000003": 118_000,  # Conwy
    "W06000004": 96_000,  # Denbighshire
    "W06000005": 156_000,  # Flintshire
    "W06000006": 136_000,  # Wrexham
    "W06000008": 73_000,  # Ceredigion
    "W06000009": 126_000,  # Pembrokeshire
    "W06000010": 189_000,  # Carmarthenshire
    "W06000011": 247_000,  # Swansea
    "W06000012": 143_000,  # Neath Port Talbot
    "W06000013": 147_000,  # Bridgend
    "W06000014": 135_000,  # Vale of Glamorgan
    "W06000015": 367_000,  # Cardiff
    "W06000016": 241_000,  # Rhondda Cynon Taf
    "W06000018": 181_000,  # Caerphilly
    "W06000019": 70_000,  # Blaenau Gwent
    "W06000020": 94_000,  # Torfaen
    "W06000021": 95_000,  # Monmouthshire
    "W06000022": 154_000,  # Newport
    "W06000023": 132_000,  # Powys
    "W06000024": 60_000,  # Merthyr Tydfil
}


def defra_populations(workbook: Path) -> dict[str, int]:
    """ONS code -> DEFRA's 2019-20 mid-year population, for rows that have a number."""
    wb = openpyxl.load_workbook(workbook, read_only=True, data_only=True)
    try:
        rows = list(wb[SHEET].iter_rows(min_row=HEADER_ROW, values_only=True))
    finally:
        wb.close()
    header = ["" if cell is None else str(cell) for cell in rows[0]]
    for name in ("Year", "ONS Code", POPULATION_COLUMN):
        if name not in header:
            raise SystemExit(f"{workbook}: {SHEET} row {HEADER_ROW} lacks column {name!r}")
    i_year, i_code, i_pop = (header.index(n) for n in ("Year", "ONS Code", POPULATION_COLUMN))
    found: dict[str, int] = {}
    for row in rows[1:]:
        value = row[i_pop]
        # ':' means "not available"; bool is an int subclass and never a population
        if str(row[i_year]).strip() != YEAR or isinstance(value, bool):
            continue
        if isinstance(value, int | float) and value > 0:
            found[str(row[i_code]).strip()] = int(value)
    return found


def lad_rows(workbook: Path) -> list[tuple[str, str, str, int, str]]:
    """``(lad_code, lad_name, pfa_code, population, basis)`` for every district of the lookup."""
    defra = defra_populations(workbook)
    with LOOKUP.open(encoding="utf-8-sig", newline="") as handle:
        lookup = list(csv.DictReader(handle))
    sharers: dict[str, int] = {}
    for successor in MERGED_2019.values():
        sharers[successor] = sharers.get(successor, 0) + 1
    out = []
    for row in lookup:
        code = row["LAD17CD"]
        if code in WALES:
            population, basis = WALES[code], "ONS mid-2019 (rounded, typed in)"
        elif code in defra:
            population, basis = defra[code], f"DEFRA {YEAR}"
        elif code in MERGED_2019 and MERGED_2019[code] in defra:
            successor = MERGED_2019[code]
            population = round(defra[successor] / sharers[successor])
            basis = f"DEFRA {YEAR} {successor} split equally"
        else:
            raise SystemExit(f"{code} {row['LAD17NM']}: no population")
        out.append((code, row["LAD17NM"], row["PFA17CD"], population, basis))
    return sorted(out)


Table = tuple[Sequence[str], Sequence[Sequence[object]]]


def street_tables() -> dict[str, Table]:
    """The three Cheshire-derived tables, by output file name."""
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE s AS SELECT * FROM read_csv('{STREET_GLOB}', all_varchar = true, "
        "filename = true)"
    )
    mix = con.execute(
        'SELECT "Crime type", "Last outcome category", count(*) FROM s GROUP BY ALL '
        "ORDER BY 1, 3 DESC, 2"
    ).fetchall()
    months = con.execute(
        "SELECT Month, count(*), count(*) FILTER (\"Crime type\" = 'Anti-social behaviour') "
        "FROM s GROUP BY 1 ORDER BY 1"
    ).fetchall()
    locations = con.execute(
        f"SELECT Location, count(*) FROM s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {LOCATIONS_KEPT}"
    ).fetchall()
    return {
        "cheshire_mix.csv": (("crime_type", "last_outcome_category", "rows"), mix),
        "cheshire_months.csv": (("month", "rows", "asb_rows"), months),
        "locations.csv": (("location", "rows"), locations),
    }


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
            count += 1
    return count


def main(argv: list[str]) -> int:
    workbook = Path(argv[1]) if len(argv) > 1 else DEFAULT_WORKBOOK
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    tables: dict[str, Table] = {
        "lad_population.csv": (
            ("lad_code", "lad_name", "pfa_code", "population", "basis"),
            list(lad_rows(workbook)),
        ),
        **street_tables(),
    }
    for name, (header, rows) in tables.items():
        count = write_csv(OUT_DIR / name, header, rows)
        print(f"wrote {count} rows to {OUT_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
