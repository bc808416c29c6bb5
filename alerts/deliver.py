"""The alerts step of a run: build each recipient's digest, store it, then send what is pending."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from alerts.digest import build_digest
from alerts.outbox import Stored, pending, record_attempt, store_digest
from alerts.render import render_digest
from indicators.definitions import Catalogue, Plan
from indicators.evaluate import Evaluation, Status
from pipelines.db import Database
from safer.config import Settings
from safer.errors import SendError

__all__ = ["Delivery", "deliver", "reporting_evaluations"]

logger = logging.getLogger(__name__)

Sender = Callable[[EmailMessage], None]
NO_SMTP_SENDER = "safer@localhost"


@dataclass(frozen=True)
class Delivery:
    stored: tuple[Stored, ...]
    sent: int
    waiting: int
    failed: int


def reporting_evaluations(evaluations: Sequence[Evaluation]) -> list[Evaluation]:
    """Per indicator: its latest quarter, and its latest judged quarter if that is earlier."""
    latest: dict[str, dt.date] = {}
    judged: dict[str, dt.date] = {}
    for e in evaluations:
        latest[e.indicator_id] = max(latest.get(e.indicator_id, e.period_start), e.period_start)
        if e.status is not Status.INCOMPLETE:
            judged[e.indicator_id] = max(judged.get(e.indicator_id, e.period_start), e.period_start)
    keep = {(i, latest[i]) for i in latest} | {(i, judged[i]) for i in judged}
    return [e for e in evaluations if (e.indicator_id, e.period_start) in keep]


def deliver(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    plans: Sequence[Plan],
    evaluations: Sequence[Evaluation],
    notes: Sequence[str],
    now: dt.datetime,
    send: Sender | None,
) -> Delivery:
    """Store a digest for every recipient with news, then send every pending digest."""
    area_names = dict(
        db.rows("SELECT area_code, area_name FROM areas ORDER BY area_type DESC, area_name")
    )
    reporting = reporting_evaluations(evaluations)
    sender = settings.smtp.sender if settings.smtp else NO_SMTP_SENDER
    stored = []
    for recipient in settings.recipients:
        digest = build_digest(
            recipient,
            catalogue,
            plans,
            area_names,
            reporting,
            _notified(db, recipient.email),
            notes,
        )
        if digest is None:
            logger.info("digest for %s: nothing new", recipient.email)
            continue
        status = "pending" if send else "written"
        item = store_digest(
            db, digest, render_digest(digest), settings.paths.outbox_dir, sender, now, status
        )
        logger.info("digest for %s: %s (%s)", recipient.email, item.html_path, digest.subject)
        stored.append(item)
    counts = _send_pending(db, send, now) if send else {"sent": 0, "pending": 0, "failed": 0}
    return Delivery(tuple(stored), counts["sent"], counts["pending"], counts["failed"])


def _notified(db: Database, address: str) -> dict[tuple[str, str, dt.date], set[str]]:
    told: dict[tuple[str, str, dt.date], set[str]] = defaultdict(set)
    for indicator, area, start, status in db.rows(
        "SELECT indicator_id, area_code, period_start, status FROM notifications "
        "WHERE recipient = ?",
        [address],
    ):
        told[(indicator, area, start)].add(status)
    return told


def _send_pending(db: Database, send: Sender, now: dt.datetime) -> dict[str, int]:
    counts = {"sent": 0, "pending": 0, "failed": 0}
    for digest_id, path in pending(db):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        error: SendError | None = None
        try:
            send(message)
        except SendError as exc:
            error = exc
            logger.warning("digest %s not sent: %s", digest_id, exc)
        counts[record_attempt(db, digest_id, now, error)] += 1
    return counts
