"""Synthetic data.police.uk street and outcomes CSVs for every force, for national-scale benchmarks.

    .venv/bin/python -m bench.generate --out /tmp/police-uk --months 36 [--end 2025-12]
        [--forces all|cheshire,merseyside,...] [--seed 1] [--outcomes|--no-outcomes]

writes ``OUT/{YYYY-MM}/{YYYY-MM}-{force_id}-street.csv`` and ``...-outcomes.csv`` for each force
and each of the ``--months`` months ending at ``--end``, in the published layout (header, LF
endings, UTF-8 without BOM, fields quoted only when they must be).

What the rows are made from:

* **Volume**: the mean monthly row count of the real Cheshire months bundled in
  ``data/police-uk/street`` (``bench/data/cheshire_months.csv``), scaled by the force's resident
  population over Cheshire's, times a mild seasonal wave (peak in July) and a little seeded
  month-to-month noise. Populations per local authority: ``bench/data/lad_population.csv``
  (DEFRA's mid-year estimates; Welsh figures typed in), made by
  ``tools/extract_la_population_all.py``; forces: ``pipelines/data/police_forces.csv``.
* **Mix**: crime type, ASB share and last outcome per crime type follow the same real months
  (``bench/data/cheshire_mix.csv``, precomputed by the same tool so runs need no ``.gz`` reads).
* **Places**: each row lies in a local authority of its force (weighted by population), in a
  made-up LSOA named ``<LAD17NM of the ONS lookup> <nnn><letter>`` with an ``E01``/``W01`` code
  fixed per name; about 0.15% of rows fall in an authority of one of the three nearest other
  forces and 0.05% have no location. Coordinates sit around rough force centres
  (``bench/data/force_geo.csv``, typed in) and ``Location`` labels come from the real months'
  most frequent ones (``bench/data/locations.csv``).
* **Outcomes**: a crime whose last outcome is a real outcome gets outcomes rows in its own
  month or later ones (exponential delays drawn per crime): one row, or for court results
  ``Suspect charged`` first and the result (``Offender fined``, ``Awaiting court outcome``,
  ...) later. The last row always equals the street file's ``Last outcome category``; a crime
  whose last row would fall after the window gets none. Crimes still ``Under investigation``
  or ``Status update unavailable`` have none, nor does ASB. Only crimes of the generated window
  appear, so the first months' outcomes files are thinner than real ones.

All rows are generated inside DuckDB from ``hash()`` of (seed, force, month, row, purpose), so a
given seed reproduces the files byte for byte with the same DuckDB version, and a force-month's
street file does not depend on which other forces or months are generated with it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

__all__ = ["OUTCOMES_HEADER", "STREET_HEADER", "Summary", "generate", "main"]

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
FORCES_CSV = ROOT / "pipelines" / "data" / "police_forces.csv"
LOOKUP_CSV = ROOT / "pipelines" / "data" / "lad_csp_pfa_2017.csv"
OUTCOME_GROUPS_CSV = ROOT / "indicators" / "data" / "outcome_groups.csv"

STREET_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)
OUTCOMES_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Outcome type"
)
ASB = "Anti-social behaviour"
CHARGED = "Suspect charged"
# Street outcomes that are a state, not an outcome: such crimes have no outcomes rows yet.
NO_OUTCOME_ROWS = ("Under investigation", "Status update unavailable")

REFERENCE_FORCE = "cheshire"  # the force whose real months set volume and mix
PEOPLE_PER_LAD_SLOT = 1_000  # resolution of the population-weighted pick of an authority
PEOPLE_PER_LSOA = 1_500  # LSOAs hold 1,000-3,000 residents; Cheshire's ~1.07M have ~700
LSOAS_PER_MSOA = 5  # letters A-E after the MSOA number
PLACES_PER_LSOA = 16  # distinct (Location, point) pairs per LSOA, like the snapped map points
LSOA_SKEW = 1.5  # >1 concentrates crime in a few LSOAs of each authority, as town centres do
NO_LOCATION_SHARE = 0.0005
OUTSIDE_SHARE = 0.0015
NEIGHBOUR_WEIGHTS = (0.5, 0.8)  # cumulative: nearest other force 50%, 2nd 30%, 3rd 20%
SEASON_AMPLITUDE = 0.05  # +-5% over the year, highest in July
SEASON_PEAK_MONTH = 7
MONTH_NOISE = 0.03  # +-3% uniform per force-month
MEAN_DELAY_MONTHS = 1.2  # to a non-court outcome
MEAN_CHARGE_MONTHS = 1.0  # to "Suspect charged"
MEAN_COURT_MONTHS = 2.5  # from charge to the court result

Log = Callable[[str], None]

# Outcomes rows waiting for the month they are recorded in, with the crime's fields.
# Kept in insertion order (crime month, then first/second row, then force and row number).
EVENTS_TABLE = """
CREATE TABLE events (
    event_month INTEGER, force_idx INTEGER, crime_id VARCHAR, longitude VARCHAR,
    latitude VARCHAR, location VARCHAR, lsoa_code VARCHAR, lsoa_name VARCHAR,
    outcome_type VARCHAR
)
"""


@dataclass(frozen=True)
class Force:
    idx: int
    force_id: str
    name: str


@dataclass(frozen=True)
class Month:
    index: int  # year * 12 + month - 1: the key rows are hashed on
    label: str  # YYYY-MM

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            day = dt.datetime.strptime(text, "%Y-%m")
        except ValueError:
            raise ValueError(f"not a YYYY-MM month: {text!r}") from None
        return cls(day.year * 12 + day.month - 1, f"{day.year:04d}-{day.month:02d}")

    @classmethod
    def of_index(cls, index: int) -> Month:
        return cls(index, f"{index // 12:04d}-{index % 12 + 1:02d}")


@dataclass(frozen=True)
class Summary:
    files: int
    street_rows: int
    outcome_rows: int
    bytes: int
    seconds: float


def window(end: str, count: int) -> list[Month]:
    """The ``count`` months ending at ``end``, oldest first."""
    if count < 1:
        raise ValueError("--months must be at least 1")
    last = Month.parse(end).index
    return [Month.of_index(i) for i in range(last - count + 1, last + 1)]


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _create_macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    # One uniform [0, 1) per (key, key, key, purpose): hash() is deterministic and, unlike
    # random(), does not depend on how DuckDB splits the work between threads.
    con.execute(
        f"CREATE MACRO unif(a, b, c, purpose) AS "
        f"(hash({int(seed)}::BIGINT, a, b, c, purpose) >> 11)::DOUBLE / 9007199254740992.0"
    )
    # Exponential delay in whole months; 1 - u keeps ln() away from 0.
    con.execute("CREATE MACRO delay(u, mean) AS floor(-ln(1 - u) * mean)::INTEGER")
    # Six decimals like the published files; unlike printf, a DECIMAL never prints "-0.000000".
    con.execute("CREATE MACRO coord(x) AS x::DECIMAL(10, 6)::VARCHAR")


def _load_forces(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""
        CREATE TABLE lad_population AS
        SELECT p.lad_code, k.LAD17NM AS lad_name, k.PFA17CD AS pfa_code, p.population
        FROM read_csv({_sql_path(DATA / "lad_population.csv")}, header = true,
                      types = {{'population': 'BIGINT'}}) p
        JOIN read_csv({_sql_path(LOOKUP_CSV)}, header = true, all_varchar = true) k
          ON k.LAD17CD = p.lad_code
        """
    )
    # force_idx numbers all forces by slug, whatever --forces selects, so hashes are stable.
    con.execute(
        f"""
        CREATE TABLE forces AS
        SELECT (row_number() OVER (ORDER BY f.force_id) - 1)::INTEGER AS force_idx,
               f.force_id, f.force_name, f.pfa_code, g.latitude, g.longitude, g.spread_deg,
               p.population
        FROM read_csv({_sql_path(FORCES_CSV)}, header = true, all_varchar = true) f
        JOIN read_csv({_sql_path(DATA / "force_geo.csv")}, header = true) g USING (force_id)
        JOIN (SELECT pfa_code, sum(population) AS population FROM lad_population GROUP BY 1) p
          USING (pfa_code)
        """
    )
    listed = con.execute(
        f"SELECT count(*) FROM read_csv({_sql_path(FORCES_CSV)}, header = true)"
    ).fetchall()[0][0]
    joined = con.execute("SELECT count(*) FROM forces").fetchall()[0][0]
    if joined != listed:
        raise SystemExit(f"{FORCES_CSV}: {listed} forces but {joined} have geography and people")


def _load_areas(con: duckdb.DuckDBPyConnection) -> None:
    """Authorities (with their LSOA count and code range) and one row per made-up LSOA."""
    con.execute(
        f"""
        CREATE TABLE lads AS
        WITH sized AS (
            SELECT f.force_idx, l.lad_code, l.lad_name, l.population, f.spread_deg,
                   f.latitude + f.spread_deg * (2 * unif(l.lad_code, 0, 0, 1) - 1) AS lat,
                   f.longitude + 1.6 * f.spread_deg * (2 * unif(l.lad_code, 0, 0, 2) - 1)
                       AS lon,
                   greatest(1, round(l.population / {PEOPLE_PER_LSOA}))::INTEGER AS n_lsoa
            FROM lad_population l JOIN forces f USING (pfa_code)
        )
        SELECT *,
               -- England and Wales number their LSOAs separately (E01..., W01...)
               (sum(n_lsoa) OVER c - n_lsoa)::INTEGER AS code_offset
        FROM sized
        WINDOW c AS (PARTITION BY left(lad_code, 1) ORDER BY lad_code)
        """
    )
    con.execute(
        f"""
        CREATE TABLE lsoas AS
        SELECT l.lad_code, r.k::INTEGER AS k,
               left(l.lad_code, 1) || '01' || lpad((l.code_offset + r.k + 1)::VARCHAR, 6, '0')
                   AS lsoa_code,
               l.lad_name || ' ' || lpad((r.k // {LSOAS_PER_MSOA} + 1)::VARCHAR, 3, '0')
                   || chr((65 + r.k % {LSOAS_PER_MSOA})::INTEGER) AS lsoa_name,
               l.lat + l.spread_deg / 3 * (2 * unif(l.lad_code, r.k, 0, 3) - 1) AS lat,
               l.lon + 1.6 * l.spread_deg / 3 * (2 * unif(l.lad_code, r.k, 0, 4) - 1) AS lon
        FROM lads l, range(l.n_lsoa) r(k)
        """
    )
    # The three nearest other forces by centre: where the few "outside" rows fall.
    con.execute(
        """
        CREATE TABLE neighbours AS
        SELECT a.force_idx, b.force_idx AS other_idx,
               (row_number() OVER (PARTITION BY a.force_idx ORDER BY
                   pow(a.latitude - b.latitude, 2)
                   + pow((a.longitude - b.longitude) * cos(radians(a.latitude)), 2),
                   b.force_id) - 1)::INTEGER AS rank
        FROM forces a JOIN forces b ON a.force_idx <> b.force_idx
        QUALIFY rank < 3
        """
    )


def _load_mixes(con: duckdb.DuckDBPyConnection) -> None:
    """Slot tables: one row per real row counted, so a uniform slot number samples the mix.

    An equality join on a slot is several times faster than an ASOF join on cumulative shares
    and keeps every rare category at exactly its real frequency.
    """
    con.execute(
        f"""
        CREATE TABLE cheshire_mix AS
        SELECT * FROM read_csv({_sql_path(DATA / "cheshire_mix.csv")}, header = true,
                               types = {{'last_outcome_category': 'VARCHAR', 'rows': 'BIGINT'}})
        """
    )
    con.execute(
        f"""
        CREATE TABLE outcome_groups AS
        SELECT * FROM read_csv({_sql_path(OUTCOME_GROUPS_CSV)}, header = true, all_varchar = true)
        """
    )
    unknown = con.execute(
        "SELECT DISTINCT last_outcome_category FROM cheshire_mix WHERE last_outcome_category "
        "NOT IN (SELECT label FROM outcome_groups)"
    ).fetchall()
    if unknown:
        raise SystemExit(f"{OUTCOME_GROUPS_CSV}: labels missing: {sorted(u for (u,) in unknown)}")
    # Crime type and last outcome drawn together from the real rows (the joint mix), with the
    # route its outcomes rows take: none (ASB, pending states), court (charged first, result
    # later) or single.
    con.execute(
        f"""
        CREATE TABLE mix_slots AS
        WITH mix AS (
            SELECT m.crime_type, m.last_outcome_category AS outcome, m.rows,
                   -- first slot of each category: running total over the 250 categories
                   sum(m.rows) OVER (ORDER BY m.crime_type, m.last_outcome_category NULLS FIRST)
                       - m.rows AS first_slot,
                   CASE WHEN m.last_outcome_category IS NULL
                             OR m.last_outcome_category IN {NO_OUTCOME_ROWS} THEN 'none'
                        WHEN g."group" = 'charged_or_court'
                             AND m.last_outcome_category
                                 <> 'Suspect charged as part of another case' THEN 'court'
                        ELSE 'single' END AS route
            FROM cheshire_mix m LEFT JOIN outcome_groups g ON g.label = m.last_outcome_category
        )
        SELECT (first_slot + r.i)::INTEGER AS slot, crime_type, outcome, route
        FROM mix, range(mix.rows) r(i)
        """
    )
    con.execute(
        f"""
        CREATE TABLE location_slots AS
        WITH pool AS (
            SELECT location, rows, sum(rows) OVER (ORDER BY location) - rows AS first_slot
            FROM read_csv({_sql_path(DATA / "locations.csv")}, header = true,
                          types = {{'rows': 'BIGINT'}})
        )
        SELECT (first_slot + r.i)::INTEGER AS slot, location FROM pool, range(pool.rows) r(i)
        """
    )
    # Each authority gets a slot per thousand residents (at least one) within its force.
    con.execute(
        f"""
        CREATE TABLE lad_slots AS
        WITH weighted AS (
            SELECT force_idx, lad_code, n_lsoa,
                   greatest(1, round(population / {PEOPLE_PER_LAD_SLOT}))::BIGINT AS slots
            FROM lads
        ),
        placed AS (
            SELECT *, sum(slots) OVER (PARTITION BY force_idx ORDER BY lad_code) - slots
                          AS first_slot
            FROM weighted
        )
        SELECT force_idx, (first_slot + r.i)::INTEGER AS slot, lad_code, n_lsoa
        FROM placed, range(placed.slots) r(i)
        """
    )
    con.execute("SET VARIABLE mix_slots = (SELECT count(*) FROM mix_slots)")
    con.execute("SET VARIABLE location_slots = (SELECT count(*) FROM location_slots)")
    con.execute(
        "CREATE TABLE lad_slot_counts AS "
        "SELECT force_idx, count(*)::INTEGER AS n FROM lad_slots GROUP BY 1"
    )


def _plan(con: duckdb.DuckDBPyConnection, forces: Sequence[Force], months: Sequence[Month]) -> None:
    """Rows per force and month: Cheshire's mean scaled by population, season and noise."""
    con.execute(
        f"""
        CREATE OR REPLACE TABLE plan AS
        WITH reference AS (
            SELECT (SELECT avg(rows) FROM read_csv({_sql_path(DATA / "cheshire_months.csv")},
                                                   header = true))
                   / population AS per_person
            FROM forces WHERE force_id = '{REFERENCE_FORCE}'
        )
        SELECT f.force_idx, m.month_index,
               round(f.population * r.per_person
                     * (1 + {SEASON_AMPLITUDE}
                            * cos(2 * pi() * ((m.month_index % 12) + 1 - {SEASON_PEAK_MONTH})
                                  / 12))
                     * (1 + {MONTH_NOISE} * (2 * unif(f.force_idx, m.month_index, 0, 5) - 1))
               )::BIGINT AS n
        FROM forces f, reference r, unnest(?::INTEGER[]) m(month_index)
        WHERE f.force_idx IN (SELECT unnest(?::INTEGER[]))
        """,
        [[m.index for m in months], [f.idx for f in forces]],
    )


def _make_crimes(con: duckdb.DuckDBPyConnection, month: Month, seed: int) -> None:
    """The month's street rows for every selected force, in the order they are written."""
    con.execute(
        f"""
        CREATE OR REPLACE TABLE crimes AS
        WITH base AS (
            SELECT p.force_idx, p.month_index, r.i AS row_no,
                   unif(p.force_idx, p.month_index, r.i, 11) AS u_type,
                   unif(p.force_idx, p.month_index, r.i, 13) AS u_where,
                   unif(p.force_idx, p.month_index, r.i, 14) AS u_neighbour,
                   unif(p.force_idx, p.month_index, r.i, 15) AS u_lad,
                   unif(p.force_idx, p.month_index, r.i, 16) AS u_lsoa,
                   unif(p.force_idx, p.month_index, r.i, 17) AS u_place,
                   unif(p.force_idx, p.month_index, r.i, 18) AS u_delay1,
                   unif(p.force_idx, p.month_index, r.i, 19) AS u_delay2
            FROM plan p, range(p.n) r(i)
            WHERE p.month_index = {month.index}
        ),
        typed AS (
            SELECT b.*, m.crime_type, m.outcome, m.route
            FROM base b
            JOIN mix_slots m ON m.slot = floor(b.u_type * getvariable('mix_slots'))::INTEGER
        ),
        sited AS (
            SELECT x.*, x.u_where < {NO_LOCATION_SHARE} AS no_location,
                   CASE WHEN x.u_where >= {NO_LOCATION_SHARE}
                         AND x.u_where < {NO_LOCATION_SHARE + OUTSIDE_SHARE}
                        THEN n.other_idx ELSE x.force_idx END AS area_idx
            FROM typed x JOIN neighbours n
              ON n.force_idx = x.force_idx
             AND n.rank = CASE WHEN x.u_neighbour < {NEIGHBOUR_WEIGHTS[0]} THEN 0
                               WHEN x.u_neighbour < {NEIGHBOUR_WEIGHTS[1]} THEN 1 ELSE 2 END
        ),
        in_lad AS (
            SELECT x.*, l.lad_code,
                   (floor(pow(x.u_lsoa, {LSOA_SKEW}) * l.n_lsoa)::BIGINT * 7919 % l.n_lsoa)
                       ::INTEGER AS k
            FROM sited x
            JOIN lad_slot_counts c ON c.force_idx = x.area_idx
            JOIN lad_slots l
              ON l.force_idx = x.area_idx AND l.slot = floor(x.u_lad * c.n)::INTEGER
        ),
        in_lsoa AS (
            SELECT x.*, s.lsoa_code, s.lsoa_name, s.lat, s.lon,
                   floor(x.u_place * {PLACES_PER_LSOA})::INTEGER AS place
            FROM in_lad x JOIN lsoas s ON s.lad_code = x.lad_code AND s.k = x.k
        ),
        placed AS (
            SELECT x.*, loc.location
            FROM in_lsoa x
            JOIN location_slots loc ON loc.slot = floor(unif(x.lsoa_code, x.place, 0, 21)
                                                        * getvariable('location_slots'))::INTEGER
        )
        SELECT x.force_idx, x.month_index, x.row_no, x.route, x.u_delay1, x.u_delay2,
               CASE WHEN x.crime_type <> '{ASB}'
                    THEN sha256('{int(seed)}/' || f.force_id || '/' || x.month_index || '/'
                                || x.row_no) END AS crime_id,
               CASE WHEN NOT x.no_location
                    THEN coord(x.lon + 0.006 * (2 * unif(x.lsoa_code, x.place, 0, 22) - 1))
                    END AS longitude,
               CASE WHEN NOT x.no_location
                    THEN coord(x.lat + 0.004 * (2 * unif(x.lsoa_code, x.place, 0, 23) - 1))
                    END AS latitude,
               CASE WHEN x.no_location THEN 'No location' ELSE x.location END AS location,
               CASE WHEN NOT x.no_location THEN x.lsoa_code END AS lsoa_code,
               CASE WHEN NOT x.no_location THEN x.lsoa_name END AS lsoa_name,
               x.crime_type, x.outcome
        FROM placed x
        JOIN forces f ON f.force_idx = x.force_idx
        -- Sorted once here (before the per-file constants are added, which keeps the sort
        -- small); every later scan keeps this order (preserve_insertion_order), so each
        -- file's rows come out in row_no order without sorting again.
        ORDER BY x.force_idx, x.row_no
        """
    )


def _add_events(con: duckdb.DuckDBPyConnection, last: Month) -> None:
    """Queue the outcomes rows of this month's crimes, each in the month it is recorded.

    A crime whose last outcome would be recorded after ``last`` gets no rows at all, so the
    last row of every crime that has rows is its street ``Last outcome category``, and the
    final months are not swollen by outcomes piled up at the edge of the window. First rows
    are queued before second ones, so a charge always precedes its court result in a file.
    """
    timed = f"""
        WITH timed AS (
            SELECT c.*,
                   c.month_index + delay(c.u_delay1, CASE c.route WHEN 'court'
                       THEN {MEAN_CHARGE_MONTHS} ELSE {MEAN_DELAY_MONTHS} END) AS first_month
            FROM crimes c WHERE c.route <> 'none'
        ),
        closed AS (
            SELECT *, CASE route WHEN 'court'
                          THEN first_month + delay(u_delay2, {MEAN_COURT_MONTHS})
                          ELSE first_month END AS final_month
            FROM timed
        )
    """
    columns = "force_idx, crime_id, longitude, latitude, location, lsoa_code, lsoa_name"
    con.execute(
        f"""
        INSERT INTO events {timed}
        SELECT first_month, {columns},
               CASE route WHEN 'court' THEN '{CHARGED}' ELSE outcome END
        FROM closed WHERE final_month <= {last.index}
        """
    )
    con.execute(
        f"""
        INSERT INTO events {timed}
        SELECT final_month, {columns}, outcome
        FROM closed WHERE route = 'court' AND final_month <= {last.index}
        """
    )


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    # NULL prints as an empty field; an empty *string* would print as "" (so none are made).
    con.execute(f"COPY ({query}) TO {_sql_path(path)} (FORMAT csv, HEADER, DELIMITER ',')")
    return path.stat().st_size


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _write_street(con: duckdb.DuckDBPyConnection, out: Path, month: Month, force: Force) -> int:
    # Month and force name are the same on every row of a file: added here as constants.
    name = _literal(force.name)
    query = (
        f'SELECT crime_id AS "Crime ID", {_literal(month.label)} AS "Month", '
        f'{name} AS "Reported by", {name} AS "Falls within", longitude AS "Longitude", '
        'latitude AS "Latitude", location AS "Location", lsoa_code AS "LSOA code", '
        'lsoa_name AS "LSOA name", crime_type AS "Crime type", '
        'outcome AS "Last outcome category", NULL::VARCHAR AS "Context" '
        f"FROM crimes WHERE force_idx = {force.idx}"
    )
    return _copy(con, query, out / month.label / f"{month.label}-{force.force_id}-street.csv")


def _write_outcomes(con: duckdb.DuckDBPyConnection, out: Path, month: Month, force: Force) -> int:
    name = _literal(force.name)
    query = (
        f'SELECT crime_id AS "Crime ID", {_literal(month.label)} AS "Month", '
        f'{name} AS "Reported by", {name} AS "Falls within", longitude AS "Longitude", '
        'latitude AS "Latitude", location AS "Location", lsoa_code AS "LSOA code", '
        'lsoa_name AS "LSOA name", outcome_type AS "Outcome type" '
        f"FROM events WHERE event_month = {month.index} AND force_idx = {force.idx}"
    )
    return _copy(con, query, out / month.label / f"{month.label}-{force.force_id}-outcomes.csv")


def _counts(con: duckdb.DuckDBPyConnection, query: str) -> dict[int, int]:
    return {int(k): int(n) for k, n in con.execute(query).fetchall()}


def _select_forces(con: duckdb.DuckDBPyConnection, wanted: Sequence[str] | None) -> list[Force]:
    known = [
        Force(int(i), str(f), str(n))
        for i, f, n in con.execute(
            "SELECT force_idx, force_id, force_name FROM forces ORDER BY force_idx"
        ).fetchall()
    ]
    if wanted is None:
        return known
    by_id = {f.force_id: f for f in known}
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        raise ValueError(f"unknown force id(s) {unknown}; known: {', '.join(by_id)}")
    return [by_id[w] for w in sorted(set(wanted))]


def connect(seed: int) -> duckdb.DuckDBPyConnection:
    """An in-memory database holding the reference tables the generator joins to."""
    # Output order relies on scans keeping table order; this is DuckDB's default, made explicit.
    con = duckdb.connect(config={"preserve_insertion_order": True})
    _create_macros(con, seed)
    _load_forces(con)
    _load_areas(con)
    _load_mixes(con)
    return con


@dataclass(frozen=True)
class MonthDone:
    files: int
    street_rows: int
    outcome_rows: int
    bytes: int


def _write_month(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    month: Month,
    forces: Sequence[Force],
    seed: int,
    last: Month | None,
) -> MonthDone:
    """Generate and write one month for every force; ``last`` None: no outcomes files."""
    _make_crimes(con, month, seed)
    street = _counts(con, "SELECT force_idx, count(*) FROM crimes GROUP BY 1")
    size = sum(_write_street(con, out, month, force) for force in forces)
    if last is None:
        return MonthDone(len(forces), sum(street.values()), 0, size)
    _add_events(con, last)
    recorded = _counts(
        con, f"SELECT force_idx, count(*) FROM events WHERE event_month = {month.index} GROUP BY 1"
    )
    size += sum(_write_outcomes(con, out, month, force) for force in forces)
    # Rebuilt rather than DELETEd so the memory of written events is given back.
    con.execute(
        f"CREATE OR REPLACE TABLE events AS SELECT * FROM events WHERE event_month > {month.index}"
    )
    return MonthDone(2 * len(forces), sum(street.values()), sum(recorded.values()), size)


def generate(
    out: Path,
    months: int,
    end: str = "2025-12",
    forces: Sequence[str] | None = None,
    seed: int = 1,
    outcomes: bool = True,
    log: Log | None = None,
) -> Summary:
    """Write the files for ``forces`` (None: all) and the ``months`` months ending at ``end``."""
    started = time.perf_counter()
    span = window(end, months)
    con = connect(seed)
    try:
        chosen = _select_forces(con, forces)
        _plan(con, chosen, span)
        con.execute(EVENTS_TABLE)
        total = MonthDone(0, 0, 0, 0)
        for month in span:
            tick = time.perf_counter()
            done = _write_month(con, out, month, chosen, seed, span[-1] if outcomes else None)
            total = MonthDone(*(a + b for a, b in zip(_fields(total), _fields(done), strict=True)))
            if log is not None:
                log(
                    f"{month.label}: {len(chosen)} forces, {done.street_rows:,} street rows, "
                    f"{done.outcome_rows:,} outcomes rows, {done.bytes / 1e6:,.1f} MB, "
                    f"{time.perf_counter() - tick:.1f} s"
                )
    finally:
        con.close()
    return Summary(
        total.files,
        total.street_rows,
        total.outcome_rows,
        total.bytes,
        time.perf_counter() - started,
    )


def _fields(done: MonthDone) -> tuple[int, int, int, int]:
    return done.files, done.street_rows, done.outcome_rows, done.bytes


def _forces_arg(text: str) -> list[str] | None:
    if text.strip().lower() == "all":
        return None
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    if not wanted:
        raise argparse.ArgumentTypeError("expected 'all' or a comma-separated list of force ids")
    return wanted


def _month_arg(text: str) -> str:
    try:
        return Month.parse(text).label
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description="Write synthetic data.police.uk street and outcomes CSVs for benchmarks.",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write YYYY-MM/ into")
    parser.add_argument("--months", type=int, required=True, help="how many months")
    parser.add_argument("--end", type=_month_arg, default="2025-12", help="last month (YYYY-MM)")
    parser.add_argument(
        "--forces", type=_forces_arg, default=None, help="'all' (default) or slugs, comma-separated"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--outcomes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also write the outcomes files (default: yes)",
    )
    args = parser.parse_args(argv)
    if args.months < 1:
        parser.error("--months must be at least 1")
    return args


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = generate(
            args.out, args.months, args.end, args.forces, args.seed, args.outcomes, _stderr
        )
    except ValueError as error:
        _stderr(f"bench.generate: {error}")
        return 2
    _stderr(
        f"wrote {summary.files:,} files, {summary.street_rows:,} street rows, "
        f"{summary.outcome_rows:,} outcomes rows, {summary.bytes:,} bytes "
        f"({summary.bytes / 1e9:.2f} GB) to {args.out} in {summary.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
