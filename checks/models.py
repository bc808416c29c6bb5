"""What a check is and what it found: plain values, independent of the check engine."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "Check",
    "DataFlag",
    "CheckResult",
    "ColumnsExactly",
    "ColumnsInclude",
    "ColumnsMatchSet",
    "NotNull",
    "ParsesAsCsv",
    "RowCountBetween",
    "Severity",
    "TABLE_RULES",
    "UnexpectedRows",
    "ValuesInSet",
    "few_duplicates",
    "rows_where",
    "some_rows_where",
]


class Severity(StrEnum):
    ERROR = "error"  # the batch is quarantined
    WARNING = "warning"  # reported beside the figure


@dataclass(frozen=True)
class ColumnsExactly:
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ColumnsInclude:
    """Every one of ``columns`` is present, in any order; others may be too (a publisher's
    later release adds columns we do not read)."""

    columns: tuple[str, ...]


@dataclass(frozen=True)
class ColumnsMatchSet:
    """Exactly ``columns``, in any order (a template an officer may have rearranged)."""

    columns: tuple[str, ...]


@dataclass(frozen=True)
class RowCountBetween:
    min_rows: int
    max_rows: int


@dataclass(frozen=True)
class ValuesInSet:
    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class NotNull:
    column: str


@dataclass(frozen=True)
class UnexpectedRows:
    """Rows returned by ``query`` fail; ``{batch}`` stands for the table, braces doubled."""

    query: str
    condition: str | None = None
    """The same rows as a condition on one row of the batch (braces doubled too), when the
    check is that simple: then many files can be checked in one pass (``checks.bulk``)."""
    aggregate: str | None = None
    """Or, for a check on the table as a whole, the number of failing rows as one SQL
    aggregate over the batch (braces doubled too): what ``checks.bulk`` computes per file."""


def rows_where(condition: str, *columns: str) -> UnexpectedRows:
    """The rows meeting ``condition`` fail; a failure shows their record number and ``columns``.
    Column names are quoted here; the condition is SQL written by the suite."""
    shown = ", ".join(["record_no", *(f'"{c}"' for c in columns)])
    return UnexpectedRows(f"SELECT {shown} FROM {{batch}} WHERE {condition}", condition)


def few_duplicates(column: str, share: float) -> UnexpectedRows:
    """Values of ``column`` repeated on other rows are at most ``share`` of the rows that give
    it; beyond that, each copy after the first fails (a file published twice over)."""
    c = _quote(column)
    extra = f"(count({c}) - count(DISTINCT {c}))"
    failing = f"CASE WHEN {extra} > {share!r} * count({c}) THEN {extra} ELSE 0 END"
    copies = (
        f"SELECT record_no, {c}, row_number() OVER (PARTITION BY {c} ORDER BY record_no) AS copy "
        f"FROM {{batch}} WHERE {c} IS NOT NULL"
    )
    query = (
        f"SELECT record_no, {c} FROM ({copies}) WHERE copy > 1 "
        f"AND (SELECT {failing} FROM {{batch}}) > 0"
    )
    return UnexpectedRows(query, aggregate=failing)


def some_rows_where(condition: str) -> UnexpectedRows:
    """At least one row meets ``condition`` (braces doubled); a batch with none fails once."""
    found = f"count(*) FILTER (WHERE {condition})"
    query = f"SELECT {found} AS rows_found FROM {{batch}} HAVING {found} = 0"
    return UnexpectedRows(query, aggregate=f"CASE WHEN {found} = 0 THEN 1 ELSE 0 END")


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


@dataclass(frozen=True)
class ParsesAsCsv:
    """Every line has the header's number of fields; checked while staging, not by GX."""


Rule = (
    ColumnsExactly
    | ColumnsInclude
    | ColumnsMatchSet
    | RowCountBetween
    | ValuesInSet
    | NotNull
    | UnexpectedRows
    | ParsesAsCsv
)
TABLE_RULES = (ColumnsExactly, ColumnsInclude, ColumnsMatchSet, RowCountBetween)
"""Rules about the table as a whole: the only ones run when its columns are not as expected."""


@dataclass(frozen=True)
class Check:
    id: str
    severity: Severity
    description: str
    """What holds when the check passes, as a sentence for an officer."""
    rule: Rule


@dataclass(frozen=True)
class CheckResult:
    check: Check
    success: bool
    observed: str | None = None
    unexpected_count: int | None = None
    sample: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def message(self) -> str:
        """One sentence saying what failed, with a count and the first failing rows or values."""
        if self.success:
            return f"passed: {self.check.description}"
        text = f"failed: {self.check.description}"
        if self.unexpected_count is not None:
            text += f" ({self.unexpected_count:,} failing)"
        if self.observed is not None:
            text += f"; found {self.observed}"
        if self.sample:
            text += "; e.g. " + "; ".join(_describe(row) for row in self.sample[:3])
        return text


def _describe(row: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value!r}" for key, value in row.items())


@dataclass(frozen=True)
class DataFlag:
    """One figure (or one source month) a check flagged, with the sentence the digest shows."""

    check_id: str
    severity: Severity
    period: dt.date
    """The month or quarter start the flagged figure or source rows belong to."""
    sentence: str
    indicator_id: str | None = None
    """None when the flag is on a source month: it then covers every indicator of the source."""
    source: str | None = None
    area_code: str | None = None
