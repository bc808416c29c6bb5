"""The outbox: every digest is stored (files + DuckDB) before it is sent, then sent from here.

A digest, its files and the notification keys it covers are recorded in one transaction, so a
re-run can neither lose a digest nor build the same one twice. Sending then works through
pending rows; a temporary SMTP failure leaves the row pending for the next run.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from alerts.digest import Digest
from alerts.render import Rendered, preview_html
from pipelines.db import Database
from safer.errors import SendError

__all__ = ["Stored", "pending", "record_attempt", "store_digest"]

logger = logging.getLogger(__name__)

Sender = Callable[[EmailMessage], None]


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
) -> Stored:
    """Write the .eml and .html and record the digest and its keys; returns where they are."""
    subject = rendered.subject
    recipient = digest.recipient
    keys = sorted(digest.new_keys)
    digest_id = hashlib.sha256(repr((recipient.email, keys)).encode()).hexdigest()[:20]
    message = _message(digest_id, sender, recipient.name, recipient.email, rendered, now)
    stem = f"{now:%Y%m%d}-{_slug(recipient.name)}-{digest_id[:8]}"
    outbox_dir.mkdir(parents=True, exist_ok=True)
    eml_path, html_path = outbox_dir / f"{stem}.eml", outbox_dir / f"{stem}.html"
    eml_path.write_bytes(bytes(message))
    html_path.write_text(preview_html(rendered), encoding="utf-8")
    with db.transaction():
        db.execute(
            "INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, NULL)",
            [
                digest_id,
                recipient.name,
                recipient.email,
                subject,
                message["Message-ID"],
                str(eml_path),
                str(html_path),
                status,
                now,
            ],
        )
        db.executemany(
            "INSERT INTO notifications VALUES (?, ?, ?, ?, ?, ?)",
            [(recipient.email, *key, digest_id) for key in keys],
        )
    return Stored(digest_id, recipient.name, recipient.email, subject, eml_path, html_path)


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
    message["Date"] = email.utils.format_datetime(now)
    # Deterministic, so a digest re-sent after a crash can be matched to the first attempt.
    message["Message-ID"] = f"<{digest_id}@{sender.rsplit('@', 1)[-1]}>"
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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "recipient"


def pending(db: Database) -> list[tuple[str, Path]]:
    """(digest id, .eml path) of digests waiting to be sent, oldest first."""
    rows = db.rows(
        "SELECT digest_id, eml_path FROM outbox WHERE status = 'pending' ORDER BY created_at"
    )
    return [(str(digest_id), Path(path)) for digest_id, path in rows]


def record_attempt(db: Database, digest_id: str, now: dt.datetime, error: SendError | None) -> str:
    """Mark one send attempt; returns the digest's new status (sent, pending or failed)."""
    if error is None:
        status = "sent"
    else:
        status = "pending" if error.transient else "failed"
    db.execute(
        "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, "
        "sent_at = CASE WHEN ? = 'sent' THEN ? END WHERE digest_id = ?",
        [status, None if error is None else str(error), status, now, digest_id],
    )
    return status
