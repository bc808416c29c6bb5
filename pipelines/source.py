"""What a source is: the files it wants, how it stages and promotes them, and the records a
batch leaves. One module under ``pipelines/`` per source implements ``Source``; the batch life
cycle that drives them (``safer.app.batch``) and the suite that checks them (``safer.app.sources``)
live in the application, so a source's fetching module never imports its checks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from safer.kernel.clock import Clock
from safer.kernel.config import FetchConfig, Settings
from safer.kernel.periods import Grain
from safer.pipelines.http import FetchPolicy
from safer.pipelines.load_ledger import LedgerEntry
from safer.pipelines.staging import Staged
from safer.store.db import Database

__all__ = [
    "BatchOutcome",
    "FileSet",
    "Promoted",
    "Reference",
    "Source",
    "SourceContext",
    "SyncFiles",
    "Wanted",
    "policy_of",
    "safe_name",
    "staging_path",
]


@dataclass(frozen=True)
class Wanted:
    """One file a source wants this run."""

    slot: str
    """The file's identity over time: ``2025-06`` for a monthly file, a return's file name."""
    relative: str
    """Where it is under the source's base URL or folder."""
    period: dt.date | None = None
    """The period the file holds, when that is known before reading it."""


@dataclass(frozen=True)
class Promoted:
    """What promoting a batch did to its source table."""

    rows: int
    outside_area_rows: int
    periods: tuple[dt.date, ...]
    replaced: tuple[str, ...] = ()
    """Batches whose rows this one replaced: a non-empty tuple makes the load a revision."""


@dataclass(frozen=True)
class BatchOutcome:
    source: str
    slot: str
    period: dt.date | None
    outcome: str
    """loaded | revised | unchanged | not_yet_available | quarantined | failed, or for the API
    checked | unavailable (a run then tries every wanted month), or for a return (a file set)
    withdrawn | conflict | reinstated (``pipelines.return_set``)."""
    message: str
    batch_id: str | None = None
    unreachable: bool = False
    """The fetch failed in a way that retrying later may mend (connection refused, 5xx after the
    retries): the source's remaining files are not tried this run."""


@dataclass(frozen=True)
class SourceContext:
    """What a source needs to know about the run besides its database."""

    settings: Settings
    run_id: str
    as_of: dt.date
    clock: Clock
    outcome_labels: tuple[str, ...] = ()
    available: Mapping[str, frozenset[dt.date]] | None = None
    """Per source, the months data.police.uk's API lists as published; None when it was not
    asked (every wanted month is tried)."""
    nothing_new: bool = False
    """The API says nothing changed since the last complete sync: revisit nothing."""


@dataclass(frozen=True)
class Reference:
    """A small table written into a staging file beside the batch, for checks that compare
    the file with what is in use (the version it would replace, the force's areas)."""

    columns: tuple[str, ...]
    """Column definitions: ``("rows BIGINT", "asb_rows BIGINT")``."""
    rows: tuple[tuple[object, ...], ...]


class Source(Protocol):
    """A pipeline: one module under ``pipelines/`` per source, registered in ``sources.py``."""

    # Read-only, so a frozen dataclass satisfies it.
    @property
    def id(self) -> str: ...

    @property
    def label(self) -> str:
        """The source in an officer's words, for "Data missing" sentences."""

    @property
    def suite(self) -> str:
        """The name of its checks suite (``checks/<suite>.py``)."""

    @property
    def table(self) -> str:
        """The table its batches are promoted into."""

    @property
    def grain(self) -> Grain: ...

    @property
    def area_level(self) -> str:
        """``csp`` when rows are located in partnerships, ``force`` when figures are
        force-wide."""

    @property
    def zero_fill(self) -> bool:
        """Whether an area with no rows in a loaded period counts as zero (a whole-force file)
        or as missing (a return each partnership sends)."""

    def config(self, settings: Settings) -> FetchConfig | None:
        """The source's settings, or None when it is not configured (or turned off)."""

    def base(self, settings: Settings) -> str:
        """The URL or folder its files are under."""

    def wanted(self, db: Database, ctx: SourceContext) -> list[Wanted]:
        """The files to bring up to date this run, oldest first."""

    def stage(self, landed: Path, staging: Path, wanted: Wanted) -> Staged:
        """Read the landed file into ``staging``; raises LoadError naming the file as its
        publisher or sender knows it (``wanted.slot`` for a return)."""

    def periods(self, staged: Staged, wanted: Wanted) -> tuple[dt.date, ...]:
        """The periods the staged file holds, as far as they can be read."""

    def promote(self, db: Database, settings: Settings, entry: LedgerEntry) -> Promoted:
        """Replace the batch's periods in the source table from ``stg`` (attached, in a
        transaction); raises DatabaseError."""

    def due(self, settings: Settings, period: dt.date) -> dt.date:
        """The day a period's release is due."""

    def expected(self, db: Database, settings: Settings, as_of: dt.date) -> list[dt.date]:
        """Periods that should be in use by now (whose absence is missing data)."""


SyncFiles = Callable[[Sequence[Wanted], bool], list[BatchOutcome]]
"""Brings the given files of a source up to date, one outcome per file in order; read anew
(whatever was loaded before) when the flag is set."""


@runtime_checkable
class FileSet(Protocol):
    """A source whose figures are those of the files present now (a folder of returns): it
    brings the whole set up to date around ``sync``, withdrawing the figures of files that are
    gone (``pipelines.return_set``)."""

    def sync_set(
        self, db: Database, ctx: SourceContext, files: list[Wanted], sync: SyncFiles
    ) -> list[BatchOutcome]: ...


def policy_of(cfg: FetchConfig) -> FetchPolicy:
    return FetchPolicy(cfg.timeout_seconds, cfg.retries, cfg.backoff_seconds, cfg.max_bytes)


def safe_name(text: str) -> str:
    """``text`` as one file name: no folder separators, no leading dot, nothing exotic."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip(".")
    return cleaned[:150] or "_"


def staging_path(data_dir: Path, batch_id: str) -> Path:
    """Where a batch's staged DuckDB file lives while it is checked, and while quarantined."""
    return data_dir / "staging" / f"{safe_name(batch_id.replace(':', '_'))}.duckdb"
