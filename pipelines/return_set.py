"""Returns as a set, not a stream: a return source's figures are those of the files present now.

The figures for an area and period (a partnership's quarter, the force's month) are a function
of the set of present files that hold it:

- held by exactly one file: that file's rows;
- held by two or more (a copy under another name, two files for the same partnership and
  quarter): a conflict, reported with the files' names, and no rows until all but one go;
- held by none (its file deleted, renamed, or no longer listed under the URL): no rows, so
  no figure (never 0).

``return_claims`` records which pairs each file in use holds, written in the transaction that
writes its rows. A run of a return source then:

1. withdraws each file in use that is no longer present: its rows, its claims and its periods'
   bookkeeping go in one transaction with a ``withdrawn`` ledger row naming it;
2. syncs the present files as every source does; promoting one (``place_incoming``) records its
   claims, deletes the rows of every pair it holds, and inserts its own only where no other file
   claims the pair (so a contested pair keeps none; its earlier version's pairs it no longer
   holds are removed too);
3. reads again, through the same stage, checks and promote, each present file that is now the
   only one holding a pair whose rows are not its own (the other holder was withdrawn in step 1
   or changed in step 2). So a file shadowed by a conflict comes back, read as it is now.

Why this is right: after each promote every pair the file holds has either its rows (sole
holder) or none (contested), and no pair holds rows of two files. Steps 1 and 2 can only leave a
sole holder without its rows, which is what step 3 looks for, and reading a file again changes
no claims, so one pass settles the set. Keeping no second copy of a file's rows means there is
one path by which rows reach the table. Each step is its own transaction: a run stopped between
them leaves a pair without figures (never wrong ones) and the next run finishes the job. Only a
file's batch in use holds claims; a quarantined file holds none, and a file whose new version
was quarantined is not read again (its quarter is withheld until it is released or corrected).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from safer.kernel import stopping
from safer.kernel.config import Settings
from safer.kernel.periods import Grain, period_label
from safer.pipelines.load_ledger import (
    LedgerEntry,
    PeriodInUse,
    forget_period,
    record_ledger,
    record_periods,
)
from safer.pipelines.source import BatchOutcome, Source, SourceContext, SyncFiles, Wanted
from safer.store.db import Database

__all__ = ["ReturnConflict", "place_incoming", "return_conflicts", "sync_present"]

logger = logging.getLogger(__name__)

IN_USE = ("loaded", "revised", "released")
_IN_USE_SQL = ", ".join(f"'{s}'" for s in IN_USE)
Pair = tuple[str, dt.date]

# Every batch of one file of one force (a release row's rows carry the released batch):
# parameters source, slot, force, force.
_SLOT_BATCHES = (
    "SELECT coalesce(released_batch, batch_id) FROM load_ledger WHERE source = ? AND slot = ? "
    "AND coalesce(force_id, ?) = ?"
)


@dataclass(frozen=True)
class ReturnConflict:
    """An area and period held by two or more present files: none of their figures for it is
    used until all but one are removed."""

    source: str
    force_id: str
    area_code: str
    area_name: str
    period: dt.date
    files: tuple[str, ...]

    def sentence(self, grain: Grain) -> str:
        """'a.csv and b.csv both hold Halton 2025/26 Q1: neither file's figures for it are
        used until one is removed'."""
        held = f"{self.area_name} {period_label(self.period, grain)}"
        return _conflict_sentence(self.files, held, 1)


@dataclass(frozen=True)
class _Standing:
    """A file as the ledger knows it: its batch in use, and its latest batch's status."""

    slot: str
    standing: str
    """The latest of its in-use and withdrawn rows: in use unless ``withdrawn``."""
    batch: str | None
    url: str | None
    rows: int | None
    latest: str
    """Its latest status of all (``quarantined`` when a new version is held for review)."""


def return_conflicts(
    db: Database, source: str | None = None, force_id: str | None = None
) -> list[ReturnConflict]:
    """Every conflict now (of ``source`` and ``force_id`` when given), by source and period."""
    rows = db.rows(
        "SELECT c.source, c.force_id, c.area_code, coalesce(any_value(a.area_name), c.area_code), "
        "c.period, list(c.slot ORDER BY c.slot) FROM return_claims c "
        "LEFT JOIN areas a USING (area_code) "
        "WHERE ($1::VARCHAR IS NULL OR c.source = $1) AND ($2::VARCHAR IS NULL OR c.force_id = $2) "
        "GROUP BY c.source, c.force_id, c.area_code, c.period HAVING count(*) > 1 "
        "ORDER BY c.source, c.force_id, c.period, 4",
        [source, force_id],
    )
    return [
        ReturnConflict(s, f, code, name, p, tuple(files)) for s, f, code, name, p, files in rows
    ]


def sync_present(
    db: Database,
    source: Source,
    area: str,
    ctx: SourceContext,
    files: Sequence[Wanted],
    sync: SyncFiles,
) -> list[BatchOutcome]:
    """Bring the source's figures to those of ``files``, the files present now (``area`` is
    the column naming a row's area): withdrawn files first, then one outcome per present file
    (``conflict`` when it newly holds a pair another file holds too). ``files`` was listed
    before: a folder that cannot be read fails the source and withdraws nothing."""
    if stopping.requested():
        return []
    force = ctx.settings.force.id
    present = {w.slot for w in files}
    withdrawn = [
        _withdraw(db, source, area, ctx, state)
        for state in _standings(db, source.id, force)
        if state.standing in IN_USE and state.slot not in present
    ]
    for outcome in withdrawn:
        logger.info("%s %s: withdrawn: %s", source.id, outcome.slot, outcome.message)
    if withdrawn and not files:
        logger.warning(
            "%s: %s holds no return files: the figures of %d file(s) are withdrawn",
            source.id,
            source.base(ctx.settings),
            len(withdrawn),
        )
    before = {(c.area_code, c.period) for c in return_conflicts(db, source.id, force)}
    outcomes = {o.slot: o for o in sync(files, False)}
    if not stopping.requested() and not any(o.unreachable for o in outcomes.values()):
        listed = [w for w in files if w.slot in outcomes]
        outcomes |= _reinstate(db, source, area, ctx, listed, sync)
    return withdrawn + _with_conflicts(db, source, force, list(outcomes.values()), before)


def place_incoming(
    db: Database, settings: Settings, source: Source, entry: LedgerEntry, area: str
) -> tuple[str, ...]:
    """In a promote's transaction, with the file's rows in temp table ``incoming`` (``area``
    and ``period`` naming its pairs): record the pairs as the file's claims, delete every row of
    those pairs and of the pairs its earlier versions held and it no longer does, and leave in
    ``incoming`` only the pairs no other file claims, for the caller to insert. Returns the
    batches whose rows it replaced (the file's own earlier version: a revision)."""
    force = entry.force_id or settings.force.id
    slot = entry.slot or ""
    mine = [source.id, slot, force, force]
    held = f"({area}, period) IN (SELECT {area}, period FROM incoming)"
    others = (
        f"({area}, period) IN (SELECT area_code, period FROM return_claims "
        "WHERE source = ? AND force_id = ? AND slot <> ?)"
    )
    table = source.table
    dropped = f"batch_id IN ({_SLOT_BATCHES}) AND NOT {held}"
    touched = {r[0] for r in db.rows(f"SELECT DISTINCT period FROM {table} WHERE {dropped}", mine)}
    db.execute(f"DELETE FROM {table} WHERE {dropped}", mine)
    db.execute(
        "DELETE FROM return_claims WHERE source = ? AND force_id = ? AND slot = ?",
        [source.id, force, slot],
    )
    db.execute(
        f"INSERT INTO return_claims SELECT DISTINCT ?, ?, ?, ?, {area}, period FROM incoming",
        [source.id, force, slot, entry.data_batch],
    )
    claimed = [source.id, force, slot]
    replaced = db.rows(
        f"SELECT DISTINCT batch_id FROM {table} WHERE {held} AND NOT {others} ORDER BY 1", claimed
    )
    touched |= {
        r[0] for r in db.rows(f"SELECT DISTINCT period FROM incoming WHERE {others}", claimed)
    }
    db.execute(f"DELETE FROM {table} WHERE {held}")
    db.execute(f"DELETE FROM incoming WHERE {others}", claimed)
    placed = {r[0] for r in db.rows("SELECT DISTINCT period FROM incoming")}
    # Periods the file places rows in are counted by promote_batch; the others may be empty now.
    _refresh_periods(db, source, settings.force.pfa_code, touched - placed)
    return tuple(r[0] for r in replaced)


def _standings(db: Database, source: str, force: str) -> list[_Standing]:
    rows = db.rows(
        "SELECT slot, "
        f"arg_max(status, finished_at) FILTER (WHERE status IN ({_IN_USE_SQL}, 'withdrawn')), "
        "arg_max(coalesce(released_batch, batch_id), finished_at) "
        f"FILTER (WHERE status IN ({_IN_USE_SQL})), "
        f"arg_max(url, finished_at) FILTER (WHERE status IN ({_IN_USE_SQL})), "
        f"arg_max(rows, finished_at) FILTER (WHERE status IN ({_IN_USE_SQL})), "
        "arg_max(status, finished_at) "
        "FROM load_ledger WHERE source = ? AND coalesce(force_id, ?) = ? AND status <> 'failed' "
        "AND slot IS NOT NULL GROUP BY slot ORDER BY slot",
        [source, force, force],
    )
    return [_Standing(*row) for row in rows if row[1] is not None]


def _withdraw(
    db: Database, source: Source, area: str, ctx: SourceContext, state: _Standing
) -> BatchOutcome:
    """Remove a file's figures, claims and periods in one transaction, with its ledger row."""
    force = ctx.settings.force.id
    mine = [source.id, state.slot, force, force]
    claims = [source.id, force, state.slot]
    started = ctx.clock()
    with db.transaction():
        pairs = db.rows(
            f"SELECT DISTINCT {area}, period FROM {source.table} WHERE batch_id IN "
            f"({_SLOT_BATCHES}) UNION SELECT area_code, period FROM return_claims "
            "WHERE source = ? AND force_id = ? AND slot = ? ORDER BY 2, 1",
            mine + claims,
        )
        removed = int(
            db.scalar(
                f"SELECT count(*) FROM {source.table} WHERE batch_id IN ({_SLOT_BATCHES})", mine
            )
        )
        db.execute(f"DELETE FROM {source.table} WHERE batch_id IN ({_SLOT_BATCHES})", mine)
        db.execute(
            "DELETE FROM return_claims WHERE source = ? AND force_id = ? AND slot = ?", claims
        )
        periods = sorted({p for _, p in pairs})
        _refresh_periods(db, source, ctx.settings.force.pfa_code, periods)
        gone = "listed" if "://" in source.base(ctx.settings) else "in the folder"
        held = _pairs_words(db, pairs, source.grain)
        what = f"its figures for {held} are withdrawn" if pairs else "it held no figures in use"
        message = f"{state.slot} is no longer {gone}: {what}"
        entry = LedgerEntry(
            batch_id=f"{state.batch}:withdrawn:{ctx.run_id}",
            run_id=ctx.run_id,
            source=source.id,
            period=max(periods, default=None),
            url=state.url or state.slot,
            status="withdrawn",
            started_at=started,
            finished_at=ctx.clock(),
            rows=removed,
            revision_of=state.batch,
            note=message,
            slot=state.slot,
            periods=tuple(periods),
            force_id=force,
        )
        record_ledger(db, entry)
    return BatchOutcome(source.id, state.slot, entry.period, "withdrawn", message, entry.batch_id)


def _reinstate(
    db: Database,
    source: Source,
    area: str,
    ctx: SourceContext,
    files: Sequence[Wanted],
    sync: SyncFiles,
) -> dict[str, BatchOutcome]:
    """Read again each present file in use that is the only holder of a pair without its rows
    (or whose claims were never recorded: loaded before ``return_claims`` existed)."""
    unsettled = _unsettled(db, source, area, ctx.settings.force.id, {w.slot for w in files})
    chosen = [w for w in files if w.slot in unsettled]
    found = {}
    for outcome in sync(chosen, True):
        pairs = unsettled[outcome.slot]
        if outcome.outcome in ("loaded", "revised"):
            if pairs:
                held = _pairs_words(db, pairs, source.grain)
                why = f"its figures for {held} are in use again: no other file holds them now"
                outcome = replace(outcome, outcome="reinstated")
            else:
                why = "read again: it was loaded before safer recorded which file holds what"
            outcome = replace(outcome, message=f"{outcome.message}; {why}")
        found[outcome.slot] = outcome
    return found


def _unsettled(
    db: Database, source: Source, area: str, force: str, present: set[str]
) -> dict[str, list[Pair]]:
    readable = {
        s.slot: s
        for s in _standings(db, source.id, force)
        if s.slot in present and s.standing in IN_USE and s.latest in IN_USE
    }
    found: dict[str, list[Pair]] = defaultdict(list)
    for slot, code, period in db.rows(
        "WITH sole AS (SELECT * FROM return_claims WHERE source = ? AND force_id = ? "
        "QUALIFY count(*) OVER (PARTITION BY area_code, period) = 1) "
        f"SELECT s.slot, s.area_code, s.period FROM sole s WHERE NOT EXISTS (SELECT 1 FROM "
        f"{source.table} t WHERE t.batch_id = s.batch_id AND t.{area} = s.area_code "
        "AND t.period = s.period) ORDER BY 1, 3, 2",
        [source.id, force],
    ):
        if slot in readable:
            found[slot].append((code, period))
    claimed = {
        r[0]
        for r in db.rows(
            "SELECT DISTINCT slot FROM return_claims WHERE source = ? AND force_id = ?",
            [source.id, force],
        )
    }
    for slot, state in readable.items():
        if slot not in claimed and (state.rows or 0) > 0:
            found.setdefault(slot, [])
    return dict(found)


def _with_conflicts(
    db: Database,
    source: Source,
    force: str,
    outcomes: Sequence[BatchOutcome],
    before: set[Pair],
) -> list[BatchOutcome]:
    """Each outcome of a file in conflict says so; ``conflict`` when the conflict is new this
    run (its figures were in use, or would have been), its own word otherwise."""
    groups: dict[tuple[str, ...], list[Pair]] = defaultdict(list)
    for c in return_conflicts(db, source.id, force):
        groups[c.files].append((c.area_code, c.period))
    sentences: dict[str, list[str]] = defaultdict(list)
    new: set[str] = set()
    for files, pairs in groups.items():
        sentence = _conflict_sentence(files, _pairs_words(db, pairs, source.grain), len(pairs))
        logger.warning("%s: %s", source.id, sentence)
        for name in files:
            sentences[name].append(sentence)
            if any(p not in before for p in pairs):
                new.add(name)
    found = []
    for outcome in outcomes:
        said = sentences.get(outcome.slot)
        if said:
            label = outcome.outcome
            if outcome.slot in new and label in ("loaded", "revised", "unchanged", "reinstated"):
                label = "conflict"
            outcome = replace(outcome, outcome=label, message="; ".join([outcome.message, *said]))
        found.append(outcome)
    return found


def _refresh_periods(
    db: Database, source: Source, pfa_code: str, periods: Iterable[dt.date]
) -> None:
    """Each period's bookkeeping as the source table now holds it: a period with no rows left is
    no longer in use; otherwise it names the latest batch in use among its rows."""
    for period in periods:
        rows = int(db.scalar(f"SELECT count(*) FROM {source.table} WHERE period = ?", [period]))
        if not rows:
            forget_period(db, source.id, pfa_code, period)
            continue
        batch, content_hash, etag, last_modified = db.rows(
            "SELECT coalesce(released_batch, batch_id), content_hash, etag, last_modified "
            f"FROM load_ledger WHERE status IN ({_IN_USE_SQL}) AND coalesce(released_batch, "
            f"batch_id) IN (SELECT batch_id FROM {source.table} WHERE period = ?) "
            "ORDER BY finished_at DESC LIMIT 1",
            [period],
        )[0]
        in_use = PeriodInUse(
            source.id, period, batch, pfa_code, rows, 0, True, content_hash, etag, last_modified
        )
        record_periods(db, [in_use])


def _pairs_words(db: Database, pairs: Sequence[Pair], grain: Grain) -> str:
    """'Halton, Warrington 2025/26 Q1; Halton 2025/26 Q2': areas by name, period by period."""
    codes = sorted({code for code, _ in pairs})
    names: Mapping[str, str] = dict(
        db.rows("SELECT area_code, area_name FROM areas WHERE list_contains(?, area_code)", [codes])
    )
    by_period: dict[dt.date, list[str]] = defaultdict(list)
    for code, period in pairs:
        by_period[period].append(names.get(code, code))
    return "; ".join(
        f"{', '.join(sorted(set(areas)))} {period_label(period, grain)}"
        for period, areas in sorted(by_period.items())
    )


def _conflict_sentence(files: Sequence[str], held: str, pairs: int) -> str:
    it = "it" if pairs == 1 else "them"
    if len(files) == 2:
        return (
            f"{files[0]} and {files[1]} both hold {held}: neither file's figures for {it} are "
            "used until one is removed"
        )
    return (
        f"{', '.join(files[:-1])} and {files[-1]} all hold {held}: none of their figures for "
        f"{it} is used until all but one are removed"
    )
