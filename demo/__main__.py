"""``make demo``: serve the bundled data locally and run the real ``safer`` command on it.

Every indicator family comes in through the production code path: the real Cheshire street and
stop-and-search months and DEFRA's real fly-tipping workbook over a local HTTP server laid out
like data.police.uk (with its API saying what is published), and the marked EXAMPLE outcomes,
call-handling and council returns, the returns dropped into folders as officers would.

Three runs show the job over time: in April 2025 (the first digest, on 2024/25 Q4), in January
2026 (a second digest with what changed since), and January 2026 again (nothing new upstream:
one API request, no download, no digest).
"""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from demo.server import Published, serve

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SERVED = (
    DATA / "police-uk" / "street",
    DATA / "police-uk" / "stop-and-search",
    DATA / "examples" / "police-uk-outcomes",
    DATA / "defra-fly-tipping",
)
EXAMPLES = DATA / "examples"
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

[indicators.spc]
# The bundled months give a 12-point series (all of 2025); NHS England's SQL draws limits from
# 13 by default and lets the user set its minimum (@SettingMinimumPoints): the demo sets 12.
minimum_points = 12

[sources.police_uk_api]
base_url = "{base_url}/api"

[sources.police_uk_street]
base_url = "{base_url}"
# The bundled months: January to April 2024 and all of 2025.
months = ["2024-01:2024-04", "2025-01:"]
backoff_seconds = 0.5

[sources.police_uk_outcomes]
base_url = "{base_url}"
months = ["2025-01:"]
note = "EXAMPLE files derived from the real street files, not published."

[sources.police_uk_stop_search]
base_url = "{base_url}"
# The real Cheshire stop-and-search months bundled (October 2018 to February 2019).
months = ["2018-10:2019-02"]

[sources.defra_flytipping]
location = "{base_url}/files/Flytipping.xlsx"

[sources.council_enforcement]
location = "returns/council-enforcement"
note = "EXAMPLE returns with invented figures, not real data."

[sources.call_handling]
location = "returns/call-handling"
note = "EXAMPLE returns with invented figures, not real data."

[[recipients]]
name = "OPCC performance lead"
email = "performance@example.org"

[[recipients]]
name = "Halton community safety manager"
email = "halton.csp@example.org"
areas = ["E22000023", "E23000006"]
"""


def _safer(config: Path, *args: str) -> None:
    command = [sys.executable, "-m", "safer", *args, "--config", str(config)]
    print(f"\n$ safer {' '.join(args)} --config {_shown(config)}", flush=True)
    done = subprocess.run(command, cwd=ROOT, check=False)
    if done.returncode not in (0, 3):
        sys.exit(f"demo: safer {args[0]} exited with {done.returncode}")


def _shown(path: Path) -> Path:
    """A path as the reader typed it: relative to the repository when it is inside."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _drop_returns(work: Path, until: str) -> None:
    """Copy the example returns for periods up to ``until`` into the demo's return folders, as
    the officers who send them would have by then."""
    for kind, period_of in (("call-handling", _month), ("council-enforcement", _quarter)):
        folder = work / "returns" / kind
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted((EXAMPLES / kind).iterdir()):
            if path.suffix in (".csv", ".xlsx") and period_of(path.stem) <= until:
                shutil.copy(path, folder / path.name)


def _month(stem: str) -> str:
    return stem.rsplit("-", 2)[-2] + "-" + stem.rsplit("-", 1)[-1]


def _quarter(stem: str) -> str:
    """``2024-25-Q4`` (financial year 2024/25, Q4) as the month it ends: ``2025-03``."""
    first, _, quarter = stem.split("-")[-3:]
    end = {"Q1": (0, 6), "Q2": (0, 9), "Q3": (0, 12), "Q4": (1, 3)}[quarter]
    return f"{int(first) + end[0]}-{end[1]:02d}"


def _publish(work: Path, published: Published, last_updated: str, newest: str) -> None:
    """Move the demo's world on: data.police.uk publishes up to ``newest``, returns arrive."""
    published.last_updated, published.newest = last_updated, newest
    _drop_returns(work, newest)


def run_demo(work: Path = WORK) -> list[str]:
    """The demo's three runs in ``work`` (emptied first); returns what the third run asked the
    data.police.uk-like server for. The digests are in ``work/outbox``."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    published = Published()
    with serve(*SERVED, published=published) as base_url:
        config = work / "safer.toml"
        text = CONFIG.format(base_url=base_url, outbox=work / "outbox")
        config.write_text(text, encoding="utf-8")
        print(f"demo: serving {', '.join(str(_shown(f)) for f in SERVED)} at {base_url}")
        # As if March 2025's files were out by mid-April, so 2024/25 Q4 is complete.
        _publish(work, published, "2025-04-10", "2025-03")
        _safer(config, "run", "--as-of", "2025-04-15")
        _publish(work, published, "2026-01-10", "2025-12")
        _safer(config, "run", "--as-of", "2026-01-15")
        before = len(published.requests)
        _safer(config, "run", "--as-of", "2026-01-15")
        idle = published.requests[before:]
        _safer(config, "export", "--out", str(work / "observations.csv"))
    return idle


def main() -> None:
    idle = run_demo(WORK)
    outbox = WORK / "outbox"
    print(f"\ndemo: the third run asked the server for {', '.join(idle) or 'nothing'}")
    digests = sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime)
    print(f"\ndemo: {len(digests)} digests in {_shown(outbox)}/ (open the .html in a browser):")
    for path in digests:
        print(f"  {_shown(path.with_suffix('.html'))}")
    print(f"demo: observations for analysts: {_shown(WORK / 'observations.csv')}")
    if digests:
        halton = [p for p in digests if "halton" in p.name] or digests
        print(f"\ndemo: what the Halton community safety manager receives ({halton[-1].name}):\n")
        print(_text_part(halton[-1]))


def _text_part(eml: Path) -> str:
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


if __name__ == "__main__":
    main()
