"""The street suite as plain DuckDB SQL, one query per check: the floor GX is measured against.

The queries come from the same ``Check`` values GX runs, so the floor always does the same
work: the column list from information_schema, ``count(*)`` for the row count, ``count(*)`` over
each UnexpectedRows query, a ``NOT IN`` count per value set (NULLs skipped, as GX does) and a
NULL count per not-null check.
"""

from __future__ import annotations

from safer.checks.models import (
    Check,
    ColumnsExactly,
    NotNull,
    RowCountBetween,
    UnexpectedRows,
    ValuesInSet,
)
from safer.store.db import Database

__all__ = ["check_sql", "run_plain"]


def check_sql(check: Check, table: str) -> str:
    """The one query that decides ``check`` on ``table``."""
    rule = check.rule
    name = _ident(table)
    if isinstance(rule, ColumnsExactly):
        return (
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_name = '{_literal(table)}' ORDER BY ordinal_position"
        )
    if isinstance(rule, RowCountBetween):
        return f"SELECT count(*) FROM {name}"
    if isinstance(rule, UnexpectedRows):
        query = rule.query.replace("{batch}", name).replace("{{", "{").replace("}}", "}")
        return f"SELECT count(*) FROM ({query})"
    if isinstance(rule, ValuesInSet):
        column = _ident(rule.column)
        allowed = ", ".join(f"'{_literal(value)}'" for value in rule.values)
        return (
            f"SELECT count(*) FROM {name} "
            f"WHERE {column} IS NOT NULL AND {column} NOT IN ({allowed})"
        )
    if isinstance(rule, NotNull):
        return f"SELECT count(*) FROM {name} WHERE {_ident(rule.column)} IS NULL"
    raise ValueError(f"check {check.id}: {type(rule).__name__} has no plain SQL")


def run_plain(db: Database, table: str, checks: list[Check]) -> dict[str, bool]:
    """Run every check's query on ``db``; returns check id -> passed."""
    return {check.id: _passed(check, db.rows(check_sql(check, table))) for check in checks}


def _passed(check: Check, rows: list[tuple[object, ...]]) -> bool:
    rule = check.rule
    if isinstance(rule, ColumnsExactly):
        return tuple(str(name) for (name,) in rows) == rule.columns
    found = int(str(rows[0][0]))
    if isinstance(rule, RowCountBetween):
        return rule.min_rows <= found <= rule.max_rows
    return found == 0


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return text.replace("'", "''")
