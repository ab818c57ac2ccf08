"""Read the MoJ/DfE "SEND Tribunals and appeal rate 2014-2024" presentation table.

The published CSV (a supporting file of DfE's "Education, health and care plans" release) is a
spreadsheet laid out for people, not machines:

* a UTF-8 byte-order mark, a title row and blank rows;
* two header rows: calendar years (each spanning three columns), then measure names carrying
  footnote digits (``Appeals registered4``, ``Total Appealable Decisions1``,
  ``SEND Tribunal Appeal Rate2``); the last year has two extra "In development" columns;
* region banner rows in capitals (``NORTH EAST``) with no LA code;
* local-authority rows ``name[footnotes], code, 3 cells per year``, numbers with thousands
  separators, rates as ``"1.30%"`` strings, space-padded cells and the symbols in
  :data:`TRIBUNAL_SYMBOLS`;
* an ``England Total`` row followed by rows that are not local authorities (a total excluding
  suppressed areas, sources, notes with multi-line cells, and the symbol legend).

:func:`read_tribunal` turns it into a long table with one row per (table row, year) and keeps,
for every value, the symbol that explains why it is missing. LA codes are returned exactly as
published: five of them are known to be misaligned (see ``SOURCE.md``) and must be validated
against names before joining, which is not this module's job.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TRIBUNAL_SYMBOLS: dict[str, str] = {
    "-": "nil (zero)",
    "..": "not available",
    "~": "suppressed",
    "x": "undefined in the source legend; treated as not available",
    "": "blank cell; treated as not available",
}
"""Symbols used in the numeric cells of this source, mapped to their meaning.

Only ``-`` carries a value (zero); every other symbol means the value is missing. A number cell
also gets the symbol ``""``, so ``""`` with a missing value means a blank cell.
"""

EXPECTED_YEARS: tuple[int, ...] = tuple(range(2014, 2025))
"""Calendar years the table must cover, in column order."""

MEASURES: tuple[str, str, str] = (
    "Appeals registered",
    "Total Appealable Decisions",
    "SEND Tribunal Appeal Rate",
)
"""Measure headers of each year block, footnote markers removed."""

IN_DEVELOPMENT_MEASURES: tuple[str, str] = (
    "In development: Total Appealable Decisions",
    "In development: SEND Tribunal Appeal Rate",
)
"""Headers of the two extra columns that follow the last year block."""

ENGLAND_TOTAL = "England Total"
"""Name (footnotes removed) of the national row; LA rows end there."""

COLUMNS: tuple[str, ...] = (
    "geographic_level",
    "la_name_raw",
    "la_name",
    "la_code_raw",
    "region_banner",
    "time_period",
    "appeals",
    "appealable_decisions",
    "rate_pct_published",
    "appeals_symbol",
    "decisions_symbol",
    "rate_symbol",
    "in_dev_decisions",
    "in_dev_rate_pct",
    "source_row",
)
"""Columns of the frame returned by :func:`read_tribunal`, in order."""

_DTYPES: dict[str, str] = {
    "time_period": "int64",
    "appeals": "Int64",
    "appealable_decisions": "Int64",
    "rate_pct_published": "Float64",
    "in_dev_decisions": "Int64",
    "in_dev_rate_pct": "Float64",
    "source_row": "int64",
}

_FOOTNOTE = re.compile(r"\d+(?:,\d+)*$")
_COUNT = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")
_RATE = re.compile(r"(\d+(?:\.\d+)?)%")

_NAME_COL = 0
_CODE_COL = 1
_FIRST_DATA_COL = 2


@dataclass(frozen=True)
class _Layout:
    """Where each measure sits, found from the two header rows."""

    year_columns: dict[int, tuple[int, int, int]]
    """Year -> column indices of (appeals, decisions, rate)."""
    in_dev_columns: tuple[int, int]
    """Column indices of the in-development (decisions, rate) of the last year."""
    headers: list[str]
    """Human-readable header of every column, for error messages."""
    first_data_row: int
    """0-based index of the first record after the measure header row."""

    @property
    def width(self) -> int:
        """Number of columns the table uses."""
        return len(self.headers)


def strip_footnotes(text: str) -> str:
    """Remove footnote markers appended to a name or header, and surrounding whitespace.

    Only a trailing run of digits, possibly separated by commas (``"4,9"``), is removed, so
    ``"Bournemouth, Christchurch and Poole5"`` keeps its comma and ``"England Total4,9"``
    becomes ``"England Total"``.
    """
    return _FOOTNOTE.sub("", text.strip()).strip()


def _column_letter(index: int) -> str:
    """Spreadsheet column letter of a 0-based column index (0 -> "A", 26 -> "AA")."""
    letters = ""
    number = index + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _where(path: Path, row: int, column: int | None = None, header: str = "") -> str:
    """Location prefix for error messages: file name, 1-based row and optionally the column."""
    place = f"{path.name}: row {row}"
    if column is not None:
        place += f", column {_column_letter(column)}"
        if header:
            place += f" ({header!r})"
    return place


def _read_records(path: Path) -> list[list[str]]:
    """All CSV records of the file; the record index + 1 is the spreadsheet row number.

    Notes at the bottom contain quoted multi-line cells, so physical line numbers and record
    numbers differ after them; the data rows above are one line each.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _find_layout(records: list[list[str]], path: Path) -> _Layout:
    """Locate and validate the year and measure header rows.

    Raises ``ValueError`` when the year row (starting ``Local Authority, LA code``) is missing,
    when its years are not exactly :data:`EXPECTED_YEARS` in three-column blocks, or when the
    measure row below it does not repeat :data:`MEASURES` followed by the in-development pair.
    """
    year_index = next(
        (
            i
            for i, record in enumerate(records)
            if len(record) > _CODE_COL
            and record[_NAME_COL].strip() == "Local Authority"
            and record[_CODE_COL].strip() == "LA code"
        ),
        None,
    )
    if year_index is None:
        raise ValueError(f"{path.name}: header row starting 'Local Authority, LA code' not found")
    if year_index + 1 >= len(records):
        raise ValueError(f"{_where(path, year_index + 2)}: measure header row missing")

    n_years = len(EXPECTED_YEARS)
    width = _FIRST_DATA_COL + 3 * n_years + len(IN_DEVELOPMENT_MEASURES)
    year_row = _pad(records[year_index], width)
    measure_row = _pad(records[year_index + 1], width)
    year_row_number, measure_row_number = year_index + 1, year_index + 2

    headers = ["Local Authority", "LA code"]
    year_columns: dict[int, tuple[int, int, int]] = {}
    for k, year in enumerate(EXPECTED_YEARS):
        start = _FIRST_DATA_COL + 3 * k
        found = year_row[start].strip()
        if found != str(year):
            raise ValueError(
                f"{_where(path, year_row_number, start)}: expected year {year} "
                f"(years {EXPECTED_YEARS[0]}..{EXPECTED_YEARS[-1]}, three columns each), "
                f"found {found!r}"
            )
        for offset, measure in enumerate(MEASURES):
            _expect_header(measure_row, start + offset, measure, path, measure_row_number)
            if offset and year_row[start + offset].strip():
                raise ValueError(
                    f"{_where(path, year_row_number, start + offset)}: expected a blank cell "
                    f"inside the {year} block, found {year_row[start + offset].strip()!r}"
                )
            headers.append(f"{year} {measure_row[start + offset].strip()}")
        year_columns[year] = (start, start + 1, start + 2)

    in_dev_start = _FIRST_DATA_COL + 3 * n_years
    for offset, measure in enumerate(IN_DEVELOPMENT_MEASURES):
        _expect_header(measure_row, in_dev_start + offset, measure, path, measure_row_number)
        headers.append(f"{EXPECTED_YEARS[-1]} {measure_row[in_dev_start + offset].strip()}")

    return _Layout(
        year_columns=year_columns,
        in_dev_columns=(in_dev_start, in_dev_start + 1),
        headers=headers,
        first_data_row=year_index + 2,
    )


def _expect_header(row: list[str], column: int, expected: str, path: Path, row_number: int) -> None:
    """Raise ``ValueError`` unless ``row[column]`` is ``expected`` once footnotes are removed."""
    found = strip_footnotes(row[column])
    if found != expected:
        raise ValueError(
            f"{_where(path, row_number, column)}: expected measure header {expected!r}, "
            f"found {row[column].strip()!r}"
        )


def _pad(record: list[str], width: int) -> list[str]:
    """The record extended with blank cells to ``width`` columns (never truncated)."""
    return record + [""] * (width - len(record))


def _parse_cell(
    cell: str, *, is_rate: bool, path: Path, row: int, column: int, header: str
) -> tuple[int | float | None, str]:
    """Parse one numeric cell into ``(value, symbol)``.

    Counts may use thousands separators (``"1,071"``); rates are percentages (``"1.30%"`` ->
    ``1.3``). A symbol from :data:`TRIBUNAL_SYMBOLS` gives ``0`` for ``-`` and ``None``
    otherwise; a number gives the symbol ``""``. Anything else raises ``ValueError`` naming the
    file, row and column.
    """
    text = cell.strip()
    if text in TRIBUNAL_SYMBOLS:
        if text == "-":
            return (0.0 if is_rate else 0), text
        return None, text
    if is_rate:
        match = _RATE.fullmatch(text)
        if match:
            return float(match.group(1)), ""
    elif _COUNT.fullmatch(text):
        return int(text.replace(",", "")), ""
    kind = "percentage" if is_rate else "count"
    raise ValueError(
        f"{_where(path, row, column, header)}: cannot read {cell!r} as a {kind} "
        f"or a known symbol {sorted(TRIBUNAL_SYMBOLS)}"
    )


def _is_blank(record: list[str]) -> bool:
    """True when every cell of the record is empty or whitespace."""
    return not any(cell.strip() for cell in record)


def _is_region_banner(record: list[str]) -> bool:
    """True for a region banner: a capitalised name, no LA code and no data."""
    name = record[_NAME_COL].strip()
    return (
        bool(name)
        and name == name.upper()
        and any(char.isalpha() for char in name)
        and not record[_CODE_COL].strip()
        and _is_blank(record[_FIRST_DATA_COL:])
    )


def _table_row_to_records(
    record: list[str],
    *,
    row: int,
    region: str,
    layout: _Layout,
    path: Path,
) -> list[dict[str, object]]:
    """Long-format records (one per year) for one LA or England row of the table."""
    name_raw = record[_NAME_COL].strip()
    name = strip_footnotes(name_raw)
    is_england = name == ENGLAND_TOTAL

    def parse(column: int, *, is_rate: bool) -> tuple[int | float | None, str]:
        return _parse_cell(
            record[column],
            is_rate=is_rate,
            path=path,
            row=row,
            column=column,
            header=layout.headers[column],
        )

    last_year = EXPECTED_YEARS[-1]
    in_dev_decisions, _ = parse(layout.in_dev_columns[0], is_rate=False)
    in_dev_rate, _ = parse(layout.in_dev_columns[1], is_rate=True)

    out: list[dict[str, object]] = []
    for year, (appeals_col, decisions_col, rate_col) in layout.year_columns.items():
        appeals, appeals_symbol = parse(appeals_col, is_rate=False)
        decisions, decisions_symbol = parse(decisions_col, is_rate=False)
        rate, rate_symbol = parse(rate_col, is_rate=True)
        out.append(
            {
                "geographic_level": "National" if is_england else "Local authority",
                "la_name_raw": name_raw,
                "la_name": "England" if is_england else name,
                "la_code_raw": record[_CODE_COL].strip(),
                "region_banner": "" if is_england else region,
                "time_period": year,
                "appeals": appeals,
                "appealable_decisions": decisions,
                "rate_pct_published": rate,
                "appeals_symbol": appeals_symbol,
                "decisions_symbol": decisions_symbol,
                "rate_symbol": rate_symbol,
                "in_dev_decisions": in_dev_decisions if year == last_year else None,
                "in_dev_rate_pct": in_dev_rate if year == last_year else None,
                "source_row": row,
            }
        )
    return out


def _table_rows(
    records: list[list[str]], layout: _Layout, path: Path
) -> list[tuple[list[str], int, str]]:
    """The LA rows and the England Total row, as ``(padded record, row number, region)``.

    Blank rows are skipped, banner rows set the region, and reading stops after the
    ``England Total`` row. Raises ``ValueError`` for cells beyond the table width, a row with
    data but no name, or a missing ``England Total`` row.
    """
    rows: list[tuple[list[str], int, str]] = []
    region = ""
    for index in range(layout.first_data_row, len(records)):
        row = index + 1
        record = _pad(records[index], layout.width)
        extra = [c for c, cell in enumerate(record) if c >= layout.width and cell.strip()]
        if extra:
            raise ValueError(
                f"{_where(path, row, extra[0])}: unexpected value {record[extra[0]].strip()!r} "
                f"beyond the last column of the table"
            )
        if _is_blank(record):
            continue
        if _is_region_banner(record):
            region = record[_NAME_COL].strip()
            continue
        if not record[_NAME_COL].strip():
            raise ValueError(f"{_where(path, row, _NAME_COL)}: data row without a name")
        rows.append((record, row, region))
        if strip_footnotes(record[_NAME_COL]) == ENGLAND_TOTAL:
            return rows
    raise ValueError(f"{path.name}: no {ENGLAND_TOTAL!r} row found after the header rows")


def read_tribunal(path: str | Path) -> pd.DataFrame:
    """Read the SEND Tribunal appeal-rate table into a long frame.

    Returns one row per (table row, year) for every local-authority row and for the
    ``England Total`` row, with the columns in :data:`COLUMNS`:

    * ``geographic_level``: ``"Local authority"`` or ``"National"``;
    * ``la_name_raw`` (name cell, stripped), ``la_name`` (footnote markers removed;
      ``"England"`` for the total), ``la_code_raw`` (as published, ``""`` when blank; five
      codes are known to be wrong), ``region_banner`` (latest banner above the row, as written,
      e.g. ``"NORTH EAST"``; ``""`` for England);
    * ``time_period``: calendar year;
    * ``appeals``, ``appealable_decisions`` (Int64) and ``rate_pct_published`` (Float64,
      ``1.3`` for ``"1.30%"``), each with ``*_symbol`` naming the symbol found in the cell
      (``""`` for a number; see :data:`TRIBUNAL_SYMBOLS`);
    * ``in_dev_decisions`` (Int64) and ``in_dev_rate_pct`` (Float64): the "in development"
      columns, on the last year's rows only;
    * ``source_row``: the row number a spreadsheet shows for the table row (title row = 1).

    Raises ``ValueError`` naming the file, row and column when the header layout is not as
    expected or a numeric cell is neither a number nor a known symbol.
    """
    path = Path(path)
    records = _read_records(path)
    layout = _find_layout(records, path)
    long_records: list[dict[str, object]] = []
    for record, row, region in _table_rows(records, layout, path):
        long_records.extend(
            _table_row_to_records(record, row=row, region=region, layout=layout, path=path)
        )
    frame = pd.DataFrame.from_records(long_records, columns=list(COLUMNS))
    return frame.astype(_DTYPES)


def in_dev_symbols(path: str | Path) -> dict[tuple[str, str], str]:
    """Symbols of the in-development cells: ``(la_name, measure) -> symbol`` for symbol cells.

    ``measure`` is ``"decisions"`` or ``"rate"``. Only cells holding a symbol are listed;
    numbers and blank cells are left out. :func:`read_tribunal` keeps no symbol columns for the
    in-development measures, so this is where their ``x`` cells (six LAs in the 2024 edition)
    can be seen.
    """
    path = Path(path)
    records = _read_records(path)
    layout = _find_layout(records, path)
    found: dict[tuple[str, str], str] = {}
    for record, _row, _region in _table_rows(records, layout, path):
        for measure, column in zip(("decisions", "rate"), layout.in_dev_columns, strict=True):
            text = record[column].strip()
            if text in TRIBUNAL_SYMBOLS and text:
                found[(strip_footnotes(record[_NAME_COL]), measure)] = text
    return found
