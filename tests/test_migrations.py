"""Schema migrations from every earlier version (``safer/store/migrations/NNN_*.sql``).

A real run makes a donor database at the current schema: two loaded street months and the
call-handling returns, their check results, evaluations, runs, and a digest sent to each
recipient through a real SMTP server. For each earlier version k a database is built with
migrations 1..k only (``migrate(db, upto=k)``) and filled with the donor's rows as that version
could hold them: the tables and columns existing at k, and for versions before the sources of
migration 006 only the street file's batches. The current code then opens it (``connect``
migrates it), the old rows survive with their new columns filled in (a ledger row gets its
``slot``, a digest its run), the database is consistent, and ``safer run`` runs on it: the months
already loaded are recognised as unchanged, nothing is sent twice.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from safer.app.integrity import problems
from safer.app.job import run
from safer.kernel.config import load_config
from safer.scheduler import main
from safer.store.db import (
    Database,
    connect,
    connect_staging,
    latest_version,
    migrate,
    open_read_only,
    schema_version,
)
from tests.conftest import ROOT, STREET, _Collector, free_port

LATEST = latest_version()
CALLS = ROOT / "data" / "examples" / "call-handling"
RETURNS = ("2025-01", "2025-02", "2025-03")
AS_OF = "2025-04-15"
SOURCES_FROM = 6
"""Before migration 006 the street file was the only source, and ledger rows had no slot."""


def _config(folder: Path, smtp_port: int) -> Path:
    returns = folder / "returns"
    returns.mkdir(exist_ok=True)
    for month in RETURNS:
        name = f"call-handling-EXAMPLE-{month}.csv"
        shutil.copy(CALLS / name, returns / name)
    path = folder / "safer.toml"
    path.write_text(
        f"""
[database]
path = "safer.duckdb"

[paths]
data_dir = "var"
outbox_dir = "outbox"

[force]
id = "cheshire"
pfa_code = "E23000006"
name = "Cheshire Constabulary"

[sources.police_uk_street]
base_url = "{STREET}"
months = ["2025-01:2025-03"]
min_rows = 100

[sources.call_handling]
location = "{returns}"

[[recipients]]
name = "Performance lead"
email = "lead@example.org"

[[recipients]]
name = "Halton CSP"
email = "halton@example.org"
areas = ["E22000023"]

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "safer@example.org"
timeout_seconds = 10
backoff_seconds = 0
""",
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class Donor:
    db: Path
    counts: dict[str, int]


@pytest.fixture(scope="module")
def smtp_port() -> Iterator[int]:
    port = free_port()
    controller = Controller(_Collector(), hostname="127.0.0.1", port=port, ready_timeout=30)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def donor(tmp_path_factory: pytest.TempPathFactory, smtp_port: int) -> Donor:
    folder = tmp_path_factory.mktemp("donor")
    settings = load_config(_config(folder, smtp_port))
    start = dt.datetime(2025, 4, 15, 6, 0, tzinfo=dt.UTC)
    ticks = itertools.count()
    report = run(
        settings, dt.date.fromisoformat(AS_OF), lambda: start + dt.timedelta(0, next(ticks))
    )
    assert report.exit_code == 0 and report.delivery.sent == 2
    with open_read_only(settings.database.path) as db:
        counts = {t: int(db.scalar(f'SELECT count(*) FROM "{t}"')) for t in _tables(db)}
    assert counts["police_street"] > 10_000 and counts["call_handling"] == len(RETURNS)
    return Donor(settings.database.path, counts)


def _tables(db: Database) -> list[str]:
    return [
        str(row[0])
        for row in db.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema = 'main' AND table_catalog = current_database() "
            "AND table_name <> 'schema_migrations' ORDER BY table_name"
        )
    ]


def _columns(db: Database, catalog: str, table: str) -> list[str]:
    return [
        str(row[0])
        for row in db.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? "
            "AND table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [catalog, table],
        )
    ]


# Before migration 006 only the street file was loaded: keep only its batches' rows.
_STREET_ONLY = {
    "load_ledger": "source = 'police_uk_street'",
    "source_periods": "source = 'police_uk_street'",
    "quarantine": "source = 'police_uk_street'",
    "check_results": "batch_id LIKE 'police_uk_street:%'",
}


# Columns an older version has that the donor (at the latest) no longer does, as the donor's
# columns give them: before migration 010 the population was keyed by financial year.
_DERIVED = {
    ("la_population", "financial_year"): "printf('%d-%02d', mid_year, (mid_year + 1) % 100)",
}


def build_at(version: int, path: Path, donor: Donor) -> dict[str, int]:
    """A database at schema ``version`` holding the donor's rows as that version could;
    returns the rows put in each table."""
    db = connect_staging(path)
    try:
        assert migrate(db, upto=version) == list(range(1, version + 1))
        db.execute(f"ATTACH '{donor.db}' AS donor (READ_ONLY)")
        donor_tables = set(
            str(r[0])
            for r in db.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'donor'"
            )
        )
        filled = {}
        for table in _tables(db):
            if table not in donor_tables:
                continue
            have = set(_columns(db, "donor", table))
            wanted = [
                c for c in _columns(db, path.stem, table) if c in have or (table, c) in _DERIVED
            ]
            names = ", ".join(f'"{c}"' for c in wanted)
            values = ", ".join(_DERIVED.get((table, c), f'"{c}"') for c in wanted)
            where = _STREET_ONLY.get(table) if version < SOURCES_FROM else None
            db.execute(
                f'INSERT INTO main."{table}" ({names}) SELECT {values} FROM donor."{table}"'
                + (f" WHERE {where}" if where else "")
            )
            filled[table] = int(db.scalar(f'SELECT count(*) FROM main."{table}"'))
        db.execute("DETACH donor")
    finally:
        db.close()
    return filled


@pytest.mark.parametrize("version", range(1, LATEST))
def test_a_database_at_every_earlier_version_migrates_keeps_its_data_and_runs(
    version: int, donor: Donor, smtp_port: int, tmp_path: Path
) -> None:
    path = tmp_path / "safer.duckdb"
    filled = build_at(version, path, donor)
    assert filled["police_street"] > 10_000 and filled["outbox"] == 2 and filled["runs"] >= 1
    with open_read_only(path) as db:
        assert schema_version(db) == version

    with connect(path) as db:  # the current code: migrates it
        assert schema_version(db) == LATEST
        applied = [r[0] for r in db.rows("SELECT version FROM schema_migrations ORDER BY 1")]
        assert applied == list(range(1, LATEST + 1))
        for table, rows in filled.items():
            if table == "evaluations" and version < 2:
                continue  # migration 002 rebuilds the (derived) table
            assert db.scalar(f'SELECT count(*) FROM "{table}"') == rows, table
        assert db.scalar("SELECT count(*) FROM load_ledger WHERE slot IS NULL") == 0
        assert db.scalar("SELECT count(*) FROM outbox WHERE run_id IS NULL") == 0
        assert db.scalar("SELECT count(*) FROM outbox WHERE kind <> 'digest'") == 0
        if version < SOURCES_FROM:
            slots = db.rows("SELECT DISTINCT slot FROM load_ledger ORDER BY 1")
            assert slots == [("2025-01",), ("2025-02",), ("2025-03",)]
        assert problems(db) == []
        loaded = db.rows("SELECT batch_id FROM load_ledger WHERE source = 'police_uk_street'")

    config = _config(tmp_path, smtp_port)
    assert main(["run", "--config", str(config), "--as-of", AS_OF]) == 0

    with open_read_only(path) as db:
        assert problems(db) == []
        # The months loaded before the upgrade are unchanged files: not loaded again.
        assert (
            db.rows("SELECT batch_id FROM load_ledger WHERE source = 'police_uk_street'") == loaded
        )
        assert db.scalar("SELECT count(*) FROM police_street") == filled["police_street"]
        assert db.scalar("SELECT count(*) FROM call_handling") == len(RETURNS)
        # The digests sent before the upgrade stay sent, and are not sent again.
        assert db.scalar("SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0
        assert db.scalar("SELECT count(*) FROM delivery_attempts WHERE reason <> 'first'") == 0


def test_migrating_only_up_to_a_version_and_then_on(tmp_path: Path) -> None:
    db = connect_staging(tmp_path / "partial.duckdb")
    try:
        assert migrate(db, upto=3) == [1, 2, 3]
        assert migrate(db, upto=3) == []
        assert schema_version(db) == 3
        assert migrate(db) == list(range(4, LATEST + 1))
        assert migrate(db) == []
        assert schema_version(db) == LATEST
    finally:
        db.close()
