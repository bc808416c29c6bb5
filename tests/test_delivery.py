"""Delivery against a real SMTP server (aiosmtpd on loopback): retries, permanent refusals, a
server that is down, a run killed after the server accepted a message, the ledger, and the
``safer digest --preview|--resend`` commands. Only the clock is faked; backoff is 0.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from demo.server import serve
from safer.alerts.deliver import RetryPolicy, send_queued
from safer.alerts.send import send_message
from safer.app.job import ExitCode, run
from safer.app.lock import run_lock
from safer.kernel.config import load_config
from safer.kernel.errors import SendError
from safer.scheduler import main
from safer.store.db import connect
from tests.conftest import ROOT, STREET, free_port, write_config

Clock = Callable[[], dt.datetime]
MONTHS = ["2024-01:2024-03", "2025-01:2025-03"]
AS_OF = dt.date(2025, 4, 15)
LEAD, HALTON = "lead@example.org", "halton@example.org"
PASSWORD = "pa55-W0rd!never-logged"
# Every table a command could write to: a preview must leave all of them as they were.
TABLES = (
    "runs",
    "run_units",
    "observations",
    "evaluations",
    "evaluation_log",
    "notifications",
    "outbox",
    "delivery_attempts",
    "delivery_ledger",
    "data_flags",
    "load_ledger",
)


def _ticking(start: dt.datetime) -> Clock:
    ticks = itertools.count()
    return lambda: start + dt.timedelta(seconds=next(ticks))


@pytest.fixture(scope="module")
def published() -> Iterator[str]:
    """A data.police.uk-like HTTP server over the bundled months."""
    with serve(STREET) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def loaded(published: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose database has the months loaded and evaluated, and no digest yet."""
    folder = tmp_path_factory.mktemp("loaded")
    settings = load_config(write_config(folder, published, MONTHS))
    quiet = settings.model_copy(update={"recipients": ()})
    run(quiet, AS_OF, _ticking(dt.datetime(2025, 4, 15, 5, 0, tzinfo=dt.UTC)))
    return folder


@pytest.fixture
def workspace(loaded: Path, tmp_path: Path) -> Path:
    """A private copy of the loaded database (and landed files) for one test."""
    for path in loaded.glob("safer.duckdb*"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(loaded / "var", tmp_path / "var")
    return tmp_path


def _config(folder: Path, base_url: str, port: int, smtp_extra: str = "") -> Path:
    """safer.toml for ``folder`` sending to ``port``; ``smtp_extra`` lines go under [smtp]."""
    path = write_config(folder, base_url, MONTHS, smtp_port=port)
    path.write_text(path.read_text(encoding="utf-8") + smtp_extra, encoding="utf-8")
    return path


class Mailbox:
    """An aiosmtpd handler: answers DATA with ``replies`` in turn (then 250) and keeps what it
    accepted; optionally stalls on the first QUIT until ``release`` is set."""

    def __init__(self, replies: tuple[str, ...] = (), *, stall_on_quit: bool = False) -> None:
        self.replies = list(replies)
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.stall_on_quit = stall_on_quit
        self.accepted = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        reply = self.replies.pop(0) if self.replies else "250 OK"
        if reply.startswith("250"):
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
            self.raw.append(envelope.content)
        return reply

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.stall_on_quit and not self.accepted.is_set():
            self.accepted.set()  # the message was accepted (250) and the client awaits QUIT
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        return "221 Bye"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["To"]]


@contextmanager
def smtp(handler: object, port: int | None = None, **options: Any) -> Iterator[int]:
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _rows(db_path: Path, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
    with connect(db_path) as db:
        return db.rows(sql, params)


def _attempts(db_path: Path, address: str) -> list[tuple[Any, ...]]:
    return _rows(
        db_path,
        "SELECT a.attempt, a.reason, a.outcome FROM delivery_attempts a "
        "JOIN outbox o USING (digest_id) WHERE o.email = ? ORDER BY a.attempt",
        [address],
    )


def _statuses(db_path: Path) -> dict[str, str]:
    return dict(_rows(db_path, "SELECT email, status FROM outbox WHERE kind = 'digest'"))


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_it_sends_each_digest_once_and_keeps_a_ledger_of_what_it_said(
    workspace: Path, published: str, clock: Clock
) -> None:
    mailbox = Mailbox()
    with smtp(mailbox) as port:
        settings = load_config(_config(workspace, published, port))
        report = run(settings, AS_OF, clock)

    assert report.exit_code is ExitCode.OK
    assert (report.delivery.sent, report.delivery.waiting, report.delivery.failed) == (2, 0, 0)
    assert _statuses(settings.database.path) == {LEAD: "sent", HALTON: "sent"}
    assert _attempts(settings.database.path, LEAD) == [(1, "first", "sent")]
    [lead] = mailbox.to(LEAD)
    db_path = settings.database.path
    [(message_id, stored, run_id)] = _rows(
        db_path, "SELECT message_id, message, run_id FROM outbox WHERE email = ?", [LEAD]
    )
    assert lead["Message-ID"] == message_id and run_id == report.run_id
    sent = mailbox.raw[mailbox.messages.index(lead)]
    assert sent.replace(b"\r\n", b"\n") == bytes(stored), "the exact message is kept"
    # The ledger holds every figure as the digest showed it, with the target behind it.
    ledger = _rows(
        db_path,
        "SELECT l.area, l.period, value, l.status, reason, movement, is_new, target_form, "
        "target, value_number, comparator FROM delivery_ledger l JOIN outbox o USING (digest_id) "
        "WHERE o.email = ? AND l.indicator_id = 'asb_per_1000' AND l.area = 'Halton' "
        "AND l.period = '2024/25 Q4'",
        [LEAD],
    )
    [(area, period, value, status, reason, movement, is_new, form, target, number, against)] = (
        ledger
    )
    assert (area, period, value, status) == ("Halton", "2024/25 Q4", "1.97 per 1,000", "amber")
    # Its rate fell 35.9% on the year against 39.6% in the rest of the force: the first
    # quarter with a change to judge (there is no 2022/23 Q4), so newly off track.
    assert (movement, is_new, form) == ("Newly off track", True, "rest_of_force_change")
    assert json.loads(target)["form"] == "rest_of_force_change"
    assert round(number, 2) == 1.97 and against == -39.6
    text = _text(lead)
    assert "- Halton: 1.97 | " in text and reason in text
    shown = _rows(
        db_path,
        "SELECT l.area, l.value, l.status_label FROM delivery_ledger l JOIN outbox o "
        "USING (digest_id) WHERE o.email = ? AND l.section = 'summary'",
        [LEAD],
    )
    # Four partnerships' ASB per 1,000 and five areas' ASB: the positive-outcome rate's
    # cohorts (19% of 2023/24 Q4's crimes awaiting an outcome, 2% of 2024/25 Q4's) are not
    # compared, so it is monitored, not summarised.
    assert len(shown) == 9
    for area, value, label in shown:
        assert f"- {area}: " in text and label.upper() in text and value.split()[0] in text
    delivered = _rows(db_path, "SELECT count(*) FROM delivered_items WHERE email = ?", [LEAD])
    assert delivered == _rows(
        db_path,
        "SELECT count(*) FROM delivery_ledger JOIN outbox USING (digest_id) WHERE email = ?",
        [LEAD],
    )


def test_a_temporary_refusal_is_retried_within_the_run(
    workspace: Path, published: str, clock: Clock
) -> None:
    mailbox = Mailbox(("451 4.3.0 Try again later",))
    with smtp(mailbox) as port:
        settings = load_config(_config(workspace, published, port))
        report = run(settings, AS_OF, clock)

    assert report.exit_code is ExitCode.OK
    assert _statuses(settings.database.path) == {LEAD: "sent", HALTON: "sent"}
    assert _attempts(settings.database.path, LEAD) == [
        (1, "first", "temporary"),
        (2, "retry", "sent"),
    ]
    assert len(mailbox.to(LEAD)) == 1 and len(mailbox.to(HALTON)) == 1


def test_a_permanent_refusal_is_recorded_reported_and_not_retried(
    workspace: Path, published: str, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox = Mailbox(("550 5.7.1 Message rejected as spam",))
    with smtp(mailbox) as port:
        settings = load_config(_config(workspace, published, port))
        report = run(settings, AS_OF, clock)
        again = run(settings, AS_OF, clock)

    assert report.exit_code is ExitCode.DIGEST_NOT_SENT
    # Undelivered until resent: every run says so, and the operator is told once.
    assert again.exit_code is ExitCode.DIGEST_NOT_SENT
    [(subject,)] = _rows(
        settings.database.path,
        "SELECT subject FROM operator_alerts WHERE kind = ?",
        ["digests_refused"],
    )
    assert subject.startswith("[safer] 1 digest was refused by the SMTP server (last error: ")
    assert "550 5.7.1" in subject and f"`safer digest --resend {report.run_id}`" in subject
    assert _statuses(settings.database.path) == {LEAD: "failed", HALTON: "sent"}
    assert _attempts(settings.database.path, LEAD) == [(1, "first", "permanent")]
    [error] = _rows(settings.database.path, "SELECT last_error FROM outbox WHERE email = ?", [LEAD])
    assert "550 5.7.1 Message rejected as spam" in error[0]
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    [logged] = [r.getMessage() for r in errors if "refused permanently" in r.getMessage()]
    assert LEAD in logged and f"safer digest --resend {report.run_id} --recipient {LEAD}" in logged
    assert mailbox.to(LEAD) == []


def test_a_server_that_is_down_leaves_digests_pending_until_the_next_run(
    workspace: Path, published: str, clock: Clock
) -> None:
    port = free_port()  # nothing listens here yet
    settings = load_config(_config(workspace, published, port))

    down = run(settings, AS_OF, clock)

    assert down.exit_code is ExitCode.DIGEST_NOT_SENT
    assert _statuses(settings.database.path) == {LEAD: "pending", HALTON: "pending"}
    assert [o for _, _, o in _attempts(settings.database.path, LEAD)] == ["temporary"] * 3
    # Once one digest has used its retries, the rest get one attempt: no waiting per recipient.
    assert _attempts(settings.database.path, HALTON) == [(1, "first", "temporary")]
    mailbox = Mailbox()
    with smtp(mailbox, port):
        up = run(settings, AS_OF, clock)

    assert up.exit_code is ExitCode.OK
    assert up.delivery.stored == (), "the same digests, not new ones"
    assert _statuses(settings.database.path) == {LEAD: "sent", HALTON: "sent"}
    assert _attempts(settings.database.path, HALTON)[-1] == (2, "next_run", "sent")
    assert len(mailbox.to(LEAD)) == 1 and len(mailbox.to(HALTON)) == 1


def test_a_run_killed_after_the_server_accepted_resends_with_the_same_message_id(
    workspace: Path, published: str, clock: Clock
) -> None:
    mailbox = Mailbox(stall_on_quit=True)
    log = workspace / "child.log"
    with smtp(mailbox) as port, log.open("wb") as stderr:
        config = _config(workspace, published, port)
        settings = load_config(config)
        command = ["run", "--config", str(config), "--as-of", AS_OF.isoformat()]
        child = subprocess.Popen([sys.executable, "-m", "safer", *command], cwd=ROOT, stderr=stderr)
        try:
            # The server has answered 250 to DATA and holds the child in QUIT: kill it there,
            # after delivery and before it can record that the digest was sent.
            while not mailbox.accepted.wait(0.05):
                assert child.poll() is None, log.read_text(encoding="utf-8")
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL
        finally:
            mailbox.release.set()
            if child.poll() is None:
                child.kill()
                child.wait()
        db_path = settings.database.path
        assert _statuses(db_path) == {LEAD: "sending", HALTON: "pending"}
        assert len(mailbox.messages) == 1

        rerun = run(settings, AS_OF, clock)

    assert rerun.exit_code is ExitCode.OK
    assert (rerun.delivery.sent, rerun.delivery.reconciled) == (2, 1)
    assert _statuses(db_path) == {LEAD: "sent", HALTON: "sent"}
    assert _attempts(db_path, LEAD) == [(1, "first", "interrupted"), (2, "reconcile", "sent")]
    # The lead's digest reached the server twice, byte for byte, with one Message-ID: a mailbox
    # that de-duplicates on it (Gmail, Exchange) shows it once.
    first, second = mailbox.to(LEAD)
    assert first["Message-ID"] == second["Message-ID"]
    assert mailbox.raw[mailbox.messages.index(second)] == mailbox.raw[0]
    by_id = {m["Message-ID"]: m["To"] for m in mailbox.messages}
    assert sorted(by_id.values()) == [
        "Halton CSP <halton@example.org>",
        "Performance lead <lead@example.org>",
    ]


def test_preview_writes_each_digest_and_sends_and_records_nothing(
    workspace: Path, published: str, capsys: pytest.CaptureFixture[str]
) -> None:
    mailbox = Mailbox()
    with smtp(mailbox) as port:
        config = _config(workspace, published, port)
        db_path = load_config(config).database.path
        before = {t: _rows(db_path, f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}
        out = workspace / "preview" / "digest.html"

        code = main(
            ["digest", "--preview", "--out", str(out), "--config", str(config)]
            + ["--as-of", AS_OF.isoformat()]
        )

    assert code == 0
    lead = (workspace / "preview" / "digest-performance-lead.html").read_text(encoding="utf-8")
    halton = (workspace / "preview" / "digest-halton-csp.html").read_text(encoding="utf-8")
    assert "newly off track" in lead.lower() and "Halton" in halton and "Warrington" not in halton
    assert "What moved since your last digest" in lead, "the movements a run would send now"
    assert "digest-halton-csp.html" in capsys.readouterr().out
    assert mailbox.messages == []
    assert {t: _rows(db_path, f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES} == before
    assert not (workspace / "outbox").exists()


def test_preview_shows_the_full_table_when_nothing_is_new(
    workspace: Path, published: str, clock: Clock
) -> None:
    mailbox = Mailbox()
    with smtp(mailbox) as port:
        config = _config(workspace, published, port)
        run(load_config(config), AS_OF, clock)
        out = workspace / "halton.html"

        code = main(
            ["digest", "--preview", "--recipient", "Halton CSP", "--out", str(out)]
            + ["--config", str(config), "--as-of", AS_OF.isoformat()]
        )

    assert code == 0
    html = out.read_text(encoding="utf-8")
    assert "What moved" not in html, "nothing is new: the digest as it stands, no movements"
    assert "Community safety — Halton — 2024/25 Q4" in _text(mailbox.to(HALTON)[0])
    assert html.count("data-summary-row") == 2, "the full current table"
    assert "ASB incidents per 1,000 residents" in html and "last year 398" in html
    assert len(mailbox.messages) == 2, "only the run sent anything"


def test_preview_uses_the_catalogue_as_a_run_does(
    workspace: Path, published: str, clock: Clock
) -> None:
    """An indicator whose source is not configured says so in a preview, as in a sent digest,
    rather than being measured on an empty table."""
    mailbox = Mailbox()
    with smtp(mailbox) as port:
        config = _config(workspace, published, port)
        run(load_config(config), AS_OF, clock)
        out = workspace / "lead.html"

        code = main(
            ["digest", "--preview", "--recipient", "Performance lead", "--out", str(out)]
            + ["--config", str(config), "--as-of", AS_OF.isoformat()]
        )

    assert code == 0
    html = out.read_text(encoding="utf-8")
    part = mailbox.to(LEAD)[0].get_body(preferencelist=("html",))
    assert part is not None
    unconfigured = re.compile(r"Not measured \(no source configured\): [^<]*")
    sent = unconfigured.findall(str(part.get_content()))
    assert "999 calls answered within 10 seconds" in unconfigured.findall(html)[0]
    assert sent and unconfigured.findall(html) == sent


def test_resend_sends_a_past_digest_again_and_records_it(
    workspace: Path, published: str, clock: Clock
) -> None:
    mailbox = Mailbox()
    with smtp(mailbox) as port:
        config = _config(workspace, published, port)
        settings = load_config(config)
        report = run(settings, AS_OF, clock)

        code = main(
            ["digest", "--resend", report.run_id, "--recipient", HALTON] + ["--config", str(config)]
        )

    assert code == 0
    original, again = mailbox.to(HALTON)
    assert len(mailbox.to(LEAD)) == 1
    digest_id = original["Message-ID"].strip("<>").split("@")[0]
    assert again["Message-ID"] == f"<{digest_id}-r1@example.org>"
    assert again["References"] == original["Message-ID"]
    assert _text(again) == _text(original) and again["Subject"] == original["Subject"]
    rows = _rows(
        settings.database.path,
        "SELECT digest_id, kind, resend_of, status, run_id FROM outbox WHERE email = ? "
        "ORDER BY created_at",
        [HALTON],
    )
    assert rows == [
        (digest_id, "digest", None, "sent", report.run_id),
        (f"{digest_id}-r1", "resend", digest_id, "sent", report.run_id),
    ]
    [(items, deliveries)] = _rows(
        settings.database.path,
        "SELECT count(*), count(DISTINCT delivered_digest_id) FROM delivered_items WHERE email = ?",
        [HALTON],
    )
    assert deliveries == 2 and items > 0


def test_resend_while_a_run_holds_the_lock_does_nothing_and_names_the_holder(
    workspace: Path, published: str, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox = Mailbox()
    with smtp(mailbox) as port:
        config = _config(workspace, published, port)
        settings = load_config(config)
        report = run(settings, AS_OF, clock)
        db_path = settings.database.path
        before = {t: _rows(db_path, f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}

        with run_lock(settings.paths.data_dir, "safer run", dt.datetime.now(dt.UTC)) as holder:
            code = main(["digest", "--resend", report.run_id, "--config", str(config)])

    assert code == ExitCode.BUSY == 5
    assert f"another safer run holds the lock (pid {holder.pid}" in caplog.text
    assert len(mailbox.messages) == 2, "only the run sent anything"
    assert {t: _rows(db_path, f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES} == before


def test_resend_refuses_an_unknown_run_or_recipient_and_sends_nothing(
    workspace: Path, published: str, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox = Mailbox()
    with smtp(mailbox) as port:
        config = _config(workspace, published, port)
        report = run(load_config(config), AS_OF, clock)

        unknown_run = main(
            ["digest", "--resend", "20990101T000000-abcdef", "--config", str(config)]
        )
        unknown_person = main(
            ["digest", "--resend", report.run_id, "--recipient", "nobody"]
            + ["--config", str(config)]
        )

    assert (unknown_run, unknown_person) == (1, 1)
    assert "unknown run '20990101T000000-abcdef'; the latest runs are: " in caplog.text
    assert f"run {report.run_id} sent no digest to 'nobody'; it sent to: " in caplog.text
    assert len(mailbox.messages) == 2


def _refuse_login(*args: object) -> AuthResult:
    return AuthResult(success=False, handled=False)


def test_the_password_is_never_logged_or_put_in_an_error(
    workspace: Path,
    published: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SAFER_SMTP_PASSWORD", PASSWORD)
    secrets = (PASSWORD, base64.b64encode(PASSWORD.encode()).decode())
    caplog.set_level("DEBUG")
    with smtp(Mailbox(), authenticator=_refuse_login, auth_require_tls=False) as port:
        config = _config(workspace, published, port, 'user = "safer"\n')
        settings = load_config(config)

        code = main(["run", "--config", str(config), "--as-of", AS_OF.isoformat()])
        assert settings.smtp is not None
        with pytest.raises(SendError) as raised:
            send_message(settings.smtp, PASSWORD, EmailMessage())

    assert code == 4
    assert _statuses(settings.database.path) == {LEAD: "failed", HALTON: "failed"}
    stored = _rows(
        settings.database.path,
        "SELECT string_agg(last_error, ' ') FROM outbox UNION ALL "
        "SELECT string_agg(error, ' ') FROM delivery_attempts",
    )
    printed = capsys.readouterr()
    error_text = "".join(traceback.format_exception(raised.value))
    assert "login refused for safer: 535" in str(raised.value)
    for text in (caplog.text, printed.out, printed.err, str(stored), error_text):
        for secret in secrets:
            assert secret not in text


def test_a_digest_that_crashes_the_sender_is_marked_failed_before_the_error_propagates(
    workspace: Path, published: str, clock: Clock
) -> None:
    settings = load_config(_config(workspace, published, free_port()))
    run(settings, AS_OF, clock)  # nothing listens: both digests stay pending

    def crash(message: EmailMessage) -> None:
        raise RuntimeError("a bug in the sender")

    with connect(settings.database.path) as db, pytest.raises(RuntimeError):
        send_queued(db, crash, RetryPolicy(retries=2), clock, "crash-run")

    # Failed, not left `sending`: the next run neither crashes on it again nor re-sends it.
    assert _statuses(settings.database.path) == {LEAD: "failed", HALTON: "pending"}
    [(error,)] = _rows(
        settings.database.path, "SELECT last_error FROM outbox WHERE email = ?", [LEAD]
    )
    assert error == "unexpected RuntimeError: a bug in the sender"


def test_the_digest_command_has_help_and_refuses_a_preview_without_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as shown:
        main(["digest", "--help"])
    assert shown.value.code == 0
    assert "--preview" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["digest", "--preview"])
    assert refused.value.code == 2, "a usage error, as argparse reports them"
    assert "digest --preview needs --out FILE.html" in capsys.readouterr().err
