"""The council enforcement return: the marked example files (CSV and XLSX) from a folder and over
loopback HTTP, partnerships' files side by side, corrections replacing only their own figures,
measured figures against an independent sum, and bad files quarantined naming file, row and
column."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from safer.app.batch import sync_source
from safer.indicators.definitions import load_catalogue
from safer.indicators.evaluate import Measured
from safer.indicators.measure import measure
from safer.kernel.config import Settings, load_config
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.council_enforcement import COUNCIL_ENFORCEMENT
from safer.pipelines.source import BatchOutcome, SourceContext
from safer.store.db import connect
from tests.conftest import ROOT, write_config

Clock = Callable[[], dt.datetime]
Rows = list[dict[str, str]]
EXAMPLES = ROOT / "data" / "examples" / "council-enforcement"
AS_OF = dt.date(2026, 1, 15)
FORCE = "E23000006"
HALTON, WARRINGTON = "E22000023", "E22000026"
Q1, Q2 = "council-enforcement-EXAMPLE-2025-26-Q1.csv", "council-enforcement-EXAMPLE-2025-26-Q2.csv"
Q3_XLSX = "council-enforcement-EXAMPLE-2025-26-Q3.xlsx"
# What each indicator adds up, written out here rather than read from the catalogue.
SUMMED = {
    "asb_formal_powers": {
        "community_protection_warning",
        "community_protection_notice",
        "civil_injunction",
        "criminal_behaviour_order",
        "closure_order",
    },
    "asb_early_interventions": {"asb_warning_letter", "acceptable_behaviour_contract"},
    "pspo_fixed_penalty_notices": {"pspo_fixed_penalty_notice"},
    "env_fixed_penalty_notices": {"env_fixed_penalty_notice"},
    "env_incidents_investigated": {"env_incidents_investigated"},
}


def _settings(tmp_path: Path, location: str, files: str = "") -> Settings:
    extra = f'\n[sources.council_enforcement]\nlocation = "{location}"\nretries = 0\n{files}\n'
    return load_config(write_config(tmp_path, "unused", ["2025-01"], extra=extra))


def _sync(settings: Settings, clock: Clock) -> list[BatchOutcome]:
    with connect(settings.database.path) as db:
        load_lookup(db)
        load_forces(db)
        force_areas(db, settings.force.pfa_code)
        ctx = SourceContext(settings, "run-1", AS_OF, clock)
        return sync_source(db, COUNCIL_ENFORCEMENT, ctx)


def _measure(settings: Settings, *indicator_ids: str) -> dict[str, Measured]:
    catalogue = load_catalogue()
    with connect(settings.database.path) as db:
        return {i: measure(db, catalogue.get(i), FORCE, COUNCIL_ENFORCEMENT) for i in indicator_ids}


def _folder(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "returns"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def _rows(name: str = Q1) -> Rows:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _write(
    path: Path, rows: Rows, columns: list[str] | None = None, encoding: str = "utf-8"
) -> None:
    columns = columns or list(_rows()[0])
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.DictWriter(out, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _sums(rows: Rows, actions: set[str]) -> dict[str, int]:
    """Per partnership, the counts of ``actions``: an independent reading of the file."""
    found: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["action_type"] in actions:
            found[row["csp_code"]] += int(row["count"])
    return dict(found)


def _values(found: Measured, period: dt.date) -> dict[str, float | None]:
    return {area: o.value for (area, start), o in found.periods.items() if start == period}


def test_a_folder_of_returns_loads_and_each_indicator_is_the_sum_of_its_action_types(
    tmp_path: Path, clock: Clock
) -> None:
    folder = _folder(tmp_path, Q1, Q2, Q3_XLSX)
    (folder / f"~${Q3_XLSX}").write_text("Excel's lock file")
    (folder / "notes.txt").write_text("not a return")
    settings = _settings(tmp_path, str(folder))

    outcomes = _sync(settings, clock)

    assert [(o.slot, o.outcome, o.message) for o in outcomes] == [
        (name, "loaded", "48 rows, 0 outside the force's areas") for name in (Q1, Q2, Q3_XLSX)
    ]
    measured = _measure(settings, *SUMMED, "env_fpns_per_incident")
    for name, quarter in ((Q1, dt.date(2025, 4, 1)), (Q2, dt.date(2025, 7, 1))):
        rows = _rows(name)
        for indicator, actions in SUMMED.items():
            csps = _sums(rows, actions)
            assert len(csps) == 4
            expected = {**csps, FORCE: sum(csps.values())}
            assert _values(measured[indicator], quarter) == expected, indicator
        fpns = _sums(rows, SUMMED["env_fixed_penalty_notices"])
        incidents = _sums(rows, SUMMED["env_incidents_investigated"])
        ratio = _values(measured["env_fpns_per_incident"], quarter)
        assert ratio[HALTON] == pytest.approx(fpns[HALTON] / incidents[HALTON])
        assert ratio[FORCE] == pytest.approx(sum(fpns.values()) / sum(incidents.values()))
    assert _sync(settings, clock) == [
        BatchOutcome(
            o.source, o.slot, o.period, "unchanged", "no change since it was loaded", o.batch_id
        )
        for o in outcomes
    ]
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM council_enforcement") == 3 * 48


def test_an_xlsx_return_loads_like_its_csv(tmp_path: Path, clock: Clock) -> None:
    import openpyxl

    folder = tmp_path / "returns"
    folder.mkdir()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "return"
    rows = _rows(Q1)
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append([int(v) if v.isdigit() else v for v in row.values()])
    book.save(folder / "q1.xlsx")
    settings = _settings(tmp_path, str(folder))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "loaded", outcome.message
    with connect(settings.database.path) as db:
        stored = db.rows(
            "SELECT csp_code, action_type, count, record_no, period FROM council_enforcement"
        )
    assert sorted(stored) == sorted(
        (r["csp_code"], r["action_type"], int(r["count"]), n, dt.date(2025, 4, 1))
        for n, r in enumerate(rows, start=2)
    )


def test_it_fetches_the_configured_files_over_http(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    for name in (Q2, Q3_XLSX):
        httpserver.expect_request(f"/returns/{name}").respond_with_data(
            (EXAMPLES / name).read_bytes()
        )
    files = f'files = ["{Q2}", "{Q3_XLSX}"]'
    settings = _settings(tmp_path, httpserver.url_for("/returns"), files)

    outcomes = _sync(settings, clock)

    assert [(o.slot, o.outcome) for o in outcomes] == [(Q2, "loaded"), (Q3_XLSX, "loaded")]
    with connect(settings.database.path) as db:
        assert db.rows("SELECT DISTINCT period FROM council_enforcement ORDER BY 1") == [
            (dt.date(2025, 7, 1),),
            (dt.date(2025, 10, 1),),
        ]


def _of(rows: Rows, csp: str) -> Rows:
    return [r for r in rows if r["csp_code"] == csp]


def test_partnerships_files_coexist_and_a_correction_under_its_name_replaces_only_its_own(
    tmp_path: Path, clock: Clock
) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    rows = _rows(Q1)
    _write(folder / "halton-q1.csv", _of(rows, HALTON))
    _write(folder / "warrington-q1.csv", _of(rows, WARRINGTON))
    settings = _settings(tmp_path, str(folder))
    first = {o.slot: o for o in _sync(settings, clock)}
    assert {s: o.outcome for s, o in first.items()} == dict.fromkeys(
        ("halton-q1.csv", "warrington-q1.csv"), "loaded"
    )
    q1 = dt.date(2025, 4, 1)

    powers = _measure(settings, "asb_formal_powers")["asb_formal_powers"]
    sums = _sums(rows, SUMMED["asb_formal_powers"])
    assert _values(powers, q1) == {HALTON: sums[HALTON], WARRINGTON: sums[WARRINGTON]}
    assert (FORCE, q1) not in powers.periods, "two of four partnerships make no force figure"

    corrected = [
        {**r, "count": str(int(r["count"]) + 5)} if r["action_type"] == "closure_order" else r
        for r in _of(rows, HALTON)
    ]
    _write(folder / "halton-q1.csv", corrected)
    outcomes = {o.slot: o for o in _sync(settings, clock)}

    revised = outcomes["halton-q1.csv"]
    assert revised.outcome == "revised", revised.message
    assert f"(revises {first['halton-q1.csv'].batch_id})" in revised.message
    assert {o.outcome for s, o in outcomes.items() if s != revised.slot} == {"unchanged"}
    after = _values(_measure(settings, "asb_formal_powers")["asb_formal_powers"], q1)
    assert after == {HALTON: sums[HALTON] + 5, WARRINGTON: sums[WARRINGTON]}
    with connect(settings.database.path) as db:
        files = db.rows(
            "SELECT csp_code, file_name, count(*) FROM council_enforcement WHERE period = ? "
            "GROUP BY ALL ORDER BY 1",
            [q1],
        )
    assert files == [(HALTON, "halton-q1.csv", 12), (WARRINGTON, "warrington-q1.csv", 12)]


def _bad(tmp_path: Path, change: Callable[[Rows], Rows], name: str = "bad.csv") -> Path:
    folder = tmp_path / "returns"
    folder.mkdir()
    _write(folder / name, change(_rows(Q1)))
    return folder


def _set(index: int, column: str, value: str) -> Callable[[Rows], Rows]:
    """The file with one cell changed (row ``index + 2`` as the sender sees it)."""
    return lambda rows: [{**r, column: value} if i == index else r for i, r in enumerate(rows)]


@pytest.mark.parametrize(
    ("change", "check", "named"),
    [
        (
            lambda rows: [{**r, "template_version": "council-enforcement-v0"} for r in rows],
            "template_version",
            "row 2, template_version 'council-enforcement-v0'",
        ),
        (
            lambda rows: _set(4, "count", "5.5")(_set(3, "count", "ten")(rows)),
            "count_whole_number",
            "(2 failing); e.g. row 5, count 'ten'; row 6, count '5.5'",
        ),
        (_set(0, "csp_code", "E22000027"), "csp_known", "row 2, csp_code 'E22000027'"),
        (_set(7, "action_type", "dog_fouling"), "action_type_known", "row 9, action_type"),
        (
            lambda rows: rows[:13] + rows[14:],
            "every_action_type_present",
            "row 14, csp_code 'E22000355', financial_year '2025/26', quarter 'Q1', "
            "missing_action_types 'community_protection_warning'",
        ),
        (
            lambda rows: [*rows, rows[5]],
            "one_row_per_action",
            "row 7, csp_code 'E22000354', financial_year '2025/26', quarter 'Q1', "
            "action_type 'criminal_behaviour_order', rows '7, 50'",
        ),
        (
            lambda rows: [{**r, "quarter": "Q4"} for r in rows],
            "quarter_ended",
            "row 2, financial_year '2025/26', quarter 'Q4'",
        ),
        (_set(2, "financial_year", "2025/27"), "financial_year_valid", "row 4, financial_year"),
    ],
)
def test_a_bad_return_is_quarantined_naming_file_row_and_column(
    tmp_path: Path, clock: Clock, change: Callable[[Rows], Rows], check: str, named: str
) -> None:
    settings = _settings(tmp_path, str(_bad(tmp_path, change)))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "quarantined"
    assert f"{check} failed: " in outcome.message and "bad.csv" in outcome.message
    assert named in outcome.message, outcome.message
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM council_enforcement") == 0
        assert check in {r[0] for r in db.rows("SELECT check_id FROM quarantine")}


def test_a_bad_workbook_names_its_sheet(tmp_path: Path, clock: Clock) -> None:
    import openpyxl

    folder = _folder(tmp_path, Q3_XLSX)
    book = openpyxl.load_workbook(folder / Q3_XLSX)
    book["return"]["G10"] = "lots"
    book.save(folder / Q3_XLSX)
    settings = _settings(tmp_path, str(folder))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "quarantined"
    assert f"every count in {Q3_XLSX}, sheet 'return' is a whole number" in outcome.message
    assert "row 10, count 'lots'" in outcome.message


@pytest.mark.parametrize(
    ("columns", "drift"),
    [
        (lambda c: [x for x in c if x != "count"], "found missing 'count'"),
        (
            lambda c: [x if x != "count" else "total" for x in c],
            "missing 'count'; unexpected 'total'",
        ),
    ],
)
def test_a_missing_or_renamed_column_is_named(
    tmp_path: Path, clock: Clock, columns: Callable[[list[str]], list[str]], drift: str
) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    rows = [{**r, "total": r["count"]} for r in _rows(Q1)]
    _write(folder / "short.csv", rows, columns(list(_rows(Q1)[0])))
    settings = _settings(tmp_path, str(folder))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "quarantined"
    assert "columns_as_template failed: short.csv has exactly the" in outcome.message
    assert drift in outcome.message, outcome.message


def test_a_file_that_is_not_the_template_fails_clearly(tmp_path: Path, clock: Clock) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    (folder / "wrong.csv").write_text("Council,ASB\nHalton,12\n", encoding="utf-8")
    settings = _settings(tmp_path, str(folder))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "quarantined"
    assert "wrong.csv: no header row with the columns 'action_type', 'template_version'" in (
        outcome.message
    )


def test_a_windows_1252_file_loads_and_a_misspelt_name_is_only_a_warning(
    tmp_path: Path, clock: Clock
) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    rows = [
        {**r, "notes": "EXAMPLE: £100 fines, café closure", "csp_name": "Haltn"}
        for r in _of(_rows(Q2), HALTON)
    ]
    _write(folder / "halton-q2.csv", rows, encoding="cp1252")
    assert b"\xa3100" in (folder / "halton-q2.csv").read_bytes(), "£ as Windows-1252 writes it"
    settings = _settings(tmp_path, str(folder))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "loaded", outcome.message
    with connect(settings.database.path) as db:
        assert db.rows(
            "SELECT DISTINCT notes FROM council_enforcement WHERE period = ?", [dt.date(2025, 7, 1)]
        ) == [("EXAMPLE: £100 fines, café closure",)]
        warned = db.rows(
            "SELECT check_id, message FROM check_results WHERE NOT success AND batch_id = ?",
            [outcome.batch_id],
        )
    assert [w[0] for w in warned] == ["csp_name_matches"]
    assert f"row 2, csp_code '{HALTON}', csp_name 'Haltn'" in warned[0][1]
