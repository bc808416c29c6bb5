"""Spreadsheets and small CSV files (DEFRA's workbook, the returns) read as text cells, staged
for their checks.

Every cell is kept as the text it shows, so a wrong value reaches a check that names its row
and column instead of failing here. Rows keep the number an officer sees: the spreadsheet row,
or the CSV line. The header row is found by the columns it must hold (DEFRA puts a title and a
group row above it). An XLSX file is opened only after its zip directory shows it is not a
zip bomb, and its XML is parsed by defusedxml (openpyxl uses it when installed).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safer.kernel.errors import LoadError
from safer.pipelines.staging import Reject, Staged
from safer.store.db import Database, DatabaseError, connect_staging, local_fault, remove_staging

__all__ = ["ROW", "Sheet", "read_sheet", "sheet_names", "stage_sheets"]

ROW = "row"
"""The staged column holding each row's spreadsheet row (or CSV line) number."""

MAX_UNCOMPRESSED = 256 * 1024 * 1024
"""An XLSX whose parts unpack to more than this is refused (a workbook of ours is < 20 MB)."""
MAX_RATIO = 200
"""An XLSX part that unpacks to more than this many times its packed size is refused."""
MAX_ROWS = 200_000
_HEADER_SEARCH = 10


@dataclass(frozen=True)
class Sheet:
    """One sheet (or a CSV file) as text: its header and its rows with their numbers."""

    path: Path
    name: str | None
    """The sheet's name; None for a CSV file."""
    columns: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str | None, ...]], ...]
    rejects: tuple[Reject, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.path.name}, sheet {self.name!r}" if self.name else self.path.name


def sheet_names(path: Path) -> list[str]:
    """The workbook's sheet names; raises LoadError for a file that is not a safe workbook."""
    book = _workbook(path)
    try:
        return list(book.sheetnames)
    finally:
        book.close()  # a read-only workbook holds its file open until closed


def read_sheet(
    path: Path,
    *,
    sheet: str | None = None,
    header: Collection[str],
    name: str | None = None,
    max_rows: int = MAX_ROWS,
) -> Sheet:
    """The sheet (XLSX) or the file (CSV) whose header row holds every name in ``header``.

    Names match without regard to case or surrounding spaces, and are kept stripped. Raises
    LoadError naming the file (as ``name``, when given: the name its sender knows, not the
    landed copy's), and the sheet, when it cannot be read or has no such header.
    """
    try:
        return _read_sheet(path, sheet, header, max_rows)
    except LoadError as exc:
        if name is None:
            raise
        raise LoadError(str(exc).replace(str(path), name)) from exc


def _read_sheet(path: Path, sheet: str | None, header: Collection[str], max_rows: int) -> Sheet:
    if path.suffix.lower() == ".csv":
        return _with_header(path, None, str(path), _csv_rows(path), header, max_rows)
    if path.suffix.lower() != ".xlsx":
        raise LoadError(f"{path}: not a .csv or .xlsx file")
    book = _workbook(path)
    try:
        name = sheet or book.sheetnames[0]
        if name not in book.sheetnames:
            raise LoadError(
                f"{path}: no sheet {name!r}; the workbook has {', '.join(book.sheetnames)}"
            )
        where = f"{path}, sheet {name!r}"
        return _with_header(path, name, where, _xlsx_rows(book, name, where), header, max_rows)
    finally:
        book.close()


def _with_header(
    path: Path,
    name: str | None,
    where: str,
    rows: Iterable[tuple[int, list[str | None]]],
    header: Collection[str],
    max_rows: int,
) -> Sheet:
    wanted = {h.strip().casefold() for h in header}
    iterator = iter(rows)
    columns: tuple[str, ...] | None = None
    for number, cells in iterator:
        names = {(c or "").strip().casefold() for c in cells}
        if wanted <= names:
            columns = _columns(where, number, cells)
            break
        if number >= _HEADER_SEARCH:
            break
    if columns is None:
        missing = ", ".join(sorted(repr(h) for h in header))
        raise LoadError(
            f"{where}: no header row with the columns {missing} in the first "
            f"{_HEADER_SEARCH} rows; is this the right file or template?"
        )
    body: list[tuple[int, tuple[str | None, ...]]] = []
    rejects: list[Reject] = []
    for number, cells in iterator:
        if len(body) >= max_rows:
            raise LoadError(f"{where}: more than {max_rows:,} rows; refused")
        if all(c is None for c in cells):
            continue  # blank rows between tables or at the end of a sheet
        if len(cells) > len(columns) and any(c is not None for c in cells[len(columns) :]):
            extra = len(cells) - len(columns)
            text = ",".join(c or "" for c in cells)[:120]
            beyond = f"beyond {columns[-1]!r}"  # the column the extra fields follow
            rejects.append(Reject(number, beyond, f"{extra} more fields than the header", text))
            continue
        padded = tuple(cells[: len(columns)]) + (None,) * (len(columns) - len(cells))
        body.append((number, padded))
    return Sheet(path, name, columns, tuple(body), tuple(rejects))


def _columns(where: str, number: int, cells: Sequence[str | None]) -> tuple[str, ...]:
    names = [(c or "").strip() for c in cells]
    while names and not names[-1]:
        names.pop()  # trailing empty header cells: formatting, not columns
    seen: set[str] = set()
    for index, name in enumerate(names, start=1):
        if not name:
            raise LoadError(f"{where}: header row {number}: column {index} has no name")
        if name.casefold() in seen:
            raise LoadError(f"{where}: header row {number}: column {name!r} appears twice")
        if name.casefold() == ROW:
            # Staging adds its own ``row`` column; DuckDB would refuse a second one.
            raise LoadError(f"{where}: header row {number}: column {name!r} is a reserved name")
        seen.add(name.casefold())
    return tuple(names)


def _csv_rows(path: Path) -> list[tuple[int, list[str | None]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # DEFRA's CSV releases and files saved from Excel on Windows are often Windows-1252.
        text = raw.decode("cp1252", errors="replace")
    rows: list[tuple[int, list[str | None]]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1  # a quoted cell may hold line breaks: a row is numbered by the line it starts on
    try:
        for cells in reader:
            rows.append((start, [cell if cell.strip() else None for cell in cells]))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise LoadError(f"{path}: cannot be read as CSV: {exc}") from exc
    return rows


def _xlsx_rows(book: Any, name: str, where: str) -> Iterator[tuple[int, list[str | None]]]:
    """The sheet's rows as text, read as they are consumed, so ``max_rows`` stops a huge sheet
    before it is all in memory. A read-only workbook parses a sheet's XML only now, so a
    malformed or hostile sheet (cut-off XML, a DTD that defusedxml refuses) fails here: a
    LoadError naming the file and sheet, not the XML parser's own exception."""
    try:
        for number, values in enumerate(book[name].iter_rows(values_only=True), start=1):
            yield number, [_text(value) for value in values]
    except Exception as exc:  # noqa: BLE001 - ElementTree, defusedxml and openpyxl errors
        raise LoadError(f"{where}: cannot be read: {type(exc).__name__}: {exc}") from exc


def _workbook(path: Path) -> Any:
    _refuse_zip_bomb(path)
    import openpyxl  # only when a workbook is read

    try:
        # From memory, not the path: when a sheet's XML is refused, openpyxl leaves the sheet's
        # stream open in the error's traceback, and with it a file handle (a ResourceWarning,
        # and one leaked descriptor per refused file in a long-running scheduler). The file is
        # already capped by ``max_bytes`` when it lands.
        return openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad file
        raise LoadError(f"{path}: cannot be read as an XLSX workbook: {exc}") from exc


def _refuse_zip_bomb(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoadError(f"{path}: not an XLSX workbook (not a zip archive): {exc}") from exc
    total = sum(p.file_size for p in parts)
    if total > MAX_UNCOMPRESSED:
        raise LoadError(f"{path}: unpacks to {total:,} bytes, over the {MAX_UNCOMPRESSED:,} cap")
    for part in parts:
        if part.compress_size and part.file_size / part.compress_size > MAX_RATIO:
            raise LoadError(
                f"{path}: part {part.filename} unpacks {part.file_size / part.compress_size:,.0f}"
                f" times its size; refused as a possible zip bomb"
            )


def _text(value: object) -> str | None:
    """A cell as the text it shows: whole numbers without a decimal point, dates as ISO."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def stage_sheets(sheets: dict[str, Sheet], staging: Path) -> Staged:
    """Write each sheet to its own table in ``staging`` (the first is the batch's main table):
    a ``row`` column and one text column per header name, in the header's order."""
    remove_staging(staging)
    db = connect_staging(staging)
    try:
        for table, sheet in sheets.items():
            _write_table(db, staging, table, sheet)
    except DatabaseError as exc:
        raise local_fault(exc, staging) or LoadError(
            f"{staging}: cannot stage the file: {exc}"
        ) from exc
    finally:
        db.close()
    first_table, first = next(iter(sheets.items()))
    rejects = tuple(r for sheet in sheets.values() for r in sheet.rejects)
    return Staged(staging, first_table, (ROW, *first.columns), len(first.rows), rejects)


def _write_table(db: Database, staging: Path, table: str, sheet: Sheet) -> None:
    """Through a temporary CSV: DuckDB reads one in milliseconds, where inserting the rows one
    by one takes seconds per thousand."""
    temp = staging.with_name(f"{staging.stem}.{table}.csv")
    try:
        with temp.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow((ROW, *sheet.columns))
            writer.writerows((number, *cells) for number, cells in sheet.rows)
        types = ", ".join(f"'{_q_sql(c)}': 'VARCHAR'" for c in sheet.columns)
        db.execute(
            f"CREATE TABLE \"{_q(table)}\" AS SELECT * FROM read_csv('{_q_sql(str(temp))}', "
            f"columns={{'{ROW}': 'BIGINT', {types}}}, header=true, auto_detect=false, "
            "delim=',', quote='\"', escape='\"', strict_mode=true)"
        )
    finally:
        temp.unlink(missing_ok=True)


def _q(name: str) -> str:
    return name.replace('"', '""')


def _q_sql(text: str) -> str:
    return text.replace("'", "''")
