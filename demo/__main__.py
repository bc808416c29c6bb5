"""``make demo``: serve the bundled months locally and run the real ``safer`` command on them.

Three runs show the job over time: in April 2025 (the first digest, on 2024/25 Q4), in January
2026 (a second digest with what changed), and January 2026 again (nothing new: no digest).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from demo.server import serve

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "police-uk" / "street"
WORK = ROOT / "var" / "demo"

CONFIG = """\
# Written by `make demo`; see README.md for every setting.
[database]
path = "safer.duckdb"

[paths]
data_dir = "."
outbox_dir = "{outbox}"

[force]
id = "cheshire"
pfa_code = "E23000006"
name = "Cheshire Constabulary"

[sources.police_uk_street]
base_url = "{base_url}"
# The bundled months: January to April 2024 and all of 2025.
months = ["2024-01:2024-04", "2025-01:"]
backoff_seconds = 0.5

[[recipients]]
name = "OPCC performance lead"
email = "performance@example.org"

[[recipients]]
name = "Halton community safety manager"
email = "halton.csp@example.org"
areas = ["E22000023", "E23000006"]
"""


def _safer(config: Path, *args: str) -> None:
    command = [sys.executable, "-m", "scheduler", *args, "--config", str(config)]
    print(f"\n$ safer {' '.join(args)} --config {config.relative_to(ROOT)}", flush=True)
    done = subprocess.run(command, cwd=ROOT, check=False)
    if done.returncode not in (0, 3):
        sys.exit(f"demo: safer {args[0]} exited with {done.returncode}")


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    outbox = WORK / "outbox"
    with serve(DATA) as base_url:
        config = WORK / "safer.toml"
        config.write_text(CONFIG.format(base_url=base_url, outbox=outbox), encoding="utf-8")
        print(f"demo: serving {DATA.relative_to(ROOT)} at {base_url}")
        _safer(config, "run", "--as-of", "2025-04-15")
        _safer(config, "run", "--as-of", "2026-01-15")
        _safer(config, "run", "--as-of", "2026-01-15")
        _safer(config, "export", "--out", str(WORK / "observations.csv"))
    digests = sorted(outbox.glob("*.html"), key=lambda p: p.stat().st_mtime)
    print(
        f"\ndemo: {len(digests)} digests in {outbox.relative_to(ROOT)}/ (plain text in the .eml):"
    )
    for path in digests:
        print(f"  {path.relative_to(ROOT)}")
    print(f"demo: observations for analysts: {(WORK / 'observations.csv').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
