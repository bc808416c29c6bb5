"""What must hold of the database whenever no run is writing it, however the last run ended.

Every file is promoted in one transaction and every digest is stored, then sent, through a
committed state machine, so a run killed at any instant (``safer.kernel.faults``) leaves the
database satisfying every check here. ``safer doctor`` runs them, and so do the crash tests
after each kill and after the run that follows it.

``problems`` returns one sentence per violation (empty when consistent):

- data in use: each ``source_periods`` row counts exactly the rows its source table holds for
  that period (no partial month), its batch is in use in ``load_ledger`` with the same content
  hash, and every row of a source table belongs to a batch in use;
- no duplicate rows: a source table's key (``force_id, period, record_no`` for the
  data.police.uk tables) is unique;
- the ledger: only known statuses; a batch in use has its row count, hash and check results; a
  quarantined batch has its quarantine rows;
- the outbox: only known statuses; a digest is ``sending`` exactly when its last attempt is, a
  ``sent`` one has its time and its last attempt ``sent``; ``attempts`` counts the attempts;
  notifications and ledger rows belong to a stored digest.

``in_flight`` lists what a killed run left for the next one to finish (not a problem): digests
left ``sending`` or ``pending``, runs that never finished.
"""

from __future__ import annotations

from collections.abc import Iterable

from safer.app.sources import SOURCES
from safer.store.db import Database, DatabaseError, database_problem

__all__ = ["KEYS", "in_flight", "problems", "read_every_table", "verify"]

IN_USE = ("loaded", "revised", "released")
LEDGER_STATUSES = (*IN_USE, "quarantined", "failed", "withdrawn")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "written")

KEYS: dict[str, tuple[str, ...]] = {
    "police_street": ("force_id", "period", "record_no"),
    "police_outcomes": ("force_id", "period", "record_no"),
    "police_stop_search": ("force_id", "period", "record_no"),
    "call_handling": ("force_code", "period"),
    "council_enforcement": ("csp_code", "period", "action_type"),
    "defra_flytipping": ("la_code", "period"),
}
"""Each source table's natural key: one row per published record."""

_IN_USE_SQL = ", ".join(f"'{s}'" for s in IN_USE)


def problems(db: Database) -> list[str]:
    """Every violation found, one sentence each; empty when the database is consistent."""
    tables = _tables(db)
    found: list[str] = []
    for source in SOURCES.values():
        if source.table in tables:
            found += _source_problems(db, source.id, source.table, _columns(db, source.table))
    found += _ledger_problems(db)
    if "delivery_attempts" in tables:
        found += _outbox_problems(db)
    return found


def read_every_table(db: Database) -> tuple[int, int]:
    """Read every column of every table, so a damaged block fails its checksum here rather than
    in the middle of a run; returns (tables, rows). Raises DatabaseError naming the table."""
    tables = [
        str(row[0])
        for row in db.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_catalog = current_database() ORDER BY table_name"
        )
    ]
    total = 0
    for table in tables:
        try:
            total += int(db.scalar(f'SELECT count(*), min(hash(COLUMNS(*))) FROM "{table}"'))
        except DatabaseError as exc:
            raise DatabaseError(f"{exc} (reading table {table})", exc.kind) from exc
    return len(tables), total


def verify(db: Database) -> list[str]:
    """Why the database cannot be trusted, one sentence each: a block that cannot be read, or
    the consistency ``problems``; empty when sound. What a run checks before it sends anything
    the damage could make wrong, and what ``safer status --check`` reports."""
    try:
        read_every_table(db)
    except DatabaseError as exc:
        problem = database_problem(exc, db.path)
        return [str(problem) if problem else f"{db.path}: {exc}"]
    return problems(db)


def in_flight(db: Database) -> list[str]:
    """What a stopped or killed run left for the next run to finish, one sentence each."""
    notes = []
    for digest_id, address, status in db.rows(
        "SELECT digest_id, email, status FROM outbox WHERE status IN ('pending', 'sending') "
        "ORDER BY created_at, digest_id"
    ):
        how = (
            "was being sent when a run stopped: the next run sends it again with the same "
            "Message-ID"
            if status == "sending"
            else "is waiting to be sent: the next run sends it"
        )
        notes.append(f"digest {digest_id} to {address} {how}")
    unfinished = db.rows(
        "SELECT run_id FROM runs WHERE finished_at IS NULL ORDER BY started_at, run_id"
    )
    if unfinished:
        names = ", ".join(str(r[0]) for r in unfinished)
        notes.append(
            f"{len(unfinished)} run(s) did not finish ({names}): stopped or killed; each file "
            "they loaded is complete, and later runs did the rest"
        )
    return notes


def _source_problems(db: Database, source: str, table: str, columns: Iterable[str]) -> list[str]:
    have = set(columns)
    # A national table holds several forces' rows; a period is counted within its batch's force.
    scope = next((c for c in ("force_id", "force_code") if c in have), None)
    same_scope = (
        f"AND t.{scope} = (SELECT any_value({scope}) FROM {table} WHERE batch_id = p.batch_id)"
        if scope
        else ""
    )
    found = [
        f"{source} {period}: source_periods says {expected:,} rows but {table} holds {actual:,} "
        f"(batch {batch})"
        for period, batch, expected, actual in db.rows(
            f"SELECT p.period, p.batch_id, p.rows, (SELECT count(*) FROM {table} t "
            f"WHERE t.period = p.period {same_scope}) FROM source_periods p "
            "WHERE p.source = ? ORDER BY p.period",
            [source],
        )
        if expected != actual
    ]
    found += [
        f"{source} {period}: its batch {batch} is not in use in load_ledger (no loaded, revised "
        "or released row with its content hash)"
        for period, batch in db.rows(
            "SELECT p.period, p.batch_id FROM source_periods p WHERE p.source = ? AND NOT EXISTS "
            "(SELECT 1 FROM load_ledger l WHERE coalesce(l.released_batch, l.batch_id) = "
            f"p.batch_id AND l.status IN ({_IN_USE_SQL}) AND l.content_hash = p.content_hash) "
            "ORDER BY p.period",
            [source],
        )
    ]
    found += [
        f"{table}: {rows:,} rows belong to batch {batch}, which is not in use in load_ledger"
        for batch, rows in db.rows(
            f"SELECT t.batch_id, count(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM "
            "load_ledger l WHERE coalesce(l.released_batch, l.batch_id) = t.batch_id AND "
            f"l.status IN ({_IN_USE_SQL})) GROUP BY t.batch_id ORDER BY t.batch_id"
        )
    ]
    key = KEYS.get(table)
    if key and set(key) <= have:
        names = ", ".join(key)
        duplicated = db.rows(
            f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT {names}, count(*) AS n "
            f"FROM {table} GROUP BY ALL HAVING count(*) > 1)"
        )[0]
        if duplicated[0]:
            found.append(
                f"{table}: {duplicated[0]:,} keys ({names}) occur more than once, "
                f"{duplicated[1]:,} rows in all"
            )
    return found


def _ledger_problems(db: Database) -> list[str]:
    found = [
        f"load_ledger: batch {batch} has status {status!r}, which no run writes"
        for batch, status in db.rows(
            "SELECT batch_id, status FROM load_ledger WHERE status NOT IN "
            f"({', '.join(repr(s) for s in LEDGER_STATUSES)}) ORDER BY batch_id"
        )
    ]
    found += [
        f"load_ledger: batch {batch} is {status} but has no row count or content hash"
        for batch, status in db.rows(
            f"SELECT batch_id, status FROM load_ledger WHERE status IN ({_IN_USE_SQL}) "
            "AND (rows IS NULL OR content_hash IS NULL) ORDER BY batch_id"
        )
    ]
    found += [
        f"load_ledger: batch {batch} was loaded without its check results"
        for (batch,) in db.rows(
            "SELECT batch_id FROM load_ledger l WHERE status IN ('loaded', 'revised') AND NOT "
            "EXISTS (SELECT 1 FROM check_results c WHERE c.batch_id = l.batch_id) "
            "ORDER BY batch_id"
        )
    ]
    found += [
        f"load_ledger: batch {batch} is quarantined but has no quarantine rows"
        for (batch,) in db.rows(
            "SELECT batch_id FROM load_ledger l WHERE status = 'quarantined' AND NOT EXISTS "
            "(SELECT 1 FROM quarantine q WHERE q.batch_id = l.batch_id) ORDER BY batch_id"
        )
    ]
    return found


def _outbox_problems(db: Database) -> list[str]:
    found = [
        f"outbox: digest {digest} has status {status!r}, which no run writes"
        for digest, status in db.rows(
            "SELECT digest_id, status FROM outbox WHERE status NOT IN "
            f"({', '.join(repr(s) for s in OUTBOX_STATUSES)}) ORDER BY digest_id"
        )
    ]
    for digest, status, attempts, counted, last, open_ in db.rows(
        "SELECT o.digest_id, o.status, o.attempts, count(a.attempt), "
        "arg_max(a.outcome, a.attempt), count(a.attempt) FILTER (WHERE a.outcome = 'sending') "
        "FROM outbox o LEFT JOIN delivery_attempts a USING (digest_id) GROUP BY ALL "
        "ORDER BY o.digest_id"
    ):
        where = f"outbox: digest {digest} is {status}"
        if counted and attempts != counted:
            found.append(f"{where}, counting {attempts} attempts, but {counted} are recorded")
        if (status == "sending") != (last == "sending") or open_ > 1:
            found.append(
                f"{where} but its last attempt is {last or 'none'} ({open_} still sending): "
                "sending is committed before every hand-over and closed after it"
            )
        if status == "sent" and counted and last != "sent":
            found.append(f"{where} but its last attempt is {last}")
    found += [
        f"outbox: digest {digest} is sent but has no sent_at"
        for (digest,) in db.rows(
            "SELECT digest_id FROM outbox WHERE status = 'sent' AND sent_at IS NULL "
            "ORDER BY digest_id"
        )
    ]
    for table in ("notifications", "delivery_ledger"):
        found += [
            f"{table}: {rows:,} rows name digest {digest}, which the outbox does not hold"
            for digest, rows in db.rows(
                f"SELECT digest_id, count(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM "
                "outbox o WHERE o.digest_id = t.digest_id) GROUP BY digest_id ORDER BY digest_id"
            )
        ]
    return found


def _tables(db: Database) -> set[str]:
    return {
        str(row[0])
        for row in db.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_catalog = current_database()"
        )
    }


def _columns(db: Database, table: str) -> list[str]:
    return [
        str(row[0])
        for row in db.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = 'main' AND table_catalog = current_database()",
            [table],
        )
    ]
