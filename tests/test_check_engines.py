"""Great Expectations and the bulk SQL engine give the same verdict on the bad-input corpus.

A normal run stages one file and checks it with GX (``checks.gx_runner``); a backfill reads a
month's files in one scan and checks them with plain DuckDB SQL (``checks.bulk``). Both run the
very same ``Check`` list, so a file must fail the same checks, each with the same number of
failing rows, whichever way it arrives: otherwise a month a backfill loaded could be one a
normal run would have held back (or the other way round).

The files are tests/test_bad_inputs.py's generated bad files (its loaders and generators,
header faults included) for the kinds the backfill loads (``safer.app.bulk_load.KINDS``): about
35 distinct files a kind, of which about 10 reach the checks (GX costs about half a second a
file), plus one file aimed at the rules the bulk engine translates itself. Each is staged as a
normal run stages it (the source's ``stage``) and scanned as a backfill scans a month
(``bulk_load._scan``: every file at once, the published columns, strictly parsed, bad lines kept
aside). A file held back before any suite runs (staging refuses it, or some line does not
parse) is counted, not compared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from safer.app.bulk_load import KINDS, BulkKind, _rejected, _scan
from safer.checks.bulk import check_files
from safer.checks.gx_runner import run_suite
from safer.checks.models import Check, CheckResult, NotNull, ValuesInSet
from safer.indicators.measure import outcome_labels
from safer.kernel.config import PoliceUkMonthlyConfig
from safer.kernel.errors import LoadError
from safer.pipelines.staging import read_header
from safer.store.db import connect_staging
from tests.test_bad_inputs import LOADERS, Generated, Loader, generated, write_file

# GX 1.24.1 imports the deprecated sre_* modules (see tests/test_checks.py).
pytestmark = pytest.mark.filterwarnings(
    r"ignore:module 'sre_(constants|parse)' is deprecated:DeprecationWarning"
)

CORPUS_SEEDS = range(8)
"""Several short runs, one per fixed seed, rather than one long one: hypothesis builds a run's
later examples by varying its earlier ones, so one short run is mostly near-copies of a file."""
PER_SEED = settings(
    max_examples=5,
    database=None,
    deadline=None,
    phases=[Phase.generate],  # collected, not tested: nothing to shrink
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BULK_LOADERS = {
    kind: loader for kind in KINDS for loader in LOADERS.values() if loader.source.id == kind
}


@dataclass
class Tally:
    """What became of one kind's files: the report (``-s``) and the non-vacuity asserts."""

    files: int = 0
    refused: int = 0
    """Staging raised a LoadError."""
    unparsed: int = 0
    """Staging kept some lines aside (parses_as_csv fails)."""
    unparsed_in_bulk: int = 0
    """Staging parsed every line, the backfill's scan not (a column dropped from the header)."""
    compared: int = 0
    failing: Counter[str] = field(default_factory=Counter)
    """How many compared files failed each check."""

    def line(self, kind: str) -> str:
        counts = ", ".join(f"{check} {n}" for check, n in sorted(self.failing.items()))
        return (
            f"{kind}: {self.files} files, {self.refused} refused by staging, {self.unparsed} "
            f"with lines staging cannot parse, {self.unparsed_in_bulk} more the backfill's scan "
            f"cannot; {self.compared} reached both engines, with the same verdict; "
            f"failing checks: {counts or 'none'}"
        )


def test_every_bulk_kind_has_a_bad_input_loader() -> None:
    assert set(BULK_LOADERS) == set(KINDS)


@pytest.mark.parametrize("kind_id", list(KINDS))
def test_gx_and_bulk_fail_the_same_checks_on_the_bad_input_corpus(
    kind_id: str, tmp_path: Path
) -> None:
    loader, kind, tally = BULK_LOADERS[kind_id], KINDS[kind_id], Tally()
    checks = _suite(loader, kind)
    made: dict[Path, Generated] = {}
    gx: dict[Path, list[CheckResult]] = {}
    for number, gen in enumerate([*corpus(loader), aimed_at_value_rules(loader, checks)], 1):
        path = tmp_path / f"file-{number}" / loader.file_name
        path.parent.mkdir()
        write_file(loader, gen, path)
        made[path] = gen
        found = _through_gx(loader, path, checks, tally)
        if found is not None:
            gx[path] = found
    bulk, broken = _through_bulk(kind, list(gx), checks, tmp_path / "bulk.duckdb")

    for path, results in gx.items():
        if broken.get(path):
            # Staging reads a file by its own header, the scan by the published one: they
            # split lines alike unless the header lost a column (then a line one reader takes
            # whole is short for the other). Both hold the file back.
            assert read_header(path) != kind.columns, made[path]
            tally.unparsed_in_bulk += 1
            continue
        _assert_same_verdict(made[path], results, bulk[path])
        tally.compared += 1
        tally.failing.update(r.check.id for r in results if not r.success)
    print(tally.line(kind_id))
    assert tally.compared >= 5, tally.line(kind_id)
    assert set(tally.failing) - {"row_count_plausible"}, tally.line(kind_id)


def _suite(loader: Loader, kind: BulkKind) -> list[Check]:
    """The checks both engines run, as a backfill builds them. (A normal run of street files
    adds ``against_in_use``: queries on reference tables beside the batch, not bulk's.)"""
    assert loader.period is not None
    # One more than a generated file's rows: a file with a row repeated passes the row count,
    # the others fail it, so it is compared both ways (a drifted header's too).
    min_rows = len(loader.rows[: loader.max_rows]) + 1
    max_rows = PoliceUkMonthlyConfig().max_rows
    return kind.suite(loader.period, min_rows, max_rows, outcome_labels())


def corpus(loader: Loader) -> list[Generated]:
    """The loader's generated bad files, header faults included (``file_faults``): the same
    ones every run (fixed seeds), so a disagreement is reproducible; each once."""
    found: dict[str, Generated] = {}
    for number in CORPUS_SEEDS:

        @seed(number)
        @PER_SEED
        @given(generated(loader, file_faults=True))
        def collect(gen: Generated) -> None:
            found.setdefault(repr(gen), gen)

        collect()
    return list(found.values())


def aimed_at_value_rules(loader: Loader, checks: Sequence[Check]) -> Generated:
    """A file breaking each column a NotNull or ValuesInSet check reads, in four rows: blank,
    the text NULL, padded with spaces, holding a NUL byte. The bulk engine writes these rules'
    SQL itself (``condition_of``) where the others carry their own, and the corpus reaches
    them only when its noise happens to land on their columns."""
    gen = Generated(list(loader.header), [list(r) for r in loader.rows[: loader.max_rows]])
    columns = {c.rule.column for c in checks if isinstance(c.rule, (NotNull, ValuesInSet))}
    rows = iter(gen.rows)
    for column in sorted(columns):
        j = loader.header.index(column)
        for value in (None, "NULL", f"  {loader.rows[0][j]}  ", "nul\x00byte"):
            next(rows)[j] = value
            gen.faults.append(f"{column}={value!r}")
    return gen


def _through_gx(
    loader: Loader, path: Path, checks: list[Check], tally: Tally
) -> list[CheckResult] | None:
    """The file as a normal run checks it (``safer.app.batch._check``), or None (counted)
    when it is held back before its suite runs."""
    tally.files += 1
    try:
        staged = loader.source.stage(path, path.with_suffix(".duckdb"), loader.wanted(path.name))
    except LoadError:
        tally.refused += 1
        return None
    if staged.rejects:
        tally.unparsed += 1
        return None
    return run_suite(staged.path, staged.table, f"{loader.source.suite}_{staged.table}", checks)


def _through_bulk(
    kind: BulkKind, paths: Sequence[Path], checks: list[Check], database: Path
) -> tuple[dict[Path, list[CheckResult]], dict[Path, int]]:
    """The files as a backfill checks a month of them (``bulk_load.backfill_month``): one
    scan of them all, ``check_files`` over it; and the lines of each the scan kept aside."""
    files = [str(p) for p in paths]
    headers = {str(p): read_header(p) for p in paths}
    with connect_staging(database) as db:
        db.execute(
            f"CREATE OR REPLACE TEMP TABLE bulk_scan AS SELECT * FROM {_scan(kind)}", [files]
        )
        found = check_files(db, "bulk_scan", files, checks, headers)
        broken = _rejected(db)
    results = {Path(name): checked for name, checked in found.items()}
    return results, {Path(name): lines for name, lines in broken.items()}


def _assert_same_verdict(
    gen: Generated, gx: Sequence[CheckResult], bulk: Sequence[CheckResult]
) -> None:
    """The same checks fail; every check both engines ran found the same number of failing
    rows and, where both say, the same thing (the row count, how the columns drifted)."""
    where = f"{gen!r}: {_shown('GX', gx)} | {_shown('bulk', bulk)}"
    assert _failing(gx) == _failing(bulk), where
    assert [r.check.id for r in gx] == [r.check.id for r in bulk], where
    for ours, theirs in zip(gx, bulk, strict=True):
        for what in ("unexpected_count", "observed"):
            mine, other = getattr(ours, what), getattr(theirs, what)
            if mine is not None and other is not None:
                assert mine == other, (where, ours.check.id, what)


def _failing(results: Sequence[CheckResult]) -> set[str]:
    return {r.check.id for r in results if not r.success}


def _shown(engine: str, results: Sequence[CheckResult]) -> str:
    failed = [
        f"{r.check.id} ({r.unexpected_count}, {r.observed})" for r in results if not r.success
    ]
    return f"{engine} failed {', '.join(failed) or 'nothing'}"
