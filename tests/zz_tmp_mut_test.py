import pytest
from pathlib import Path
from types import ModuleType
from test_gx_workaround import *  # noqa
from test_gx_workaround import validate, DROP_PATCH

def test_sim_fixed(unpatched: ModuleType, database: Path) -> None:
    apply_duckdb_workaround()
    results = validate(database)
    assert not all(r.success for r in results), DROP_PATCH
