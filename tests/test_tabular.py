"""Rows of a CSV return keep the line an officer sees in a text editor."""

from __future__ import annotations

from pathlib import Path

from safer.pipelines.tabular import read_sheet


def test_a_row_after_a_cell_with_a_line_break_is_numbered_by_the_line_it_starts_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "return.csv"
    path.write_text(
        'area,note,count\nA,"two\nlines",1\nB,plain,2\n\nC,"three\nmore\nlines",3\nD,x,4\n',
        encoding="utf-8",
    )

    sheet = read_sheet(path, header=("area", "count"))

    numbers = {cells[0]: line for line, cells in sheet.rows if cells and cells[0]}
    assert numbers == {"A": 2, "B": 4, "C": 6, "D": 9}
