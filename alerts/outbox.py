"""The outbox: every digest is stored (files + DuckDB) before it is sent, then sent from here.

A digest, its exact message, the notification keys it covers and its ledger rows (one per item,
as shown) are recorded in one transaction, so a re-run can neither lose a digest nor build the
same one twice. Each hand-over to SMTP is bracketed: ``sending`` is committed first, the outcome
after (states in ``pipelines/migrations/005_delivery.sql``).

Reconciliation: a row still ``sending`` when a later run starts was interrupted, perhaps after
the server had accepted the message. It is sent again, byte for byte, with the same Message-ID:
receiving systems that de-duplicate on Message-ID (Gmail, Exchange) show it once, and the
interrupted attempt and the reconciling one are both recorded in ``delivery_attempts``. Losing
a digest is worse than a second copy that most mailboxes fold into the first.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import itertools
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from safer.alerts.delivery_ledger import COLUMNS as LEDGER_COLUMNS
from safer.alerts.model import Digest
from safer.alerts.render import Rendered, preview_html
from safer.kernel.clock import LONDON
from safer.kernel.errors import SendError
from safer.store.db import Database

__all__ = [
    "Queued",
    "Stored",
    "StoredDigest",
    "begin_attempt",
    "finish_attempt",
    "queued",
    "run_digests",
    "slug",
    "store_digest",
    "store_resend",
]

logger = logging.getLogger(__name__)
# Officers read dates in UK time; the Date header carries the offset, so nothing is lost.


@dataclass(frozen=True)
class Stored:
    digest_id: str
    recipient: str
    email: str
    subject: str
    eml_path: Path
    html_path: Path


def store_digest(
    db: Database,
    digest: Digest,
    rendered: Rendered,
    outbox_dir: Path,
    sender: str,
    now: dt.datetime,
    status: str,
    run_id: str | None = None,
    ledger: Sequence[Sequence[object]] = (),  # alerts.ledger.ledger_rows
) -> Stored:
    """Write the .eml and .html and record the digest, its message, keys and ledger rows in
    one transaction; returns where they are."""
    subject = rendered.subject
    recipient = digest.recipient
    keys = sorted(digest.new_keys)
    # A digest is what it tells: its notification keys and, for a revision notice, the figure
    # now and the digest that sent the figure before (a notice can be its only news).
    told: tuple[object, ...] = (recipient.email, keys)
    if digest.revisions:
        told += (
            sorted(
                (r.indicator_id, r.area_code, r.period_start, r.sent_in, r.now)
                for r in digest.revisions
            ),
        )
    digest_id = _unused_id(db, told)
    message = _message(digest_id, sender, recipient.name, recipient.email, rendered, now)
    stem = f"{now:%Y%m%d}-{slug(recipient.name)}-{digest_id[:8]}"
    outbox_dir.mkdir(parents=True, exist_ok=True)
    eml_path, html_path = outbox_dir / f"{stem}.eml", outbox_dir / f"{stem}.html"
    eml_path.write_bytes(bytes(message))
    html_path.write_text(preview_html(rendered), encoding="utf-8")
    row = {
        "digest_id": digest_id,
        "recipient": recipient.name,
        "email": recipient.email,
        "subject": subject,
        "message_id": message["Message-ID"],
        "eml_path": str(eml_path),
        "html_path": str(html_path),
        "status": status,
        "created_at": now,
        "run_id": run_id,
        "message": bytes(message),
        "period": digest.period,
        "plan_name": digest.plan,
        "notes": json.dumps(list(digest.notes)),
    }
    with db.transaction():
        _insert_outbox(db, row)
        db.executemany(
            # A status sent again (a figure revised back to it) moves to this digest, so the
            # order of sending, which decides what is news, stays true.
            "INSERT OR REPLACE INTO notifications VALUES (?, ?, ?, ?, ?, ?)",
            [(recipient.email, *key, digest_id) for key in keys],
        )
        db.executemany(
            f"INSERT INTO delivery_ledger (digest_id, {', '.join(LEDGER_COLUMNS)}) "
            f"VALUES (?{', ?' * len(LEDGER_COLUMNS)})",
            [(digest_id, *row) for row in ledger],
        )
    return Stored(digest_id, recipient.name, recipient.email, subject, eml_path, html_path)


def _unused_id(db: Database, told: tuple[object, ...]) -> str:
    """The digest's id, from what it tells; the next free one when an earlier digest told
    the same (a figure withheld, then released with the status it had: the statuses it tells
    are those the first digest told)."""
    for n in itertools.count():
        found = hashlib.sha256(repr(told if n == 0 else (*told, n)).encode()).hexdigest()[:20]
        if not db.scalar("SELECT count(*) FROM outbox WHERE digest_id = ?", [found]):
            return found
    raise AssertionError("unreachable")


def _insert_outbox(db: Database, row: dict[str, object]) -> None:
    names = ", ".join(row)
    marks = ", ".join("?" * len(row))
    db.execute(f"INSERT INTO outbox ({names}, attempts) VALUES ({marks}, 0)", list(row.values()))


def _message(
    digest_id: str,
    sender: str,
    name: str,
    address: str,
    rendered: Rendered,
    now: dt.datetime,
) -> EmailMessage:
    """multipart/alternative: the text part, then the HTML part as multipart/related with each
    chart PNG it shows as ``cid:`` (inline, so Outlook and Gmail show it in place)."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = email.utils.formataddr((name, address))
    message["Date"] = email.utils.format_datetime(now.astimezone(LONDON))
    # Deterministic, so a digest re-sent after a crash can be matched to the first attempt.
    message["Message-ID"] = f"<{digest_id}@{sender.rsplit('@', 1)[-1]}>"
    # An automatic message (RFC 3834): out-of-office and other auto-replies are not sent back
    # to it; Exchange and Outlook read the second header for the same.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    for image in rendered.images:
        html_part.add_related(
            image.png,
            maintype="image",
            subtype="png",
            cid=f"<{image.cid}>",
            disposition="inline",
            filename=image.filename,
        )
    return message


def slug(text: str) -> str:
    """A file-name-safe form of ``text``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "recipient"


@dataclass(frozen=True)
class Queued:
    """A digest to hand to SMTP: pending, or left ``sending`` by a run that stopped."""

    digest_id: str
    email: str
    status: str
    attempts: int
    message: bytes
    run_id: str | None = None
    """The run that built it: what ``safer digest --resend`` takes."""

    def parsed(self) -> EmailMessage:
        return _parse(self.message)


def _parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def queued(db: Database, digest_ids: Sequence[str] | None = None) -> list[Queued]:
    """Digests waiting to be sent (all, or those of ``digest_ids``), oldest first."""
    rows = db.rows(
        "SELECT digest_id, email, status, attempts, message, eml_path, run_id FROM outbox "
        "WHERE status IN ('pending', 'sending') ORDER BY created_at, digest_id"
    )
    wanted = None if digest_ids is None else set(digest_ids)
    return [
        Queued(str(d), str(to), str(status), int(n), _bytes(blob, eml), run)
        for d, to, status, n, blob, eml, run in rows
        if wanted is None or d in wanted
    ]


def _bytes(blob: bytes | None, eml_path: str) -> bytes:
    """The stored message; digests stored before migration 005 have only their .eml file."""
    return bytes(blob) if blob is not None else Path(eml_path).read_bytes()


def begin_attempt(
    db: Database,
    digest_id: str,
    message_id: str,
    run_id: str | None,
    reason: str,
    now: dt.datetime,
) -> int:
    """Commit ``sending`` before the message goes to SMTP; returns the attempt's number.

    An attempt still marked ``sending`` was interrupted: it is closed as such here.
    """
    with db.transaction():
        db.execute(
            "UPDATE delivery_attempts SET outcome = 'interrupted' "
            "WHERE digest_id = ? AND outcome = 'sending'",
            [digest_id],
        )
        number = int(
            db.scalar(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1 "
                "WHERE digest_id = ? RETURNING attempts",
                [digest_id],
            )
        )
        db.execute(
            "INSERT INTO delivery_attempts VALUES (?, ?, ?, ?, ?, ?, 'sending', NULL)",
            [digest_id, number, run_id, reason, message_id, now],
        )
    return number


def finish_attempt(
    db: Database, digest_id: str, attempt: int, now: dt.datetime, error: SendError | None
) -> str:
    """Record how an attempt ended; returns the digest's new status (sent, pending or failed)."""
    if error is None:
        status, outcome = "sent", "sent"
    elif error.transient:
        status, outcome = "pending", "temporary"
    else:
        status, outcome = "failed", "permanent"
    text = None if error is None else str(error)
    with db.transaction():
        db.execute(
            "UPDATE outbox SET status = ?, last_error = ?, "
            "sent_at = CASE WHEN ? = 'sent' THEN ?::TIMESTAMPTZ END WHERE digest_id = ?",
            [status, text, status, now, digest_id],
        )
        db.execute(
            "UPDATE delivery_attempts SET outcome = ?, error = ? "
            "WHERE digest_id = ? AND attempt = ?",
            [outcome, text, digest_id, attempt],
        )
    return status


@dataclass(frozen=True)
class StoredDigest:
    """A digest as the outbox holds it, for ``safer digest --resend``."""

    digest_id: str
    recipient: str
    email: str
    status: str
    message_id: str
    eml_path: Path


def run_digests(db: Database, run_id: str) -> list[StoredDigest]:
    """The digests run ``run_id`` built (not resends), in the order it stored them."""
    rows = db.rows(
        "SELECT digest_id, recipient, email, status, message_id, eml_path FROM outbox "
        "WHERE run_id = ? AND kind = 'digest' ORDER BY created_at, digest_id",
        [run_id],
    )
    return [
        StoredDigest(d, name, to, status, mid, Path(eml)) for d, name, to, status, mid, eml in rows
    ]


def store_resend(db: Database, original: StoredDigest, now: dt.datetime) -> str:
    """Store a deliberate re-send of ``original`` as a pending outbox row; returns its id.

    The copy gets a new Message-ID derived from the original's (``<id-rN@domain>``), so mail
    systems that de-duplicate on Message-ID deliver it, and ``References`` the original.
    """
    count = db.scalar("SELECT count(*) FROM outbox WHERE resend_of = ?", [original.digest_id])
    digest_id = f"{original.digest_id}-r{int(count) + 1}"
    blob = db.scalar("SELECT message FROM outbox WHERE digest_id = ?", [original.digest_id])
    copy = _parse(_bytes(blob, str(original.eml_path)))
    domain = original.message_id.strip("<>").rsplit("@", 1)[-1]
    del copy["Message-ID"], copy["Date"], copy["References"]
    copy["Message-ID"] = f"<{digest_id}@{domain}>"
    copy["Date"] = email.utils.format_datetime(now.astimezone(LONDON))
    copy["References"] = original.message_id
    eml_path = original.eml_path.with_name(f"{original.eml_path.stem}-r{int(count) + 1}.eml")
    eml_path.write_bytes(bytes(copy))
    with db.transaction():
        db.execute(
            "INSERT INTO outbox SELECT * REPLACE (? AS digest_id, ? AS message_id, "
            "? AS eml_path, 'pending' AS status, 0 AS attempts, NULL AS last_error, "
            "?::TIMESTAMPTZ AS created_at, NULL AS sent_at, 'resend' AS kind, "
            "digest_id AS resend_of, ? AS message) FROM outbox WHERE digest_id = ?",
            [digest_id, copy["Message-ID"], str(eml_path), now, bytes(copy), original.digest_id],
        )
    return digest_id
