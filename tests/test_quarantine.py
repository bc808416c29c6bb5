"""``safer quarantine list|show|release`` as an operator runs them: real HTTP source, real DuckDB
file, the CLI in-process; only the clock is fixed."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo.server import serve
from safer.app import commands
from safer.app.lock import run_lock
from safer.app.quarantine_text import describe_sample_row
from safer.indicators.measure import withheld_quarters
from safer.kernel.config import load_config
from safer.pipelines.police_uk import SOURCE
from safer.pipelines.source import staging_path
from safer.scheduler import main
from safer.store.db import connect, connect_staging
from tests.conftest import STREET, write_config

Clock = Callable[[], dt.datetime]
MONTHS = ["2025-01:2025-03"]  # 2024/25 Q4
AS_OF = "2025-04-15"
Q4 = dt.date(2025, 1, 1)
FEBRUARY = "2025-02-cheshire-street.csv.gz"
MISDATED_RECORD = 1234  # the data row whose Month is changed to another month


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    """The CLI reads the time through ``safer.app.commands.now``: the one thing replaced."""
    monkeypatch.setattr(commands, "now", clock)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A data.police.uk-like server over copies of Jan–Mar 2025, February mis-dated in one row."""
    folder = tmp_path / "published"
    folder.mkdir()
    for path in STREET.glob("2025-0[1-3]-*.gz"):
        (folder / path.name).write_bytes(path.read_bytes())
    lines = _raw_text(folder / FEBRUARY).split("\n")
    lines[MISDATED_RECORD] = lines[MISDATED_RECORD].replace(",2025-02,", ",2025-03,", 1)
    (folder / FEBRUARY).write_bytes(gzip.compress("\n".join(lines).encode("utf-8")))
    with serve(folder) as base_url:
        yield base_url, folder


def _raw_text(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8-sig")


def _raw_rows(path: Path) -> list[dict[str, str]]:
    """The published file's rows, read with the csv module alone."""
    return list(csv.DictReader(io.StringIO(_raw_text(path))))


def _quarantined(tmp_path: Path, base_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run once (February is quarantined); returns the config path."""
    config = str(write_config(tmp_path, base_url, MONTHS))
    assert main(["run", "--config", config, "--as-of", AS_OF]) == 3
    capsys.readouterr()
    return config


def _batch_id(config: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["quarantine", "list", "--config", config]) == 0
    [line] = capsys.readouterr().out.splitlines()
    return line.split()[0]


def _state(config: str) -> dict[str, list[tuple[object, ...]]]:
    with connect(load_config(Path(config)).database.path) as db:
        return {
            table: db.rows(f"SELECT * FROM {table} ORDER BY ALL")
            for table in ("source_periods", "load_ledger", "quarantine", "check_results")
        } | {
            "police_street": db.rows(
                "SELECT period, batch_id, count(*) FROM police_street GROUP BY ALL ORDER BY ALL"
            )
        }


def test_it_lists_and_shows_a_quarantined_month(
    tmp_path: Path, source: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base_url, folder = source
    config = _quarantined(tmp_path, base_url, capsys)
    # Independently: which record of the published file claims another month.
    misdated = [i for i, r in enumerate(_raw_rows(folder / FEBRUARY), 1) if r["Month"] != "2025-02"]

    assert main(["quarantine", "list", "--config", config]) == 0

    [line] = capsys.readouterr().out.splitlines()
    batch_id, source_name, month, *_ = line.split("  ")
    assert batch_id.startswith("police_uk_street:cheshire:2025-02:")
    assert (source_name, month) == (SOURCE, "2025-02")
    assert "  quarantined 2026-01-15 06:00:" in line
    assert "/landing/police_uk_street/2025-02/2025-02-cheshire-street." in line
    assert line.endswith("  failed: month_is_file_month")

    assert main(["quarantine", "show", batch_id, "--config", config]) == 0

    shown = capsys.readouterr().out
    assert misdated == [MISDATED_RECORD]
    assert f"batch        {batch_id}\n" in shown
    assert "period       2025-02\n" in shown
    assert "status       in quarantine: the figures of its quarter are withheld" in shown
    assert "  month_is_file_month: failed: every row" in shown
    assert f"    record {MISDATED_RECORD} (line {MISDATED_RECORD + 1}): Month '2025-03'" in shown
    assert "\n* 2026-01-15 06:00:" in shown and f"  quarantined  {batch_id}  " in shown
    assert "(missing)" not in shown


def test_it_releases_a_reviewed_month_into_use_once(
    tmp_path: Path,
    source: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    base_url, folder = source
    config = _quarantined(tmp_path, base_url, capsys)
    batch_id = _batch_id(config, capsys)
    settings = load_config(Path(config))
    published = len(_raw_rows(folder / FEBRUARY))
    with connect(settings.database.path) as db:
        assert Q4 in withheld_quarters(db, SOURCE)
    assert staging_path(settings.paths.data_dir, batch_id).is_file()

    code = main(
        [
            "quarantine",
            "release",
            batch_id,
            "--config",
            config,
            "--by",
            "A. Analyst",
            "--note",
            "one row mis-dated by the force",
        ]
    )

    assert code == 0
    assert (
        f"released {batch_id}: 2025-02 now in use with {published:,} rows"
        in capsys.readouterr().out
    )
    with connect(settings.database.path) as db:
        assert db.rows(
            "SELECT batch_id, count(*) FROM police_street "
            "WHERE period = DATE '2025-02-01' GROUP BY 1"
        ) == [(batch_id, published)]
        assert db.rows(
            "SELECT batch_id, rows FROM source_periods WHERE period = DATE '2025-02-01'"
        ) == [(batch_id, published)]
        assert withheld_quarters(db, SOURCE) == {}
        [release] = db.dicts("SELECT * FROM load_ledger WHERE status = 'released'")
        hashes = db.rows(
            "SELECT DISTINCT content_hash FROM load_ledger WHERE period = DATE '2025-02-01'"
        )
        assert db.scalar("SELECT bool_and(released_at IS NOT NULL) FROM quarantine") is True
    assert release["released_batch"] == batch_id and release["rows"] == published
    assert (release["actor"], release["note"]) == ("A. Analyst", "one row mis-dated by the force")
    assert len(hashes) == 1  # the release row carries the quarantined file's hash
    assert not staging_path(settings.paths.data_dir, batch_id).exists()

    assert main(["quarantine", "list", "--config", config]) == 0
    assert capsys.readouterr().out == "nothing in quarantine\n"
    assert main(["quarantine", "list", "--all", "--config", config]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{batch_id}  ") and "  released 2026-01-15 06:00:" in line
    assert line.endswith(" by A. Analyst")

    before = _state(config)
    assert main(["quarantine", "release", batch_id, "--config", config]) == 1
    assert f"{batch_id}: already released at 2026-01-15" in caplog.text
    assert _state(config) == before

    assert main(["run", "--config", config, "--as-of", AS_OF]) == 0

    with connect(settings.database.path) as db:
        assert (
            db.scalar(
                "SELECT outcome FROM run_units JOIN runs USING (run_id) "
                "WHERE unit = 'police_uk_street 2025-02' ORDER BY started_at DESC LIMIT 1"
            )
            == "unchanged"
        )
        statuses = db.rows("SELECT DISTINCT status FROM evaluations WHERE period_start = ?", [Q4])
        months = db.rows(
            "SELECT DISTINCT months_loaded FROM observations "
            "WHERE grain = 'quarter' AND period_start = ?",
            [Q4],
        )
    assert ("withheld",) not in statuses
    assert months == [(3,)]  # February counts in the quarter now
    after = _state(config)
    assert after["quarantine"] == before["quarantine"]
    assert after["police_street"] == before["police_street"]


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        ("delete", "the staged file of {batch} is missing"),
        ("empty", "cannot promote {batch}"),  # no staged rows: fails mid-transaction
    ],
)
def test_a_release_without_its_staged_rows_fails_naming_the_file_and_changes_nothing(
    tmp_path: Path,
    source: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    damage: str,
    error: str,
) -> None:
    config = _quarantined(tmp_path, source[0], capsys)
    batch_id = _batch_id(config, capsys)
    staged = staging_path(load_config(Path(config)).paths.data_dir, batch_id)
    staged.unlink()
    if damage == "empty":
        connect_staging(staged).close()
    before = _state(config)

    assert main(["quarantine", "release", batch_id, "--config", config]) == 1

    assert f"{staged}: {error.format(batch=batch_id)}" in caplog.text
    assert _state(config) == before
    assert main(["quarantine", "show", batch_id, "--config", config]) == 0
    missing = " (missing)" if damage == "delete" else ""
    assert f"staged file  {staged}{missing}\n" in capsys.readouterr().out


def test_a_batch_superseded_by_a_later_file_cannot_be_released(
    tmp_path: Path,
    source: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    base_url, folder = source
    config = _quarantined(tmp_path, base_url, capsys)
    batch_id = _batch_id(config, capsys)
    (folder / FEBRUARY).write_bytes((STREET / FEBRUARY).read_bytes())  # the force republishes
    assert main(["run", "--config", config, "--as-of", AS_OF]) == 0
    capsys.readouterr()
    before = _state(config)

    assert main(["quarantine", "release", batch_id, "--config", config]) == 1

    assert f"{batch_id}: a later 2025-02 file came after it" in caplog.text
    assert _state(config) == before
    assert main(["quarantine", "list", "--config", config]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert (
        line.startswith(batch_id) and "  superseded by police_uk_street:cheshire:2025-02:" in line
    )


def test_a_quarantine_from_before_batches_named_their_force_is_superseded_by_a_good_file(
    tmp_path: Path, source: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Ledger rows from before migration 008 have no force_id: they are the configured
    force's, so a corrected file loaded after the upgrade is the month's latest."""
    base_url, folder = source
    config = _quarantined(tmp_path, base_url, capsys)
    settings = load_config(Path(config))
    with connect(settings.database.path) as db:
        db.execute("UPDATE load_ledger SET force_id = NULL")  # as the upgrade left them
        assert Q4 in withheld_quarters(db, SOURCE, force_id="cheshire")
        assert withheld_quarters(db, SOURCE, force_id="merseyside", own="cheshire") == {}, (
            "nor are they another force's"
        )
    (folder / FEBRUARY).write_bytes((STREET / FEBRUARY).read_bytes())  # the force republishes

    assert main(["run", "--config", config, "--as-of", AS_OF]) == 0

    with connect(settings.database.path) as db:
        assert withheld_quarters(db, SOURCE, force_id="cheshire") == {}
        statuses = db.rows("SELECT DISTINCT status FROM evaluations WHERE period_start = ?", [Q4])
    assert statuses and ("withheld",) not in statuses


def test_a_release_while_a_run_holds_the_lock_does_nothing_and_names_the_holder(
    tmp_path: Path,
    source: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = _quarantined(tmp_path, source[0], capsys)
    batch_id = _batch_id(config, capsys)
    before = _state(config)
    data_dir = load_config(Path(config)).paths.data_dir

    with run_lock(data_dir, "safer run", dt.datetime.now(dt.UTC)) as holder:
        code = main(["quarantine", "release", batch_id, "--config", config, "--by", "A"])
        # Reading needs no run lock (a run's own DuckDB lock is what refuses it mid-run).
        assert main(["quarantine", "list", "--config", config]) == 0

    assert code == 5
    assert f"another safer run holds the lock (pid {holder.pid}" in caplog.text
    assert _state(config) == before
    assert main(["quarantine", "release", batch_id, "--config", config, "--by", "A"]) == 0


def test_unknown_ids_are_refused_by_name_and_an_empty_quarantine_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = str(write_config(tmp_path, "http://127.0.0.1:9/unused", MONTHS))

    assert main(["quarantine", "list", "--config", config]) == 0
    assert capsys.readouterr().out == "nothing in quarantine\n"
    assert main(["quarantine", "list", "--all", "--config", config]) == 0
    assert capsys.readouterr().out == "nothing has been quarantined\n"
    for action in ("show", "release"):
        caplog.clear()
        assert main(["quarantine", action, "no-such-batch", "--config", config]) == 1
        assert "no-such-batch: no quarantined batch has this ID" in caplog.text
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("row", "text"),
    [
        ({"record_no": 17, "Month": "2025-03"}, "record 17 (line 18): Month '2025-03'"),
        (
            {"record_no": 5, "Crime ID": None, "Crime type": "Burglary"},
            "record 5 (line 6): Crime ID (empty), Crime type 'Burglary'",
        ),
        (
            {"line": 3001, "problem": "too few columns", "columns": "", "text": "abc,2025"},
            "line 3001: problem 'too few columns', columns '', text 'abc,2025'",
        ),
        ({"value": "Antisocial"}, "value 'Antisocial'"),
    ],
)
def test_it_describes_a_sample_row_by_record_or_line(row: dict[str, object], text: str) -> None:
    assert describe_sample_row(row) == text


@pytest.mark.parametrize("action", ["list", "show", "release"])
def test_every_quarantine_command_has_help(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["quarantine", action, "--help"])

    assert exited.value.code == 0
    assert "--config" in capsys.readouterr().out


def test_names_from_a_source_reach_the_terminal_with_control_characters_escaped(
    tmp_path: Path, source: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A file name carrying an escape sequence (one that would clear the operator's screen)."""
    base_url, _ = source
    config = _quarantined(tmp_path, base_url, capsys)
    with connect(load_config(Path(config)).database.path) as db:
        for table in ("load_ledger", "quarantine"):
            db.execute(f"UPDATE {table} SET file_path = file_path || chr(27) || '[2J.csv'")

    for command in (["quarantine", "list"], ["status"]):
        assert main([*command, "--config", config]) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out, command
    batch_id = _batch_id(config, capsys)
    assert main(["quarantine", "show", batch_id, "--config", config]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\\x1b[2J.csv" in shown


def test_a_batch_whose_staged_copy_is_lost_is_refetched_and_checked_anew(
    tmp_path: Path,
    source: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    base_url, folder = source
    config = _quarantined(tmp_path, base_url, capsys)
    batch_id = _batch_id(config, capsys)
    settings = load_config(Path(config))
    staging_path(settings.paths.data_dir, batch_id).unlink()  # a damaged or lost staging file

    assert main(["quarantine", "release", batch_id, "--config", config]) == 1
    assert f"`safer quarantine refetch {batch_id}` fetches the file again" in caplog.text

    # Unchanged at source: fetched whole (no validators), checked anew, quarantined again.
    assert main(["quarantine", "refetch", batch_id, "--config", config]) == 3
    assert "refetched 2025-02 of police_uk_street: quarantined: " in capsys.readouterr().out
    assert staging_path(settings.paths.data_dir, batch_id).is_file()  # releasable again

    for path in STREET.glob("2025-02-*.gz"):  # the publisher corrects the month
        (folder / path.name).write_bytes(path.read_bytes())
    assert main(["quarantine", "refetch", batch_id, "--config", config]) == 0
    assert "refetched 2025-02 of police_uk_street: loaded: " in capsys.readouterr().out
    with connect(settings.database.path) as db:
        assert withheld_quarters(db, SOURCE) == {}
        assert db.scalar(
            "SELECT count(*) FROM police_street WHERE period = DATE '2025-02-01'"
        ) == len(_raw_rows(folder / FEBRUARY))
    assert main(["quarantine", "refetch", batch_id, "--config", config]) == 1
    assert "only the latest file of a slot can be refetched" in caplog.text
