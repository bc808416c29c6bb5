"""What a recipient was last sent, figure by figure, and what the sources did since: read from
the delivery ledger and the load ledger for the revision notices (alerts/revisions.py).

A figure counts as sent once a digest holding it is stored for the recipient, as a status does
(``alerts.deliver.notified``): the outbox then sends it, or says why it could not.
"""

from __future__ import annotations

from collections.abc import Mapping

from safer.alerts.delivery_ledger import WITHDRAWN
from safer.alerts.revisions import NOTHING_SENT, Sent, SentRecord, SourceEvent
from safer.pipelines.source import Source
from safer.store.db import Database

__all__ = ["sent_record"]

# The last figure each (indicator, area, period) was sent with: a number, or "no figure" after a
# withdrawal. Rows saying "withheld" are passed over: a withheld figure is never a number, and
# when it is released the recipient compares it with the number they had before.
# Beside each, the rest of the force it was compared with (its level, or its change on last
# year, as the target's form has it: a figure the row showed), and
# whether it was ever sent only as the force's figure beside a partnership's row.
_LAST_SENT = f"""
SELECT l.indicator_id, l.area_code, l.period_start, l.value_number, o.digest_id, o.created_at,
    CASE WHEN l.target_form IN ('rest_of_force', 'rest_of_force_change') THEN l.comparator END,
    l.target_form,
    bool_or(l.section = 'context') OVER (
        PARTITION BY l.indicator_id, l.area_code, l.period_start)
FROM delivery_ledger l JOIN outbox o USING (digest_id)
WHERE o.email = ? AND o.kind = 'digest' AND l.indicator_id IS NOT NULL
  AND l.area_code IS NOT NULL AND l.period_start IS NOT NULL
  AND (l.value_number IS NOT NULL OR l.status = '{WITHDRAWN}')
QUALIFY row_number() OVER (
    PARTITION BY l.indicator_id, l.area_code, l.period_start
    ORDER BY o.created_at DESC, o.digest_id DESC, l.position DESC) = 1
"""

# Every ledger row since ``since`` that can change a figure, of the configured force's files (a
# row without a force predates migration 008 and is the configured force's).
_EVENTS = """
SELECT source, status, coalesce(periods, [period]), finished_at, slot FROM load_ledger
WHERE finished_at > ? AND status IN ('loaded', 'revised', 'released', 'withdrawn')
  AND coalesce(force_id, ?) = ?
ORDER BY finished_at, batch_id
"""


def sent_record(
    db: Database, address: str, force_id: str, sources: Mapping[str, Source]
) -> SentRecord:
    """What ``address`` was last sent of each figure, and the load-ledger rows since the
    oldest of them (of ``sources``, by id)."""
    figures = {
        (indicator, area, start): Sent(value, digest_id, at, rest, form, bool(beside))
        for indicator, area, start, value, digest_id, at, rest, form, beside in db.rows(
            _LAST_SENT, [address]
        )
    }
    if not figures:
        return NOTHING_SENT
    since = min(s.at for s in figures.values())
    return SentRecord(figures, tuple(_events(db, since, force_id, sources)))


def _events(
    db: Database, since: object, force_id: str, sources: Mapping[str, Source]
) -> list[SourceEvent]:
    found = []
    for source_id, status, periods, at, slot in db.rows(_EVENTS, [since, force_id, force_id]):
        source = sources.get(source_id)
        if source is None:
            continue
        found.append(
            SourceEvent(
                source=source_id,
                table=source.table,
                label=source.label,
                grain=source.grain,
                status=status,
                periods=tuple(p for p in periods if p is not None),
                at=at,
                # A return's files are named by the people who send them: name the file.
                name=str(slot or "") if source.label.endswith("return") else "",
            )
        )
    return found
