"""``safer doctor`` and ``safer backup``: a locked, damaged or inconsistent database file is
reported with the recovery, a backup is a consistent copy, and restoring it (or rebuilding
without one) gives a working database. Ordinary commands meeting a locked or damaged file say
so in one line naming ``safer doctor``, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from safer.app.integrity import problems
from safer.app.job import run
from safer.app.status_report import collect, snapshot_path, write_snapshot
from safer.kernel.config import load_config
from safer.scheduler import main
from safer.store.db import (
    DatabaseCorrupt,
    DatabaseLocked,
    connect,
    connect_staging,
    latest_version,
    migrate,
    open_read_only,
    schema_version,
)
from tests.conftest import ROOT, STREET

BLOCK, HEADER = 262_144, 3 * 4096  # DuckDB's block size and file header


def _config(folder: Path) -> Path:
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

[[recipients]]
name = "Performance lead"
email = "lead@example.org"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose database a real run made: a whole quarter of street months, a digest."""
    folder = tmp_path_factory.mktemp("sound")
    settings = load_config(_config(folder))
    start = dt.datetime(2025, 4, 15, 6, 0, tzinfo=dt.UTC)
    ticks = itertools.count()
    report = run(settings, dt.date(2025, 4, 15), lambda: start + dt.timedelta(0, next(ticks)))
    assert report.exit_code == 0 and len(report.delivery.stored) == 1
    return folder


@pytest.fixture
def ws(sound: Path, tmp_path: Path) -> Path:
    """A private copy of the sound folder; returns its config."""
    folder = tmp_path / "ws"
    shutil.copytree(sound, folder)
    return _config(folder)


def _db(config: Path) -> Path:
    return config.parent / "safer.duckdb"


def doctor(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["doctor", "--config", str(config)])
    return code, capsys.readouterr().out.splitlines()


def _problems(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("problem: ")]


def test_a_sound_database_is_healthy(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = doctor(ws, capsys)
    assert code == 0, lines
    assert f"ok: schema version {latest_version()} (the code's latest)" in lines
    assert any(line.startswith("ok: every table read in full") for line in lines)
    assert any(line.startswith("ok: consistent: 3 periods in use") for line in lines)
    assert lines[-1] == "healthy" and not _problems(lines)


def _hold(code: str, *args: str) -> subprocess.Popen[str]:
    """A process that does ``code`` then waits; returns once it says it is ready."""
    holder = subprocess.Popen(
        [sys.executable, "-c", code + "\nprint('ready', flush=True)\nsys.stdin.read()", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.communicate(timeout=30)  # and closes its pipes


def test_a_run_holding_the_lock_is_named_and_nothing_is_opened(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = _hold(
        "import datetime, sys, pathlib\nfrom safer.app.lock import run_lock\n"
        "lock = run_lock(pathlib.Path(sys.argv[1]), 'safer run', datetime.datetime.now())\n"
        "lock.__enter__()",
        str(ws.parent / "var"),
    )
    try:
        code, lines = doctor(ws, capsys)
    finally:
        _release(holder)
    assert code == 1
    (problem,) = _problems(lines)
    assert f"holds the run lock and the database (pid {holder.pid} on" in problem
    assert "(safer run, since" in problem
    assert any("wait for it to finish" in line for line in lines)


def test_another_program_holding_the_file_is_named_by_duckdb_pid(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = _hold("import duckdb, sys\ncon = duckdb.connect(sys.argv[1])", str(_db(ws)))
    try:
        code, lines = doctor(ws, capsys)
        export = main(["export", "--config", str(ws), "--out", str(ws.parent / "x.csv")])
        err = capsys.readouterr().err
        with pytest.raises(DatabaseLocked, match=f"in use by pid {holder.pid}"):
            connect(_db(ws))
    finally:
        _release(holder)
    assert code == 1
    (problem,) = _problems(lines)
    assert f"the database is in use by pid {holder.pid}" in problem
    assert "Could not set lock" in problem
    assert any("another program has the file open" in line for line in lines)
    # An ordinary command says the same in one line, naming doctor; no traceback.
    assert export == 1
    assert f"in use by pid {holder.pid}" in err and "safer doctor" in err
    assert "Traceback" not in err


def _damage_header(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(0)
        handle.write(os.urandom(4096))


def test_a_damaged_file_is_reported_with_the_recovery_and_commands_say_so(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_config(ws)
    with connect(_db(ws)) as db:  # the snapshot a run leaves for `safer status`
        write_snapshot(collect(db, settings, dt.datetime.now(dt.UTC)), snapshot_path(settings))
    _damage_header(_db(ws))
    code, lines = doctor(ws, capsys)
    assert code == 1
    (problem,) = _problems(lines)
    assert str(_db(ws)) in problem and "is damaged" in problem
    assert "not a valid DuckDB database file" in problem
    (remedy,) = [line for line in lines if line.startswith("  what to do: ")]
    for step in (
        "restore the latest backup",
        "`safer backup`",
        f"mv {_db(ws)} {_db(ws)}.damaged",
        "run `safer run`",
        "not recoverable without a backup",
        "notifications (so the next digests repeat items already sent, once)",
    ):
        assert step in remedy, step

    for command in (["run", "--as-of", "2025-04-15"], ["quarantine", "list"]):
        assert main([*command, "--config", str(ws)]) == 1
        err = capsys.readouterr().err
        assert "the database file is damaged" in err and "safer doctor" in err, command
        assert "Traceback" not in err
    # The health check does not trust the snapshot of a database that can no longer be read.
    assert main(["status", "--check", "--config", str(ws)]) == 1
    out = capsys.readouterr().out
    assert f"problem: {_db(ws)} is damaged and cannot be read: run `safer doctor`" in out


def test_a_damaged_block_is_found_by_reading_every_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    path = _db(config)
    with connect(path) as db:
        db.execute("CREATE TABLE bulk AS SELECT range AS n, range::VARCHAR AS s FROM range(300000)")
        db.execute("CHECKPOINT")
        block = db.scalar(
            "SELECT max(block_id) FROM pragma_storage_info('bulk') WHERE segment_type = 'VARCHAR'"
        )
    with path.open("r+b") as handle:
        handle.seek(HEADER + int(block) * BLOCK + 512)
        handle.write(os.urandom(4096))
    with open_read_only(path) as db:  # it opens: only reading the block shows the damage
        assert schema_version(db) == latest_version()

    code, lines = doctor(config, capsys)
    assert code == 1
    (problem,) = _problems(lines)
    assert "is damaged" in problem and "checksum" in problem and "(reading table bulk)" in problem


def test_inconsistencies_are_each_a_problem_on_its_own_line(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = duckdb.connect(str(_db(ws)))
    raw.execute("DELETE FROM police_street WHERE period = '2025-02-01' AND record_no <= 10")
    raw.execute(
        "INSERT INTO police_street SELECT * FROM police_street "
        "WHERE period = '2025-01-01' AND record_no <= 3"
    )
    raw.execute("UPDATE outbox SET status = 'sending'")
    raw.close()

    code, lines = doctor(ws, capsys)
    assert code == 1
    found = _problems(lines)
    assert len(found) == 4, found
    assert any("2025-02-01: source_periods says" in p and "holds 5,687" in p for p in found)
    assert any("2025-01-01: source_periods says" in p for p in found)
    duplicated = "police_street: 3 keys (force_id, period, record_no) occur more than once"
    assert any(duplicated in p for p in found)
    assert any("is sending but its last attempt is none" in p for p in found)
    assert all(
        line.startswith("  what to do: a run should never leave this")
        for line in lines
        if line.startswith("  what to do")
    )


def test_schema_versions_older_and_newer_than_the_code(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = duckdb.connect(str(_db(ws)))
    raw.execute("INSERT INTO schema_migrations VALUES (?, now())", [latest_version() + 1])
    raw.close()
    code, lines = doctor(ws, capsys)
    assert code == 1
    (problem,) = _problems(lines)
    assert f"schema version {latest_version() + 1} is newer than this code's" in problem

    old = _config(tmp_path)
    db = connect_staging(_db(old))
    migrate(db, upto=3)
    db.close()
    code, lines = doctor(old, capsys)
    assert code == 0, lines
    note = f"note: schema version 3; this code's latest is {latest_version()}"
    assert any(line.startswith(note) for line in lines)


def test_no_database_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = doctor(_config(tmp_path), capsys)
    assert code == 1
    assert _problems(lines) == [f"problem: {tmp_path / 'safer.duckdb'}: no database file"]


def test_backup_writes_a_checked_copy_with_every_row(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "backups" / "copy.duckdb"
    assert main(["backup", "--config", str(ws), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"backup: {out} ({out.stat().st_size:,} bytes)"
    assert lines[-1] == f"backup: {out} opens and passes safer doctor's checks"
    with open_read_only(_db(ws)) as original, open_read_only(out) as copy:
        for table in ("police_street", "load_ledger", "source_periods", "outbox", "runs"):
            rows = original.scalar(f"SELECT count(*) FROM {table}")
            assert copy.scalar(f"SELECT count(*) FROM {table}") == rows
            assert f"  {table}: {rows:,} rows" in lines
        assert problems(copy) == []
        assert schema_version(copy) == latest_version()

    # Into a folder: named by the time.
    folder = tmp_path / "folder"
    folder.mkdir()
    assert main(["backup", "--config", str(ws), "--out", str(folder)]) == 0
    (made,) = folder.glob("safer-*.duckdb")
    assert made.stat().st_size > 0


def test_a_backup_that_fails_its_checks_is_deleted_not_left_as_the_newest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy of a file with a damaged block is damaged too: it is checked before it is put in
    place, and deleted, so `cp BACKUP` can never restore it."""
    config = _config(tmp_path)
    path = _db(config)
    with connect(path) as db:
        db.execute("CREATE TABLE bulk AS SELECT range AS n, range::VARCHAR AS s FROM range(300000)")
        db.execute("CHECKPOINT")
        block = db.scalar(
            "SELECT max(block_id) FROM pragma_storage_info('bulk') WHERE segment_type = 'VARCHAR'"
        )
    with path.open("r+b") as handle:
        handle.seek(HEADER + int(block) * BLOCK + 512)
        handle.write(os.urandom(4096))
    out = tmp_path / "backups" / "copy.duckdb"

    code = main(["backup", "--config", str(config), "--out", str(out)])

    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    found = _problems(lines)
    assert any("is damaged" in p and "(reading table bulk)" in p for p in found), lines
    assert f"problem: {out}: not written: the copy failed the checks above and was deleted" in lines
    assert not any(line.startswith("backup: ") for line in lines)
    assert list(out.parent.iterdir()) == [], "neither the copy nor its .partial is left"


def test_backup_refuses_while_a_run_holds_the_lock(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = _hold(
        "import datetime, sys, pathlib\nfrom safer.app.lock import run_lock\n"
        "lock = run_lock(pathlib.Path(sys.argv[1]), 'safer run', datetime.datetime.now())\n"
        "lock.__enter__()",
        str(ws.parent / "var"),
    )
    try:
        code = main(["backup", "--config", str(ws), "--out", str(tmp_path / "b.duckdb")])
    finally:
        _release(holder)
    assert code == 5
    assert f"another safer run holds the lock (pid {holder.pid}" in capsys.readouterr().err
    assert not (tmp_path / "b.duckdb").exists()
    assert main(["backup", "--config", str(ws), "--out", str(_db(ws))]) == 1


def test_backup_of_a_killed_run_holds_what_it_committed(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, sys, pathlib\nfrom safer.store.db import connect\n"
            "db = connect(pathlib.Path(sys.argv[1]))\n"
            'db.execute("INSERT INTO runs (run_id, as_of, started_at) VALUES '
            "('killed', DATE '2025-04-15', now())\")\n"
            "os.kill(os.getpid(), signal.SIGKILL)",
            str(_db(ws)),
        ],
        cwd=ROOT,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL
    assert _db(ws).with_name("safer.duckdb.wal").exists(), "the commit is in the log only"

    out = tmp_path / "after-kill.duckdb"
    assert main(["backup", "--config", str(ws), "--out", str(out)]) == 0
    with open_read_only(out) as copy:
        assert copy.scalar("SELECT count(*) FROM runs WHERE run_id = 'killed'") == 1
    code, lines = doctor(ws, capsys)
    assert code == 0, lines
    assert any("1 run(s) did not finish (killed)" in line for line in lines)


def test_restoring_a_backup_or_rebuilding_gives_a_working_database(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _db(ws)
    backup = tmp_path / "good.duckdb"
    assert main(["backup", "--config", str(ws), "--out", str(backup)]) == 0
    with open_read_only(path) as db:
        digests = db.rows("SELECT digest_id, status FROM outbox")
    _damage_header(path)
    with pytest.raises(DatabaseCorrupt):
        connect(path)

    # The documented recovery, with a backup: copy it back.
    shutil.copy(backup, path)
    code, lines = doctor(ws, capsys)
    assert code == 0, lines
    assert main(["run", "--config", str(ws), "--as-of", "2025-04-15"]) == 0
    with open_read_only(path) as db:
        assert db.rows("SELECT digest_id, status FROM outbox") == digests, "nothing repeated"

    # Without one: move the damaged file aside and run again; it rebuilds from the sources.
    _damage_header(path)
    path.rename(path.with_name("safer.duckdb.damaged"))
    capsys.readouterr()
    assert main(["run", "--config", str(ws), "--as-of", "2025-04-15"]) == 0
    code, lines = doctor(ws, capsys)
    assert code == 0, lines
    with open_read_only(path) as db:
        assert db.scalar("SELECT count(*) FROM source_periods") == 3
        # The notifications went with the damaged file: the digest is built again, once.
        assert db.scalar("SELECT count(*) FROM outbox") == 1


def test_doctor_and_backup_have_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("doctor", "backup"):
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
        assert "--config" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["backup", "--config", "x.toml"])
    assert exited.value.code == 2 and "--out" in capsys.readouterr().err
