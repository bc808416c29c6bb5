"""What a check is and what it found: plain values, independent of the check engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "Check",
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
    "rows_where",
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


def rows_where(condition: str, *columns: str) -> UnexpectedRows:
    """The rows meeting ``condition`` fail; a failure shows their record number and ``columns``.
    Column names are quoted here; the condition is SQL written by the suite."""
    shown = ", ".join(["record_no", *(f'"{c}"' for c in columns)])
    return UnexpectedRows(f"SELECT {shown} FROM {{batch}} WHERE {condition}", condition)


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
