"""Returns as a set, not a stream (issue 15): a return source's figures are those of the files in
its folder now. Deleted and renamed files are withdrawn, a copy or a second file for the same
partnership and period is a conflict (neither used) until one goes, and an unchanged folder
changes nothing. Real files in tmp folders, real DuckDB files, ``sync_all`` and the real job."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from safer.app.conditions import conditions
from safer.app.integrity import problems
from safer.app.job import run
from safer.app.sources import SOURCES
from safer.app.sync import sync_all
from safer.kernel.config import Settings, load_config
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.return_set import ReturnConflict, return_conflicts
from safer.pipelines.source import FileSet
from safer.scheduler import main
from safer.store.db import connect
from tests.conftest import write_config
from tests.test_council_enforcement import (
    AS_OF,
    EXAMPLES,
    FORCE,
    HALTON,
    Q1,
    WARRINGTON,
    Rows,
    _measure,
    _of,
    _rows,
    _values,
    _write,
)

Clock = Callable[[], dt.datetime]
CHESHIRE_EAST = "E22000354"
Q1_START = dt.date(2025, 4, 1)
COPY = "council-enforcement-EXAMPLE-2025-26-Q1-copy.csv"
CALLS = Path(__file__).resolve().parent.parent / "data" / "examples" / "call-handling"


def _settings(tmp_path: Path, source: str, location: str, files: str = "") -> Settings:
    extra = f'\n[sources.{source}]\nlocation = "{location}"\nretries = 0\n{files}\n'
    return load_config(write_config(tmp_path, "unused", ["2025-01"], extra=extra, street=False))


def _sync(
    settings: Settings, clock: Clock, source: str = "council_enforcement"
) -> list[tuple[str, str, str]]:
    """One sync of the source as a run does it: (file, outcome, message) per outcome."""
    with connect(settings.database.path) as db:
        load_lookup(db)
        load_forces(db)
        force_areas(db, settings.force.pfa_code)
        found = sync_all(db, settings, "run-1", AS_OF, clock, (), [source])
        assert problems(db) == [], "the database stays consistent"
    return [(o.slot, o.outcome, o.message) for o in found]


def _outcomes(found: list[tuple[str, str, str]]) -> dict[str, str]:
    return {slot: outcome for slot, outcome, _ in found}


def _message(found: list[tuple[str, str, str]], slot: str) -> str:
    return next(message for s, _, message in found if s == slot)


def _count(settings: Settings, csp: str, action: str = "asb_warning_letter") -> list[int]:
    with connect(settings.database.path) as db:
        return [
            r[0]
            for r in db.rows(
                "SELECT count FROM council_enforcement WHERE csp_code = ? AND action_type = ? "
                "AND period = ?",
                [csp, action, Q1_START],
            )
        ]


def _early(settings: Settings) -> dict[str, float | None]:
    """Each area's 2025/26 Q1 ASB early interventions (warning letters and ABCs)."""
    found = _measure(settings, "asb_early_interventions")["asb_early_interventions"]
    return _values(found, Q1_START)


def _times(rows: Rows, factor: int) -> Rows:
    return [{**r, "count": str(int(r["count"]) * factor)} for r in rows]


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "returns"
    folder.mkdir(exist_ok=True)
    return folder


def test_it_withdraws_the_figures_of_a_deleted_file(tmp_path: Path, clock: Clock) -> None:
    folder = _folder(tmp_path)
    rows = _rows(Q1)
    _write(folder / "halton-q1.csv", _of(rows, HALTON))
    _write(folder / "warrington-q1.csv", _of(rows, WARRINGTON))
    settings = _settings(tmp_path, "council_enforcement", str(folder))
    assert _outcomes(_sync(settings, clock)) == dict.fromkeys(
        ("halton-q1.csv", "warrington-q1.csv"), "loaded"
    )
    assert set(_early(settings)) == {HALTON, WARRINGTON}

    (folder / "halton-q1.csv").unlink()
    found = _sync(settings, clock)

    assert found == [
        (
            "halton-q1.csv",
            "withdrawn",
            "halton-q1.csv is no longer in the folder: its figures for Halton 2025/26 Q1 are "
            "withdrawn",
        ),
        ("warrington-q1.csv", "unchanged", "no change since it was loaded"),
    ]
    assert _count(settings, HALTON) == []
    figures = _early(settings)
    assert HALTON not in figures, "a partnership whose return is gone has no figure, never 0"
    assert figures[WARRINGTON] is not None
    with connect(settings.database.path) as db:
        ledger = db.dicts(
            "SELECT slot, rows, revision_of, note FROM load_ledger WHERE status = 'withdrawn'"
        )
        assert (
            db.scalar("SELECT rows FROM source_periods WHERE source = 'council_enforcement'") == 12
        ), "the quarter is still in use, counting Warrington's rows only"
    assert [(r["slot"], r["rows"]) for r in ledger] == [("halton-q1.csv", 12)]
    assert ledger[0]["revision_of"].startswith("council_enforcement:cheshire:halton-q1.csv:")
    assert "no longer in the folder" in ledger[0]["note"]

    assert _outcomes(_sync(settings, clock)) == {"warrington-q1.csv": "unchanged"}, "once only"

    _write(folder / "halton-q1.csv", _of(rows, HALTON))  # the same file, put back
    assert _outcomes(_sync(settings, clock)) == {
        "halton-q1.csv": "loaded",
        "warrington-q1.csv": "unchanged",
    }
    assert _count(settings, HALTON) == [int(_of(rows, HALTON)[0]["count"])]


def test_an_emptied_folder_withdraws_every_file_and_says_so_once(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _folder(tmp_path)
    shutil.copy(EXAMPLES / Q1, folder / Q1)
    _write(folder / "extra-halton-q2.csv", [{**r, "quarter": "Q2"} for r in _of(_rows(), HALTON)])
    settings = _settings(tmp_path, "council_enforcement", str(folder))
    assert set(_outcomes(_sync(settings, clock)).values()) == {"loaded"}
    for path in folder.iterdir():
        path.unlink()

    with caplog.at_level(logging.INFO):
        found = _sync(settings, clock)

    assert _outcomes(found) == dict.fromkeys((Q1, "extra-halton-q2.csv"), "withdrawn")
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warned == [
        f"council_enforcement: {folder} holds no return files: the figures of 2 file(s) are "
        "withdrawn"
    ]
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM council_enforcement") == 0
        assert db.rows("SELECT * FROM source_periods WHERE source = 'council_enforcement'") == []
        assert db.rows("SELECT * FROM force_periods WHERE source = 'council_enforcement'") == []


def test_a_missing_or_unreadable_folder_is_a_failure_and_withdraws_nothing(
    tmp_path: Path, clock: Clock
) -> None:
    folder = _folder(tmp_path)
    shutil.copy(EXAMPLES / Q1, folder / Q1)
    settings = _settings(tmp_path, "council_enforcement", str(folder))
    _sync(settings, clock)

    moved = folder.rename(tmp_path / "elsewhere")
    [(slot, outcome, message)] = _sync(settings, clock)
    assert (slot, outcome) == ("*", "failed")
    assert "the return folder does not exist" in message
    assert len(_count(settings, CHESHIRE_EAST)) == 1

    moved.rename(folder)
    if os.geteuid() != 0:  # root reads a folder whatever its mode
        folder.chmod(0)
        try:
            [(slot, outcome, message)] = _sync(settings, clock)
        finally:
            folder.chmod(0o755)
        assert (outcome, "cannot read the return folder" in message) == ("failed", True)
        assert len(_count(settings, CHESHIRE_EAST)) == 1
    assert _outcomes(_sync(settings, clock)) == {Q1: "unchanged"}


def test_a_renamed_file_is_withdrawn_under_its_old_name_and_loaded_under_its_new(
    tmp_path: Path, clock: Clock
) -> None:
    folder = _folder(tmp_path)
    shutil.copy(EXAMPLES / Q1, folder / Q1)
    settings = _settings(tmp_path, "council_enforcement", str(folder))
    _sync(settings, clock)
    before = _early(settings)

    (folder / Q1).rename(folder / "q1-final.csv")
    found = _sync(settings, clock)

    assert [(slot, outcome) for slot, outcome, _ in found] == [
        (Q1, "withdrawn"),
        ("q1-final.csv", "loaded"),
    ]
    assert _message(found, Q1) == (
        f"{Q1} is no longer in the folder: its figures for Cheshire East, Cheshire West and "
        "Chester, Halton, Warrington 2025/26 Q1 are withdrawn"
    )
    assert _early(settings) == before
    with connect(settings.database.path) as db:
        assert db.rows("SELECT DISTINCT file_name FROM council_enforcement") == [("q1-final.csv",)]
        assert return_conflicts(db) == []


def test_a_copy_times_ten_under_another_name_is_a_conflict_and_deleting_it_brings_back_the_original(
    tmp_path: Path, clock: Clock
) -> None:
    folder = _folder(tmp_path)
    shutil.copy(EXAMPLES / Q1, folder / Q1)
    settings = _settings(tmp_path, "council_enforcement", str(folder))
    _sync(settings, clock)
    assert _count(settings, CHESHIRE_EAST) == [50]
    original = _early(settings)

    _write(folder / COPY, _times(_rows(), 10))
    found = _sync(settings, clock)

    assert _outcomes(found) == {Q1: "conflict", COPY: "conflict"}
    sentence = (
        f"{COPY} and {Q1} both hold Cheshire East, Cheshire West and Chester, Halton, Warrington "
        "2025/26 Q1: neither file's figures for them are used until one is removed"
    )
    assert sentence in _message(found, Q1) and sentence in _message(found, COPY)
    assert _count(settings, CHESHIRE_EAST) == [], "neither 50 nor 500: neither file is used"
    assert _early(settings) == {}
    with connect(settings.database.path) as db:
        conflicts = return_conflicts(db)
    assert [(c.area_name, c.period, c.files) for c in conflicts] == [
        (name, Q1_START, (COPY, Q1))
        for name in ("Cheshire East", "Cheshire West and Chester", "Halton", "Warrington")
    ]

    (folder / COPY).unlink()
    found = _sync(settings, clock)

    assert _outcomes(found) == {COPY: "withdrawn", Q1: "reinstated"}
    assert "are in use again: no other file holds them now" in _message(found, Q1)
    assert _count(settings, CHESHIRE_EAST) == [50], "the original's 50, not the copy's 500"
    assert _early(settings) == original
    with connect(settings.database.path) as db:
        assert return_conflicts(db) == []
    assert _sync(settings, clock) == [(Q1, "unchanged", "no change since it was loaded")]


def test_two_files_for_the_same_partnership_and_quarter_are_a_conflict_neither_used(
    tmp_path: Path, clock: Clock
) -> None:
    folder = _folder(tmp_path)
    rows = _rows(Q1)
    both = _of(rows, HALTON) + _of(rows, WARRINGTON)
    _write(folder / "cheshire-q1.csv", both)
    _write(folder / "halton-q1.csv", _times(_of(rows, HALTON), 0))
    settings = _settings(tmp_path, "council_enforcement", str(folder))

    found = _sync(settings, clock)

    assert _outcomes(found) == {"cheshire-q1.csv": "conflict", "halton-q1.csv": "conflict"}
    sentence = (
        "cheshire-q1.csv and halton-q1.csv both hold Halton 2025/26 Q1: neither file's figures "
        "for it are used until one is removed"
    )
    assert sentence in _message(found, "halton-q1.csv")
    figures = _early(settings)
    assert HALTON not in figures, "neither the real figures nor the zeros"
    assert figures[WARRINGTON] == sum(
        int(r["count"])
        for r in _of(rows, WARRINGTON)
        if r["action_type"] in ("asb_warning_letter", "acceptable_behaviour_contract")
    ), "the other pair of the same file is unaffected"
    with connect(settings.database.path) as db:
        assert return_conflicts(db) == [
            ReturnConflict(
                "council_enforcement",
                "cheshire",
                HALTON,
                "Halton",
                Q1_START,
                ("cheshire-q1.csv", "halton-q1.csv"),
            )
        ]

    again = _sync(settings, clock)
    assert _outcomes(again) == dict.fromkeys(("cheshire-q1.csv", "halton-q1.csv"), "unchanged")
    assert sentence in _message(again, "cheshire-q1.csv"), "still reported while it stands"

    (folder / "halton-q1.csv").unlink()
    assert _outcomes(_sync(settings, clock)) == {
        "halton-q1.csv": "withdrawn",
        "cheshire-q1.csv": "reinstated",
    }
    assert _count(settings, HALTON) == [int(_of(rows, HALTON)[0]["count"])]


def test_a_run_with_nothing_changed_reports_unchanged_and_changes_nothing(
    tmp_path: Path, clock: Clock
) -> None:
    folder = _folder(tmp_path)
    shutil.copy(EXAMPLES / Q1, folder / Q1)
    _write(folder / "halton-again.csv", _of(_rows(), HALTON))  # a conflict that stands
    settings = _settings(tmp_path, "council_enforcement", str(folder))
    _sync(settings, clock)
    (folder / "halton-again.csv").unlink()
    _sync(settings, clock)  # withdrawn, and the original's Halton back

    def state() -> list[object]:
        with connect(settings.database.path) as db:
            return [
                db.rows(f"SELECT * FROM {table} ORDER BY ALL")
                for table in (
                    "council_enforcement",
                    "return_claims",
                    "source_periods",
                    "force_periods",
                    "load_ledger",
                )
            ]

    before = state()
    assert _sync(settings, clock) == [(Q1, "unchanged", "no change since it was loaded")]
    assert state() == before


def test_a_file_no_longer_listed_under_the_url_is_withdrawn(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    rows = _rows(Q1)
    for name, csp in (("halton.csv", HALTON), ("warrington.csv", WARRINGTON)):
        out = io.StringIO()
        writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(_of(rows, csp))
        httpserver.expect_request(f"/returns/{name}").respond_with_data(out.getvalue())
    url = httpserver.url_for("/returns")
    listed = 'files = ["halton.csv", "warrington.csv"]'
    _sync(_settings(tmp_path, "council_enforcement", url, listed), clock)

    settings = _settings(tmp_path, "council_enforcement", url, 'files = ["warrington.csv"]')
    found = _sync(settings, clock)

    assert found[0] == (
        "halton.csv",
        "withdrawn",
        "halton.csv is no longer listed: its figures for Halton 2025/26 Q1 are withdrawn",
    )
    assert set(_early(settings)) == {WARRINGTON}


def _calls(folder: Path, month: str, name: str | None = None) -> str:
    source = f"call-handling-EXAMPLE-{month}.csv"
    shutil.copy(CALLS / source, folder / (name or source))
    return name or source


def _months(settings: Settings) -> dict[dt.date, int]:
    with connect(settings.database.path) as db:
        return dict(db.rows("SELECT period, calls_999 FROM call_handling ORDER BY 1"))


def test_call_handling_months_are_withdrawn_and_a_month_in_two_files_is_a_conflict(
    tmp_path: Path, clock: Clock
) -> None:
    folder = _folder(tmp_path)
    may, june = _calls(folder, "2025-05"), _calls(folder, "2025-06")
    settings = _settings(tmp_path, "call_handling", str(folder))
    _sync(settings, clock, "call_handling")
    loaded = _months(settings)
    assert list(loaded) == [dt.date(2025, 5, 1), dt.date(2025, 6, 1)]

    copy = _calls(folder, "2025-06", "june-resent.csv")
    found = _sync(settings, clock, "call_handling")

    assert _outcomes(found) == {may: "unchanged", june: "conflict", copy: "conflict"}
    assert (
        f"{june} and {copy} both hold Cheshire Jun 2025: neither file's figures for it are used"
    ) in _message(found, copy)
    assert list(_months(settings)) == [dt.date(2025, 5, 1)]

    (folder / june).unlink()
    (folder / may).unlink()
    found = _sync(settings, clock, "call_handling")

    assert _outcomes(found) == {may: "withdrawn", june: "withdrawn", copy: "reinstated"}
    assert _message(found, may) == (
        f"{may} is no longer in the folder: its figures for Cheshire May 2025 are withdrawn"
    )
    assert _months(settings) == {dt.date(2025, 6, 1): loaded[dt.date(2025, 6, 1)]}
    with connect(settings.database.path) as db:
        periods = db.rows("SELECT period FROM force_periods WHERE source = 'call_handling'")
    assert periods == [(dt.date(2025, 6, 1),)], "May is no longer in use"


def test_only_return_sources_withdraw_files() -> None:
    assert {s for s, source in SOURCES.items() if isinstance(source, FileSet)} == {
        "council_enforcement",
        "call_handling",
    }


def test_the_job_after_a_withdrawal_evaluates_no_figure_for_the_partnership(
    tmp_path: Path, clock: Clock
) -> None:
    folder = _folder(tmp_path)
    rows = _rows(Q1)
    for csp, name in ((HALTON, "halton"), (WARRINGTON, "warrington")):
        _write(folder / f"{name}-q1.csv", _of(rows, csp))
    settings = _settings(tmp_path, "council_enforcement", str(folder))

    def evaluated() -> dict[str, float | None]:
        with connect(settings.database.path) as db:
            return dict(
                db.rows(
                    "SELECT area_code, value FROM evaluations WHERE indicator_id = ? "
                    "AND period_start = ?",
                    ["asb_early_interventions", Q1_START],
                )
            )

    run(settings, AS_OF, clock)
    assert {HALTON, WARRINGTON} <= {a for a, v in evaluated().items() if v is not None}

    (folder / "halton-q1.csv").unlink()
    report = run(settings, AS_OF, clock)

    assert [(b.slot, b.outcome) for b in report.batches] == [
        ("halton-q1.csv", "withdrawn"),
        ("warrington-q1.csv", "unchanged"),
    ]
    after = evaluated()
    assert after.get(HALTON) is None, "withdrawn: no figure, never 0"
    assert after[WARRINGTON] is not None
    assert after.get(FORCE) is None
    with connect(settings.database.path) as db:
        units = db.rows(
            "SELECT outcome FROM run_units WHERE unit = ?", ["council_enforcement halton-q1.csv"]
        )
    assert ("withdrawn",) in units


def test_a_conflict_keeps_the_health_check_failing_until_one_file_is_removed(
    tmp_path: Path, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path)
    rows = _rows(Q1)
    _write(folder / "cheshire-q1.csv", _of(rows, HALTON))
    _write(folder / "halton\x1b[2J-q1.csv", _times(_of(rows, HALTON), 0))
    settings = _settings(tmp_path, "council_enforcement", str(folder))
    config = str(settings.database.path.parent / "safer.toml")
    _sync(settings, clock)

    with connect(settings.database.path) as db:
        found = conditions(db, settings, clock())
    assert [(c.kind, c.text) for c in found] == [
        (
            "return_conflict",
            "council_enforcement: cheshire-q1.csv and halton\\x1b[2J-q1.csv both hold Halton "
            "2025/26 Q1: neither file's figures for it are used until one is removed",
        )
    ], "one condition, the source's name escaped"
    capsys.readouterr()
    assert main(["status", "--check", "--config", config]) != 0
    assert "both hold Halton 2025/26 Q1" in capsys.readouterr().out

    (folder / "halton\x1b[2J-q1.csv").unlink()
    _sync(settings, clock)
    with connect(settings.database.path) as db:
        assert conditions(db, settings, clock()) == []


def test_an_oversized_return_fails_every_run_without_stopping_the_good_file_beside_it(
    tmp_path: Path, clock: Clock
) -> None:
    folder = _folder(tmp_path)
    rows = _rows(Q1)
    _write(folder / "warrington-q1.csv", _of(rows, WARRINGTON))
    (folder / "halton-q1.csv").write_text("x" * 300_000, encoding="utf-8")
    settings = _settings(tmp_path, "council_enforcement", str(folder), files="max_bytes = 200000")

    first, second = run(settings, AS_OF, clock), run(settings, AS_OF, clock)

    for report, good in ((first, "loaded"), (second, "unchanged")):
        found = {b.slot: (b.outcome, b.message) for b in report.batches}
        assert found["warrington-q1.csv"][0] == good, "the good file loads at every run"
        outcome, message = found["halton-q1.csv"]
        assert outcome == "failed" and "halton-q1.csv" in message, message
        assert report.exit_code != 0, "never a quiet exit 0 while a file is refused"
    with connect(settings.database.path) as db:
        health = db.rows(
            "SELECT next_attempt_at FROM source_health WHERE source = 'council_enforcement'"
        )
    assert health in ([], [(None,)]), "a refused file backs nothing off"
