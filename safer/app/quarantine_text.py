"""What the quarantine commands print: pure functions from batches to lines of text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from safer.app.quarantine import FailedCheck, LedgerRow, QuarantinedBatch
from safer.kernel.periods import month_label
from safer.pipelines.load_ledger import LedgerEntry

__all__ = ["describe_batch", "describe_list", "describe_release", "describe_sample_row"]


def describe_list(batches: Sequence[QuarantinedBatch], *, include_released: bool) -> list[str]:
    """One line per batch: id, source, month, when, file, failed checks (and release)."""
    if not batches:
        return ["nothing has been quarantined" if include_released else "nothing in quarantine"]
    return [_list_line(batch) for batch in batches]


def _list_line(batch: QuarantinedBatch) -> str:
    fields = [
        batch.batch_id,
        batch.source,
        _period(batch),
        f"quarantined {_when(batch.quarantined_at)}",
        batch.file_path,
        "failed: " + ", ".join(c.check_id for c in batch.checks),
    ]
    if batch.released is not None:
        fields.append(f"released {_when(batch.released.at)}{_by(batch.released.actor)}")
    elif batch.superseded_by is not None:
        fields.append(f"superseded by {batch.superseded_by}")
    return "  ".join(fields)


def _period(batch: QuarantinedBatch) -> str:
    """The latest period the batch holds; a file that could not be read holds none we know."""
    return month_label(batch.period) if batch.period else "unknown period"


def describe_batch(
    batch: QuarantinedBatch, history: Sequence[LedgerRow], staged: Path, staged_exists: bool
) -> list[str]:
    """The batch in full: where it came from, each failed check with its rows, its history."""
    lines = [
        f"batch        {batch.batch_id}",
        f"source       {batch.source}",
        f"period       {_period(batch)}",
        f"slot         {batch.slot}",
        f"file         {batch.file_path}",
        f"quarantined  {_when(batch.quarantined_at)}",
        f"status       {_status(batch)}",
        f"staged file  {staged}" + ("" if staged_exists else " (missing)"),
        "",
        "failed checks",
    ]
    for check in batch.checks:
        lines += _check_lines(check)
    lines += ["", f"ledger history of {batch.source} {batch.slot}"]
    lines += [_ledger_line(row, batch.batch_id) for row in history]
    return lines


def _status(batch: QuarantinedBatch) -> str:
    if batch.released is not None:
        note = f": {batch.released.note}" if batch.released.note else ""
        return f"released {_when(batch.released.at)}{_by(batch.released.actor)}{note}"
    if batch.superseded_by is not None:
        return f"superseded by a later file, {batch.superseded_by}"
    return "in quarantine: the figures of its quarter are withheld"


def _check_lines(check: FailedCheck) -> list[str]:
    lines = [f"  {check.check_id}: {check.message}"]
    if not check.sample:
        return [*lines, "    (no sample of failing rows)"]
    return lines + [f"    {describe_sample_row(row)}" for row in check.sample]


def describe_sample_row(row: Mapping[str, Any]) -> str:
    """``record 17 (line 18): Month '2025-03'``; a parse failure names its line."""
    rest = dict(row)
    where = None
    if "record_no" in rest:
        record = int(rest.pop("record_no"))
        where = f"record {record} (line {record + 1})"  # line 1 is the header
    elif "line" in rest:
        where = f"line {rest.pop('line')}"
    values = ", ".join(f"{key} {_value(value)}" for key, value in rest.items())
    if where is None:
        return values
    return f"{where}: {values}" if values else where


def _value(value: object) -> str:
    return "(empty)" if value is None else repr(value)


def _ledger_line(row: LedgerRow, batch_id: str) -> str:
    mine = batch_id in (row.batch_id, row.released_batch)
    fields = [_when(row.finished_at), row.status, row.batch_id]
    if row.rows is not None:
        fields.append(f"{row.rows:,} rows")
    if row.revision_of:
        fields.append(f"replacing {row.revision_of}")
    if row.actor or row.note:
        fields.append(f"by {row.actor or 'unknown'}" + (f": {row.note}" if row.note else ""))
    if row.error:
        fields.append(row.error)
    return ("* " if mine else "  ") + "  ".join(fields)


def _periods(entry: LedgerEntry) -> str:
    return month_label(entry.period) if entry.period else "its periods"


def describe_release(entry: LedgerEntry) -> str:
    """What a release did, for the operator."""
    text = (
        f"released {entry.data_batch}: {_periods(entry)} now in use with "
        f"{entry.rows or 0:,} rows ({entry.outside_area_rows or 0:,} outside the force's areas)"
    )
    if entry.revision_of:
        text += f", replacing {entry.revision_of}"
    return text + "; the next safer run uses it"


def _when(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


def _by(actor: str | None) -> str:
    return f" by {actor}" if actor else ""
