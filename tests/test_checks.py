"""The street-file suite run by real Great Expectations over real DuckDB staging files.

GX is slow to import (~3 s, once) and each run costs ~0.5-1 s, so the suite runs three times in
this module: once on a clean real month, once on a slice carrying one of each corruption (each
in its own row, so every failing check must point at exactly its row), and once on a slice
with a column dropped. The results are module-scoped fixtures; the tests only read them.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import itertools
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from safer.checks.gx_runner import run_suite
from safer.checks.models import CheckResult, Severity
from safer.checks.police_street import CRIME_TYPES, street_suite
from safer.kernel.layouts import ASB, STREET_COLUMNS
from safer.store.db import connect_staging

# Importing great_expectations 1.24.1 imports the deprecated stdlib modules ``sre_constants``
# and ``sre_parse`` (great_expectations/datasource/fluent/data_connector/
# file_path_data_connector.py), which warn once at import. pyproject turns warnings into
# errors, which would break GX's import in whichever test imports it first, so these two
# third-party import warnings (not our code) are ignored here only.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:module 'sre_(constants|parse)' is deprecated:DeprecationWarning"
)

STREET_DIR = Path(__file__).resolve().parents[1] / "data" / "police-uk" / "street"
MONTH_FILE = STREET_DIR / "2025-06-cheshire-street.csv.gz"
PERIOD = dt.date(2025, 6, 1)
SLICE_ROWS = 300
TABLE = "batch"

ALL_CHECKS = {check.id for check in street_suite(PERIOD, 1, 1, ())}


def stage(source: Path, database: Path) -> None:
    """Stage ``source`` as the pipeline does: record_no first, published columns as VARCHAR."""
    quoted = str(source).replace("'", "''")
    db = connect_staging(database)
    try:
        db.execute(
            f"CREATE TABLE {TABLE} AS SELECT row_number() OVER () AS record_no, * "
            f"FROM read_csv('{quoted}', header=true, all_varchar=true)"
        )
    finally:
        db.close()


def read_rows(source: Path, limit: int | None = None) -> tuple[list[str], list[list[str]]]:
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(itertools.islice(reader, limit))
    return header, rows


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def outcome_labels(database: Path) -> tuple[str, ...]:
    """Distinct non-null outcomes (GX's column-map expectations skip NULLs, as on ASB rows)."""
    with connect_staging(database) as db:
        found = db.rows(
            f'SELECT DISTINCT "Last outcome category" FROM {TABLE} '
            'WHERE "Last outcome category" IS NOT NULL ORDER BY 1'
        )
    return tuple(str(row[0]) for row in found)


def by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.check.id: result for result in results}


def failing(results: list[CheckResult]) -> set[str]:
    return {result.check.id for result in results if not result.success}


@dataclass(frozen=True)
class Run:
    database: Path
    results: dict[str, CheckResult]
    rows: int


@dataclass(frozen=True)
class Corrupted:
    run: Run
    record: dict[str, int]
    """Corruption name -> record_no of the one row carrying it."""


@pytest.fixture(scope="module")
def real_slice() -> tuple[list[str], list[list[str]]]:
    header, rows = read_rows(MONTH_FILE, SLICE_ROWS)
    assert header == list(STREET_COLUMNS), "the real file's header changed"
    assert len(rows) == SLICE_ROWS
    return header, rows


@pytest.fixture(scope="module")
def labels(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    """Outcome labels of the whole real month (a superset of any slice's)."""
    database = tmp_path_factory.mktemp("labels") / "labels.duckdb"
    stage(MONTH_FILE, database)
    found = outcome_labels(database)
    assert found, "the real month has no outcomes"
    return found


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory, labels: tuple[str, ...]) -> Run:
    """The whole real June 2025 Cheshire month, unmodified."""
    database = tmp_path_factory.mktemp("clean") / "staging.duckdb"
    stage(MONTH_FILE, database)
    with connect_staging(database) as db:
        rows = int(db.scalar(f"SELECT count(*) FROM {TABLE}"))
        null_outcomes = int(
            db.scalar(f'SELECT count(*) FROM {TABLE} WHERE "Last outcome category" IS NULL')
        )
    # The month must exercise the NULL handling of ValuesInSet (ASB rows have no outcome).
    assert null_outcomes > 0
    checks = street_suite(PERIOD, rows // 2, rows * 2, labels)
    return Run(database, by_id(run_suite(database, TABLE, "street_clean", checks)), rows)


@pytest.fixture(scope="module")
def corrupted(
    tmp_path_factory: pytest.TempPathFactory,
    real_slice: tuple[list[str], list[list[str]]],
    labels: tuple[str, ...],
) -> Corrupted:
    """A real slice with one corruption per row and too few rows."""
    header, original = real_slice
    rows = [list(row) for row in original]
    col = {name: i for i, name in enumerate(header)}
    asb = [i for i, row in enumerate(rows) if row[col["Crime type"]] == ASB]
    crimes = [
        i
        for i, row in enumerate(rows)
        if row[col["Crime type"]] != ASB and row[col["Last outcome category"]]
    ]
    assert asb and len(crimes) >= 5, "the slice lacks the rows the corruptions need"
    hex_id = rows[crimes[0]][col["Crime ID"]]

    record: dict[str, int] = {}

    def corrupt(name: str, index: int, column: str, value: str) -> None:
        assert index + 1 not in record.values(), "one corruption per row"
        rows[index][col[column]] = value
        record[name] = index + 1  # record_no is the 1-based data row

    # Spread over the slice, so samples are not just the first rows of the table.
    step = len(crimes) // 5
    corrupt("month", crimes[0], "Month", "2025-05")
    corrupt("crime_type", crimes[step], "Crime type", "Unicorn theft")
    corrupt("asb_crime_id", asb[-1], "Crime ID", hex_id)
    corrupt("lsoa", crimes[2 * step], "LSOA code", "E0101858")
    corrupt("longitude", crimes[3 * step], "Longitude", "-2.03x")
    corrupt("outcome", crimes[4 * step], "Last outcome category", "Sent to Narnia")
    corrupt("crime_id", crimes[1], "Crime ID", hex_id[:20])  # truncated
    corrupt("no_crime_type", crimes[2], "Crime type", "")

    folder = tmp_path_factory.mktemp("corrupted")
    source = write_csv(folder / "street.csv", header, rows)
    database = folder / "staging.duckdb"
    stage(source, database)
    # One row more than the slice has: the row-count check must fail.
    checks = street_suite(PERIOD, SLICE_ROWS + 1, SLICE_ROWS * 10, labels)
    results = by_id(run_suite(database, TABLE, "street_corrupted", checks))
    return Corrupted(Run(database, results, len(rows)), record)


@pytest.fixture(scope="module")
def missing_column_run(
    tmp_path_factory: pytest.TempPathFactory,
    real_slice: tuple[list[str], list[list[str]]],
    labels: tuple[str, ...],
) -> Run:
    """A real slice published without its last column, Context."""
    header, rows = real_slice
    folder = tmp_path_factory.mktemp("missing")
    source = write_csv(folder / "street.csv", header[:-1], [row[:-1] for row in rows])
    database = folder / "staging.duckdb"
    stage(source, database)
    checks = street_suite(PERIOD, 1, SLICE_ROWS * 10, labels)
    return Run(database, by_id(run_suite(database, TABLE, "street_missing", checks)), len(rows))


def assert_reopens_read_write(database: Path) -> None:
    """run_suite must release GX's engines so the file can be written again."""
    with connect_staging(database) as db:
        db.execute("CREATE TABLE reopened AS SELECT 1 AS ok")
        assert db.scalar("SELECT ok FROM reopened") == 1
        db.execute("DROP TABLE reopened")


# --- clean month -------------------------------------------------------------------------------


def test_clean_real_month_passes_every_check(clean_run: Run) -> None:
    assert set(clean_run.results) == ALL_CHECKS
    failed = {
        cid: result.message for cid, result in clean_run.results.items() if not result.success
    }
    assert failed == {}
    for result in clean_run.results.values():
        assert result.message.startswith("passed: ")
        assert result.sample == ()


def test_clean_run_reports_counts(clean_run: Run) -> None:
    results = clean_run.results
    assert results["row_count_plausible"].observed == str(clean_run.rows)
    assert results["crime_type_known"].unexpected_count == 0
    assert results["month_is_file_month"].unexpected_count == 0
    assert results["columns_as_published"].observed is None


def test_database_can_be_reopened_read_write_after_clean_run(clean_run: Run) -> None:
    assert_reopens_read_write(clean_run.database)


# --- corruptions -------------------------------------------------------------------------------

# Corruption -> the one check it must fail.
ROW_CORRUPTIONS = {
    "month": "month_is_file_month",
    "crime_type": "crime_type_known",
    "asb_crime_id": "asb_has_no_crime_id",
    "lsoa": "lsoa_code_format",
    "longitude": "coordinates_numeric",
    "outcome": "outcome_category_known",
    "crime_id": "crime_id_format",
    "no_crime_type": "crime_type_present",
}


def test_each_corruption_fails_only_its_check(corrupted: Corrupted) -> None:
    expected = set(ROW_CORRUPTIONS.values()) | {"row_count_plausible"}
    assert failing(list(corrupted.run.results.values())) == expected
    passing = ALL_CHECKS - expected
    # One ASB row given a crime's ID repeats one Crime ID: far below the repeat bar.
    assert passing == {"columns_as_published", "crime_ids_rarely_repeat", "asb_rows_present"}
    for check_id in passing - {"columns_as_published"}:
        assert corrupted.run.results[check_id].unexpected_count == 0


@pytest.mark.parametrize(
    ("corruption", "column", "value"),
    [
        ("month", "Month", "2025-05"),
        ("asb_crime_id", "Crime ID", None),  # the real hex ID copied from another row
        ("lsoa", "LSOA code", "E0101858"),
        ("longitude", "Longitude", "-2.03x"),
    ],
)
def test_row_check_names_the_failing_record(
    corrupted: Corrupted, corruption: str, column: str, value: str | None
) -> None:
    result = corrupted.run.results[ROW_CORRUPTIONS[corruption]]
    record_no = corrupted.record[corruption]
    assert result.check.severity is Severity.ERROR
    assert not result.success
    assert result.unexpected_count == 1
    assert len(result.sample) == 1
    row = result.sample[0]
    assert row["record_no"] == record_no
    assert row[column] is not None
    if value is not None:
        assert row[column] == value
    message = result.message
    assert message.startswith(f"failed: {result.check.description} (1 failing)")
    assert f"record_no {record_no}" in message
    assert repr(row[column]) in message


@pytest.mark.parametrize(
    ("corruption", "value", "severity"),
    [
        ("crime_type", "Unicorn theft", Severity.ERROR),
        ("outcome", "Sent to Narnia", Severity.WARNING),
    ],
)
def test_value_check_names_the_failing_value(
    corrupted: Corrupted, corruption: str, value: str, severity: Severity
) -> None:
    result = corrupted.run.results[ROW_CORRUPTIONS[corruption]]
    assert result.check.severity is severity
    assert not result.success
    assert result.unexpected_count == 1
    assert len(result.sample) == 1 and value in result.sample[0].values()
    assert result.message.startswith(f"failed: {result.check.description} (1 failing)")
    assert repr(value) in result.message


def test_value_check_sample_names_the_record(corrupted: Corrupted) -> None:
    result = corrupted.run.results["crime_type_known"]
    assert result.sample[0].get("record_no") == corrupted.record["crime_type"]


def test_unknown_outcome_is_only_a_warning(corrupted: Corrupted) -> None:
    warnings = {
        cid for cid, r in corrupted.run.results.items() if r.check.severity is Severity.WARNING
    }
    assert warnings == {"crime_id_format", "outcome_category_known"}
    assert not corrupted.run.results["outcome_category_known"].success
    result = corrupted.run.results["crime_id_format"]
    assert not result.success and result.unexpected_count == 1
    assert result.sample[0]["record_no"] == corrupted.record["crime_id"]


def test_a_missing_crime_type_fails_its_own_check_not_the_category_check(
    corrupted: Corrupted,
) -> None:
    result = corrupted.run.results["crime_type_present"]
    assert not result.success and result.unexpected_count == 1
    assert result.check.severity is Severity.ERROR
    assert corrupted.run.results["crime_type_known"].unexpected_count == 1, "only the unicorn"


def test_too_few_rows_fails_the_row_count(corrupted: Corrupted) -> None:
    result = corrupted.run.results["row_count_plausible"]
    assert not result.success
    assert result.check.severity is Severity.ERROR
    assert result.observed == str(SLICE_ROWS)
    assert f"between {SLICE_ROWS + 1:,} and" in result.message
    assert result.message.endswith(f"found {SLICE_ROWS}")


def test_missing_column_fails_only_the_column_check(missing_column_run: Run) -> None:
    assert failing(list(missing_column_run.results.values())) == {"columns_as_published"}
    result = missing_column_run.results["columns_as_published"]
    assert result.observed == "missing 'Context'"
    assert result.message.endswith("found missing 'Context'")


def test_renamed_column_used_by_checks_is_reported_as_drift(
    tmp_path: Path,
    real_slice: tuple[list[str], list[list[str]]],
    labels: tuple[str, ...],
) -> None:
    """Publishers rename columns; staging keeps the new name so the schema check can say so."""
    header, rows = real_slice
    renamed = ["Crime category" if name == "Crime type" else name for name in header]
    database = tmp_path / "staging.duckdb"
    stage(write_csv(tmp_path / "street.csv", renamed, rows), database)
    checks = street_suite(PERIOD, 1, SLICE_ROWS * 10, labels)
    results = by_id(run_suite(database, TABLE, "street_renamed", checks))
    assert not results["columns_as_published"].success
    assert results["columns_as_published"].observed == (
        "missing 'Crime type'; unexpected 'Crime category'"
    )
    # Checks on the drifted columns cannot run, so only the table-level checks report.
    assert set(results) == {"columns_as_published", "row_count_plausible"}


def test_database_can_be_reopened_read_write_after_failing_runs(
    corrupted: Corrupted, missing_column_run: Run
) -> None:
    # A failing run also queries sample rows through GX's engine: that must be released too.
    assert_reopens_read_write(corrupted.run.database)
    assert_reopens_read_write(missing_column_run.database)


def test_database_lock_is_released_for_other_processes(corrupted: Corrupted) -> None:
    """Another process (the loader) can take the write lock once run_suite has returned."""
    script = (
        "import sys, duckdb\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "con.execute('CREATE TABLE other_process AS SELECT 1 AS ok')\n"
        "con.execute('DROP TABLE other_process')\n"
        "con.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(corrupted.run.database)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_crime_types_cover_the_real_month(clean_run: Run) -> None:
    """The fixture month uses only known crime types (else the clean test proves little)."""
    with connect_staging(clean_run.database) as db:
        found = {str(row[0]) for row in db.rows(f'SELECT DISTINCT "Crime type" FROM {TABLE}')}
    assert found <= set(CRIME_TYPES)
    assert ASB in found


def _altered_month(
    folder: Path, name: str, alter: Callable[[list[list[str]], dict[str, int]], list[list[str]]]
) -> Path:
    """The whole real June 2025 month, altered by ``alter``, as a plain CSV."""
    header, rows = read_rows(MONTH_FILE)
    return write_csv(
        folder / f"{name}.csv", header, alter(rows, {c: i for i, c in enumerate(header)})
    )


ALTERATIONS: dict[str, Callable[[list[list[str]], dict[str, int]], list[list[str]]]] = {
    # Republished with every row twice: ASB for the quarter +100%, every Crime ID repeated.
    "every_row_twice": lambda rows, col: rows + rows,
    # The ASB rows dropped from the file.
    "no_asb_rows": lambda rows, col: [r for r in rows if r[col["Crime type"]] != ASB],
}
CAUGHT_BY = {"every_row_twice": "crime_ids_rarely_repeat", "no_asb_rows": "asb_rows_present"}


@pytest.mark.parametrize("name", sorted(ALTERATIONS))
def test_a_real_month_altered_as_a_republication_might_be_is_held_back(
    name: str, tmp_path: Path, labels: tuple[str, ...]
) -> None:
    """GX (a normal run) and the bulk path (a backfill) give the same verdict on each."""
    from safer.checks.bulk import check_files, sample_rows

    source = _altered_month(tmp_path, name, ALTERATIONS[name])
    _, original = read_rows(MONTH_FILE)
    database = tmp_path / "staging.duckdb"
    stage(source, database)
    checks = street_suite(PERIOD, len(original) // 2, len(original) * 2, labels)
    gx = by_id(run_suite(database, TABLE, f"street_{name}", checks))
    assert failing(list(gx.values())) == {CAUGHT_BY[name]}

    with connect_staging(tmp_path / "bulk.duckdb") as db:
        quoted = str(source).replace("'", "''")
        db.execute(
            f"CREATE TABLE scan AS SELECT * FROM read_csv('{quoted}', header=true, "
            "all_varchar=true, filename=true)"
        )
        header = tuple(read_rows(MONTH_FILE, 0)[0])
        bulk = by_id(
            check_files(db, "scan", [str(source)], checks, {str(source): header})[str(source)]
        )
        assert failing(list(bulk.values())) == {CAUGHT_BY[name]}
        found = bulk[CAUGHT_BY[name]]
        assert found.unexpected_count == gx[CAUGHT_BY[name]].unexpected_count
        sample = sample_rows(db, "scan", str(source), found.check)
    if name == "every_row_twice":
        copies = len(original) - sum(1 for r in original if r[0] == "")  # one per crime
        assert gx[CAUGHT_BY[name]].unexpected_count == copies
        first = gx[CAUGHT_BY[name]].sample[0]
        assert first["record_no"] == len(original) + 1 + next(
            i for i, r in enumerate(original) if r[0]
        ), "the first copy is named by its row"
        assert sample[0]["record_no"] == first["record_no"]
    else:
        assert gx[CAUGHT_BY[name]].sample == ({"rows_found": 0},) == sample


def test_the_real_months_repeat_crime_ids_well_below_the_bar() -> None:
    """The bar is set above what data.police.uk really publishes: every bundled month passes."""
    from safer.checks.police_street import DUPLICATE_ID_SHARE

    with connect_staging(Path(":memory:")) as db:
        for path in sorted(STREET_DIR.glob("*-street.csv.gz")):
            quoted = str(path).replace("'", "''")
            given, distinct = db.rows(
                f'SELECT count("Crime ID"), count(DISTINCT "Crime ID") FROM read_csv(\'{quoted}\', '
                "all_varchar=true)"
            )[0]
            assert given - distinct <= DUPLICATE_ID_SHARE / 5 * given, path.name
