"""CSV cells: what a spreadsheet would run as a formula is turned into text; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from history.export import COLUMNS, _cell, _to_csv


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "yes"),
        (False, "no"),
        (12.345, "12.3"),
        (3, "3"),
        (["person:mari", "team"], "person:mari > team"),
        ("+37255512301", "+37255512301"),
        ("+372••••••01", "+372••••••01"),
        ("-12.5", "-12.5"),
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("https://shop.example/p/1", "https://shop.example/p/1"),
    ],
)
def test_cells(value: object, cell: str) -> None:
    assert _cell(value) == cell


def test_a_header_row_even_without_calls() -> None:
    rows = list(csv.reader(io.StringIO(_to_csv([]))))
    assert rows == [list(COLUMNS)]
