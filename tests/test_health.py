"""Health that tells the truth (issue 15): each state that stops digests reaching people or
figures being right keeps ``safer status --check`` failing, is logged by every run it persists
through, and raises one operator alert. Real runs, a real loopback HTTP source, a real SMTP
server (aiosmtpd), real DuckDB files; only the clock is fixed."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import os
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from demo.server import serve
from safer.app import commands
from safer.app.job import ExitCode, run
from safer.kernel.config import Settings, load_config
from safer.scheduler import main
from safer.store.db import connect
from tests.conftest import STREET, free_port, street_bytes, write_config

Clock = Callable[[], dt.datetime]
QUARTER = ["2025-01:2025-03"]  # 2024/25 Q4: a whole quarter, so there is a digest to send
AS_OF = dt.date(2025, 4, 15)
START = dt.datetime(2025, 4, 15, 6, 0, tzinfo=dt.UTC)
BLOCK, HEADER = 262_144, 3 * 4096  # DuckDB's block size and file header


class Clocks:
    """The one thing mocked: a clock that ticks a second per reading, moved on by hand."""

    def __init__(self) -> None:
        self.at = START
        self._ticks = itertools.count()

    def __call__(self) -> dt.datetime:
        return self.at + dt.timedelta(seconds=next(self._ticks))

    def later(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> Clocks:
    found = Clocks()
    monkeypatch.setattr(commands, "now", found)  # what `safer status` reads
    return found


def _settings(
    folder: Path, base: str, port: int, *, months: list[str] | None = None, extra: str = ""
) -> Settings:
    path = write_config(
        folder,
        base,
        months or QUARTER,
        smtp_port=port,
        extra=f'\n[operator]\nemail = "ops@example.org"\n{extra}',
    )
    return load_config(path)


def _check(settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """``safer status --check`` as monitoring runs it: exit code and problem lines."""
    capsys.readouterr()
    config = str(settings.database.path.parent / "safer.toml")
    code = main(["status", "--check", "--config", config])
    lines = capsys.readouterr().out.splitlines()
    return code, [line.removeprefix("  problem: ") for line in lines if "problem: " in line]


def _alerts(settings: Settings, kind: str) -> list[str]:
    with connect(settings.database.path) as db:
        return [
            str(row[0])
            for row in db.rows("SELECT subject FROM operator_alerts WHERE kind = ?", [kind])
        ]


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> int:
    found = [r for r in caplog.records if r.getMessage().startswith(f"needs attention: {text}")]
    caplog.clear()
    return len(found)


@pytest.fixture
def street() -> Iterator[str]:
    with serve(STREET) as base_url:
        yield base_url


def test_a_server_without_starttls_fails_digests_from_the_first_run_and_is_reported(
    tmp_path: Path,
    street: str,
    smtp_server: tuple[int, list[EmailMessage]],
    clocks: Clocks,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, messages = smtp_server  # plain SMTP: it never offers STARTTLS
    settings = _settings(tmp_path, street, port)
    config = settings.database.path.parent / "safer.toml"
    text = config.read_text(encoding="utf-8").replace('security = "none"', 'security = "starttls"')
    config.write_text(text, encoding="utf-8")
    settings = load_config(config)

    first = run(settings, AS_OF, clocks)

    assert first.exit_code is ExitCode.DIGEST_NOT_SENT
    assert first.delivery.failed == 2 and first.delivery.waiting == 0  # permanent, not pending
    assert messages == []  # nothing in clear, to anyone
    code, problems = _check(settings, capsys)
    assert code == 1
    assert any("2 digests were refused" in p and "does not offer STARTTLS" in p for p in problems)
    assert _logged(caplog, "2 digests were refused") == 1

    clocks.later(days=1)
    again = run(settings, dt.date(2025, 4, 16), clocks)

    assert again.exit_code is ExitCode.DIGEST_NOT_SENT
    assert _logged(caplog, "2 digests were refused") == 1  # logged by every run it persists
    assert len(_alerts(settings, "digests_refused")) == 1  # told once
    assert _check(settings, capsys)[0] == 1


def test_digests_pending_past_the_configured_age_are_reported_once(
    tmp_path: Path,
    street: str,
    clocks: Clocks,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nothing listens: every attempt is a temporary failure
    settings = _settings(tmp_path, street, port, extra="undelivered_hours = 12\n")

    down = run(settings, AS_OF, clocks)

    assert down.exit_code is ExitCode.DIGEST_NOT_SENT and down.delivery.waiting == 2
    assert _check(settings, capsys) == (0, [])  # pending a while is normal: retried next run

    clocks.later(hours=13)
    still = run(settings, AS_OF, clocks)

    assert still.exit_code is ExitCode.DIGEST_NOT_SENT
    code, problems = _check(settings, capsys)
    assert code == 1
    assert [p for p in problems if "waiting over 12 hours" in p] == [
        "2 digests were waiting over 12 hours to be sent (last error: SMTP 127.0.0.1:"
        f"{port}: cannot connect: ConnectionRefusedError: [Errno 111] Connection refused)"
    ]
    assert _logged(caplog, "2 digests were waiting over 12 hours") == 1
    clocks.later(hours=1)
    run(settings, AS_OF, clocks)
    assert _logged(caplog, "2 digests were waiting over 12 hours") == 1
    assert len(_alerts(settings, "digests_waiting")) == 1


def test_a_source_skipped_by_backoff_fails_every_run_and_the_health_check(
    tmp_path: Path,
    httpserver: HTTPServer,
    clocks: Clocks,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    httpserver.expect_request("/2025-01/2025-01-cheshire-street.csv").respond_with_data(
        "down for maintenance", status=503
    )
    settings = _settings(tmp_path, httpserver.url_for(""), free_port(), months=["2025-01"])

    failed = run(settings, AS_OF, clocks)
    clocks.later(minutes=5)
    skipped = run(settings, AS_OF, clocks)

    assert failed.exit_code is skipped.exit_code is ExitCode.JOB_ERROR
    assert [b.outcome for b in skipped.batches] == ["backing_off"]
    assert _logged(caplog, "police_uk_street is skipped until") == 2  # both runs say so
    code, problems = _check(settings, capsys)
    assert code == 1
    assert any(p.startswith("police_uk_street is skipped until") for p in problems)
    assert len(_alerts(settings, "source_skipped")) == 1


def test_a_quarantined_batch_still_withholding_keeps_every_run_at_exit_3(
    tmp_path: Path,
    clocks: Clocks,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    published = tmp_path / "published"
    published.mkdir()
    for month in ("2025-01", "2025-02", "2025-03"):
        body = street_bytes(month)
        if month == "2025-02":
            body = body.replace(b",2025-02,", b",2025-03,", 1)  # one row claims another month
        (published / f"{month}-cheshire-street.csv.gz").write_bytes(gzip.compress(body))
    with serve(published) as base:
        settings = _settings(tmp_path, base, free_port())
        first = run(settings, AS_OF, clocks)
        clocks.later(days=1)
        second = run(settings, dt.date(2025, 4, 16), clocks)

    assert first.exit_code is second.exit_code is ExitCode.DIGEST_NOT_SENT  # no SMTP listening
    assert ExitCode.CHECKS_FAILED in first.problems and ExitCode.CHECKS_FAILED in second.problems
    assert _logged(caplog, "police_uk_street:cheshire:2025-02:") == 2
    code, problems = _check(settings, capsys)
    assert code == 1
    [withheld] = [p for p in problems if "is in quarantine" in p]
    assert "`safer quarantine show police_uk_street:cheshire:2025-02:" in withheld
    assert len(_alerts(settings, "quarantined")) == 1


def test_a_damaged_database_stops_the_run_before_anything_is_sent(
    tmp_path: Path,
    street: str,
    smtp_server: tuple[int, list[EmailMessage]],
    clocks: Clocks,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port, messages = smtp_server
    settings = _settings(tmp_path, street, port)
    assert run(settings, AS_OF, clocks).exit_code is ExitCode.OK
    sent = len(messages)
    path = settings.database.path
    with connect(path) as db:  # a block of the street table, read by every evaluation
        db.execute("CHECKPOINT")
        block = db.scalar(
            "SELECT max(block_id) FROM pragma_storage_info('police_street') "
            "WHERE segment_type = 'VARCHAR'"
        )
    with path.open("r+b") as handle:
        handle.seek(HEADER + int(block) * BLOCK + 512)
        handle.write(os.urandom(4096))
    (published := tmp_path / "later").mkdir()
    clocks.later(days=1)

    code = main(["run", "--config", str(path.parent / "safer.toml"), "--as-of", "2025-04-16"])

    assert code == 1
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if "safer doctor" in line]
    assert "the run stopped before fetching or sending anything" in line
    assert "checksum" in line.lower() and "Traceback" not in err
    assert len(messages) == sent  # nothing that the damage could make wrong
    code, problems = _check(settings, capsys)
    assert code == 1 and any("safer doctor" in p for p in problems)
    assert published.is_dir()
