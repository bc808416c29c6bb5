"""``safer digest --resend RUN``: send a past run's digests again, on purpose.

Each re-send is a new outbox row (``kind = 'resend'``, ``resend_of`` the original) with a new
Message-ID derived from the original's, so it is delivered even where the original was; its
items are the original's ledger rows (the ``delivered_items`` view joins them).
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from safer.alerts.deliver import RetryPolicy, Sender, Sleep, send_queued
from safer.alerts.outbox import StoredDigest, run_digests, store_resend
from safer.kernel.clock import Clock
from safer.kernel.errors import DigestError
from safer.store.db import Database

__all__ = ["resend"]

logger = logging.getLogger(__name__)


def resend(
    db: Database,
    run_id: str,
    recipient: str | None,
    send: Sender | None,
    policy: RetryPolicy,
    clock: Clock,
    sleep: Sleep = time.sleep,
) -> tuple[list[str], Counter[str]]:
    """Re-send the digests run ``run_id`` stored (or only ``recipient``'s, by name or address).

    Returns the new outbox ids and the counts by status. Raises DigestError, having changed
    nothing, for an unknown run or recipient, a digest not sent yet, or no SMTP configured.
    """
    if send is None:
        raise DigestError("no [smtp] section in the config: nothing can be re-sent")
    if not db.scalar("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]):
        recent = [r for (r,) in db.rows("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 5")]
        raise DigestError(
            f"unknown run {run_id!r}; the latest runs are: {', '.join(recent) or 'none yet'}"
        )
    chosen = _chosen(run_digests(db, run_id), run_id, recipient)
    waiting = [d for d in chosen if d.status in ("pending", "sending")]
    if waiting:
        raise DigestError(
            f"run {run_id}: the digest to {waiting[0].email} has not been sent yet "
            f"({waiting[0].status}); the next `safer run` sends it, so nothing was re-sent"
        )
    ids = [store_resend(db, digest, clock()) for digest in chosen]
    for digest, new_id in zip(chosen, ids, strict=True):
        logger.info("re-sending digest %s to %s as %s", digest.digest_id, digest.email, new_id)
    return ids, send_queued(db, send, policy, clock, None, ids, sleep=sleep)


def _chosen(digests: list[StoredDigest], run_id: str, recipient: str | None) -> list[StoredDigest]:
    if not digests:
        raise DigestError(f"run {run_id} stored no digests (it had nothing new to send)")
    if recipient is None:
        return digests
    wanted = recipient.casefold()
    chosen = [d for d in digests if wanted in (d.recipient.casefold(), d.email.casefold())]
    if not chosen:
        names = ", ".join(f"{d.recipient} <{d.email}>" for d in digests)
        raise DigestError(f"run {run_id} sent no digest to {recipient!r}; it sent to: {names}")
    return chosen
