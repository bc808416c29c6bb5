"""Resident population per local authority and mid-year estimate: the denominator of every
rate per 1,000 residents. Pure: text in, rows or errors out.

The file is a CSV with the header ``la_code,la_name,mid_year,population,source`` (one row per
local authority and estimate; ``source`` names the release, e.g. "ONS mid-2023 estimate, MYE2,
15 July 2024"). A period's rate divides by the estimate for its own financial year (mid-2024 for
2024/25), else the latest earlier one, and says which ("mid-2021 population"). The bundled files
are listed in ``indicators/data/SOURCES.md``; ``[indicators] population_file`` replaces them
with a user's own, e.g. built from ONS's latest release.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass

from safer.kernel.errors import ConfigError

__all__ = ["COLUMNS", "Estimate", "PopulationError", "merge", "parse"]

COLUMNS = ("la_code", "la_name", "mid_year", "population", "source")
_CODE = re.compile(r"[EWSN]\d{8}")


class PopulationError(ConfigError):
    """A population file that cannot be used, naming the file, row and field."""


@dataclass(frozen=True)
class Estimate:
    la_code: str
    la_name: str
    mid_year: int
    population: int
    source: str


def parse(name: str, text: str) -> list[Estimate]:
    """Every row of the file ``name``; PopulationError on the first row that is not usable
    (row numbers count the header as row 1, as a spreadsheet shows them)."""
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise PopulationError(
            f"{name}: row 1: the header lacks {', '.join(missing)} (expected {','.join(COLUMNS)})"
        )
    found: dict[tuple[str, int], int] = {}
    rows = []
    for number, row in enumerate(reader, start=2):
        estimate = _estimate(name, number, row)
        key = (estimate.la_code, estimate.mid_year)
        if key in found:
            raise PopulationError(
                f"{name}: row {number}: la_code {estimate.la_code} has mid_year "
                f"{estimate.mid_year} already on row {found[key]}"
            )
        found[key] = number
        rows.append(estimate)
    if not rows:
        raise PopulationError(f"{name}: no rows after the header")
    return rows


def _estimate(name: str, number: int, row: dict[str, str | None]) -> Estimate:
    def field(column: str) -> str:
        return (row.get(column) or "").strip()

    def bad(column: str, why: str) -> PopulationError:
        return PopulationError(f"{name}: row {number}: {column} {field(column)!r}: {why}")

    if not _CODE.fullmatch(field("la_code")):
        raise bad("la_code", "not an ONS area code such as E06000006")
    if not field("mid_year").isdigit() or not 1981 <= int(field("mid_year")) <= 2100:
        raise bad("mid_year", "not the year of a mid-year estimate such as 2023")
    if not field("population").isdigit() or int(field("population")) == 0:
        raise bad("population", "not a whole number of residents above 0")
    for column in ("la_name", "source"):
        if not field(column):
            raise bad(column, "empty")
    return Estimate(
        field("la_code"),
        field("la_name"),
        int(field("mid_year")),
        int(field("population")),
        field("source"),
    )


def merge(files: Sequence[list[Estimate]]) -> list[Estimate]:
    """One estimate per local authority and year: a later file's replaces an earlier one's (a
    direct ONS release after a copy of it in another publication)."""
    found = {(e.la_code, e.mid_year): e for rows in files for e in rows}
    return [found[key] for key in sorted(found)]
