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
from safer.config import load_config
from safer.job import ExitCode, run
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
"""
        config = write_config(tmp_path, base, ["2025-04:2025-06"], smtp_port=port, extra=extra)
        report = run(load_config(config), AS_OF, clock)

    assert report.exit_code is ExitCode.OK, report.failed_units
    lead = next(m for m in messages if m["To"].addresses[0].username == "lead")
    text = lead.get_body(("plain",)).get_content().replace("\r\n", "\n")
    # One figure per family, each from its own source.
    assert "ASB incidents (source: data.police.uk street-level crime" in text
    assert "- Cheshire, 2025/26 Q1: 2,078 (" in text
    assert "Stop and searches (source: data.police.uk stop-and-search file)" in text
    assert "- Cheshire, 2018/19 Q3: 592 (" in text
    assert "Fly-tipping warning letters (source: DEFRA" in text
    assert "- Halton, 2021/22: 143 (vs the year before" in text
    assert "- Cheshire, 2021/22: 319 (vs the year before" in text
    assert "999 calls answered within 10 seconds (source: the force's call-handling return" in text
    assert "Positive outcomes among outcomes recorded (source: data.police.uk outcomes file" in text
    assert "ASB formal powers used by councils (source: the council enforcement returns" in text
    assert "- Warrington, 2025/26 Q1:" in text.split("ASB formal powers used by councils")[1]
    council = text.split("ASB formal powers used by councils")[1].split("\n\n")[0]
    assert "- Cheshire, 2025/26 Q1" not in council, "no force figure while Halton's is missing"
    assert (
        "Data missing: the council enforcement return for 2025/26 Q1 has no figures for Halton"
        in text
    )
