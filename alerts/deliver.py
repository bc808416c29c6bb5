"""The alerts step of a run: build each recipient's digest, store it, then send what is queued.

Each queued digest gets up to ``1 + smtp.retries`` attempts in a run, waiting
``smtp.backoff_seconds`` (doubling) after each temporary failure; one still failing stays
pending for the next run. Once a digest has used all its attempts, later ones get one attempt
each, so a server that is down is not waited for once per recipient. A permanent refusal is
logged as an error and not retried; ``safer digest --resend RUN`` sends it again once fixed.
A digest a stopped run left ``sending`` is reconciled first (alerts/outbox.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from email.message import EmailMessage

from safer.alerts.delivery_ledger import ledger_rows
from safer.alerts.digest import Digest, Told, build_digest
from safer.alerts.notes import DataNote
from safer.alerts.outbox import Queued, Stored, begin_attempt, finish_attempt, queued, store_digest
from safer.alerts.render import render_digest
from safer.alerts.revisions import NOTHING_SENT, SentRecord
from safer.alerts.sent import sent_record
from safer.indicators.definitions import Catalogue, Plan
from safer.indicators.evaluate import Evaluation
from safer.kernel import faults
from safer.kernel.clock import Clock
from safer.kernel.config import Recipient, Settings, SmtpConfig
from safer.kernel.errors import SendError
from safer.kernel.periods import period_label
from safer.pipelines.source import Source
from safer.store.db import Database

__all__ = [
    "Delivery",
    "RetryPolicy",
    "area_names",
    "deliver",
    "notified",
    "preview_digest",
    "send_queued",
    "sent_record",
    "stale_indicators",
]

logger = logging.getLogger(__name__)

Sender = Callable[[EmailMessage], None]
Sleep = Callable[[float], None]
NO_SMTP_SENDER = "safer@localhost"


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 0
    backoff_seconds: float = 0.0

    @classmethod
    def of(cls, smtp: SmtpConfig | None) -> RetryPolicy:
        return cls(smtp.retries, smtp.backoff_seconds) if smtp else cls()


@dataclass(frozen=True)
class Delivery:
    stored: tuple[Stored, ...]
    sent: int
    waiting: int
    failed: int
    reconciled: int = 0
    """Digests a stopped run had left ``sending``, sent again with the same Message-ID."""


def deliver(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    plans: Sequence[Plan],
    evaluations: Sequence[Evaluation],
    notes: Sequence[DataNote],
    clock: Clock,
    send: Sender | None,
    run_id: str,
    as_of: dt.date,
    sources: Mapping[str, Source],
    sleep: Sleep = time.sleep,
) -> Delivery:
    """Store a digest for every recipient with news, then send every queued digest; ``sources``
    are every source, by id (for stale figures and revision notices)."""
    names = area_names(db)
    stale = stale_indicators(db, settings, catalogue, as_of, sources)
    sender = settings.smtp.sender if settings.smtp else NO_SMTP_SENDER
    force = settings.force.pfa_code
    stored = []
    for recipient in settings.recipients:
        told = notified(db, recipient.email)
        sent = sent_record(db, recipient.email, settings.force.id, sources)
        digest = build_digest(
            recipient, catalogue, plans, names, evaluations, told, notes, force, stale, sent
        )
        if digest is None:
            logger.info("digest for %s: nothing new", recipient.email)
            continue
        rendered = render_digest(digest)
        faults.point("digest.rendered")
        item = store_digest(
            db,
            digest,
            rendered,
            settings.paths.outbox_dir,
            sender,
            clock(),
            "pending" if send else "written",
            run_id,
            ledger_rows(digest, evaluations, plans),
        )
        logger.info("digest for %s: %s (%s)", recipient.email, item.html_path, digest.subject)
        stored.append(item)
        faults.point("digest.stored")
    counts: Counter[str] = Counter()
    if send:
        counts = send_queued(db, send, RetryPolicy.of(settings.smtp), clock, run_id, sleep=sleep)
    return Delivery(
        tuple(stored), counts["sent"], counts["pending"], counts["failed"], counts["reconciled"]
    )


def preview_digest(
    recipient: Recipient,
    catalogue: Catalogue,
    plans: Sequence[Plan],
    names: Mapping[str, str],
    evaluations: Sequence[Evaluation],
    told: Told,
    notes: Sequence[DataNote],
    force: str,
    stale: Mapping[str, tuple[str, str]],
    sent: SentRecord = NOTHING_SENT,
) -> Digest | None:
    """The digest a run would send ``recipient`` now or, with nothing new, the digest as it
    stands without movements; None only when there are no figures for them at all."""
    digest = build_digest(
        recipient, catalogue, plans, names, evaluations, told, notes, force, stale, sent
    )
    if digest is not None:
        return digest
    # Nothing new: the digest as it stands, without movements (none is news to them).
    everything = build_digest(
        recipient, catalogue, plans, names, evaluations, {}, notes, force, stale
    )
    if everything is None:
        return None
    return replace(everything, movements=(), new_keys=(), revisions=())


def stale_indicators(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    as_of: dt.date,
    sources: Mapping[str, Source],
) -> dict[str, tuple[str, str]]:
    """Indicators whose source has published nothing for longer than ``[digest]
    stale_after_days`` past the release due for its latest period: indicator → (the source,
    that period).

    Their figures are history, not the current position (stop and search to February 2019,
    fly-tipping to 2021/22), so the digest names them in one line instead of a row.
    """
    newest = dict(db.rows("SELECT source, max(period) FROM source_periods GROUP BY source"))
    limit = dt.timedelta(days=settings.digest.stale_after_days)
    found = {}
    for source in sources.values():
        latest = newest.get(source.id)
        if (
            source.config(settings) is None
            or latest is None
            or as_of <= source.due(settings, latest) + limit
        ):
            continue
        since = f"{latest:%B %Y}" if source.grain == "month" else period_label(latest, source.grain)
        found.update(
            {i.id: (source.label, since) for i in catalogue.indicators if i.source == source.id}
        )
    return found


def area_names(db: Database) -> dict[str, str]:
    """Area code → name, force first: the order the digest lists areas in."""
    return dict(
        db.rows("SELECT area_code, area_name FROM areas ORDER BY area_type DESC, area_name")
    )


def notified(db: Database, address: str) -> dict[tuple[str, str, dt.date], list[str]]:
    """(indicator, area, quarter start) → the statuses ``address`` has been sent, in the order
    they were sent (a status sent again is recorded again, so it is last)."""
    told: dict[tuple[str, str, dt.date], list[str]] = defaultdict(list)
    for indicator, area, start, status in db.rows(
        "SELECT n.indicator_id, n.area_code, n.period_start, n.status FROM notifications n "
        "JOIN outbox o USING (digest_id) WHERE n.recipient = ? "
        "ORDER BY o.created_at, n.digest_id",
        [address],
    ):
        told[(indicator, area, start)].append(status)
    return told


def send_queued(
    db: Database,
    send: Sender,
    policy: RetryPolicy,
    clock: Clock,
    run_id: str | None,
    digest_ids: Sequence[str] | None = None,
    sleep: Sleep = time.sleep,
) -> Counter[str]:
    """Send queued digests (all, or ``digest_ids``); counts by new status, and ``reconciled``."""
    counts: Counter[str] = Counter()
    patient = True
    for item in queued(db, digest_ids):
        if item.status == "sending":
            counts["reconciled"] += 1
            logger.warning(
                "digest %s to %s was being sent when a run stopped: sending it again with the "
                "same Message-ID, which receiving systems use to show it once",
                item.digest_id,
                item.email,
            )
        status = _send_one(
            db, send, item, policy if patient else RetryPolicy(), clock, run_id, sleep
        )
        patient = patient and status != "pending"
        counts[status] += 1
    return counts


def _send_one(
    db: Database,
    send: Sender,
    item: Queued,
    policy: RetryPolicy,
    clock: Clock,
    run_id: str | None,
    sleep: Sleep,
) -> str:
    """Up to ``1 + policy.retries`` hand-overs, each committed as ``sending`` first."""
    reason = "reconcile" if item.status == "sending" else "next_run" if item.attempts else "first"
    message = item.parsed()
    message_id = message["Message-ID"]
    for retry in range(policy.retries + 1):
        attempt = begin_attempt(db, item.digest_id, message_id, run_id, reason, clock())
        error = None
        faults.point("smtp.sending")
        try:
            send(message)
            faults.point("smtp.accepted")
        except SendError as exc:
            error = exc
        except Exception as exc:
            # Marked failed before re-raising, or every later run would retry it and crash again.
            unexpected = SendError(f"unexpected {type(exc).__name__}: {exc}", transient=False)
            finish_attempt(db, item.digest_id, attempt, clock(), unexpected)
            raise
        status = finish_attempt(db, item.digest_id, attempt, clock(), error)
        if status != "pending" or retry == policy.retries:
            break
        wait = policy.backoff_seconds * 2**retry
        logger.warning(
            "digest %s to %s: %s; retry %d of %d in %.1fs",
            item.digest_id,
            item.email,
            error,
            retry + 1,
            policy.retries,
            wait,
        )
        sleep(wait)
        reason = "retry"
    _log_outcome(item, message_id, status, error)
    return status


def _log_outcome(item: Queued, message_id: str, status: str, error: SendError | None) -> None:
    if status == "sent":
        logger.info("digest %s sent to %s (%s)", item.digest_id, item.email, message_id)
    elif status == "pending":
        logger.warning(
            "digest %s to %s not sent: %s; left pending for the next run",
            item.digest_id,
            item.email,
            error,
        )
    else:
        logger.error(
            "digest %s to %s refused permanently: %s; not retried (once fixed: safer digest "
            "--resend %s --recipient %s)",
            item.digest_id,
            item.email,
            error,
            item.run_id or "RUN",
            item.email,
        )
