"""Cost of a run with nothing new upstream: ``safer run`` as cron starts it, against the floor of
starting Python and opening the same DuckDB file.

    .venv/bin/python -m bench.idle_bench [--repeat 5]

Set-up (not timed): every source configured on the bundled data, served by the demo's local
data.police.uk-like server with its API, and one run that loads it all. Then ``--repeat`` idle
runs in fresh processes, each asking the API once and finding nothing new. The floor is a fresh
interpreter that imports duckdb and runs one query on the database; the ratio is against it.
Whether an idle run imported Great Expectations is checked, not assumed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from demo.server import Published, serve

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SERVED = (
    DATA / "police-uk" / "street",
    DATA / "police-uk" / "stop-and-search",
    DATA / "examples" / "police-uk-outcomes",
    DATA / "defra-fly-tipping",
)

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
[sources.police_uk_api]
base_url = "{base}/api"
[sources.police_uk_street]
base_url = "{base}"
months = ["2025-01:"]
[sources.police_uk_outcomes]
base_url = "{base}"
months = ["2025-01:"]
[sources.police_uk_stop_search]
base_url = "{base}"
months = ["2018-10:2019-02"]
[sources.defra_flytipping]
location = "{base}/files/Flytipping.xlsx"
[sources.council_enforcement]
location = "{returns}/council-enforcement"
[sources.call_handling]
location = "{returns}/call-handling"
[[recipients]]
name = "Lead"
email = "lead@example.org"
"""

FLOOR = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('SELECT 1').fetchall()"
GX_CHECK = (
    "import runpy, sys; sys.argv = ['safer', 'run', '--as-of', '2026-01-15', '--config', "
    "sys.argv[1]]\nfrom safer import scheduler\ntry:\n    scheduler.main()\nfinally:\n"
    "    print('GX imported' if 'great_expectations' in sys.modules else 'GX not imported', "
    "file=sys.stderr)"
)


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"idle bench: {' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="safer-idle-"))
    try:
        _run(work, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(work: Path, repeat: int) -> None:
    returns = work / "returns"
    for kind in ("council-enforcement", "call-handling"):
        shutil.copytree(DATA / "examples" / kind, returns / kind)
    published = Published(last_updated="2026-01-10", newest="2025-12")
    with serve(*SERVED, published=published) as base:
        config = work / "safer.toml"
        config.write_text(CONFIG.format(base=base, returns=returns), encoding="utf-8")
        run = [sys.executable, "-m", "safer", "run", "--as-of", "2026-01-15"]
        setup = _seconds([*run, "--config", str(config)])
        before = len(published.requests)
        idle = [_seconds([*run, "--config", str(config)]) for _ in range(repeat)]
        asked = published.requests[before:]
        floor = [
            _seconds([sys.executable, "-c", FLOOR, str(work / "safer.duckdb")])
            for _ in range(repeat)
        ]
        gx = (
            subprocess.run(
                [sys.executable, "-c", GX_CHECK, str(config)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            .stderr.strip()
            .splitlines()[-1]
        )
    _report(setup, idle, floor, asked, repeat, gx)


def _report(
    setup: float, idle: list[float], floor: list[float], asked: list[str], repeat: int, gx: str
) -> None:
    median, low = statistics.median(idle), statistics.median(floor)
    per_run = len(asked) // max(repeat, 1)
    print("safer idle run (nothing new upstream), every source configured, bundled data")
    print(f"  set-up run (loads everything, not compared)     {setup:7.2f} s")
    print(f"  floor: python + import duckdb + one query        {low:7.2f} s  (median of {repeat})")
    print(
        f"  safer run, nothing new                           {median:7.2f} s  (median of {repeat})"
    )
    print(f"  ratio to the floor                               {median / low:7.1f} x")
    print(f"  requests per idle run: {per_run} ({', '.join(sorted(set(asked))) or 'none'})")
    print(f"  {gx}")


if __name__ == "__main__":
    main()
