"""The cross-source suite on real DuckDB tables: each check tripped by a bad table, through GX."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from safer.checks.cross_source import CrossSourceLimits
from safer.checks.gate import GateInput, check_figures
from safer.checks.models import Check, DataFlag, Severity, UnexpectedRows
from safer.indicators.definitions import load_catalogue
from safer.indicators.flags import flag_effects
from safer.kernel.periods import add_months
from safer.store.db import Database, connect

FORCE, HALTON, WARRINGTON = "E23000006", "E22000023", "E22000026"
NAMES = {FORCE: "Cheshire", HALTON: "Halton", WARRINGTON: "Warrington"}
UNITS = {"asb_incidents": "count", "positive_outcome_rate": "rate"}
NOW = dt.datetime(2026, 1, 15, 6, tzinfo=dt.UTC)
JAN = dt.date(2025, 1, 1)


def _fmt(indicator: str, value: float) -> str:
    return f"{value:.0%}" if UNITS[indicator] == "rate" else f"{value:,.0f}"


def _given(tmp_path: Path) -> GateInput:
    return GateInput(
        pfa_code=FORCE,
        units=UNITS,
        limits=CrossSourceLimits(),
        area_names=NAMES,
        fmt=_fmt,
        staging_dir=tmp_path / "staging",
    )


def _database(tmp_path: Path, *, bad: bool) -> Database:
    """Two CSPs, a month of street rows and 24 months of figures; ``bad`` breaks each check."""
    db = connect(tmp_path / "safer.duckdb")
    db.executemany(
        "INSERT INTO areas VALUES (?, ?, ?, ?)",
        [(FORCE, "Cheshire", "force", FORCE)]
        + [(code, NAMES[code], "csp", FORCE) for code in (HALTON, WARRINGTON)],
    )
    db.execute(
        "INSERT INTO source_periods VALUES ('police_uk_street', ?, 'b1', 'h', NULL, NULL, 9, 0)",
        [JAN],
    )
    street_areas = [HALTON] if bad else [HALTON, WARRINGTON]  # bad: no rows for Warrington
    db.executemany(
        "INSERT INTO police_street (force_id, period, batch_id, record_no, month, crime_type, "
        "csp_code) VALUES ('cheshire', ?, 'b1', ?, '2025-01', 'Burglary', ?)",
        [(JAN, i, code) for i, code in enumerate(street_areas, 1)],
    )
    rows = []
    for i in range(24):
        month = add_months(dt.date(2023, 4, 1), i)
        asb = 100 + (i % 3)
        rows.append(("asb_incidents", HALTON, "month", month, 1, asb, asb, None))
        rows.append(("positive_outcome_rate", HALTON, "month", month, 1, 0.2, 20, 100))
    for q in range(8):
        start = add_months(dt.date(2023, 4, 1), 3 * q)
        rows.append(("asb_incidents", HALTON, "quarter", start, 3, 303, 303, None))
    if bad:
        rows += [
            ("asb_incidents", WARRINGTON, "month", JAN, 1, -1, -1, None),  # negative
            ("positive_outcome_rate", WARRINGTON, "month", JAN, 1, 1.5, 150, 100),  # > 100%
        ]
        rows = [
            r for r in rows if not (r[0] == "asb_incidents" and r[2] == "quarter" and r[3] == JAN)
        ]
        rows.append(("asb_incidents", HALTON, "quarter", JAN, 3, 1500, 1500, None))  # 5× last year
        rows = [
            r
            for r in rows
            if not (r[0] == "asb_incidents" and r[2] == "month" and r[3] == dt.date(2025, 3, 1))
        ]
        rows.append(("asb_incidents", HALTON, "month", dt.date(2025, 3, 1), 1, 900, 900, None))
    db.executemany(
        "INSERT INTO observations (indicator_id, area_code, grain, period_start, months_loaded, "
        "value, numerator, denominator) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return db


def test_clean_figures_raise_no_flags_and_a_rerun_skips_the_suite(tmp_path: Path) -> None:
    with _database(tmp_path, bad=False) as db:
        first = check_figures(db, _given(tmp_path), "run-1", NOW)
        assert first.outcome == "checked" and first.flags == ()
        assert first.message == "7 checks, 0 failed"
        again = check_figures(db, _given(tmp_path), "run-2", NOW)
        assert again.outcome == "unchanged"
        stored = db.rows("SELECT check_id, success FROM check_log WHERE run_id = 'run-1'")
        assert len(stored) == 7 and all(success for _, success in stored)
    assert not list((tmp_path / "staging").iterdir()), "the check file is removed"


def test_each_error_and_warning_is_tripped_by_a_bad_table(tmp_path: Path) -> None:
    with _database(tmp_path, bad=True) as db:
        outcome = check_figures(db, _given(tmp_path), "run-1", NOW)
        stored = db.rows("SELECT check_id, severity, sentence FROM data_flags ORDER BY ALL")
    assert outcome.outcome == "checked"
    found = {(f.check_id, f.severity, f.sentence) for f in outcome.flags}
    error, warning = Severity.ERROR, Severity.WARNING
    assert found == {
        ("areas_present", error, "the 2025-01 source file has no rows for Warrington"),
        ("counts_non_negative", error, "Warrington, Jan 2025: a negative figure (-1)"),
        ("rates_within_0_1", error, "Warrington, Jan 2025: a rate outside 0–100% (150%)"),
        (
            "numerator_within_denominator",
            error,
            "Warrington, Jan 2025: more in the numerator than the denominator (150%)",
        ),
        (
            "plausible_against_last_year",
            warning,
            "Halton, 2024/25 Q4: 1,500 is far from the same quarter last year (303); check the"
            " source",
        ),
        (
            "near_process_limits",
            warning,
            "Halton, Mar 2025: 900 lies far outside the SPC limits (mean 134); check the source",
        ),
    }
    assert sorted((c, s.value, t) for c, s, t in found) == stored


def test_a_duplicate_figure_is_an_error(tmp_path: Path) -> None:
    with _database(tmp_path, bad=False) as db:
        # The table's key refuses duplicates; a catalogue query feeding the check file may not.
        db.execute("CREATE TABLE o2 AS SELECT * FROM observations")
        db.execute("INSERT INTO o2 SELECT * FROM observations WHERE grain = 'quarter' LIMIT 1")
        db.execute("DROP TABLE observations")
        db.execute("ALTER TABLE o2 RENAME TO observations")
        outcome = check_figures(db, _given(tmp_path), "run-1", NOW)
    [flag] = outcome.flags
    assert flag.check_id == "keys_unique" and flag.severity is Severity.ERROR
    assert flag.sentence == "Halton, 2023/24 Q1: 2 figures for one period"


def test_a_check_that_raises_is_broken_not_a_pass_or_a_fail(tmp_path: Path) -> None:
    broken = Check(
        "broken",
        Severity.ERROR,
        "a check whose query cannot run",
        UnexpectedRows("SELECT no_such_column FROM {batch}"),
    )
    with _database(tmp_path, bad=True) as db:
        earlier = check_figures(db, _given(tmp_path), "run-1", NOW)
        outcome = check_figures(db, _given(tmp_path), "run-2", NOW, suite=[broken])
        runs = db.rows("SELECT run_id FROM data_flag_runs")
    assert outcome.outcome == "broken"
    assert set(outcome.flags) == set(earlier.flags), "the previous flags stay in force"
    assert "broken" in outcome.message and "no_such_column" in outcome.message
    assert runs == [("run-1",)], "a broken run records neither a pass nor a fail"


@pytest.mark.parametrize(
    ("flag", "held", "warned"),
    [
        (
            DataFlag(
                "areas_present", Severity.ERROR, JAN, "no Halton rows", source="police_uk_street"
            ),
            {JAN: "a data check failed: no Halton rows"},
            {},
        ),
        (
            DataFlag("rates_within_0_1", Severity.ERROR, dt.date(2025, 2, 1), "x", "asb_incidents"),
            {JAN: "a data check failed: x"},
            {},
        ),
        (
            DataFlag(
                "near_process_limits", Severity.WARNING, JAN, "far", "asb_incidents", None, HALTON
            ),
            {},
            {(HALTON, JAN): "far"},
        ),
        (
            DataFlag(
                "outcome_category_known", Severity.WARNING, JAN, "odd", source="police_uk_street"
            ),
            {},
            {("*", JAN): "odd"},
        ),
        (DataFlag("x", Severity.ERROR, JAN, "other indicator", "positive_outcome_rate"), {}, {}),
        (DataFlag("x", Severity.ERROR, JAN, "other source", source="defra"), {}, {}),
    ],
)
def test_flag_effects(
    flag: DataFlag, held: dict[dt.date, str], warned: dict[tuple[str, dt.date], str]
) -> None:
    asb = load_catalogue().get("asb_incidents")
    assert flag_effects(asb, [flag], {}) == (held, warned)


def test_flag_effects_keep_the_quarantine_reason_first() -> None:
    asb = load_catalogue().get("asb_incidents")
    flag = DataFlag(
        "areas_present", Severity.ERROR, JAN, "no Halton rows", source="police_uk_street"
    )
    held, _ = flag_effects(asb, [flag], {JAN: "the 2025-02 file failed its checks"})
    assert held == {JAN: "the 2025-02 file failed its checks; a data check failed: no Halton rows"}
