"""All four indicator families in one run, each from its real source format, to one digest:
street, outcomes and stop-and-search files over loopback HTTP, DEFRA's workbook from disk, the
two returns from folders. A partnership whose return did not come is named as missing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from demo.server import serve
from safer.app.job import ExitCode, run
from safer.kernel.config import load_config
from tests.conftest import ROOT, write_config

Clock = Callable[[], dt.datetime]
DATA = ROOT / "data"
AS_OF = dt.date(2025, 8, 20)  # Halton's Q1 return was due by 30 July, a week's grace since


def _returns(tmp_path: Path) -> Path:
    folder = tmp_path / "returns"
    calls = folder / "calls"
    calls.mkdir(parents=True)
    for month in ("2025-04", "2025-05", "2025-06"):
        name = f"call-handling-EXAMPLE-{month}.csv"
        shutil.copy(DATA / "examples" / "call-handling" / name, calls / name)
    council = folder / "council"
    council.mkdir()
    name = "council-enforcement-EXAMPLE-2025-26-Q1.csv"
    text = (DATA / "examples" / "council-enforcement" / name).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(r for r in rows if r["csp_name"] != "Halton")  # Halton's has not come
    (council / name).write_text(out.getvalue(), encoding="utf-8")
    return folder


def test_every_family_reaches_the_digest_from_its_own_source(
    tmp_path: Path, smtp_server: tuple[int, list[EmailMessage]], clock: Clock
) -> None:
    port, messages = smtp_server
    returns = _returns(tmp_path)
    served = (
        DATA / "police-uk" / "street",
        DATA / "police-uk" / "stop-and-search",
        DATA / "examples" / "police-uk-outcomes",
    )
    with serve(*served) as base:
        extra = f"""
[sources.police_uk_outcomes]
base_url = "{base}"
months = ["2025-04:2025-06"]
[sources.police_uk_stop_search]
base_url = "{base}"
months = ["2018-10:2018-12"]
[sources.defra_flytipping]
location = "{DATA / "defra-fly-tipping" / "Flytipping.xlsx"}"
[sources.council_enforcement]
location = "{returns / "council"}"
[sources.call_handling]
location = "{returns / "calls"}"
# The bundled stop-and-search (2018) and DEFRA (2021/22) releases are years old: shown as
# figures here, rather than as "no data since".
[digest]
stale_after_days = 3650
"""
        config = write_config(tmp_path, base, ["2025-04:2025-06"], smtp_port=port, extra=extra)
        report = run(load_config(config), AS_OF, clock)

    assert report.exit_code is ExitCode.OK, report.failed_units
    lead = next(m for m in messages if m["To"].addresses[0].username == "lead")
    text = lead.get_body(("plain",)).get_content().replace("\r\n", "\n")
    # One figure per family, each from its own source.
    glance, appendix = text.split("ALSO MONITORED")
    # No 2024/25 Q1 to measure a change on: shown, not judged, and says why once; the force
    # is the partnerships' comparison, not a line of its own.
    assert (
        "- ASB incidents per 1,000 residents: Cheshire East 1.63 per "
        "1,000; Cheshire West and Chester 1.82 per 1,000; Halton 2.55 per 1,000; Warrington 1.76 "
        "per 1,000. Not judged: no complete figure in 2024/25 Q1 to measure the change on; no "
        "earlier figure to compare with"
    ) in appendix
    assert "- Cheshire: 88.7% | n/a | target ≥ 90.0% | SLIGHTLY OFF TRACK‡" in glance
    assert "- ASB incidents: Cheshire 2,078; Cheshire East 688;" in appendix
    assert "- Stop and searches, 2018/19 Q3: Cheshire 592" in appendix
    assert "- Fly-tipping warning letters, 2021/22: Cheshire 319 (−55.0%);" in appendix
    assert "Halton 143 (−71.5%)" in appendix
    assert "- Positive outcomes among outcomes recorded: Cheshire 20.1%;" in appendix
    council = appendix.split("- ASB formal powers used by councils: ")[1].split("\n")[0]
    assert council == (
        "Cheshire East 53; Cheshire West and Chester 38; Warrington 14. "
        "No earlier figure to compare with"
    ), "no force figure while Halton's return is missing"
    assert (
        "- Council enforcement return: Halton's 2025/26 Q1 overdue (due by 30 Jul 2025); the"
        " force's figure waits for it." in text
    )
