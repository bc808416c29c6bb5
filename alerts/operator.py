"""Emails to the person who runs the job: a run that failed, a source failing run after run, and
no successful run in the expected window.

Each alert is stored first (``operator_alerts``, keyed so that the same failure streak or the
same silent gap is reported once), then sent through the one SMTP chokepoint
(``alerts.send``). One not sent yet is tried again at the next run; with no ``[operator] email``
or no ``[smtp]`` it is kept as ``not_sent`` and logged, never lost. Texts name what failed and
what to run; they never carry a secret.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage

from safer.kernel.config import Settings
from safer.kernel.errors import SendError
from safer.pipelines.source import BatchOutcome
from safer.store.db import Database

__all__ = ["check_overdue", "note_run", "pending_alerts", "raise_alert", "send_alerts"]

logger = logging.getLogger(__name__)

Sender = Callable[[EmailMessage], None]


def raise_alert(
    db: Database, key: str, kind: str, subject: str, body: str, now: dt.datetime
) -> bool:
    """Store an alert unless one with ``key`` exists; returns whether it is new."""
    if db.scalar("SELECT count(*) FROM operator_alerts WHERE alert_key = ?", [key]):
        return False
    db.execute(
        "INSERT INTO operator_alerts VALUES (?, ?, ?, ?, ?, 'pending', 0, NULL, NULL)",
        [key, kind, subject, body, now],
    )
    logger.warning("operator alert: %s", subject)
    return True


def note_run(
    db: Database,
    settings: Settings,
    run_id: str,
    failed_units: Sequence[str],
    streaks: Mapping[str, int],
    outcomes: Sequence[BatchOutcome],
    now: dt.datetime,
) -> None:
    """The alerts a finished run calls for: its own failure, and sources now failing N runs
    in a row (told once, when the streak reaches N)."""
    if failed_units:
        lines = "\n".join(f"- {unit}" for unit in failed_units)
        raise_alert(
            db,
            f"run_failed:{run_id}",
            "run_failed",
            f"[safer] run {run_id} failed ({len(failed_units)} problems)",
            f"safer run {run_id} finished with errors:\n\n{lines}\n\n"
            "The figures that could be computed were still evaluated and sent. See `safer status`"
            " and the run's log; sources that failed are tried again at the next run.",
            now,
        )
    threshold = settings.operator.failures_in_a_row
    for source, count in streaks.items():
        if count == threshold:
            last = next((o.message for o in outcomes if o.source == source), "")
            raise_alert(
                db,
                f"source_failing:{source}:{now:%Y%m%dT%H%M%S}",
                "source_failing",
                f"[safer] {source} has failed {count} runs in a row",
                f"The source {source} has failed {count} runs in a row. Last error:\n\n{last}\n\n"
                "It is retried with backoff; its figures stay as last loaded and missing months "
                "are reported as missing data in the digests.",
                now,
            )


def check_overdue(db: Database, settings: Settings, now: dt.datetime) -> bool:
    """Alert (once per gap) when no run has succeeded within the expected window."""
    window = dt.timedelta(hours=settings.operator.expected_run_hours)
    last = db.rows(
        "SELECT run_id, finished_at FROM runs WHERE finished_at IS NOT NULL "
        "AND exit_code IN (0, 3, 4) ORDER BY finished_at DESC LIMIT 1"
    )
    first = db.scalar("SELECT min(started_at) FROM runs")
    since = last[0][1] if last else first
    if since is None or now - since <= window:
        return False
    what = f"the last successful run ({last[0][0]}) finished at {since:%Y-%m-%d %H:%M %Z}"
    if not last:
        what = f"no run has succeeded since the first began at {since:%Y-%m-%d %H:%M %Z}"
    return raise_alert(
        db,
        f"run_overdue:{last[0][0] if last else 'never'}",
        "run_overdue",
        f"[safer] no successful run for {(now - since).total_seconds() / 3600:.0f} hours",
        f"No safer run has succeeded within {settings.operator.expected_run_hours:g} hours: "
        f"{what}. Check that cron, the systemd timer or `safer schedule` is running, and "
        "`safer status` for why recent runs failed.",
        now,
    )


def pending_alerts(db: Database) -> list[tuple[str, str, dt.datetime]]:
    """(key, subject, created) of every alert not sent yet."""
    return [
        (key, subject, created)
        for key, subject, created in db.rows(
            "SELECT alert_key, subject, created_at FROM operator_alerts "
            "WHERE status IN ('pending', 'not_sent', 'failed') ORDER BY created_at, alert_key"
        )
    ]


def send_alerts(db: Database, settings: Settings, send: Sender | None, now: dt.datetime) -> int:
    """Send every pending alert; returns how many went. Never raises for SMTP trouble."""
    rows = db.rows(
        "SELECT alert_key, subject, body, created_at FROM operator_alerts "
        "WHERE status = 'pending' ORDER BY created_at, alert_key"
    )
    address, smtp = settings.operator.email, settings.smtp
    sent = 0
    for key, subject, body, created in rows:
        if address is None or smtp is None or send is None:
            _mark(db, key, "not_sent", None, "no [operator] email or no [smtp] configured")
            logger.warning("operator alert not emailed (no operator or SMTP): %s", subject)
            continue
        message = _message(smtp.sender, address, subject, body, key, created)
        try:
            send(message)
        except SendError as exc:
            status = "pending" if exc.transient else "failed"
            _mark(db, key, status, None, str(exc))
            logger.error("operator alert to %s not sent: %s", address, exc)
            continue
        _mark(db, key, "sent", now, None)
        sent += 1
    return sent


def _mark(db: Database, key: str, status: str, at: dt.datetime | None, error: str | None) -> None:
    db.execute(
        "UPDATE operator_alerts SET status = ?, attempts = attempts + 1, sent_at = ?, "
        "last_error = ? WHERE alert_key = ?",
        [status, at, error, key],
    )


def _message(
    sender: str, to: str, subject: str, body: str, key: str, created: dt.datetime
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = email.utils.format_datetime(created)
    # Deterministic, so an alert re-sent after a crash shows once in the operator's mailbox.
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    message["Message-ID"] = f"<alert-{digest}@{sender.rsplit('@', 1)[-1]}>"
    message.set_content(body)
    return message
