"""The call-handling return: real-format files (the marked examples) from a folder and over
loopback HTTP, bad files quarantined with the file, row and column named."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from safer.app.batch import sync_source
from safer.indicators.definitions import load_catalogue
from safer.indicators.measure import measure
from safer.kernel.config import Settings, load_config
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.call_handling import CALL_HANDLING
from safer.pipelines.source import BatchOutcome, SourceContext
from safer.store.db import connect
from tests.conftest import ROOT, write_config

Clock = Callable[[], dt.datetime]
EXAMPLES = ROOT / "data" / "examples" / "call-handling"
AS_OF = dt.date(2026, 1, 15)


def _settings(tmp_path: Path, location: str, files: str = "") -> Settings:
    extra = f'\n[sources.call_handling]\nlocation = "{location}"\nretries = 0\n{files}\n'
    return load_config(write_config(tmp_path, "unused", ["2025-01"], extra=extra))


def _sync(settings: Settings, clock: Clock) -> list[BatchOutcome]:
    with connect(settings.database.path) as db:
        load_lookup(db)
        load_forces(db)
        force_areas(db, settings.force.pfa_code)
        return sync_source(db, CALL_HANDLING, SourceContext(settings, "run-1", AS_OF, clock))


def _folder(tmp_path: Path, *months: str) -> Path:
    folder = tmp_path / "returns"
    folder.mkdir(exist_ok=True)
    for month in months:
        name = f"call-handling-EXAMPLE-{month}.csv"
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def _rows(month: str) -> list[dict[str, str]]:
    text = (EXAMPLES / f"call-handling-EXAMPLE-{month}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _write(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
    columns = columns or list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def test_it_loads_each_file_in_the_folder_and_measures_the_force(
    tmp_path: Path, clock: Clock
) -> None:
    folder = _folder(tmp_path, "2025-04", "2025-05", "2025-06")
    (folder / "~$call-handling-EXAMPLE-2025-06.csv").write_text("Excel's lock file")
    (folder / "notes.txt").write_text("not a return")
    settings = _settings(tmp_path, str(folder))

    outcomes = _sync(settings, clock)

    assert [(o.slot, o.outcome) for o in outcomes] == [
        (f"call-handling-EXAMPLE-{m}.csv", "loaded") for m in ("2025-04", "2025-05", "2025-06")
    ]
    june = _rows("2025-06")[0]
    indicator = load_catalogue().get("calls_999_within_10s")
    with connect(settings.database.path) as db:
        found = measure(db, indicator, "E23000006", CALL_HANDLING)
    quarter = found.periods[("E23000006", dt.date(2025, 4, 1))]
    assert quarter.months_loaded == 3
    month = found.series[("E23000006", dt.date(2025, 6, 1))]
    assert month.numerator == int(june["answered_999_under_10s"])
    assert month.denominator == int(june["calls_999"])
    assert _sync(settings, clock) == [
        BatchOutcome(
            o.source, o.slot, o.period, "unchanged", "no change since it was loaded", o.batch_id
        )
        for o in outcomes
    ]


def test_an_xlsx_return_loads_like_its_csv(tmp_path: Path, clock: Clock) -> None:
    import openpyxl

    folder = tmp_path / "returns"
    folder.mkdir()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "return"
    rows = _rows("2025-06")
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append([float(v) if v.replace(".", "").isdigit() else v for v in row.values()])
    book.save(folder / "june.xlsx")
    settings = _settings(tmp_path, str(folder))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "loaded", outcome.message
    with connect(settings.database.path) as db:
        stored = db.dicts("SELECT * FROM call_handling")
    assert stored[0]["calls_999"] == int(rows[0]["calls_999"])
    assert stored[0]["average_answer_999_seconds"] == float(rows[0]["average_answer_999_seconds"])
    assert stored[0]["period"] == dt.date(2025, 6, 1)


def test_it_fetches_the_configured_files_over_http(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    body = (EXAMPLES / "call-handling-EXAMPLE-2025-06.csv").read_bytes()
    httpserver.expect_request("/returns/june.csv").respond_with_data(body, content_type="text/csv")
    settings = _settings(tmp_path, httpserver.url_for("/returns"), 'files = ["june.csv"]')

    [outcome] = _sync(settings, clock)

    assert (outcome.slot, outcome.outcome) == ("june.csv", "loaded")


def _bad(tmp_path: Path, change: Callable[[list[dict[str, str]]], list[dict[str, str]]]) -> Path:
    folder = tmp_path / "returns"
    folder.mkdir()
    rows = _rows("2025-05") + _rows("2025-06")
    _write(folder / "bad.csv", change(rows), list(rows[0]))
    return folder


@pytest.mark.parametrize(
    ("change", "check", "named"),
    [
        (
            lambda rows: [{**rows[0], "calls_999": "lots"}, rows[1]],
            "calls_999_whole_number",
            "row 2, calls_999 'lots'",
        ),
        (
            lambda rows: [rows[0], {**rows[1], "template_version": "call-handling-v0"}],
            "template_version",
            "row 3, template_version 'call-handling-v0'",
        ),
        (
            lambda rows: [rows[0], {**rows[1], "force_code": "E23000007"}],
            "force_known",
            "row 3, force_code 'E23000007'",
        ),
        (
            lambda rows: [rows[0], {**rows[1], "month": "2026-02"}],
            "month_valid",
            "row 3, month '2026-02'",
        ),
        (
            lambda rows: [rows[0], {**rows[1], "month": rows[0]["month"]}],
            "one_row_per_month",
            "rows 2",
        ),
        (
            lambda rows: [{**rows[0], "answered_999_60s_or_more": "0"}, rows[1]],
            "answered_999_adds_up",
            "row 2",
        ),
        (
            lambda rows: [{**rows[0], "calls_101_abandoned": ""}, rows[1]],
            "calls_101_complete",
            "row 2",
        ),
    ],
)
def test_a_bad_return_is_quarantined_naming_file_row_and_column(
    tmp_path: Path,
    clock: Clock,
    change: Callable[[list[dict[str, str]]], list[dict[str, str]]],
    check: str,
    named: str,
) -> None:
    settings = _settings(tmp_path, str(_bad(tmp_path, change)))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "quarantined"
    assert "bad.csv" in outcome.message and check in outcome.message
    assert named in outcome.message, outcome.message
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM call_handling") == 0
        assert check in {r[0] for r in db.rows("SELECT check_id FROM quarantine")}


def test_a_missing_column_is_named(tmp_path: Path, clock: Clock) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    rows = _rows("2025-06")
    columns = [c for c in rows[0] if c != "calls_101_offered"]
    _write(folder / "short.csv", rows, columns)
    settings = _settings(tmp_path, str(folder))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "quarantined"
    assert "columns_as_template" in outcome.message
    assert "missing 'calls_101_offered'" in outcome.message


def test_a_file_that_is_not_the_template_fails_clearly(tmp_path: Path, clock: Clock) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    (folder / "wrong.csv").write_text("Force,Calls\nCheshire,12\n", encoding="utf-8")
    settings = _settings(tmp_path, str(folder))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "quarantined"
    assert "wrong.csv: no header row with the columns 'month', 'template_version'" in (
        outcome.message
    )


def test_a_corrected_file_revises_its_months(tmp_path: Path, clock: Clock) -> None:
    folder = _folder(tmp_path, "2025-06")
    settings = _settings(tmp_path, str(folder))
    [first] = _sync(settings, clock)
    rows = _rows("2025-06")
    calls = int(rows[0]["calls_999"])
    rows[0]["calls_999"] = str(calls + 10)
    rows[0]["answered_999_under_10s"] = str(int(rows[0]["answered_999_under_10s"]) + 10)
    _write(folder / "call-handling-EXAMPLE-2025-06.csv", rows)

    [second] = _sync(settings, clock)

    assert second.outcome == "revised" and first.batch_id in second.message
    with connect(settings.database.path) as db:
        assert db.rows("SELECT calls_999 FROM call_handling") == [(calls + 10,)]
