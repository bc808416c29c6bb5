"""Write the blank return templates and the marked EXAMPLE returns the demo and tests use.

    .venv/bin/python tools/make_return_files.py

Templates go to ``templates/returns/`` (CSV with the header row; XLSX with a ``return`` sheet and
an ``about`` sheet describing each column). The examples go to ``data/examples/`` and hold
plausible, invented figures for Cheshire: every file name says EXAMPLE and every council row's
notes say so. They are not real data. Seeded, so re-running writes the same CSV bytes (XLSX
files carry openpyxl's timestamps).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from collections.abc import Sequence
from pathlib import Path

from safer.checks.council_enforcement import ACTION_TYPES, ENFORCEMENT_COLUMNS
from safer.kernel.layouts import CALL_COLUMNS
from safer.kernel.periods import add_months, month_label, quarter_label

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates" / "returns"
EXAMPLES = ROOT / "data" / "examples"

PFA = "E23000006"
# Cheshire's four Community Safety Partnerships and their mid-2021 populations (bundled
# indicators/data/la_population.csv), which scale the invented counts.
CSPS = (
    ("E22000354", "Cheshire East", 398_800),
    ("E22000355", "Cheshire West and Chester", 357_200),
    ("E22000023", "Halton", 128_200),
    ("E22000026", "Warrington", 210_900),
)
# Invented typical counts per 100,000 residents per quarter, for the example only.
ACTION_RATES = {
    "asb_warning_letter": 14.0,
    "community_protection_warning": 7.0,
    "community_protection_notice": 1.6,
    "acceptable_behaviour_contract": 2.4,
    "civil_injunction": 0.5,
    "criminal_behaviour_order": 0.4,
    "pspo_fixed_penalty_notice": 6.0,
    "closure_order": 0.3,
    "env_incidents_investigated": 95.0,
    "env_warning_letter": 16.0,
    "env_interview_under_caution": 2.2,
    "env_fixed_penalty_notice": 11.0,
}

CALL_DESCRIPTIONS = {
    "template_version": "Always call-handling-v1.",
    "force_code": "The ONS police force area code, e.g. E23000006 for Cheshire.",
    "month": "The calendar month the calls were made in, as YYYY-MM.",
    "calls_999": "999 calls answered in the month.",
    "answered_999_under_10s": "Of those, answered in under 10 seconds of connection.",
    "answered_999_10_to_60s": "Answered in 10 to under 60 seconds.",
    "answered_999_60s_or_more": "Answered in 60 seconds or more (the three bands add up).",
    "average_answer_999_seconds": "Mean seconds from connection to answer (decimals allowed).",
    "calls_101_offered": "101 calls offered to the force (blank if not reported).",
    "calls_101_answered": "101 calls answered.",
    "calls_101_abandoned": "101 calls where the caller hung up before an answer.",
    "average_wait_101_seconds": "Mean seconds a 101 caller waited before an answer.",
}
ENFORCEMENT_DESCRIPTIONS = {
    "template_version": "Always council-enforcement-v1.",
    "csp_code": "The ONS Community Safety Partnership code, e.g. E22000023 for Halton.",
    "csp_name": "The partnership's name (for people reading the file; the code decides).",
    "financial_year": "The financial year, as 2025/26 (April to March).",
    "quarter": "Q1 (April-June), Q2 (July-September), Q3 (October-December) or Q4.",
    "action_type": "One of the action types listed below; one row for each, 0 if none.",
    "count": "How many were issued or done in the quarter (a whole number).",
    "notes": "Anything the reader should know (optional).",
}


def main() -> None:
    TEMPLATES.mkdir(parents=True, exist_ok=True)
    _template("call-handling-v1", CALL_COLUMNS, CALL_DESCRIPTIONS, ())
    _template("council-enforcement-v1", ENFORCEMENT_COLUMNS, ENFORCEMENT_DESCRIPTIONS, ACTION_TYPES)
    _call_examples(random.Random(2024))
    _enforcement_examples(random.Random(2025))


def _template(
    name: str,
    columns: Sequence[str],
    descriptions: dict[str, str],
    action_types: Sequence[tuple[str, str]],
) -> None:
    import openpyxl

    _write_csv(TEMPLATES / f"{name}.csv", columns, [])
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "return"
    sheet.append(list(columns))
    about = book.create_sheet("about")
    about.append(["column", "what it holds"])
    for column in columns:
        about.append([column, descriptions[column]])
    if action_types:
        about.append([])
        about.append(["action_type", "meaning"])
        for action, meaning in action_types:
            about.append([action, meaning])
    book.save(TEMPLATES / f"{name}.xlsx")


def _call_examples(rng: random.Random) -> None:
    folder = EXAMPLES / "call-handling"
    folder.mkdir(parents=True, exist_ok=True)
    month = dt.date(2024, 1, 1)
    while month <= dt.date(2025, 12, 1):
        _write_csv(
            folder / f"call-handling-EXAMPLE-{month_label(month)}.csv",
            CALL_COLUMNS,
            [_call_row(rng, month)],
        )
        month = add_months(month, 1)


def _call_row(rng: random.Random, month: dt.date) -> list[str]:
    season = 1 + 0.12 * math.sin((month.month - 4) / 12 * 2 * math.pi)  # busier in summer
    calls = round(16_500 * season * rng.uniform(0.95, 1.05))
    within = rng.uniform(0.86, 0.95) if month.year == 2025 else rng.uniform(0.88, 0.96)
    under_10 = round(calls * within)
    over_60 = round(calls * rng.uniform(0.004, 0.012))
    offered = round(24_000 * season * rng.uniform(0.93, 1.07))
    abandoned = round(offered * rng.uniform(0.09, 0.22))
    return [
        "call-handling-v1",
        PFA,
        month_label(month),
        str(calls),
        str(under_10),
        str(calls - under_10 - over_60),
        str(over_60),
        f"{rng.uniform(4.0, 9.5):.1f}",
        str(offered),
        str(offered - abandoned),
        str(abandoned),
        f"{rng.uniform(70, 320):.0f}",
    ]


def _enforcement_examples(rng: random.Random) -> None:
    import openpyxl

    folder = EXAMPLES / "council-enforcement"
    folder.mkdir(parents=True, exist_ok=True)
    quarter = dt.date(2023, 4, 1)
    while quarter <= dt.date(2025, 10, 1):
        label = quarter_label(quarter)
        fy, q = label.split(" ")
        rows = [
            [
                "council-enforcement-v1",
                code,
                name,
                fy,
                q,
                action,
                str(_count(rng, ACTION_RATES[action] * population / 100_000)),
                "EXAMPLE: invented figures, not real data",
            ]
            for code, name, population in CSPS
            for action, _ in ACTION_TYPES
        ]
        stem = f"council-enforcement-EXAMPLE-{fy.replace('/', '-')}-{q}"
        if quarter.month == 10:  # one workbook a year, to show both formats work
            book = openpyxl.Workbook()
            sheet = book.active
            assert sheet is not None
            sheet.title = "return"
            sheet.append(list(ENFORCEMENT_COLUMNS))
            for row in rows:
                sheet.append([int(c) if c.isdigit() else c for c in row])
            book.save(folder / f"{stem}.xlsx")
        else:
            _write_csv(folder / f"{stem}.csv", ENFORCEMENT_COLUMNS, rows)
        quarter = add_months(quarter, 3)


def _count(rng: random.Random, mean: float) -> int:
    return max(0, round(rng.gauss(mean, math.sqrt(mean) + 0.5)))


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


if __name__ == "__main__":
    main()
