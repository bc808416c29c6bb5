"""Guards for the private-name patch in checks/gx_runner.py (gx-duckdb-probe.md §4).

GX 1.24.1 reads query results after closing its connection, and DuckDB discards pending results
on the rollback that closing issues, so every metric fails with "list index out of range".
``apply_duckdb_workaround`` adds duckdb to GX's ``_PERSISTED_CONNECTION_DIALECTS``. These tests
fail if the name moves (the patch stops applying), if GX fixes the bug (the patch is no longer
needed), or if the pinned versions drift.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from safer.checks import gx_runner
from safer.checks.gx_runner import apply_duckdb_workaround, run_suite
from safer.checks.models import Check, NotNull, RowCountBetween, Severity
from safer.kernel.errors import CheckError

# Importing great_expectations 1.24.1 imports the deprecated stdlib modules ``sre_constants``
# and ``sre_parse`` (great_expectations/datasource/fluent/data_connector/
# file_path_data_connector.py), which warn once at import. pyproject turns warnings into
# errors, which would break GX's import in whichever test imports it first, so these two
# third-party import warnings (not our code) are ignored here only.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:module 'sre_(constants|parse)' is deprecated:DeprecationWarning"
)

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
SAE_MODULE = "great_expectations.execution_engine.sqlalchemy_execution_engine"
ROWS = 3
DROP_PATCH = (
    "GX now validates DuckDB without the workaround: remove apply_duckdb_workaround from "
    "checks/gx_runner.py and the tests guarding it (the exact great-expectations pin can then "
    "be relaxed)"
)


def _is_duckdb(item: object) -> bool:
    return getattr(item, "value", item) == "duckdb"


def _sae() -> ModuleType:
    import great_expectations.execution_engine.sqlalchemy_execution_engine as sae

    return sae


@pytest.fixture
def unpatched(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """GX's engine module with the dialect list as GX ships it; restored after the test.

    Other tests (and run_suite) may already have applied the patch in this process, so any
    duckdb entry is stripped rather than assuming a fresh interpreter.
    """
    sae = _sae()
    assert hasattr(sae, "_PERSISTED_CONNECTION_DIALECTS"), (
        f"{SAE_MODULE}._PERSISTED_CONNECTION_DIALECTS is gone: the DuckDB workaround in "
        "checks/gx_runner.py no longer applies; find GX's new persisted-connection switch"
    )
    shipped = tuple(d for d in sae._PERSISTED_CONNECTION_DIALECTS if not _is_duckdb(d))
    monkeypatch.setattr(sae, "_PERSISTED_CONNECTION_DIALECTS", shipped)
    return sae


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "probe.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE TABLE t AS SELECT i AS a FROM range(?) AS r(i)", [ROWS])
    finally:
        con.close()
    return path


def validate(path: Path) -> list[Any]:
    """A minimal GX SQL validation of table ``t``, without run_suite; returns GX's results."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_sql(
        name="probe",
        connection_string=f"duckdb:///{path}",
        kwargs={"connect_args": {"read_only": True}},
    )
    try:
        definition = source.add_table_asset(name="t", table_name="t")
        suite = context.suites.add(gx.ExpectationSuite(name="probe"))
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=ROWS, max_value=ROWS))
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column="a"))
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(
                name="probe",
                data=definition.add_batch_definition_whole_table("whole"),
                suite=suite,
            )
        )
        return list(validation.run().results)
    finally:
        engine = source.get_execution_engine()
        if getattr(engine, "_connection", None) is not None:
            engine._connection.close()
            engine._connection = None
        engine.engine.dispose()
        source.get_engine().dispose()


def _errors(results: list[Any]) -> str:
    return " | ".join(str(r.exception_info) for r in results)


# (1) the patch still finds its target and takes effect


def test_workaround_adds_duckdb_once(unpatched: ModuleType) -> None:
    shipped = unpatched._PERSISTED_CONNECTION_DIALECTS
    assert shipped, "GX ships no persisted-connection dialects any more"
    assert all(hasattr(d, "value") for d in shipped), (
        "GX's dialect entries no longer have .value; _DuckDBDialectName needs revisiting"
    )
    check = unpatched._dialect_requires_persisted_connection
    assert check(connection_string="duckdb:///x.duckdb") is False

    assert apply_duckdb_workaround() is True
    patched = unpatched._PERSISTED_CONNECTION_DIALECTS
    assert patched[: len(shipped)] == shipped
    added = patched[len(shipped) :]
    assert len(added) == 1
    assert added[0] == "duckdb"
    assert added[0].value == "duckdb"
    # GX's own test for StaticPool + one kept connection now says yes for DuckDB URLs.
    assert check(connection_string="duckdb:///x.duckdb") is True
    assert check(connection_string="sqlite:///x.db") is True

    assert apply_duckdb_workaround() is False
    assert unpatched._PERSISTED_CONNECTION_DIALECTS is patched


# (2) the patch is still needed


def test_workaround_is_still_needed(unpatched: ModuleType, database: Path) -> None:
    results = validate(database)
    assert len(results) == 2
    assert not all(r.success for r in results), DROP_PATCH
    assert "list index out of range" in _errors(results), (
        "GX fails on DuckDB without the workaround, but no longer with the known "
        f"'list index out of range' (probe §4); re-check that the patch is the right fix: "
        f"{_errors(results)[:1000]}"
    )


def test_run_suite_reports_the_unpatched_failure_as_check_error(
    unpatched: ModuleType, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the patch a broken engine must stop the run, not look like bad data."""
    monkeypatch.setattr(gx_runner, "apply_duckdb_workaround", lambda: False)
    checks = [
        Check("rows", Severity.ERROR, "three rows", RowCountBetween(ROWS, ROWS)),
        Check("a_present", Severity.ERROR, "a is never null", NotNull("a")),
    ]
    with pytest.raises(CheckError, match="list index out of range"):
        run_suite(database, "t", "unpatched", checks)


# (3) with the patch, the same validation succeeds


def test_validation_succeeds_with_workaround(unpatched: ModuleType, database: Path) -> None:
    assert apply_duckdb_workaround() is True
    results = validate(database)
    assert [r.success for r in results] == [True, True], _errors(results)
    row_count = next(r for r in results if "row_count" in r.expectation_config.type)
    assert row_count.result["observed_value"] == ROWS


# (4) versions the patch was verified against


def test_great_expectations_version_matches_the_pin() -> None:
    with PYPROJECT.open("rb") as handle:
        dependencies = tomllib.load(handle)["project"]["dependencies"]
    pins = [d for d in dependencies if re.match(r"great-expectations\s*==", d)]
    assert pins == ["great-expectations==1.24.1"], (
        "great-expectations must stay pinned exactly: checks/gx_runner.py patches a private name"
    )
    pinned = pins[0].split("==", 1)[1].strip()
    assert importlib.metadata.version("great-expectations") == pinned


def test_duckdb_major_is_2() -> None:
    # Files written by duckdb 2.x cannot be read by 1.x (probe §1).
    assert duckdb.__version__.split(".")[0] == "2"
    assert importlib.metadata.version("duckdb").split(".")[0] == "2"
