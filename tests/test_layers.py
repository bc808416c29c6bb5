"""The house's shape: one import name, layers that import only downwards, DuckDB behind the store.

``make test`` runs the contracts in ``.importlinter`` (README "Architecture"); these tests prove
that they catch a back-edge, that the wheel installs the one name ``safer``, and that a DuckDB
error reaches the rest of the code as the store's own ``DatabaseError``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from safer.store.db import DatabaseError, connect, connect_staging
from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
STAGES = ("pipelines", "checks", "indicators", "alerts")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / ".importlinter")],
        cwd=cwd,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy_of_the_package(tmp_path: Path) -> Path:
    """The ``safer`` namespace as the wheel lays it out (the stage folders inside it)."""
    copy = tmp_path / "safer"
    shutil.copytree(
        ROOT / "safer", copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", *STAGES)
    )
    for stage in STAGES:
        shutil.copytree(ROOT / stage, copy / stage, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "scheduler.py").unlink()
    shutil.copy(ROOT / "scheduler.py", copy / "scheduler.py")
    return tmp_path


def test_the_contracts_hold_on_the_tree() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # The kernel reaching up to the application: a back-edge.
        ("kernel/periods.py", "from safer.app import job", "safer.kernel.periods -> safer.app"),
        # A source's fetching module importing its checks: they meet only in safer.app.sources.
        ("pipelines/police_uk.py", "import safer.checks.police_street", "safer.checks"),
        # A stage by its bare folder name would load a second copy of every module.
        ("alerts/words.py", "import pipelines.areas", "pipelines"),
        # DuckDB outside the store.
        ("indicators/export.py", "import duckdb", "duckdb"),
    ],
)
def test_the_contracts_fail_on_a_planted_back_edge(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    root = _copy_of_the_package(tmp_path)
    target = root / "safer" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", "utf-8")
    done = _lint(root)
    assert done.returncode != 0, done.stdout
    assert broken in done.stdout, done.stdout


def test_the_wheel_installs_one_import_name(tmp_path: Path) -> None:
    # Built from a copy of what the project ships, so the build leaves nothing in the checkout.
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "scheduler.py"):
        shutil.copy(ROOT / name, tree / name)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "safer", tree / "safer", symlinks=True, ignore=ignore)
    for stage in STAGES:
        shutil.copytree(ROOT / stage, tree / stage, ignore=ignore)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(tree)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("safer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"safer"}
    for shipped in (
        "safer/scheduler.py",
        "safer/__main__.py",
        "safer/store/migrations/001_initial.sql",
        "safer/pipelines/data/",
        "safer/indicators/catalogue/police_uk.yaml",
        "safer/alerts/templates/",
        "safer/kernel/layouts.py",
    ):
        assert any(name.startswith(shipped) for name in names), shipped
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "safer = safer.scheduler:cli" in zipfile.ZipFile(wheel).read(entry).decode()


def test_python_dash_m_safer_is_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "safer", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "backfill" in done.stdout, done.stderr


def test_a_duckdb_error_reaches_the_code_as_the_stores_own(tmp_path: Path) -> None:
    with connect(None) as db:
        with pytest.raises(DatabaseError) as caught:
            db.execute("SELECT * FROM no_such_table")
        assert caught.value.kind == "CatalogException"
        assert not isinstance(caught.value, duckdb.Error)
        assert isinstance(caught.value.__cause__, duckdb.Error), "DuckDB's own error is kept"
        with pytest.raises(DatabaseError), db.transaction():
            db.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            db.execute("INSERT INTO t VALUES (1), (1)")
    (tmp_path / "folder.duckdb").mkdir()
    with pytest.raises(DatabaseError):
        connect_staging(tmp_path / "folder.duckdb")
