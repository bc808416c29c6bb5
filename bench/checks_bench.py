"""Cost of the street-file checks on a large batch: GX (``run_suite``) against plain DuckDB SQL.

    .venv/bin/python -m bench.checks_bench [--rows 1000000] [--repeat 3]

The batch is built from the bundled real months (bench/batch.py) in a temporary folder. Every
figure is the median of ``--repeat`` runs in this process, and the ratios are against the plain
SQL floor measured in the same run, so they hold across machines better than the seconds do.
GX's import is timed in fresh interpreters, as the job pays it once per run that has a batch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.batch import Batch, build_batch
from bench.plain_sql import run_plain
from safer.checks import gx_runner
from safer.checks.models import Check
from safer.checks.police_street import street_suite
from safer.indicators.measure import outcome_labels
from safer.kernel.config import PoliceUkStreetConfig
from safer.pipelines.staging import stage_csv
from safer.store.db import connect_staging

__all__ = ["main"]

PERIOD = dt.date(2025, 12, 1)
SUITE = "police_street"
IMPORT_GX = (
    "import time; start = time.perf_counter(); import great_expectations; "
    "print(time.perf_counter() - start)"
)


RULE = "-" * 69
# (label, timing key, whether it is compared with the plain SQL floor)
ROWS = (
    ("import great_expectations (fresh interpreter)", "gx_import", False),
    ("stage_csv: CSV -> staging file (the pipeline's)", "stage_csv", False),
    ("read_csv -> table (DuckDB alone, all VARCHAR)", "read_csv", False),
    ("plain DuckDB SQL, one query per check [floor]", "plain", True),
    ("GX run_suite, first call after import", "gx_first", True),
    ("GX run_suite", "gx", True),
    ("  of which validation.run()", "gx_validate", True),
    ("  of which set-up and release (the rest)", "gx_setup", True),
    ("    release: close engines + gc.collect()", "gx_release", True),
    ("    column pre-check (own connection)", "gx_columns", True),
)


@dataclass
class Timings:
    """Seconds per measurement, one entry per repetition."""

    runs: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.runs.setdefault(name, []).append(seconds)

    def median(self, name: str) -> float:
        return statistics.median(self.runs[name])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.checks_bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")
    load = os.getloadavg()[0]  # other work on the machine skews every figure
    with tempfile.TemporaryDirectory(prefix="safer-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        batch = build_batch(folder, args.rows, PERIOD)
        built = time.perf_counter() - started
        timings = measure(batch, folder, args.repeat)
    print(report(batch, timings, args.repeat, built, load))
    return 0


def measure(batch: Batch, folder: Path, repeat: int) -> Timings:
    timings = Timings()
    checks = suite_for(batch)
    for _ in range(repeat):
        timings.add("gx_import", gx_import_seconds())
        timings.add("stage_csv", _seconds(lambda: stage_csv(batch.csv, folder / "again.duckdb")))
        timings.add("read_csv", _seconds(lambda: bare_read_csv(batch.csv, folder / "bare.duckdb")))
    floor = plain_checks(batch, checks)  # warm-up: the OS page cache, as for GX's first call
    import great_expectations  # noqa: F401 - timed above in fresh interpreters, not here

    gx = gx_checks(batch, checks, timings, "gx_first")
    if gx != floor:
        raise SystemExit(f"GX and plain SQL disagree: GX {gx}, plain {floor}")
    for _ in range(repeat):
        timings.add("plain", _seconds(lambda: plain_checks(batch, checks)))
        gx_checks(batch, checks, timings, "gx")
    return timings


def suite_for(batch: Batch) -> list[Check]:
    """The pipeline's suite with the default row bounds (widened if --rows exceeds them)."""
    defaults = PoliceUkStreetConfig()
    max_rows = max(defaults.max_rows, batch.staged.rows)
    return street_suite(batch.period, defaults.min_rows, max_rows, outcome_labels())


def gx_import_seconds() -> float:
    """``import great_expectations`` in a fresh interpreter, as the job does once per run."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_GX], capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def bare_read_csv(source: Path, target: Path) -> None:
    """DuckDB's own CSV reader into a table, sniffing on, no rejects or record numbers."""
    target.unlink(missing_ok=True)
    path = str(source).replace("'", "''")
    with connect_staging(target) as db:
        db.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', all_varchar=true)")


def plain_checks(batch: Batch, checks: list[Check]) -> dict[str, bool]:
    with connect_staging(batch.staged.path) as db:
        return run_plain(db, batch.staged.table, checks)


def gx_checks(batch: Batch, checks: list[Check], timings: Timings, name: str) -> dict[str, bool]:
    """One ``run_suite``, timed as a whole and by phase; returns check id -> passed."""
    import great_expectations as gx

    phases: dict[str, float] = {}
    validation: Any = gx.ValidationDefinition
    with (
        _timing(validation, "run", phases, "validate"),
        _timing(gx_runner, "_runnable", phases, "columns"),
        _timing(gx_runner, "_release", phases, "release"),
    ):
        started = time.perf_counter()
        results = gx_runner.run_suite(batch.staged.path, batch.staged.table, SUITE, checks)
        total = time.perf_counter() - started
    timings.add(name, total)
    timings.add(f"{name}_validate", phases["validate"])
    timings.add(f"{name}_setup", total - phases["validate"])
    timings.add(f"{name}_release", phases["release"])
    timings.add(f"{name}_columns", phases["columns"])
    return {result.check.id: result.success for result in results}


@contextmanager
def _timing(owner: Any, attribute: str, spent: dict[str, float], key: str) -> Iterator[None]:
    """Time every call of ``owner.attribute`` into ``spent[key]`` while the block runs."""
    original = getattr(owner, attribute)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - started

    setattr(owner, attribute, timed)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def report(batch: Batch, timings: Timings, repeat: int, built: float, load: float) -> str:
    floor = timings.median("plain")
    lines = [
        f"checks benchmark: {batch.staged.rows:,} rows from the {batch.source_rows:,} real rows "
        f"of {batch.months} bundled months (repeated; Month set to {batch.period:%Y-%m}), "
        f"{len(suite_for(batch))} checks",
        f"duckdb {_version('duckdb')}, great-expectations {_version('great-expectations')}, "
        f"sqlalchemy {_version('sqlalchemy')}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load:.2f} at start; median of {repeat}; "
        f"batch built in {built:.1f} s",
        "",
        f"{'measurement':<50} {'median s':>9} {'x floor':>8}",
        RULE,
    ]
    for label, key, compared in ROWS:
        seconds = timings.median(key)
        ratio = f"{seconds / floor:>7.1f}x" if compared else ""
        lines.append(f"{label:<50} {seconds:>9.3f} {ratio}".rstrip())
    lines += [
        RULE,
        f"ratio GX/plain SQL: {timings.median('gx') / floor:.1f}x including GX set-up, "
        f"{timings.median('gx_validate') / floor:.1f}x validation.run() alone",
    ]
    return "\n".join(lines)


def _version(package: str) -> str:
    return importlib.metadata.version(package)


if __name__ == "__main__":
    raise SystemExit(main())
