"""The check a file passes before GX sees it: every line splits into the header's fields.

DuckDB's rejects table names the line and column of each row it could not read; a truncated
download typically ends with such a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from safer.checks.models import Check, CheckResult, ParsesAsCsv, Severity

__all__ = ["PARSES_AS_CSV", "Reject", "parse_result"]


class Reject(Protocol):
    """A line DuckDB could not read, as staging reports it (``pipelines.staging.Reject``)."""

    @property
    def line(self) -> int: ...
    @property
    def column(self) -> str | None: ...
    @property
    def error(self) -> str: ...
    @property
    def text(self) -> str: ...


PARSES_AS_CSV = Check(
    "parses_as_csv",
    Severity.ERROR,
    "every line has the header's fields (a short last line usually means a truncated download)",
    ParsesAsCsv(),
)


def parse_result(rejects: Sequence[Reject]) -> CheckResult:
    """One result for all rejected lines, with the first few as the sample."""
    by_line: dict[int, list[Reject]] = {}
    for reject in rejects:
        by_line.setdefault(reject.line, []).append(reject)
    sample = tuple(
        {
            "line": line,
            "problem": items[0].error.lower(),
            "columns": ", ".join(r.column for r in items if r.column),
            "text": items[0].text[:120],
        }
        for line, items in sorted(by_line.items())[:5]
    )
    return CheckResult(
        check=PARSES_AS_CSV,
        success=not by_line,
        unexpected_count=len(by_line),
        sample=sample,
    )
