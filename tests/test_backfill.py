"""``safer backfill``: many forces' months in bulk, checked, idempotent, a bad file costing only
its own force and month; then every force evaluated at once. Real files in the published layout
(``bench.generate``), real DuckDB files."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from safer.app.backfill import backfill
from safer.app.national import evaluate_forces
from safer.indicators.definitions import load_catalogue, load_plans
from safer.kernel.config import Settings, load_config
from safer.pipelines.areas import load_forces, load_lookup
from safer.store.db import connect
from tests.conftest import ROOT

Clock = Callable[[], dt.datetime]
FORCES = "cheshire,merseyside"
MONTHS = ("2025-05", "2025-06")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two months of two forces' street and outcomes files, as data.police.uk lays them out."""
    out = tmp_path_factory.mktemp("published")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.generate",
            "--out",
            str(out),
            "--months",
            "2",
            "--end",
            MONTHS[-1],
            "--forces",
            FORCES,
            "--seed",
            "3",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


def _settings(tmp_path: Path, data: Path) -> Settings:
    config = tmp_path / "safer.toml"
    config.write_text(
        f"""
[database]
path = "safer.duckdb"
[paths]
data_dir = "var"
[force]
id = "cheshire"
pfa_code = "E23000006"
name = "Cheshire Constabulary"
[sources.police_uk_street]
base_url = "{data}"
months = ["{MONTHS[0]}:{MONTHS[-1]}"]
[sources.police_uk_outcomes]
base_url = "{data}"
months = ["{MONTHS[0]}:{MONTHS[-1]}"]
""",
        encoding="utf-8",
    )
    return load_config(config)


def _file_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


def test_it_loads_every_forces_months_exactly_as_published(
    tmp_path: Path, published: Path, clock: Clock
) -> None:
    settings = _settings(tmp_path, published)

    assert backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock) == 0

    with connect(settings.database.path) as db:
        for month in MONTHS:
            for force in FORCES.split(","):
                path = published / month / f"{month}-{force}-street.csv"
                rows = _file_rows(path)
                stored = db.rows(
                    "SELECT record_no, crime_id, lsoa_name FROM police_street "
                    "WHERE force_id = ? AND period = ? ORDER BY record_no",
                    [force, dt.date.fromisoformat(f"{month}-01")],
                )
                assert len(stored) == len(rows)
                assert [(r[0], r[1], r[2]) for r in stored] == [
                    (n, row[0] or None, row[8] or None) for n, row in enumerate(rows, start=1)
                ], "every row, numbered as its line in the file"
        ledger = db.rows("SELECT source, force_id, status FROM load_ledger ORDER BY ALL")
        periods = db.scalar("SELECT count(*) FROM force_periods")
        own = db.rows("SELECT source, period FROM source_periods ORDER BY ALL")
    assert Counter(status for *_, status in ledger) == {"loaded": 8}
    assert periods == 8, "two sources × two forces × two months"
    assert [period for _, period in own] == [dt.date(2025, 5, 1), dt.date(2025, 6, 1)] * 2


def test_a_second_backfill_changes_nothing_and_a_normal_run_sees_the_months_loaded(
    tmp_path: Path, published: Path, clock: Clock
) -> None:
    settings = _settings(tmp_path, published)
    backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock)
    with connect(settings.database.path) as db:
        before = db.rows("SELECT * FROM load_ledger ORDER BY batch_id")
        rows = db.scalar("SELECT count(*) FROM police_street")

    assert backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock) == 0

    with connect(settings.database.path) as db:
        assert db.rows("SELECT * FROM load_ledger ORDER BY batch_id") == before
        assert db.scalar("SELECT count(*) FROM police_street") == rows


def test_a_bad_file_is_quarantined_and_costs_only_its_force_and_month(
    tmp_path: Path, published: Path, clock: Clock
) -> None:
    data = tmp_path / "published"
    shutil.copytree(published, data)
    bad = data / MONTHS[1] / f"{MONTHS[1]}-merseyside-street.csv"
    lines = bad.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace(f",{MONTHS[1]},", ",2025-13,", 1)
    bad.write_text("".join(lines), encoding="utf-8")
    settings = _settings(tmp_path, data)

    code = backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock)

    assert code == 3
    with connect(settings.database.path) as db:
        held = db.rows(
            "SELECT l.force_id, l.period, q.check_id, q.sample FROM load_ledger l "
            "JOIN quarantine q USING (batch_id)"
        )
        loaded = db.rows("SELECT force_id, period FROM police_street GROUP BY ALL ORDER BY ALL")
    assert [(f, p, c) for f, p, c, _ in held] == [
        ("merseyside", dt.date(2025, 6, 1), "month_is_file_month")
    ]
    assert '"record_no": 3' in held[0][3] and "2025-13" in held[0][3], "names the row"
    assert ("merseyside", dt.date(2025, 6, 1)) not in loaded
    assert len(loaded) == 3, "every other force-month loaded"


def test_a_file_with_broken_lines_and_bad_values_is_quarantined_not_a_crash(
    tmp_path: Path, published: Path, clock: Clock
) -> None:
    data = tmp_path / "published"
    shutil.copytree(published, data)
    bad = data / MONTHS[1] / f"{MONTHS[1]}-merseyside-street.csv"
    lines = bad.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace(f",{MONTHS[1]},", ",2025-13,", 1)
    lines[5] = '"an unclosed quote,' + lines[5]
    bad.write_text("".join(lines), encoding="utf-8")
    settings = _settings(tmp_path, data)

    code = backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock)

    assert code == 3
    with connect(settings.database.path) as db:
        held = db.rows(
            "SELECT q.check_id FROM load_ledger l JOIN quarantine q USING (batch_id) "
            "WHERE l.force_id = 'merseyside' ORDER BY 1"
        )
        loaded = db.scalar("SELECT count(DISTINCT (force_id, period)) FROM police_street")
    assert ("parses_as_csv",) in held and ("month_is_file_month",) in held
    assert loaded == 3


def test_an_unreadable_file_fails_its_force_alone_and_the_backfill_goes_on(
    tmp_path: Path, published: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "published"
    shutil.copytree(published, data)
    month = data / MONTHS[1]
    (month / f"{MONTHS[1]}-merseyside-street.csv").unlink()
    (month / f"{MONTHS[1]}-merseyside-street.csv.gz").write_bytes(b"\x1f\x8b not gzip at all")
    outside = tmp_path / "elsewhere.csv"
    shutil.copy(month / f"{MONTHS[1]}-cheshire-outcomes.csv", outside)
    (month / f"{MONTHS[1]}-cheshire-outcomes.csv").unlink()
    (month / f"{MONTHS[1]}-cheshire-outcomes.csv").symlink_to(outside)
    settings = _settings(tmp_path, data)

    code = backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock)

    assert code == 1
    failures = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("merseyside-street.csv.gz: cannot be read" in f for f in failures), failures
    assert any("outside the source's folder" in f for f in failures), failures
    with connect(settings.database.path) as db:
        street = db.scalar("SELECT count(DISTINCT (force_id, period)) FROM police_street")
        outcomes = db.scalar("SELECT count(DISTINCT (force_id, period)) FROM police_outcomes")
    assert (street, outcomes) == (3, 3), "every other file loaded"


def test_a_month_whose_rows_do_not_add_up_is_rolled_back_and_loaded_by_the_next_backfill(
    tmp_path: Path, published: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, published)
    with connect(settings.database.path) as db:
        load_lookup(db)
        # Two authorities of one name (a hand-edited table; the bundled file is unchanged, so
        # the backfill keeps it) join each row of that name twice.
        db.execute(
            "INSERT INTO lad_lookup SELECT * REPLACE ('E99999999' AS lad_code) FROM lad_lookup "
            "WHERE lower(lad_name) = 'wirral'"
        )

    code = backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock)

    assert code == 1
    failed = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert {f.split(": ")[0] for f in failed} >= {f"police_uk_street {m}" for m in MONTHS}
    assert all("not loaded: merseyside: " in f and "rows stored of" in f for f in failed), failed
    with connect(settings.database.path) as db:
        stored = db.rows(
            "SELECT 'police_uk_street', strftime(period, '%Y-%m') FROM police_street UNION "
            "SELECT 'police_uk_outcomes', strftime(period, '%Y-%m') FROM police_outcomes"
        )
        recorded = db.rows("SELECT source, slot FROM load_ledger")
        assert not {f.split(": ")[0] for f in failed} & {f"{s} {m}" for s, m in stored + recorded}
        db.execute("DELETE FROM lad_lookup")
        db.execute("DELETE FROM reference_data")

    assert backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock) == 0


def test_a_file_quarantined_by_a_backfill_says_how_to_load_it_and_is_not_superseded(
    tmp_path: Path, published: Path, clock: Clock
) -> None:
    from safer.app.quarantine import list_batches, release_batch
    from safer.kernel.errors import QuarantineError

    data = tmp_path / "published"
    shutil.copytree(published, data)
    bad = data / MONTHS[1] / f"{MONTHS[1]}-cheshire-street.csv"
    lines = bad.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace(f",{MONTHS[1]},", ",2025-13,", 1)
    bad.write_text("".join(lines), encoding="utf-8")
    settings = _settings(tmp_path, data)
    backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock)

    with connect(settings.database.path) as db:
        (batch,) = list_batches(db)
        with pytest.raises(QuarantineError, match="run the backfill for that month again"):
            release_batch(db, settings, batch.batch_id, "analyst", None, clock)

    assert batch.force_id == "cheshire"
    assert batch.superseded_by is None, "merseyside's June file is not a later cheshire file"


def test_every_force_is_evaluated_at_once_and_agrees_with_a_count_of_the_files(
    tmp_path: Path, published: Path, clock: Clock
) -> None:
    settings = _settings(tmp_path, published)
    backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock)
    catalogue = load_catalogue()
    with connect(settings.database.path) as db:
        forces = {f: pfa for f, pfa in load_forces(db).items() if f in FORCES.split(",")}
        found = evaluate_forces(
            db,
            settings,
            catalogue,
            load_plans(None, catalogue),
            forces,
            ["police_uk_street"],
            "test",
        )
        lookup = dict(db.rows("SELECT lower(lad_name), csp_code FROM lad_lookup"))
        pfa_of_csp = dict(db.rows("SELECT csp_code, pfa_code FROM lad_lookup"))
    counts: Counter[str] = Counter()
    for force in FORCES.split(","):
        for month in MONTHS:
            for row in _file_rows(published / month / f"{month}-{force}-street.csv"):
                csp = lookup.get(row[8].rsplit(" ", 1)[0].lower()) if row[8] else None
                if row[9] == "Anti-social behaviour" and csp and pfa_of_csp[csp] == forces[force]:
                    counts[csp] += 1
    asb = {
        e.area_code: e.months_loaded
        for e in found.evaluations
        if e.indicator_id == "asb_incidents" and e.period_start == dt.date(2025, 4, 1)
    }
    values = {
        e.area_code: e.value
        for e in found.evaluations
        if e.indicator_id == "asb_incidents" and e.period_start == dt.date(2025, 4, 1)
    }
    assert set(counts) <= set(values)
    assert all(values[csp] == counts[csp] for csp in counts)
    assert values["E23000006"] == sum(n for c, n in counts.items() if pfa_of_csp[c] == "E23000006")
    assert set(asb.values()) == {2}, "May and June of 2025/26 Q1: incomplete, not judged"
    assert {e.area_code for e in found.evaluations} >= {"E23000006", forces["merseyside"]}


def test_the_parquet_export_is_partitioned_by_force_and_month_and_reads_back_whole(
    tmp_path: Path, published: Path, clock: Clock
) -> None:
    import duckdb

    settings = _settings(tmp_path, published)
    backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock)
    out = tmp_path / "export"
    config = tmp_path / "safer.toml"

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "safer",
            "export",
            "--parquet",
            str(out),
            "--config",
            str(config),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert (out / "police_street" / "force_id=merseyside" / "file_month=2025-06").is_dir()
    with connect(settings.database.path) as db:
        expected = db.rows(
            "SELECT force_id, strftime(period, '%Y-%m'), count(*) FROM police_street "
            "GROUP BY ALL ORDER BY ALL"
        )
    con = duckdb.connect()
    got = con.execute(
        "SELECT force_id, file_month, count(*) FROM read_parquet(?, hive_partitioning = true) "
        "GROUP BY ALL ORDER BY ALL",
        [str(out / "police_street" / "**" / "*.parquet")],
    ).fetchall()
    assert got == expected
    assert (out / "observations.parquet").is_file()


def test_the_parquet_export_replaces_only_its_own_earlier_export(
    tmp_path: Path, published: Path, clock: Clock
) -> None:
    from safer.pipelines.parquet import MARKER
    from safer.scheduler import main

    settings = _settings(tmp_path, published)
    backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock)
    config = str(tmp_path / "safer.toml")
    out, theirs = tmp_path / "export", tmp_path / "reports"
    theirs.mkdir()
    (theirs / "board.xlsx").write_bytes(b"an officer's own file")

    assert main(["export", "--parquet", str(out), "--config", config]) == 0
    (out / "stale.txt").write_text("left by hand in the export")
    assert main(["export", "--parquet", str(out), "--config", config]) == 0
    refused = main(["export", "--parquet", str(theirs), "--config", config])

    assert (out / MARKER).is_file() and (out / "observations.parquet").is_file()
    assert not (out / "stale.txt").exists(), "an export is replaced whole"
    assert refused == 1
    assert [p.name for p in theirs.iterdir()] == ["board.xlsx"], "a folder safer did not write"


def test_another_forces_quarantined_month_does_not_hide_this_forces_missing_one(
    tmp_path: Path, published: Path, clock: Clock
) -> None:
    from safer.app.assess import report_missing

    data = tmp_path / "published"
    shutil.copytree(published, data)
    (data / MONTHS[1] / f"{MONTHS[1]}-cheshire-street.csv").unlink()
    bad = data / MONTHS[1] / f"{MONTHS[1]}-merseyside-street.csv"
    lines = bad.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace(f",{MONTHS[1]},", ",2025-13,", 1)
    bad.write_text("".join(lines), encoding="utf-8")
    settings = _settings(tmp_path, data)
    backfill(settings, MONTHS[0], MONTHS[-1], FORCES, 2, False, clock)

    with connect(settings.database.path) as db:
        found = report_missing(db, settings, "test", dt.date(2025, 9, 1), clock())

    assert [(m.source, m.period) for m in found] == [("police_uk_street", dt.date(2025, 6, 1))]
