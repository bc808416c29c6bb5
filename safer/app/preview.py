"""``safer digest --preview``: the digests a run would send now, with nothing sent or recorded.

Evaluating writes derived tables (observations, evaluations, flags), so the preview evaluates an
in-memory copy of the database and only ever reads the real file. No source is fetched, so
"not yet published" notes, which come from fetching, are not shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from safer.alerts.deliver import area_names, notified, preview_digest, sent_record, stale_indicators
from safer.alerts.digest import Digest
from safer.alerts.render import Rendered, render_digest
from safer.app.assess import assess
from safer.app.sources import SOURCES, active_catalogue
from safer.indicators.definitions import load_catalogue, load_plans
from safer.kernel.clock import Clock
from safer.kernel.config import Recipient, Settings
from safer.kernel.errors import DigestError
from safer.store.db import Database, DatabaseError, connect

__all__ = ["Preview", "preview", "snapshot"]

PREVIEW_RUN = "preview"


@dataclass(frozen=True)
class Preview:
    recipient: Recipient
    digest: Digest
    rendered: Rendered


def preview(
    settings: Settings, as_of: dt.date, clock: Clock, recipient: str | None = None
) -> list[Preview]:
    """Each chosen recipient's digest as a run would build it; raises DigestError."""
    chosen = _recipients(settings.recipients, recipient)
    # As a run sees it: an unconfigured source's indicators say so, and are not measured.
    catalogue = active_catalogue(load_catalogue(settings.indicators.catalogue_dir), settings)
    plans = load_plans(settings.indicators.plans_dir, catalogue)
    with snapshot(settings.database.path) as db:
        names = area_names(db)
        if not names:
            raise DigestError(f"{settings.database.path}: no run yet; run `safer run` first")
        found = assess(db, settings, catalogue, plans, PREVIEW_RUN, as_of, clock, names)
        stale = stale_indicators(db, settings, catalogue, as_of, SOURCES)
        force = settings.force.pfa_code
        previews = []
        for person in chosen:
            told = notified(db, person.email)
            sent = sent_record(db, person.email, settings.force.id, SOURCES)
            digest = preview_digest(
                person,
                catalogue,
                plans,
                names,
                found.evaluations,
                told,
                found.notes,
                force,
                stale,
                sent,
            )
            if digest is not None:
                previews.append(Preview(person, digest, render_digest(digest)))
    if not previews:
        raise DigestError("no figures for the chosen recipients' areas yet: nothing to preview")
    return previews


def _recipients(recipients: tuple[Recipient, ...], wanted: str | None) -> list[Recipient]:
    if wanted is None:
        if not recipients:
            raise DigestError("no [[recipients]] in the config: nobody to preview a digest for")
        return list(recipients)
    key = wanted.casefold()
    found = [r for r in recipients if key in (r.name.casefold(), r.email.casefold())]
    if not found:
        known = ", ".join(f"{r.name} <{r.email}>" for r in recipients) or "none"
        raise DigestError(f"no recipient {wanted!r} in the config; recipients: {known}")
    return found


@contextmanager
def snapshot(path: Path) -> Iterator[Database]:
    """An in-memory copy of the database at ``path``, which is only read; raises DigestError."""
    if not path.is_file():
        raise DigestError(f"{path}: no database yet; run `safer run` first")
    connect(path).close()  # bring the schema up to date, as every command does
    db = connect(None)
    try:
        _copy_tables(db, path)
        yield db
    finally:
        db.close()


def _copy_tables(db: Database, path: Path) -> None:
    try:
        db.attach(path, "live")
    except DatabaseError as exc:
        raise DigestError(f"{path}: cannot read the database (is a run under way?): {exc}") from exc
    tables = db.rows(
        "SELECT table_name FROM duckdb_tables() "
        "WHERE database_name = 'live' AND schema_name = 'main' AND NOT temporary"
    )
    with db.transaction():
        for (table,) in tables:
            db.execute(f'DELETE FROM memory.main."{table}"')
            db.execute(
                f'INSERT INTO memory.main."{table}" BY NAME SELECT * FROM live.main."{table}"'
            )
    db.detach("live")
