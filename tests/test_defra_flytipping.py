"""DEFRA's fly-tipping workbook: the real file from a path and over loopback HTTP, its figures
against the workbook's cells read independently with openpyxl, a CSV release, the indicators per
partnership and for the force, and bad files (built from a one-year cut of the real workbook)
quarantined naming the file, sheet, row and column."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from safer.app.batch import sync_source
from safer.indicators.definitions import load_catalogue
from safer.indicators.evaluate import Measured
from safer.indicators.measure import measure
from safer.kernel.config import Settings, load_config
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.defra_flytipping import DEFRA_FLYTIPPING
from safer.pipelines.source import BatchOutcome, SourceContext
from safer.store.db import connect
from tests.conftest import ROOT, write_config

Clock = Callable[[], dt.datetime]
Row = Sequence[Any]
Sheets = dict[str, list[Row]]
Cut = dict[str, list[list[Any]]]
"""Sheets as lists, to be changed."""
WORKBOOK = ROOT / "data" / "defra-fly-tipping" / "Flytipping.xlsx"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACTIONS, INCIDENTS = "LA_actions", "LA_incidents"
AS_OF = dt.date(2026, 1, 15)
FORCE = "E23000006"
# The force's four authorities and their partnerships (one authority each).
CSP_OF = {
    "E06000049": "E22000354",  # Cheshire East ("Cheshire" in LA_actions 2020-21)
    "E06000050": "E22000355",  # Cheshire West and Chester
    "E06000006": "E22000023",  # Halton ("Halton " in 2018-19)
    "E06000007": "E22000026",  # Warrington ("Warrington  " in 2019-20)
}
HALTON, WARRINGTON = "E06000006", "E06000007"
# Each loaded column and the workbook column it comes from, written out here on purpose.
LOADED = {
    ACTIONS: {
        "total_actions": "Total Actions",
        "investigations": "Investigation Actions",
        "warning_letters": "Warning Letter Actions",
        "statutory_notices": "Statutory Notice Actions",
        "fixed_penalty_notices": "Total Fixed Penalty Notice Actions",
        "duty_of_care_inspections": "Duty of Care Inspection Actions",
        "stop_and_search": "Stop and Search Actions",
        "vehicles_seized": "Vehicles seized",
        "formal_cautions": "Formal Caution Actions",
        "injunctions": "Injunction Actions",
        "prosecutions": "Prosecution Actions",
    },
    INCIDENTS: {"incidents": "Total Incidents"},
}
HEADER = 2  # index of the header row (spreadsheet row 3)


@pytest.fixture(scope="module")
def book() -> Sheets:
    """The two sheets as openpyxl reads them, independently of the pipeline's reader."""
    import openpyxl

    workbook = openpyxl.load_workbook(WORKBOOK, read_only=True, data_only=True)
    try:
        return {
            # Tuples: the GC stops tracking tuples of plain values, so holding 6,600 rows does
            # not slow down the collections gx_runner makes after each suite.
            name: [tuple(row) for row in workbook[name].iter_rows(values_only=True)]
            for name in (ACTIONS, INCIDENTS)
        }
    finally:
        workbook.close()


def _clock() -> Clock:
    start = dt.datetime(2026, 1, 15, 6, 0, tzinfo=dt.UTC)
    ticks = itertools.count()
    return lambda: start + dt.timedelta(seconds=next(ticks))


def _settings(folder: Path, location: str) -> Settings:
    extra = f'\n[sources.defra_flytipping]\nlocation = "{location}"\nretries = 0\n'
    return load_config(write_config(folder, "unused", ["2025-01"], extra=extra))


def _sync(settings: Settings, clock: Clock) -> list[BatchOutcome]:
    with connect(settings.database.path) as db:
        load_lookup(db)
        load_forces(db)
        force_areas(db, settings.force.pfa_code)
        return sync_source(db, DEFRA_FLYTIPPING, SourceContext(settings, "run-1", AS_OF, clock))


def _measure(settings: Settings, indicator_id: str) -> Measured:
    with connect(settings.database.path) as db:
        return measure(db, load_catalogue().get(indicator_id), FORCE, DEFRA_FLYTIPPING)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, BatchOutcome]]:
    """The real workbook loaded once from a local path, for the tests that read its figures."""
    folder = tmp_path_factory.mktemp("workbook")
    settings = _settings(folder, str(WORKBOOK))
    [outcome] = _sync(settings, _clock())
    yield settings, outcome


def _columns(rows: Sequence[Row]) -> dict[str, int]:
    return {str(name).strip(): i for i, name in enumerate(rows[HEADER]) if name is not None}


def _cell(value: object) -> object:
    return None if value == ":" else value


def _la_rows(rows: Sequence[Row]) -> list[tuple[int, Row]]:
    """(spreadsheet row, cells) of each authority's row: DEFRA's *Total rows left out."""
    return [(n, r) for n, r in enumerate(rows, start=1) if n > HEADER + 1 and r[1] != "*Total"]


def test_the_workbook_loads_every_authority_and_year_and_all_its_checks_pass(
    loaded: tuple[Settings, BatchOutcome], book: Sheets
) -> None:
    settings, outcome = loaded
    authorities = len(_la_rows(book[ACTIONS]))

    assert (outcome.slot, outcome.outcome) == ("Flytipping.xlsx", "loaded"), outcome.message
    assert (
        outcome.message == f"{authorities:,} rows, {authorities - 40:,} outside the force's areas"
    )
    with connect(settings.database.path) as db:
        assert db.rows("SELECT check_id, message FROM check_results WHERE NOT success") == []
        assert db.scalar("SELECT count(*) FROM check_results") > 30
        periods = db.rows("SELECT period FROM source_periods ORDER BY 1")
        assert [p[0] for p in periods] == [dt.date(y, 4, 1) for y in range(2012, 2022)]
        assert db.scalar("SELECT count(*) FROM defra_flytipping WHERE la_code LIKE '*%'") == 0
        assert DEFRA_FLYTIPPING.expected(db, settings, AS_OF) == [
            dt.date(2022, 4, 1),
            dt.date(2023, 4, 1),
            dt.date(2024, 4, 1),
        ]
    # 2021-22 ends 31 March 2022; DEFRA's figures are due 300 days later.
    assert DEFRA_FLYTIPPING.due(settings, dt.date(2021, 4, 1)) == dt.date(2023, 1, 25)


def test_a_second_sync_finds_the_workbook_unchanged(loaded: tuple[Settings, BatchOutcome]) -> None:
    settings, first = loaded

    assert _sync(settings, _clock()) == [
        BatchOutcome(
            "defra_flytipping",
            "Flytipping.xlsx",
            dt.date(2021, 4, 1),
            "unchanged",
            "no change since it was loaded",
            first.batch_id,
        )
    ]


def test_the_force_authorities_figures_equal_the_workbook_cells(
    loaded: tuple[Settings, BatchOutcome], book: Sheets
) -> None:
    settings, _ = loaded
    with connect(settings.database.path) as db:
        stored = {
            (r["la_code"], r["period"]): r
            for r in db.dicts(
                "SELECT * FROM defra_flytipping WHERE la_code IN (?, ?, ?, ?)", [*CSP_OF]
            )
        }
    compared = 0
    for sheet, loaded_columns in LOADED.items():
        rows = book[sheet]
        index = _columns(rows)
        for number, cells in _la_rows(rows):
            if cells[1] not in CSP_OF:
                continue
            row = stored[(cells[1], dt.date(int(cells[0][:4]), 4, 1))]
            assert row["actions_row" if sheet == ACTIONS else "incidents_row"] == number
            if sheet == ACTIONS:
                assert row["la_name"] == cells[2].strip()
            for column, name in loaded_columns.items():
                assert row[column] == _cell(cells[index[name]]), (sheet, number, name)
                compared += 1
    assert compared == 4 * 10 * 12
    assert stored[("E06000049", dt.date(2020, 4, 1))]["la_name"] == "Cheshire"
    halton = stored[(HALTON, dt.date(2021, 4, 1))]
    assert (halton["warning_letters"], halton["total_actions"], halton["incidents"]) == (
        143,
        367,
        429,
    )


def test_the_indicators_give_each_partnership_its_authority_and_the_force_their_sum(
    loaded: tuple[Settings, BatchOutcome], book: Sheets
) -> None:
    settings, _ = loaded
    index = _columns(book[ACTIONS])
    letters = {
        (cells[1], cells[0]): cells[index["Warning Letter Actions"]]
        for _, cells in _la_rows(book[ACTIONS])
    }

    found = _measure(settings, "flytipping_warning_letters")

    for year in range(2012, 2022):
        label = f"{year}-{(year + 1) % 100:02d}"
        start = dt.date(year, 4, 1)
        for la, csp in CSP_OF.items():
            assert found.periods[(csp, start)].numerator == letters[(la, label)]
        total = sum(letters[(la, label)] for la in CSP_OF)
        assert found.periods[(FORCE, start)].numerator == total
    assert found.periods[(CSP_OF[HALTON], dt.date(2021, 4, 1))].value == 143
    assert found.periods[(FORCE, dt.date(2021, 4, 1))].value == 2 + 64 + 143 + 110

    ratio = _measure(settings, "flytipping_actions_per_incident")
    halton = ratio.periods[(CSP_OF[HALTON], dt.date(2021, 4, 1))]
    assert (halton.numerator, halton.denominator) == (367, 429)
    force = ratio.periods[(FORCE, dt.date(2021, 4, 1))]
    assert (force.numerator, force.denominator) == (
        198 + 1312 + 367 + 1212,
        4456 + 4762 + 429 + 1073,
    )


def test_it_fetches_the_workbook_over_http(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/media/Flytipping.xlsx").respond_with_data(
        WORKBOOK.read_bytes(), content_type=XLSX_TYPE
    )
    settings = _settings(tmp_path, httpserver.url_for("/media/Flytipping.xlsx"))

    [outcome] = _sync(settings, _clock())

    assert (outcome.slot, outcome.outcome) == ("Flytipping.xlsx", "loaded"), outcome.message
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT url FROM load_ledger") == httpserver.url_for(
            "/media/Flytipping.xlsx"
        )
        assert db.scalar("SELECT count(DISTINCT period) FROM defra_flytipping") == 10


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_a_csv_release_of_the_actions_sheet_loads_without_incidents_warnings_beside(
    tmp_path: Path, book: Sheets
) -> None:
    """A CSV release is LA_actions as one file; its title rows may stay above the header. A
    column DEFRA adds, and a Total Actions short of its parts, are warnings: it still loads."""
    rows = [[_csv_cell(c) for c in row[: len(_columns(book[ACTIONS]))]] for row in book[ACTIONS]]
    for number, row in enumerate(rows, start=1):
        row.append("Community Protection Notices" if number == HEADER + 1 else "0")
    york = rows[-1]  # 2021-22, E06000014: Total Actions 2199, the sum of its actions
    assert (york[1], york[4]) == ("E06000014", "2199")
    york[4] = "2000"
    path = tmp_path / "LA_actions.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    settings = _settings(tmp_path, str(path))

    [outcome] = _sync(settings, _clock())

    assert (outcome.slot, outcome.outcome) == ("LA_actions.csv", "loaded"), outcome.message
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM defra_flytipping") == len(_la_rows(book[ACTIONS]))
        assert db.scalar("SELECT count(incidents) FROM defra_flytipping") == 0
        halton = db.dicts(
            "SELECT * FROM defra_flytipping WHERE la_code = ? AND period = ?",
            [HALTON, dt.date(2021, 4, 1)],
        )[0]
        warnings = dict(db.rows("SELECT check_id, message FROM check_results WHERE NOT success"))
    assert (halton["warning_letters"], halton["actions_row"], halton["incidents_row"]) == (
        143,
        3126,
        None,
    )
    assert sorted(warnings) == ["actions_no_new_columns", "actions_total_covers_parts"]
    assert "row 3, new column 'Community Protection Notices'" in warnings["actions_no_new_columns"]
    assert (
        f"row {len(rows)}, ONS Code 'E06000014', Year '2021-22', Total Actions '2000'"
        in (warnings["actions_total_covers_parts"])
    )
    letters = _measure(settings, "flytipping_warning_letters")
    assert letters.periods[(CSP_OF[HALTON], dt.date(2021, 4, 1))].value == 143
    assert _measure(settings, "flytipping_actions_per_incident").periods == {}


# Bad files: the real workbook cut to one year (2021-22, still every authority), then changed.
Change = Callable[[Cut], None]


def _cut(book: Sheets) -> Cut:
    """The title rows, header and 2021-22 rows, in the key columns and the ones loaded: small
    enough to write and read in a fraction of a second, still every authority of the year."""
    cut: Cut = {}
    for name, rows in book.items():
        index = _columns(rows)
        kept = [index[c] for c in ("Year", "ONS Code", "LA Name", "Region", *LOADED[name].values())]
        year = [r for r in rows[HEADER + 1 :] if r[0] == "2021-22"]
        cut[name] = [[r[i] for i in kept] for r in [*rows[: HEADER + 1], *year]]
    return cut


def _copy(sheets: Cut) -> Cut:
    return {name: [list(r) for r in rows] for name, rows in sheets.items()}


def _write(sheets: Cut, path: Path) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def _row(rows: Sequence[Row], la: str) -> int:
    """The spreadsheet row of the authority's (first) row."""
    return next(n for n, r in enumerate(rows, start=1) if r[1] == la)


def _set(sheet: str, la: str, column: str, value: object) -> Change:
    def change(sheets: Cut) -> None:
        rows = sheets[sheet]
        rows[_row(rows, la) - 1][_columns(rows)[column]] = value

    return change


def _rename(sheet: str, old: str, new: str) -> Change:
    def change(sheets: Cut) -> None:
        header = sheets[sheet][HEADER]
        header[header.index(old)] = new

    return change


def _drop_sheet(sheets: Cut) -> None:
    del sheets[INCIDENTS]


def _repeat_halton(sheets: Cut) -> None:
    rows = sheets[ACTIONS]
    rows.append(list(rows[_row(rows, HALTON) - 1]))


def _drop_warrington(sheets: Cut) -> None:
    rows = sheets[INCIDENTS]
    del rows[_row(rows, WARRINGTON) - 1]


@pytest.fixture(scope="module")
def one_year(book: Sheets) -> Cut:
    return _cut(book)


def _cut_settings(tmp_path: Path, sheets: Cut) -> Settings:
    folder = tmp_path / "defra"
    folder.mkdir(exist_ok=True)
    return _settings(tmp_path, str(_write(sheets, folder / "Flytipping.xlsx")))


WHERE_ACTIONS = "Flytipping.xlsx, sheet 'LA_actions'"
WHERE_INCIDENTS = "Flytipping.xlsx, sheet 'LA_incidents'"


def test_the_one_year_cut_loads_and_a_bad_replacement_leaves_it_in_use(
    tmp_path: Path, one_year: Cut
) -> None:
    settings = _cut_settings(tmp_path, one_year)
    [good] = _sync(settings, _clock())
    assert good.outcome == "loaded", good.message
    bad = _copy(one_year)
    _set(ACTIONS, HALTON, "Year", "2021/22")(bad)
    _cut_settings(tmp_path, bad)

    [outcome] = _sync(settings, _clock())

    assert outcome.outcome == "quarantined"
    halton = _row(bad[ACTIONS], HALTON)
    assert "actions_year_format failed: every Year in " + WHERE_ACTIONS in outcome.message
    assert f"row {halton}, ONS Code 'E06000006', Year '2021/22'" in outcome.message
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT DISTINCT batch_id FROM defra_flytipping") == good.batch_id


@pytest.mark.parametrize(
    ("change", "check", "named"),
    [
        (
            _set(ACTIONS, HALTON, "Warning Letter Actions", "about 140"),
            "actions_warning_letters_number",
            [
                WHERE_ACTIONS,
                "row {halton}, ONS Code 'E06000006', Warning Letter Actions 'about 140'",
            ],
        ),
        (
            _rename(ACTIONS, "Prosecution Actions", "Prosecutions"),
            "actions_columns_present",
            [f"{WHERE_ACTIONS}, header row 3,", "missing 'Prosecution Actions'"],
        ),
        (
            _rename(ACTIONS, "ONS Code", "LA Code"),
            "parses_as_csv",
            [
                f"{WHERE_ACTIONS}: no header row with the columns 'ONS Code', 'Year'",
                "is this the right file or template?",
            ],
        ),
        (
            _drop_sheet,
            "parses_as_csv",
            ["Flytipping.xlsx: no sheet 'LA_incidents'; the workbook has LA_actions"],
        ),
        (
            _repeat_halton,
            "actions_one_row_per_la_and_year",
            [WHERE_ACTIONS, "row {halton}, ONS Code 'E06000006', Year '2021-22', again_in_row"],
        ),
        (
            _drop_warrington,
            "incidents_force_las_present",
            [WHERE_INCIDENTS, "row 4, Year '2021-22', missing ONS Code 'E06000007'"],
        ),
    ],
)
def test_a_bad_workbook_is_quarantined_naming_file_sheet_row_and_column(
    tmp_path: Path, one_year: Cut, change: Change, check: str, named: list[str]
) -> None:
    sheets = _copy(one_year)
    change(sheets)
    settings = _cut_settings(tmp_path, sheets)

    [outcome] = _sync(settings, _clock())

    assert outcome.outcome == "quarantined", outcome.message
    assert check in outcome.message
    halton = _row(sheets[ACTIONS], HALTON)
    for text in named:
        assert text.format(halton=halton) in outcome.message, outcome.message
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM defra_flytipping") == 0
        assert check in {r[0] for r in db.rows("SELECT check_id FROM quarantine")}
