"""What the figures of a run are computed from, as one fingerprint, so that a run with nothing
new can skip measuring, evaluating and building digests (the idle run cron makes most days).

The fingerprint covers the loaded batches and their ledger (a quarantine, a release or a revision
changes it), the bundled reference data as loaded (``reference_data``: the outcome mapping,
populations, the ONS lookup), the catalogue and plans, the settings that shape figures and
digests, and the code that computes them (file sizes and times of the packages). If anything
differs the run does the whole assessment; a skipped one still reports missing releases and
sends queued digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources

from safer.indicators.definitions import Catalogue, Plan
from safer.kernel.config import Settings
from safer.store.db import Database

__all__ = ["inputs_fingerprint", "last_assessed"]

_PACKAGES = (
    "safer",
    "safer.kernel",
    "safer.store",
    "safer.pipelines",
    "safer.checks",
    "safer.indicators",
    "safer.alerts",
    "safer.app",
)


def inputs_fingerprint(
    db: Database, settings: Settings, catalogue: Catalogue, plans: Sequence[Plan]
) -> str:
    data = db.rows(
        "SELECT (SELECT bit_xor(hash(source, period, batch_id, rows)) FROM source_periods), "
        "(SELECT bit_xor(hash(batch_id, status, finished_at, released_batch)) FROM load_ledger), "
        "(SELECT bit_xor(hash(batch_id, check_id, released_at)) FROM quarantine), "
        # The bundled reference data (outcome mapping, populations, ONS lookup, forces) as
        # loaded this run: an edited mapping changes figures, though no .py file changed.
        "(SELECT string_agg(name || ':' || sha256, ';' ORDER BY name) FROM reference_data)"
    )[0]
    shaped = settings.model_dump_json(
        include={"force", "indicators", "checks", "digest", "recipients"}
    )
    digest = hashlib.sha256()
    for part in (repr(data), shaped, catalogue.model_dump_json(), repr(plans), _code()):
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()[:32]


def _code() -> str:
    """The packages' Python files by size and modification time: an upgrade recomputes."""
    stamps = []
    for package in _PACKAGES:
        for entry in sorted(resources.files(package).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".py") and hasattr(entry, "stat"):
                info = entry.stat()
                stamps.append(f"{package}/{entry.name}:{info.st_size}:{info.st_mtime_ns}")
    return ";".join(stamps)


def last_assessed(db: Database) -> tuple[str, str] | None:
    """The last run that assessed everything and finished: (run id, its inputs)."""
    rows = db.rows(
        "SELECT run_id, inputs FROM runs WHERE inputs IS NOT NULL AND status = 'finished' "
        "AND exit_code <> 1 ORDER BY started_at DESC LIMIT 1"
    )
    return (rows[0][0], rows[0][1]) if rows else None
