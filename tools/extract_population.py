"""Extract per-local-authority population figures from DEFRA's fly-tipping workbook.

safer reports "ASB incidents per 1,000 residents", which needs a resident population for each
local authority. DEFRA's workbook *Fly-tipping incidents and actions reported by local
authorities 2012-13 to 2021-22* (sheet ``LA_incidents``, column ``Mid population estimates ``)
carries the ONS mid-year population estimates per LA as DEFRA published them alongside the
fly-tipping statistics. This script copies those figures into ``la_population.csv`` so that
the figures are bundled with safer under the Open Government Licence v3.0 and safer needs no
network access or spreadsheet parsing at run time. Where they come from: ``SOURCES.md``.

Usage (from the repository root)::

    .venv/bin/python tools/extract_population.py [WORKBOOK [OUTPUT]]

``WORKBOOK`` defaults to the shared copy of the workbook and ``OUTPUT`` to ``la_population.csv``
next to this script. Only rows with a numeric population are written; ``:`` ("data not
available") and blank cells are skipped and counted, and the aggregate ``*Total`` rows (regions
and England) are left out because they are not local authorities. Output is sorted by
``la_code, financial_year`` and written as UTF-8 with ``\\n`` line endings, so reruns on the same
workbook reproduce the file byte for byte. Anything unexpected (a missing column, an unreadable
year or population, an LA listed twice in one year) stops the script with an error.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import openpyxl

DEFAULT_WORKBOOK = (
    Path(__file__).resolve().parents[2] / "shared/data/defra-fly-tipping/Flytipping.xlsx"
)
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "indicators/data/la_population.csv"
SHEET = "LA_incidents"
HEADER_ROW = 3  # row 1 is a title, row 2 holds group labels, data starts on row 4
COLUMNS = ("la_code", "la_name", "mid_year", "population", "source")
# The workbook pairs each financial year with the mid-year estimate of its first year
# (SOURCES.md): 2021-22 holds mid-2021.
SOURCE = "ONS mid-{year} estimate via DEFRA fly-tipping workbook (LA_incidents), 31 January 2023"
NOT_AVAILABLE = ":"
AGGREGATE_CODE = "*Total"

_ONS_CODE = re.compile(r"E\d{8}")
# 2021-22, 2021/22, 2021-2022 or 2021/2022
_YEAR = re.compile(r"(\d{4})\s*[-/]\s*(\d{2}|\d{4})")


@dataclass(frozen=True, order=True)
class PopulationRow:
    la_code: str
    financial_year: str
    la_name: str
    population: int


def financial_year(value: object) -> str:
    """Normalise the sheet's ``Year`` cell to ``YYYY-YY`` (the sheet already holds ``2021-22``)."""
    match = _YEAR.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"unrecognised financial year {value!r}")
    start, end = int(match.group(1)), match.group(2)
    if int(end) % 100 != (start + 1) % 100 or (len(end) == 4 and int(end) != start + 1):
        raise ValueError(f"financial year {value!r} does not span two consecutive years")
    return f"{start}-{(start + 1) % 100:02d}"


def population(value: object) -> int | None:
    """A whole-number population, or None for ``:`` / blank; anything else is an error."""
    if isinstance(value, bool):
        raise ValueError(f"unexpected population {value!r}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif value is None or (isinstance(value, str) and value.strip() in ("", NOT_AVAILABLE)):
        return None
    else:
        raise ValueError(f"unexpected population {value!r}")
    if result <= 0:
        raise ValueError(f"non-positive population {value!r}")
    return result


def extract(workbook: Path) -> tuple[list[PopulationRow], Counter[str]]:
    """The LA population rows of ``workbook`` and counts of what was left out, by reason."""
    wb = openpyxl.load_workbook(workbook, read_only=True, data_only=True)
    try:
        rows = list(wb[SHEET].iter_rows(min_row=HEADER_ROW, values_only=True))
    finally:
        wb.close()
    header = [str(cell).strip() if cell is not None else "" for cell in rows[0]]
    wanted = ("Year", "ONS Code", "LA Name", "Mid population estimates")
    missing = [name for name in wanted if name not in header]
    if missing:
        raise ValueError(f"{SHEET} row {HEADER_ROW} lacks column(s) {missing}")
    i_year, i_code, i_name, i_pop = (header.index(name) for name in wanted)

    skipped: Counter[str] = Counter()
    found: dict[tuple[str, str], PopulationRow] = {}
    for offset, row in enumerate(rows[1:], start=HEADER_ROW + 1):
        if all(cell is None for cell in row):
            skipped["empty row"] += 1
            continue
        code = str(row[i_code]).strip()
        if code == AGGREGATE_CODE:
            skipped["aggregate *Total row"] += 1
            continue
        if _ONS_CODE.fullmatch(code) is None:
            raise ValueError(f"{SHEET} row {offset}: unexpected ONS code {row[i_code]!r}")
        value = population(row[i_pop])
        if value is None:
            blank = row[i_pop] is None or str(row[i_pop]).strip() == ""
            skipped["population blank" if blank else "population ':'"] += 1
            continue
        year = financial_year(row[i_year])
        if (code, year) in found:
            raise ValueError(f"{SHEET} row {offset}: {code} appears twice in {year}")
        name = str(row[i_name]).strip()
        found[(code, year)] = PopulationRow(code, year, name, value)
    return sorted(found.values()), skipped


def write_csv(rows: list[PopulationRow], output: Path) -> None:
    with output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            year = row.financial_year[:4]
            source = SOURCE.format(year=year)
            writer.writerow((row.la_code, row.la_name, year, row.population, source))


def main(argv: list[str]) -> int:
    workbook = Path(argv[1]) if len(argv) > 1 else DEFAULT_WORKBOOK
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    rows, skipped = extract(workbook)
    write_csv(rows, output)
    years = sorted({row.financial_year for row in rows})
    codes = {row.la_code for row in rows}
    print(f"wrote {len(rows)} rows ({len(codes)} LAs, years {', '.join(years)}) to {output}")
    for reason, count in sorted(skipped.items()):
        print(f"skipped {count} rows: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
