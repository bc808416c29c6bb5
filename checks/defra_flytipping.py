"""The suites for DEFRA's fly-tipping workbook: its ``LA_actions`` and ``LA_incidents`` sheets.

Both sheets are staged as text with a leading ``row`` (the spreadsheet row, or the CSV line), so
every failure names the file, sheet, row and column. DEFRA's layout: a title row and a group
row above the header, one row per local authority and financial year (``Year`` as ``2021-22``),
``:`` where a figure is not available, and aggregate rows (``ONS Code`` ``*Total``: England and
each region) mixed in. Aggregate rows are not checked beyond their codes and years, and not
loaded: the force's figures are the sum of its own authorities.

Columns are checked with ColumnsInclude, so a later release that adds columns still loads (a
new column is a warning); every column we load must be there. Everything else is one SQL query
per check, so the suite stays cheap.
"""

from __future__ import annotations

import datetime as dt

from safer.checks.models import Check, ColumnsInclude, RowCountBetween, Severity, UnexpectedRows
from safer.kernel.layouts import ACTION_COLUMNS, ACTIONS_SHEET, AGGREGATE, INCIDENT_COLUMNS

__all__ = [
    "KEY_COLUMNS",
    "actions_suite",
    "incidents_suite",
]

KEY_COLUMNS = ("Year", "ONS Code", "LA Name")

# The 2012-13 to 2021-22 workbook's headers (names stripped, as staged); any other column is new.
KNOWN_ACTIONS = (
    *KEY_COLUMNS,
    "Region",
    "Total Actions",
    "Investigation Actions",
    "Investigation Action Costs (£)",
    "Warning Letter Actions",
    "Warning Letter Action Costs (£)",
    "Statutory Notice Actions",
    "Statutory Notice Action Costs (£)",
    "Fixed Penalty Notices issued specifically for fly-tipping",
    "Fixed Penalty Notices issued for Household Duty of Care",
    "Littering Fixed Penalty Notices issued in conjunction with fly-tipping",
    "All Other Fixed Penalty Notices issued",
    "Total Fixed Penalty Notice Actions",
    "Fixed Penalty Notice Action Costs (£)",
    "Duty of Care Inspection Actions",
    "Duty of Care Inspect Action Costs (£)",
    "Stop and Search Actions",
    "Stop and Search Action Costs (£)",
    "Vehicles seized",
    "Vehicles seized cost (£)",
    "Formal Caution Actions",
    "Formal Caution Action Costs (£)",
    "Prosecution Actions",
    "Prosecution Action Costs (£)",
    "Injunction Actions",
    "Injunction Action Costs (£)",
    "Absolute / Cond Discharge Outcomes",
    "Community Service Outcomes",
    "Fine Outcomes (issued by courts)",
    "Custodial Sentence Outcomes",
    "Other (successful) Outcomes",
    "Cases Lost Outcomes",
    "Paid Fixed Penalty Notice Outcomes",
    "£0 to £50 fines",
    "£51 to £200 fines",
    "£201 to £500 fines",
    "£501 to £1000 fines",
    "£1001 to £5000 fines",
    "£5001 to £20000 fines",
    "£20001 to £50000 fines",
    "over £50000 fines",
    "Total fines (£)",
)
_SIZES = ("Single Black Bag", "Single Item", "Car Boot or Less", "Small Van Load")
KNOWN_INCIDENTS = (
    *KEY_COLUMNS,
    "Region",
    "Total Incidents",
    *(
        f"{kind} Incidents"
        for kind in (
            "Highway",
            "Footpath / Bridleway",
            "Back Alleyway",
            "Railway",
            "Council Land",
            "Agricultural",
            "Private / Residential",
            "Commercial / Industrial",
            "Watercourse / Bank",
            "Other (unidentified)",
            "Animal Carcass",
            "Green",
            "Vehicle Parts",
            "White Goods",
            "Other Electrical",
            "Tyres",
            "Asbestos",
            "Clinical",
            "Constr / Demol / Excav",
            "Black Bags - Commercial",
            "Black Bags - Household",
            "Chemical Drums, Oil, Fuel",
            "Other Household Waste",
            "Other Commercial Waste",
            "Primary Waste Type Measures Other (unidentified)",
        )
    ),
    *(f"{size} {what}" for size in _SIZES for what in ("Incidents", "Clearance Costs (£)")),
    "Transit Van Load Incidents",
    "Transit Van Load Clearance Costs (£)",
    "Tipper Lorry Load Incidents",
    "Tipper Lorry Load Clearance Costs (£)",
    "Significant / Multi Loads Incidents",
    "Sig / Multi Loads Clearance Costs (£)",
    "Total Incidents Clearance Costs (£)",
    "Mid population estimates",
    "Incidents per 1,000 people",
    "Reporting basis",
)

_LA_ROW = f"NOT {AGGREGATE}"

# At most 18 digits: any more would not fit the BIGINT it is stored as (2**63 has 19).
_COUNT = r"'^\s*([0-9]{{1,18}}|:)\s*$'"
_ONS_CODE = "'^[EW][0-9]{{8}}$'"
_YEAR = "'^20[0-9]{{2}}-[0-9]{{2}}$'"
LA_ROWS_PER_YEAR = (250, 400)
"""England had 326 districts and unitaries in 2012-13 and 309 in 2021-22; mergers go on."""


def actions_suite(
    where: str, header_row: int, force_las: tuple[str, ...], as_of: dt.date
) -> list[Check]:
    """Every check the actions table (``LA_actions``, or a CSV release of it) must pass;
    ``where`` names the file and sheet, ``force_las`` the ONS codes of the force's LAs."""
    checks = _sheet_suite("actions", where, header_row, force_las, as_of, KNOWN_ACTIONS)
    checks.insert(
        0, _columns("actions", where, header_row, (*KEY_COLUMNS, *ACTION_COLUMNS.values()))
    )
    checks += [_count("actions", where, column, name) for column, name in ACTION_COLUMNS.items()]
    checks.append(_total_covers_parts(where))
    return checks


def incidents_suite(
    where: str, header_row: int, force_las: tuple[str, ...], as_of: dt.date
) -> list[Check]:
    """Every check the ``LA_incidents`` sheet must pass (a workbook release only)."""
    checks = _sheet_suite("incidents", where, header_row, force_las, as_of, KNOWN_INCIDENTS)
    checks.insert(
        0, _columns("incidents", where, header_row, (*KEY_COLUMNS, *INCIDENT_COLUMNS.values()))
    )
    checks += [
        _count("incidents", where, column, name) for column, name in INCIDENT_COLUMNS.items()
    ]
    checks.append(
        # Incidents are joined to the actions rows; one with no actions row would be dropped.
        Check(
            "incidents_match_actions",
            Severity.WARNING,
            f"every authority's row in {where} has its {ACTIONS_SHEET} row (same ONS Code "
            "and Year)",
            UnexpectedRows(
                'SELECT i.row, i."ONS Code", i."Year" FROM (SELECT row, "ONS Code", "Year" '
                f"FROM {{batch}} WHERE {_LA_ROW}) i LEFT JOIN actions a "
                'ON trim(a."ONS Code") = trim(i."ONS Code") AND trim(a."Year") = trim(i."Year") '
                "WHERE a.row IS NULL"
            ),
        )
    )
    return checks


def _sheet_suite(
    table: str,
    where: str,
    header_row: int,
    force_las: tuple[str, ...],
    as_of: dt.date,
    known: tuple[str, ...],
) -> list[Check]:
    """The checks both sheets share: shape, codes, years, one row per LA and year, our LAs."""
    error = Severity.ERROR
    return [
        Check(
            f"{table}_has_rows",
            error,
            f"{where} has between {LA_ROWS_PER_YEAR[0]} and 40,000 rows",
            RowCountBetween(LA_ROWS_PER_YEAR[0], 40_000),
        ),
        _new_columns(table, where, known),
        _rows(
            f"{table}_year_format",
            f"every Year in {where} is a financial year (YYYY-YY) ended before {as_of:%-d %b %Y}",
            f"NOT regexp_matches(coalesce(trim(\"Year\"), ''), {_YEAR}) "
            """OR (TRY_CAST(substr(trim("Year"), 3, 2) AS INTEGER) + 1) % 100 """
            """<> TRY_CAST(right(trim("Year"), 2) AS INTEGER) """
            """OR make_date(TRY_CAST(left(trim("Year"), 4) AS INTEGER) + 1, 3, 31) """
            f">= DATE '{as_of.isoformat()}'",
            "ONS Code",
            "Year",
        ),
        _rows(
            f"{table}_ons_code_format",
            f"every ONS Code in {where} is an LA code (E06000006) or DEFRA's total marker (*Total)",
            f"NOT (regexp_matches(coalesce(trim(\"ONS Code\"), ''), {_ONS_CODE}) OR {AGGREGATE})",
            "ONS Code",
            "LA Name",
        ),
        Check(
            f"{table}_one_row_per_la_and_year",
            error,
            f"{where} has one row per ONS Code and Year (totals aside)",
            UnexpectedRows(
                'SELECT min(row) AS row, trim("ONS Code") AS "ONS Code", trim("Year") AS "Year", '
                f"max(row) AS again_in_row FROM {{batch}} WHERE {_LA_ROW} "
                "GROUP BY 2, 3 HAVING count(*) > 1"
            ),
        ),
        _force_las_present(table, where, force_las),
        Check(
            f"{table}_rows_per_year",
            error,
            f"every Year in {where} has between {LA_ROWS_PER_YEAR[0]} and {LA_ROWS_PER_YEAR[1]} "
            "authorities' rows (England's districts and unitaries)",
            UnexpectedRows(
                'SELECT min(row) AS row, trim("Year") AS "Year", count(*) AS authorities '
                f"FROM {{batch}} WHERE {_LA_ROW} GROUP BY 2 "
                f"HAVING count(*) NOT BETWEEN {LA_ROWS_PER_YEAR[0]} AND {LA_ROWS_PER_YEAR[1]}"
            ),
        ),
    ]


def _columns(table: str, where: str, header_row: int, columns: tuple[str, ...]) -> Check:
    return Check(
        f"{table}_columns_present",
        Severity.ERROR,
        f"{where}, header row {header_row}, has the columns {', '.join(columns)}",
        ColumnsInclude(("row", *columns)),
    )


def _new_columns(table: str, where: str, known: tuple[str, ...]) -> Check:
    """A warning, not ColumnsMatchSet: a failing column-set rule stops every row check
    (``gx_runner._runnable``), and a column DEFRA adds must not switch the suite off."""
    names = ", ".join("'" + name.replace("'", "''") + "'" for name in ("row", *known))
    return Check(
        f"{table}_no_new_columns",
        Severity.WARNING,
        f"{where} has no columns beyond the 2012-13 to 2021-22 layout (new ones are not loaded)",
        UnexpectedRows(
            'SELECT h.row, c.column_name AS "new column" '
            "FROM (SELECT coalesce(min(row), 1) - 1 AS row FROM {batch}) h, "
            f"information_schema.columns c WHERE c.table_name = '{table}' "
            f"AND c.column_name NOT IN ({names})"
        ),
    )


def _force_las_present(table: str, where: str, force_las: tuple[str, ...]) -> Check:
    """A year without one of the force's authorities would leave a CSP, and the force, without
    a figure for it; the row named is the year's first."""
    codes = ", ".join(f"('{code}')" for code in force_las) or "(NULL)"
    return Check(
        f"{table}_force_las_present",
        Severity.ERROR,
        f"every Year in {where} has a row for each of the force's authorities "
        f"({', '.join(force_las)}); the row named is the year's first",
        UnexpectedRows(
            'SELECT y.row, y.year AS "Year", f.code AS "missing ONS Code" FROM '
            '(SELECT min(row) AS row, trim("Year") AS year FROM {batch} '
            'WHERE trim("Year") IS NOT NULL GROUP BY 2) y '
            f"CROSS JOIN (VALUES {codes}) f(code) "
            # GX puts {batch} in as "(...) AS subselect": wrapped again so it can be aliased.
            'LEFT JOIN (SELECT trim("Year") AS year, trim("ONS Code") AS code FROM {batch}) b '
            "ON b.year = y.year AND b.code = f.code WHERE b.code IS NULL"
        ),
    )


def _count(table: str, where: str, column: str, name: str) -> Check:
    """One check per loaded column, so a failure names it."""
    return _rows(
        f"{table}_{column}_number",
        f"every {name} in {where} is a whole number (at most 18 digits), or ':' (not "
        "available), for each authority",
        f"{_LA_ROW} AND NOT regexp_matches(coalesce(\"{name}\", ''), {_COUNT})",
        "ONS Code",
        name,
    )


def _total_covers_parts(where: str) -> Check:
    """In 2012-13 to 2021-22 Total Actions is exactly the sum of the ten action columns for every
    authority; smaller would mean a figure is wrong (larger may be a new kind of action)."""
    parts = [name for column, name in ACTION_COLUMNS.items() if column != "total_actions"]
    total = " + ".join(_num(name) for name in parts)
    return Check(
        "actions_total_covers_parts",
        Severity.WARNING,
        f"in every authority's row of {where} Total Actions is at least the sum of "
        + ", ".join(parts),
        UnexpectedRows(
            f'SELECT row, "ONS Code", "Year", "Total Actions", {total} AS "sum of the actions" '
            f'FROM {{batch}} WHERE {_LA_ROW} AND TRY_CAST(trim("Total Actions") AS BIGINT) < '
            f"{total}"
        ),
    )


def _rows(check_id: str, description: str, condition: str, *columns: str) -> Check:
    """An error-level check: rows meeting ``condition`` fail, shown with ``columns``."""
    shown = ", ".join(f'"{c}"' for c in columns)
    return Check(
        check_id,
        Severity.ERROR,
        description,
        UnexpectedRows(f"SELECT row, {shown} FROM {{batch}} WHERE {condition}"),
    )


def _num(name: str) -> str:
    return f'coalesce(TRY_CAST(trim("{name}") AS BIGINT), 0)'
