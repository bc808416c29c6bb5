"""Areas: the ONS LAD → CSP → police force area lookup, and the areas a run reports on.

data.police.uk rows carry an LSOA code and an LSOA name such as ``Halton 007D``; the name is
the local authority's name plus the MSOA number and a letter. The bundled lookup (ONS, January
2017) has no LSOA level, so a row's local authority is read from its LSOA name and joined on
name (case-insensitive) to the lookup. Rows whose authority is not one of the force's CSPs are
kept and counted as outside the area, never dropped.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from safer.kernel.errors import ConfigError
from safer.store.db import Database, reference_changed

__all__ = [
    "Area",
    "LAD_FROM_LSOA_NAME_SQL",
    "force_areas",
    "forces_areas",
    "load_forces",
    "load_lookup",
]

LOOKUP_FILE = "lad_csp_pfa_2017.csv"

# The authority name is everything before the final " 001A"-style token.
LAD_FROM_LSOA_NAME_SQL = r"lower(regexp_replace({col}, '\s+\d{{3}}[A-Z]$', ''))"


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    type: str  # "force" | "csp"


def load_lookup(db: Database) -> None:
    """Replace ``lad_lookup`` with the bundled ONS file (idempotent)."""
    text = (resources.files("safer.pipelines") / "data" / LOOKUP_FILE).read_text(
        encoding="utf-8-sig"
    )
    rows = [
        (r["LAD17CD"], r["LAD17NM"], r["CSP17CD"], r["CSP17NM"], r["PFA17CD"], r["PFA17NM"])
        for r in csv.DictReader(text.splitlines())
    ]
    with db.transaction():
        if not reference_changed(db, LOOKUP_FILE, text):
            return
        db.execute("DELETE FROM lad_lookup")
        db.executemany("INSERT INTO lad_lookup VALUES (?, ?, ?, ?, ?, ?)", rows)


FORCES_FILE = "police_forces.csv"


def load_forces(db: Database) -> dict[str, str]:
    """Replace ``police_forces`` with the bundled slugs (idempotent); returns force id → PFA."""
    text = (resources.files("safer.pipelines") / "data" / FORCES_FILE).read_text(
        encoding="utf-8-sig"
    )
    rows = [
        (r["pfa_code"], r["pfa_name"], r["force_id"], r["force_name"])
        for r in csv.DictReader(text.splitlines())
    ]
    with db.transaction():
        if reference_changed(db, FORCES_FILE, text):
            db.execute("DELETE FROM police_forces")
            db.executemany("INSERT INTO police_forces VALUES (?, ?, ?, ?)", rows)
    return {force: pfa for pfa, _, force, _ in rows}


def force_areas(db: Database, pfa_code: str) -> list[Area]:
    """The force and its CSPs, force first; also written to ``areas``. Raises ConfigError."""
    return forces_areas(db, [pfa_code])


def forces_areas(db: Database, pfa_codes: Sequence[str]) -> list[Area]:
    """Each force, then its CSPs, for every force given (a national database evaluates them
    all at once); written to ``areas`` in place of what it held. Raises ConfigError."""
    areas: list[Area] = []
    rows: list[tuple[str, str, str, str]] = []
    for pfa_code in pfa_codes:
        found = _areas_of(db, pfa_code)
        areas += found
        rows += [(a.code, a.name, a.type, pfa_code) for a in found]
    with db.transaction():
        db.execute("DELETE FROM areas")
        db.executemany("INSERT INTO areas VALUES (?, ?, ?, ?)", rows)
    return areas


def _areas_of(db: Database, pfa_code: str) -> list[Area]:
    csps = db.rows(
        "SELECT DISTINCT csp_code, csp_name, pfa_name FROM lad_lookup WHERE pfa_code = ? "
        "ORDER BY csp_name",
        [pfa_code],
    )
    if not csps:
        raise ConfigError(f"force.pfa_code: {pfa_code} is not a police force area in {LOOKUP_FILE}")
    areas = [Area(pfa_code, csps[0][2], "force")]
    areas += [Area(code, name, "csp") for code, name, _ in csps]
    return areas
