"""What data.police.uk's three monthly files per force share: where they are, which months a
run wants, when each is due. The street, outcomes and stop-and-search modules add their checks
and how their rows are loaded.

A month is wanted when it is configured and not yet loaded, or loaded recently enough to be
revised (``revisit_months``). When the API was asked (``pipelines.police_uk_api``), only months
it lists as published are fetched, and when it says nothing has changed since the last complete
sync, loaded months are not revisited: a run with nothing new downloads nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from safer.kernel.config import PoliceUkMonthlyConfig, Settings
from safer.kernel.periods import Grain, add_months, month_label
from safer.pipelines.freshness import monthly_due
from safer.pipelines.source import SourceContext, Wanted
from safer.pipelines.staging import Staged, stage_csv
from safer.store.db import Database

__all__ = ["MonthlyFiles", "months_to_check"]


def months_to_check(
    db: Database, source: str, cfg: PoliceUkMonthlyConfig, ctx: SourceContext
) -> list[dt.date]:
    """Wanted months not yet loaded, plus loaded ones recent enough to be revised."""
    loaded = {
        row[0] for row in db.rows("SELECT period FROM source_periods WHERE source = ?", [source])
    }
    newest = max(loaded, default=None)
    revisit_from = add_months(newest, -cfg.revisit_months) if newest else None
    months = [
        month
        for month in cfg.wanted_months(ctx.as_of)
        if month not in loaded
        or (not ctx.nothing_new and revisit_from is not None and month >= revisit_from)
    ]
    available = ctx.available.get(source) if ctx.available is not None else None
    if available is not None:
        months = [m for m in months if m in available]
    return months


@dataclass(frozen=True)
class MonthlyFiles:
    """The shared half of a data.police.uk monthly source; ``kind`` names the file."""

    id: str
    label: str
    suite: str
    table: str
    kind: str
    """``street``, ``outcomes`` or ``stop-and-search``, as in ``2025-06-cheshire-street.csv``."""
    area_level: str
    grain: Grain = "month"
    # Each file covers the whole force, so a partnership with no rows in a month had none.
    zero_fill: bool = True

    def config(self, settings: Settings) -> PoliceUkMonthlyConfig | None:
        cfg = getattr(settings.sources, self.id)
        assert cfg is None or isinstance(cfg, PoliceUkMonthlyConfig)
        return cfg if cfg is not None and cfg.enabled else None

    def monthly(self, settings: Settings) -> PoliceUkMonthlyConfig:
        cfg = self.config(settings)
        assert cfg is not None, f"{self.id} is not configured"
        return cfg

    def base(self, settings: Settings) -> str:
        return self.monthly(settings).base_url

    def wanted(self, db: Database, ctx: SourceContext) -> list[Wanted]:
        cfg = self.monthly(ctx.settings)
        force = ctx.settings.force.id
        return [
            Wanted(
                month_label(month),
                f"{month_label(month)}/{month_label(month)}-{force}-{self.kind}.csv",
                month,
            )
            for month in months_to_check(db, self.id, cfg, ctx)
        ]

    def stage(self, landed: Path, staging: Path, wanted: Wanted) -> Staged:
        return stage_csv(landed, staging)

    def periods(self, staged: Staged, wanted: Wanted) -> tuple[dt.date, ...]:
        return () if wanted.period is None else (wanted.period,)

    def due(self, settings: Settings, period: dt.date) -> dt.date:
        return monthly_due(period)

    def expected(self, db: Database, settings: Settings, as_of: dt.date) -> list[dt.date]:
        return self.monthly(settings).wanted_months(as_of)
