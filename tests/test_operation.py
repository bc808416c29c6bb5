"""Unattended operation: the run lock, stopping on SIGTERM, the scheduler's catch-up, status,
logs and the operator's emails. Real processes, a real loopback HTTP and SMTP server; the
scheduler's downtime is simulated in its job store, not slept through."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from safer.app import commands
from safer.app.job import ExitCode, run
from safer.app.lock import Busy, run_lock
from safer.app.schedule import build_scheduler, next_fire
from safer.kernel.config import load_config
from safer.kernel.logs import configure_logging
from safer.scheduler import main
from safer.store.db import connect
from tests.conftest import ROOT, STREET, write_config

Clock = Callable[[], dt.datetime]
LONDON = ZoneInfo("Europe/London")
CALLS = Path(os.environ.get("SAFER_TEST_CALLS", "/tmp/safer-test-calls"))


def _safer(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "safer", *args, "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


class _Slow(BaseHTTPRequestHandler):
    """Serves the bundled street months, each after a pause, so a run can be stopped mid-way."""

    def __init__(self, delay: float, *args: object) -> None:
        self.delay = delay
        super().__init__(*args)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802
        name = self.path.rsplit("/", 1)[-1]
        source = STREET / f"{name}.gz"
        if not source.is_file():
            self.send_error(404)
            return
        time.sleep(self.delay)
        body = gzip.decompress(source.read_bytes())
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Slow, 0.4))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_second_run_while_one_holds_the_lock_does_nothing_and_says_why(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, str(STREET), ["2025-01"])
    settings = load_config(config)
    with run_lock(settings.paths.data_dir, "safer run", dt.datetime.now(dt.UTC)) as me:
        done = _safer(config, "run", "--as-of", "2025-02-20")
        _, err = done.communicate(timeout=60)

    assert done.returncode == ExitCode.BUSY == 5
    assert f"another safer run holds the lock (pid {me.pid}" in err
    assert "nothing was done" in err
    assert not settings.database.path.exists(), "it did not even open the database"


def test_a_killed_run_leaves_a_lock_the_next_run_clears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "var"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import datetime, os, signal, sys, pathlib; from safer.app.lock import run_lock\n"
            "with run_lock(pathlib.Path(sys.argv[1]), 'safer run', datetime.datetime.now()):\n"
            "    print('locked', flush=True); os.kill(os.getpid(), signal.SIGKILL)",
            str(data),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = holder.communicate(timeout=30)
    assert out.strip() == "locked" and holder.returncode == -signal.SIGKILL

    with run_lock(data, "safer run", dt.datetime.now(dt.UTC)):
        with pytest.raises(Busy):  # and while we hold it, nobody else gets it
            with run_lock(data, "safer run", dt.datetime.now(dt.UTC)):
                pass

    assert f"cleared a stale lock left by pid {holder.pid}" in caplog.text
    assert "is not running" in caplog.text


def test_sigterm_mid_run_finishes_the_month_under_way_and_stops_cleanly(
    tmp_path: Path, slow_server: str
) -> None:
    months = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    config = write_config(tmp_path, slow_server, [f"{months[0]}:{months[-1]}"])
    settings = load_config(config)
    running = _safer(config, "run", "--as-of", "2025-07-20")
    assert running.stderr is not None
    lines = []
    for line in running.stderr:
        lines.append(line)
        if "police_uk_street 2025-01 [1/6]: loaded" in line:
            running.send_signal(signal.SIGTERM)
            break
    _, rest = running.communicate(timeout=120)
    log = "".join(lines) + rest

    assert running.returncode == ExitCode.STOPPED == 6, log
    assert "SIGTERM received: finishing the current unit, then stopping" in log
    with connect(settings.database.path) as db:
        loaded = db.rows("SELECT period, rows FROM source_periods ORDER BY period")
        for period, rows in loaded:
            assert (
                db.scalar("SELECT count(*) FROM police_street WHERE period = ?", [period]) == rows
            )
        assert db.rows("SELECT status, exit_code FROM runs") == [("stopped", 6)]
        assert db.scalar("SELECT count(*) FROM load_ledger WHERE status = 'loaded'") == len(loaded)
    assert 1 <= len(loaded) < len(months), "it stopped between months"

    again = _safer(config, "run", "--as-of", "2025-07-20")
    again.communicate(timeout=180)
    assert again.returncode == 0
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM source_periods") == len(months)


def record(config: str, kind: str, source: str | None) -> None:
    """A stand-in for ``safer.app.schedule.fire`` that notes each firing in a file."""
    with CALLS.open("a", encoding="utf-8") as out:
        out.write(f"{kind} {source}\n")


def _wait_for(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)


def _set_stored_next_run(store_path: Path, owner: object, job_id: str, shift: dt.timedelta) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    store = SQLAlchemyJobStore(url=f"sqlite:///{store_path}")
    store.start(owner, "default")
    job = store.lookup_job(job_id)
    job.next_run_time = dt.datetime.now(LONDON) + shift
    store.update_job(job)
    store.shutdown()


def test_the_scheduler_catches_up_a_missed_run_once_after_downtime(tmp_path: Path) -> None:
    CALLS.unlink(missing_ok=True)
    config = write_config(
        tmp_path, "unused", ["2025-01"], extra="\n[schedule]\nrun = '0 7 * * *'\n"
    )
    settings = load_config(config)
    first = build_scheduler(settings, config, blocking=False, target="tests.test_operation:record")
    first.start(paused=True)  # puts the job in the store, runs nothing
    first.shutdown()
    # Down for three days: the stored next run is three mornings ago, as it is when the process
    # stops just before a firing and is not started again until now. Written into the store
    # while no scheduler runs, exactly as a stopped process would leave it.
    _set_stored_next_run(settings.schedule.job_store, first, "run", dt.timedelta(days=-3))
    assert not CALLS.exists()

    second = build_scheduler(settings, config, blocking=False, target="tests.test_operation:record")
    second.start()
    _wait_for(lambda: CALLS.exists())
    time.sleep(0.5)  # any further (wrong) catch-up firings would land by now
    upcoming = second.get_job("run").next_run_time
    second.shutdown()

    assert CALLS.read_text(encoding="utf-8").splitlines() == ["run None"], "caught up once"
    assert upcoming > dt.datetime.now(LONDON), "then back on its normal times"
    assert (upcoming.hour, upcoming.minute) == (7, 0)


def test_sigterm_to_the_scheduler_lets_the_job_under_way_finish_then_exits(
    tmp_path: Path, slow_server: str
) -> None:
    """README: "the job under way finishes first". It stops at its next unit, as a stopped
    `safer run` does, and records that; the process must not end (os._exit) under it."""
    config = write_config(
        tmp_path, slow_server, ["2025-01:2025-06"], extra="\n[schedule]\nrun = '0 7 * * *'\n"
    )
    settings = load_config(config)
    first = build_scheduler(settings, config, blocking=False)
    first.start(paused=True)  # puts the job in the store, runs nothing
    first.shutdown()
    # Missed yesterday: caught up the moment the scheduler starts.
    _set_stored_next_run(settings.schedule.job_store, first, "run", dt.timedelta(days=-1))
    running = _safer(config, "schedule")
    watchdog = threading.Timer(240, running.kill)  # never hang the suite on a stuck scheduler
    watchdog.start()
    assert running.stderr is not None
    lines = []
    try:
        for line in running.stderr:
            lines.append(line)
            if "police_uk_street 2025-01 [1/6]: loaded" in line:
                running.send_signal(signal.SIGTERM)
                break
        _, rest = running.communicate(timeout=180)
    finally:
        watchdog.cancel()
    log = "".join(lines) + rest

    assert running.returncode == 0, log
    assert "SIGTERM received: stopping the scheduler after the current job" in log
    assert log.rindex("schedule: stopped") > log.index("stopped on request after loading"), log
    with connect(settings.database.path) as db:
        assert db.rows("SELECT status, exit_code FROM runs") == [("stopped", 6)]
        loaded = db.scalar("SELECT count(*) FROM source_periods")
        assert db.scalar("SELECT count(*) FROM load_ledger WHERE status = 'loaded'") == loaded
    assert 1 <= loaded < 6, "it stopped between months"


def test_a_job_store_from_before_0_2_keeps_its_jobs_and_their_missed_runs(tmp_path: Path) -> None:
    """Stores written before the re-layering name the job function ``safer.app.schedule.fire``. They
    still load, and each job moves to its new name keeping its stored next run time, so a run
    missed across the upgrade is still caught up."""
    config = write_config(
        tmp_path, "unused", ["2025-01"], extra="\n[schedule]\nrun = '0 7 * * *'\n"
    )
    settings = load_config(config)
    old = build_scheduler(settings, config, blocking=False, target="safer.schedule:fire")
    old.start(paused=True)  # puts the job in the store, runs nothing
    old.shutdown()
    _set_stored_next_run(settings.schedule.job_store, old, "run", dt.timedelta(days=-1))

    new = build_scheduler(settings, config, blocking=False)
    new.start(paused=True)
    job = new.get_job("run")
    new.shutdown()

    assert job.func_ref == "safer.app.schedule:fire"
    assert job.next_run_time < dt.datetime.now(LONDON), "the missed run is still due"


def test_a_changed_trigger_is_rescheduled_and_a_removed_job_dropped(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        "unused",
        ["2025-01"],
        extra="\n[schedule]\nrun = '0 7 * * *'\ndigest = '0 8 * * 1'\n",
    )
    scheduler = build_scheduler(
        load_config(config), config, blocking=False, target="tests.test_operation:record"
    )
    scheduler.start()
    scheduler.shutdown()
    config.write_text(
        config.read_text().replace("run = '0 7 * * *'\ndigest = '0 8 * * 1'", "run = '30 6 * * *'")
    )

    again = build_scheduler(
        load_config(config), config, blocking=False, target="tests.test_operation:record"
    )
    again.start()
    jobs = {job.id: job for job in again.get_jobs()}
    again.shutdown()

    assert set(jobs) == {"run", "check"}
    assert (jobs["run"].next_run_time.hour, jobs["run"].next_run_time.minute) == (6, 30)


@pytest.mark.parametrize(
    ("after", "expected", "offset"),
    [
        # The clocks go forward on 29 March 2026 and back on 25 October 2026: 07:00 stays 07:00.
        (dt.datetime(2026, 3, 28, 8, 0, tzinfo=LONDON), dt.datetime(2026, 3, 29, 7, 0), 1),
        (dt.datetime(2026, 3, 27, 8, 0, tzinfo=LONDON), dt.datetime(2026, 3, 28, 7, 0), 0),
        (dt.datetime(2026, 10, 24, 8, 0, tzinfo=LONDON), dt.datetime(2026, 10, 25, 7, 0), 0),
        (dt.datetime(2026, 10, 23, 8, 0, tzinfo=LONDON), dt.datetime(2026, 10, 24, 7, 0), 1),
    ],
)
def test_cron_times_are_london_times_across_the_clock_changes(
    after: dt.datetime, expected: dt.datetime, offset: int
) -> None:
    found = next_fire("0 7 * * *", after)
    assert found.replace(tzinfo=None) == expected
    assert found.utcoffset() == dt.timedelta(hours=offset)


def _smtp_config(
    tmp_path: Path, port: int, extra: str = "", months: tuple[str, ...] = ("2025-01",)
) -> Path:
    return write_config(
        tmp_path,
        str(STREET),
        list(months),
        smtp_port=port,
        extra=f'\n[operator]\nemail = "ops@example.org"\n{extra}',
    )


def test_the_operator_is_emailed_when_a_source_fails(
    tmp_path: Path, smtp_server: tuple[int, list[EmailMessage]], clock: Clock
) -> None:
    port, messages = smtp_server
    extra = (
        "failures_in_a_row = 2\nsource_backoff_minutes = 0\n"
        f'\n[sources.call_handling]\nlocation = "{tmp_path / "no-such-folder"}"\n'
    )
    # A whole quarter (Jan to Mar 2025), so there is a digest to send.
    settings = load_config(_smtp_config(tmp_path, port, extra, ("2025-01:2025-03",)))

    first = run(settings, dt.date(2025, 4, 10), clock)
    second = run(settings, dt.date(2025, 4, 11), clock)

    assert first.exit_code == second.exit_code == ExitCode.JOB_ERROR
    # The failing source did not stop the others: the street month loaded, and the digest went.
    assert [(b.source, b.outcome) for b in first.batches] == [
        *[("police_uk_street", "loaded")] * 3,
        ("call_handling", "failed"),
    ]
    assert any("lead@example.org" in m["To"] for m in messages)
    alerts = [m for m in messages if m["To"] == "ops@example.org"]
    subjects = [m["Subject"] for m in alerts]
    assert subjects == [
        f"[safer] run {first.run_id} failed (1 problems)",
        f"[safer] run {second.run_id} failed (1 problems)",
        "[safer] call_handling has failed 2 runs in a row",
    ]
    body = alerts[0].get_content()
    assert "call_handling *: the source failed: LoadError" in body
    assert "no-such-folder: the return folder does not exist" in body
    assert all(m["To"] != "ops@example.org" or "password" not in m.get_content() for m in alerts)


def test_a_missed_window_is_reported_at_the_next_start(
    tmp_path: Path, smtp_server: tuple[int, list[EmailMessage]]
) -> None:
    port, messages = smtp_server
    settings = load_config(_smtp_config(tmp_path, port))
    start = dt.datetime(2025, 2, 1, 7, 0, tzinfo=dt.UTC)
    run(settings, dt.date(2025, 2, 1), lambda: start)
    later = start + dt.timedelta(days=3)

    run(settings, dt.date(2025, 2, 4), lambda: later)

    overdue = [m for m in messages if "no successful run" in m["Subject"]]
    assert [m["Subject"] for m in overdue] == ["[safer] no successful run for 72 hours"]
    assert "the last successful run" in overdue[0].get_content()
    run(settings, dt.date(2025, 2, 4), lambda: later + dt.timedelta(minutes=5))
    assert len([m for m in messages if "no successful run" in m["Subject"]]) == 1, "told once"


def test_status_reports_runs_sources_and_health_as_text_and_json(tmp_path: Path) -> None:
    config = write_config(tmp_path, str(STREET), ["2025-01"])
    done = _safer(config, "run", "--as-of", "2025-02-20")
    done.communicate(timeout=120)
    assert done.returncode == 0

    text = _safer(config, "status")
    out, _ = text.communicate(timeout=60)
    as_json = _safer(config, "status", "--json", "--check")
    data, _ = as_json.communicate(timeout=60)

    assert text.returncode == 0 and "healthy" in out.splitlines()[0]
    assert "police_uk_street: 1 periods in use, newest 2025-01-01; ok" in out
    found = json.loads(data)
    assert as_json.returncode == 0 and found["healthy"] is True
    assert (
        found["runs"][0]["exit_code"] == 0 and found["sources"][0]["source"] == "police_uk_street"
    )
    assert {"schedule", "quarantined", "pending_digests", "pending_alerts"} <= set(found)


def test_status_check_fails_when_the_last_run_failed(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", ["2025-01"])  # nothing listens
    failing = _safer(config, "run", "--as-of", "2025-02-20")
    failing.communicate(timeout=120)
    assert failing.returncode == 1

    check = _safer(config, "status", "--check")
    out, _ = check.communicate(timeout=60)

    assert check.returncode == 1
    assert "NEEDS ATTENTION" in out and "problem: the last run" in out


def test_status_check_during_a_run_judges_the_window_against_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """While a run holds the database, status shows the last snapshot; whether a run has
    succeeded within the window is judged at the time of asking, not taken from it."""
    config = write_config(tmp_path, str(STREET), ["2025-01"])
    settings = load_config(config)
    finished = dt.datetime(2025, 2, 20, 7, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(commands, "now", lambda: finished)
    assert main(["run", "--config", str(config), "--as-of", "2025-02-20"]) == 0
    window = dt.timedelta(hours=settings.operator.expected_run_hours)
    codes = {}
    for later in (finished + dt.timedelta(hours=1), finished + window + dt.timedelta(hours=4)):
        monkeypatch.setattr(commands, "now", lambda at=later: at)
        capsys.readouterr()
        with run_lock(settings.paths.data_dir, "safer run", later):  # a run under way (hung?)
            codes[later - finished] = main(["status", "--check", "--config", str(config)])
        out = capsys.readouterr().out

    assert codes == {dt.timedelta(hours=1): 0, window + dt.timedelta(hours=4): 1}
    assert "NEEDS ATTENTION" in out and "a run is in progress: pid " in out
    assert "problem: no successful run since 2025-02-20 07:00" in out


def test_logs_are_json_lines_off_a_terminal_and_never_carry_the_password() -> None:
    import logging

    stream = io.StringIO()
    configure_logging(stream, secrets=["hunter2-secret"])
    logging.getLogger("safer.test").warning("login as %s with %s", "safer", "hunter2-secret")
    try:
        raise RuntimeError("auth failed for hunter2-secret")
    except RuntimeError:
        logging.getLogger("safer.test").exception("smtp")
    configure_logging(io.StringIO())  # leave the process as it was found

    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "safer.test"
    assert lines[0]["message"] == "login as safer with [redacted]"
    assert "hunter2-secret" not in stream.getvalue()
    assert "auth failed for [redacted]" in stream.getvalue()


def test_a_data_folder_that_is_a_file_is_one_line_naming_it_not_a_traceback(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/unused", ["2025-01"])
    (tmp_path / "var").write_text("not a folder")  # data_dir = "var" in the config

    done = subprocess.run(
        [sys.executable, "-m", "safer", "run", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    [line] = [json.loads(x) for x in done.stderr.splitlines() if '"ERROR"' in x]
    assert line["message"] == (
        f"cannot use {tmp_path / 'var'}: File exists (a file where a folder should be)"
    )
