"""National scale, measured: backfill every force near DuckDB's own speed (``bench/run``).

    bench/run [--months 3,12,36] [--work /tmp/safer-bench] [--keep]

For each N, on synthetic data.police.uk files for all 43 forces (``bench.generate``, the last N
of 36 months to December 2025), in one run on one machine:

1. the floor: DuckDB's own ``CREATE TABLE … AS SELECT * FROM read_csv(...)`` over the same
   street and outcomes files, into a fresh database;
2. ``safer backfill --forces all`` (a fresh database, a subprocess as an operator runs it): wall
   time, peak memory, and the ratio to the floor;
3. every indicator of those files measured and evaluated for every partnership and force, and a
   digest built and rendered for every recipient (one per force and one per partnership);
4. the same ASB-per-CSP-per-quarter figures in plain pandas, as an analyst would write them,
   checked equal to safer's, and the ratio;
5. a ``safer run`` with nothing new (the configured force, files from the same folder).

The check engine's own cost (GX against the same checks in plain SQL) is ``bench.checks_bench``;
its ratio is printed at the end. Times are wall seconds on this machine; ratios are what to
compare across machines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
END = dt.date(2025, 12, 1)

CONFIG = """
[database]
path = "safer.duckdb"
[paths]
data_dir = "var"
outbox_dir = "outbox"
[force]
id = "cheshire"
pfa_code = "E23000006"
name = "Cheshire Constabulary"
[sources.police_uk_street]
base_url = "{data}"
months = ["{first}:{last}"]
min_rows = 10
revisit_months = 0
[sources.police_uk_outcomes]
base_url = "{data}"
months = ["{first}:{last}"]
min_rows = 10
revisit_months = 0
"""


@dataclass
class Row:
    months: int
    street_rows: int = 0
    outcome_rows: int = 0
    floor: float = 0.0
    backfill: float = 0.0
    peak_mb: float = 0.0
    evaluate: float = 0.0
    evaluations: int = 0
    areas: int = 0
    digests: float = 0.0
    recipients: int = 0
    pandas: float = 0.0
    safer_load: float = 0.0
    """A street-only backfill of all N months."""
    safer_update: float = 0.0
    """The latest month's backfill, into a database holding the months before."""
    safer_figures: float = 0.0
    """The ASB measure, from the loaded database."""
    noop: float = 0.0

    @property
    def safer_asb(self) -> float:
        return self.safer_load + self.safer_figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", default="3,12,36")
    parser.add_argument("--work", type=Path, default=Path("/tmp/safer-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)
    counts = sorted(int(n) for n in args.months.split(","))
    data = args.work / "data"
    _generate(data, max(counts))
    rows = [_measure(args.work, data, n) for n in counts]
    print(_table(rows))
    print(_checks_ratio())
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    return 0


def _generate(data: Path, months: int) -> None:
    marker = data / f".generated-{months}"
    if marker.exists():
        return
    shutil.rmtree(data, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.generate",
            "--out",
            str(data),
            "--months",
            str(months),
            "--end",
            END.strftime("%Y-%m"),
            "--forces",
            "all",
            "--seed",
            "1",
        ],
        cwd=ROOT,
        check=True,
    )
    marker.touch()


def _months(n: int) -> list[str]:
    found = []
    year, month = END.year, END.month
    for _ in range(n):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return sorted(found)


def _files(data: Path, months: list[str], kind: str) -> list[str]:
    return sorted(f for m in months for f in glob.glob(str(data / m / f"{m}-*-{kind}.csv")))


def _measure(work: Path, data: Path, n: int) -> Row:
    months = _months(n)
    row = Row(n)
    folder = work / f"n{n}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"bench: N = {n} months ({months[0]} to {months[-1]})", file=sys.stderr, flush=True)
    row.floor, row.street_rows, row.outcome_rows = _floor(folder / "floor.duckdb", data, months)
    config = folder / "safer.toml"
    config.write_text(CONFIG.format(data=data, first=months[0], last=months[-1]), encoding="utf-8")
    row.backfill, row.peak_mb = _backfill(config, months)
    _national(folder, config, row)
    _pandas(data, months, folder, row)
    row.noop = _noop(config, months)
    return row


def _floor(path: Path, data: Path, months: list[str]) -> tuple[float, int, int]:
    import duckdb

    con = duckdb.connect(str(path))
    started = time.perf_counter()
    for kind in ("street", "outcomes"):
        con.execute(
            f"CREATE TABLE {kind} AS SELECT * FROM read_csv(?, header=true)",
            [_files(data, months, kind)],
        )
    seconds = time.perf_counter() - started
    street = int(con.execute("SELECT count(*) FROM street").fetchone()[0])  # type: ignore[index]
    outcomes = int(con.execute("SELECT count(*) FROM outcomes").fetchone()[0])  # type: ignore[index]
    con.close()
    path.unlink()
    return seconds, street, outcomes


def _backfill(config: Path, months: list[str]) -> tuple[float, float]:
    started = time.perf_counter()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "safer",
            "backfill",
            "--from",
            months[0],
            "--to",
            months[-1],
            "--forces",
            "all",
            "--config",
            str(config),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    assert child.stderr is not None
    log = child.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        sys.exit(f"bench: backfill failed:\n{log[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def _national(folder: Path, config: Path, row: Row) -> None:
    """Evaluate every force and render every recipient's digest, in this process."""
    from safer.alerts.digest import build_digest
    from safer.alerts.render import render_digest
    from safer.app.national import evaluate_forces
    from safer.app.sources import active_catalogue
    from safer.indicators.definitions import load_catalogue, load_plans
    from safer.indicators.evaluate import Evaluation
    from safer.kernel.config import Recipient, load_config
    from safer.pipelines.areas import load_forces
    from safer.store.db import open_database

    settings = load_config(config)
    catalogue = active_catalogue(load_catalogue(), settings)
    plans = load_plans(None, catalogue)
    with open_database(settings.database) as db:
        forces = load_forces(db)
        started = time.perf_counter()
        found = evaluate_forces(
            db,
            settings,
            catalogue,
            plans,
            forces,
            ["police_uk_street", "police_uk_outcomes"],
            "bench",
        )
        row.evaluate = time.perf_counter() - started
        row.evaluations, row.areas = len(found.evaluations), found.areas
        names = dict(
            db.rows("SELECT area_code, area_name FROM areas ORDER BY area_type DESC, area_name")
        )
        kinds = dict(db.rows("SELECT area_code, pfa_code FROM areas"))
    by_area: dict[str, list[Evaluation]] = defaultdict(list)
    for e in found.evaluations:
        by_area[e.area_code].append(e)
    recipients = [
        # A force's own lead: its code once (a partnership's lead: theirs, then the force's).
        Recipient(
            name=f"Lead for {name}",
            email=f"r{n}@example.org",
            areas=tuple(dict.fromkeys((code, kinds[code]))),
        )
        for n, (code, name) in enumerate(names.items())
    ]
    started = time.perf_counter()
    rendered = 0
    for recipient in recipients:
        # Each recipient's history only: its partnership's and its force's periods.
        mine = [e for area in recipient.areas for e in by_area.get(area, [])]
        force = recipient.areas[-1]
        digest = build_digest(recipient, catalogue, plans, names, mine, {}, [], force)
        if digest is not None:
            render_digest(digest)
            rendered += 1
    row.digests, row.recipients = time.perf_counter() - started, rendered


def _pandas(data: Path, months: list[str], folder: Path, row: Row) -> None:
    """ASB incidents per CSP per quarter, as an analyst writes it (reading every file each
    time), and safer's own times to the same figures, checked equal: a street-only backfill of
    every month then the measure; the latest month's backfill alone; the measure alone."""
    import pandas as pd  # type: ignore[import-untyped]

    started = time.perf_counter()
    frames = [pd.read_csv(f) for f in _files(data, months, "street")]
    crimes = pd.concat(frames, ignore_index=True)
    lookup = pd.read_csv(ROOT / "pipelines" / "data" / "lad_csp_pfa_2017.csv", encoding="utf-8-sig")
    forces = pd.read_csv(ROOT / "pipelines" / "data" / "police_forces.csv")
    asb = crimes[crimes["Crime type"] == "Anti-social behaviour"].copy()
    asb["lad"] = asb["LSOA name"].str.replace(r"\s+\d{3}[A-Z]$", "", regex=True).str.lower()
    lookup["lad"] = lookup["LAD17NM"].str.lower()
    asb = asb.merge(lookup, on="lad").merge(forces, left_on="Reported by", right_on="force_name")
    asb = asb[asb["PFA17CD"] == asb["pfa_code"]]
    month = pd.to_datetime(asb["Month"])
    asb["quarter"] = month.dt.to_period("Q-MAR").dt.start_time.dt.date
    figures = asb.groupby(["CSP17CD", "quarter"]).size()
    row.pandas = time.perf_counter() - started

    config = folder / "asb.toml"
    text = (folder / "safer.toml").read_text(encoding="utf-8")
    config.write_text(
        text.replace('path = "safer.duckdb"', 'path = "asb.duckdb"').split(
            "[sources.police_uk_outcomes]"
        )[0],
        encoding="utf-8",
    )
    # The months before the latest, then the latest: together a backfill of all N months, and
    # the latest alone is what a monthly run adds before the figures are measured again.
    before = _backfill(config, months[:-1])[0] if len(months) > 1 else 0.0
    row.safer_update, _ = _backfill(config, months[-1:])
    row.safer_load = before + row.safer_update
    row.safer_figures = _asb_measure(config, figures)


def _asb_measure(config: Path, figures: object) -> float:
    from safer.app.sources import SOURCES
    from safer.indicators.definitions import load_catalogue
    from safer.indicators.measure import measure
    from safer.kernel.config import load_config
    from safer.pipelines.areas import forces_areas, load_forces
    from safer.store.db import open_database

    settings = load_config(config)
    indicator = load_catalogue().get("asb_incidents")
    with open_database(settings.database) as db:
        forces_areas(db, sorted(set(load_forces(db).values())))
        started = time.perf_counter()
        found = measure(db, indicator, "E23000006", SOURCES["police_uk_street"])
        seconds = time.perf_counter() - started
        csps = {c for (c,) in db.rows("SELECT area_code FROM areas WHERE area_type = 'csp'")}
    ours = {
        (area, start): int(obs.numerator)
        for (area, start), obs in found.periods.items()
        if area in csps and obs.numerator
    }
    theirs = {key: int(value) for key, value in figures.items()}  # type: ignore[attr-defined]
    if ours != theirs:
        wrong = sorted(set(ours.items()) ^ set(theirs.items()))[:5]
        sys.exit(f"bench: safer and pandas disagree on ASB per CSP per quarter: {wrong}")
    return seconds


def _noop(config: Path, months: list[str]) -> float:
    as_of = f"{months[-1]}-28"
    command = [sys.executable, "-m", "safer", "run", "--as-of", as_of, "--config", str(config)]
    subprocess.run(command, cwd=ROOT, capture_output=True, check=False)  # evaluates once
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 3):
        sys.exit(f"bench: no-op run exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def _table(rows: list[Row]) -> str:
    lines = [
        "",
        f"safer at national scale: 43 forces, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}",
        "",
        "| months | street rows | outcome rows | floor (DuckDB CTAS) | backfill | ratio "
        "| peak memory | evaluate all areas | digests rendered | no-op run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.months} | {r.street_rows:,} | {r.outcome_rows:,} | {r.floor:.1f} s | "
            f"{r.backfill:.1f} s | {r.backfill / r.floor:.2f}× | {r.peak_mb:,.0f} MB | "
            f"{r.evaluate:.1f} s ({r.evaluations:,} for {r.areas} areas) | "
            f"{r.digests:.1f} s ({r.recipients}) | {r.noop:.1f} s |"
        )
    lines += [
        "",
        "ASB incidents per CSP per quarter, all forces (pandas reads every file each time; "
        "safer checks and stores every row once, then measures from the database):",
        "",
        "| months | pandas | safer: load all + figures | ÷ | safer: latest month + figures "
        "| ÷ | safer: figures from the database | ÷ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        update = r.safer_update + r.safer_figures
        lines.append(
            f"| {r.months} | {r.pandas:.1f} s | {r.safer_asb:.1f} s | "
            f"{r.pandas / r.safer_asb:.1f}× | {update:.1f} s | {r.pandas / update:.1f}× | "
            f"{r.safer_figures:.2f} s | {r.pandas / r.safer_figures:.0f}× |"
        )
    return "\n".join(lines)


def _checks_ratio() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.checks_bench", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return "\nchecks (bench.checks_bench, 1M rows):\n" + done.stdout


if __name__ == "__main__":
    sys.exit(main())
