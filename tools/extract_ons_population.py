"""Extract ONS mid-year population estimates (mid-2022 to mid-2024) per English local authority.

Writes ``indicators/data/ons_mid_year_population.csv``
(``la_code,la_name,mid_year,population,source``): one row per English local authority district
(E06/E07/E08/E09, April 2023 boundaries, 296 LAs) per mid-year, sorted by ``mid_year, la_code``.
Where the inputs come from, and their quirks: ``indicators/data/SOURCES.md``.

Inputs (defaults under ``tools/data/ons/``):

``mye23tablesew.xlsx``
    ONS *Mid-Year Population Estimates, England and Wales, June 2023* (release MYE23, published
    15 July 2024). Sheet ``MYE4`` gives mid-2023 and the revised mid-2022.
``mye24tablesew-MYE2-persons.csv``
    Sheet ``MYE2 - Persons`` of ONS ``mye24tablesew.xlsx`` (mid-2024, published 30 July 2025),
    saved as CSV by a third party. Column ``All ages`` gives mid-2024.

Usage (from the repository root)::

    .venv/bin/python tools/extract_ons_population.py [MYE23_XLSX MYE24_CSV [OUTPUT]]

Checks, each of which stops the script if it fails: every table's LA rows add up to its own
England row; that England row equals the ONS-published England total below; England + Wales
equals England and Wales; in the CSV, ``All ages`` equals the sum of its single-year-of-age
columns on every row; codes are unique; every year has the same set of 296 LA codes. Output is
UTF-8 with ``\\n`` line endings, so reruns reproduce the file byte for byte.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[1]
RAW_DIR = ROOT / "tools/data/ons"
DEFAULT_MYE23 = RAW_DIR / "mye23tablesew.xlsx"
DEFAULT_MYE24 = RAW_DIR / "mye24tablesew-MYE2-persons.csv"
DEFAULT_OUTPUT = ROOT / "indicators/data/ons_mid_year_population.csv"

COLUMNS = ("la_code", "la_name", "mid_year", "population", "source")
ENGLAND, WALES, ENGLAND_AND_WALES = "E92000001", "W92000004", "K04000001"
EXPECTED_LAS = 296  # England, April 2023 boundaries

# England totals as ONS published them in each release (SOURCES.md gives where each was checked).
PUBLISHED_ENGLAND = {2022: 57_112_542, 2023: 57_690_323, 2024: 58_620_101}
SOURCES = {
    2022: "ONS MYE mid-2023 release (mid-2022 as revised), published 2024-07-15, "
    "mye23tablesew.xlsx table MYE4",
    2023: "ONS MYE mid-2023, published 2024-07-15, mye23tablesew.xlsx table MYE4",
    2024: "ONS MYE mid-2024, published 2025-07-30, mye24tablesew.xlsx table MYE2 - Persons",
}
MYE4_SHEET = "MYE4"
MYE4_YEARS = (2022, 2023)
MYE24_YEAR = 2024

_LA_CODE = re.compile(r"E0[6-9]\d{6}")


@dataclass(frozen=True, order=True)
class PopulationRow:
    mid_year: int
    la_code: str
    la_name: str
    population: int


@dataclass(frozen=True)
class Table:
    """One year of one ONS table: LA figures plus the country totals it carries."""

    mid_year: int
    las: dict[str, tuple[str, int]]
    countries: dict[str, int]


def whole_number(value: object, where: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{where}: unexpected value {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        return int(value.strip())
    raise ValueError(f"{where}: not a whole number: {value!r}")


def collect(mid_year: int, rows: Iterable[tuple[str, str, int]]) -> Table:
    """Keep English LA rows and country totals; reject duplicates and non-positive figures."""
    las: dict[str, tuple[str, int]] = {}
    countries: dict[str, int] = {}
    for code, name, value in rows:
        if value <= 0:
            raise ValueError(f"mid-{mid_year} {code}: population {value}")
        if code in (ENGLAND, WALES, ENGLAND_AND_WALES):
            countries[code] = value
        elif _LA_CODE.fullmatch(code):
            if code in las:
                raise ValueError(f"mid-{mid_year}: {code} listed twice")
            las[code] = (name.strip(), value)
    return Table(mid_year, las, countries)


def read_mye4(path: Path) -> list[Table]:
    """Mid-2022 and mid-2023 from sheet MYE4 (header row starts with ``Code``)."""
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet_rows = list(workbook[MYE4_SHEET].iter_rows(values_only=True))
    finally:
        workbook.close()
    header_at = next(i for i, row in enumerate(sheet_rows) if row and row[0] == "Code")
    header = list(sheet_rows[header_at])
    tables = []
    for year in MYE4_YEARS:
        column = header.index(f"Mid-{year}")
        rows = [
            (str(row[0]), str(row[1]), whole_number(row[column], f"MYE4 {row[0]} mid-{year}"))
            for row in sheet_rows[header_at + 1 :]
            if row and row[0] is not None
        ]
        tables.append(collect(year, rows))
    return tables


def read_mye2_csv(path: Path) -> Table:
    """Mid-2024 from the CSV copy of ``MYE2 - Persons``; checks ages add up to ``All ages``."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if header[:4] != ["Code", "Name", "Geography", "All ages"] or header[-1] != "90+":
            raise ValueError(f"{path}: unexpected header {header[:5]}...{header[-1:]}")
        rows = []
        for line in reader:
            code = line[0]
            total = whole_number(line[3], f"MYE2 {code}")
            ages = sum(whole_number(cell, f"MYE2 {code}") for cell in line[4:])
            if ages != total:
                raise ValueError(f"MYE2 {code}: ages sum to {ages}, All ages is {total}")
            rows.append((code, line[1], total))
    return collect(MYE24_YEAR, rows)


def check(tables: Sequence[Table]) -> None:
    codes = set(tables[0].las)
    for table in tables:
        year, las, countries = table.mid_year, table.las, table.countries
        total = sum(value for _, value in las.values())
        if total != countries[ENGLAND]:
            raise ValueError(
                f"mid-{year}: LAs add up to {total}, England row is {countries[ENGLAND]}"
            )
        if countries[ENGLAND] != PUBLISHED_ENGLAND[year]:
            raise ValueError(f"mid-{year}: England {countries[ENGLAND]} != published")
        if countries[ENGLAND] + countries[WALES] != countries[ENGLAND_AND_WALES]:
            raise ValueError(f"mid-{year}: England + Wales != England and Wales")
        if len(las) != EXPECTED_LAS or set(las) != codes:
            raise ValueError(f"mid-{year}: {len(las)} LAs, or a different set of codes")


def to_rows(tables: Iterable[Table]) -> list[PopulationRow]:
    return sorted(
        PopulationRow(table.mid_year, code, name, value)
        for table in tables
        for code, (name, value) in table.las.items()
    )


def write(rows: Sequence[PopulationRow], output: Path) -> None:
    with output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(
                (row.la_code, row.la_name, row.mid_year, row.population, SOURCES[row.mid_year])
            )


def main(argv: Sequence[str]) -> int:
    if len(argv) not in (0, 2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    mye23 = Path(argv[0]) if argv else DEFAULT_MYE23
    mye24 = Path(argv[1]) if argv else DEFAULT_MYE24
    output = Path(argv[2]) if len(argv) == 3 else DEFAULT_OUTPUT
    tables = [*read_mye4(mye23), read_mye2_csv(mye24)]
    check(tables)
    rows = to_rows(tables)
    write(rows, output)
    per_year = ", ".join(
        f"mid-{t.mid_year}: {len(t.las)} LAs, England {sum(v for _, v in t.las.values()):,}"
        for t in tables
    )
    print(f"wrote {len(rows)} rows to {output} ({per_year})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
