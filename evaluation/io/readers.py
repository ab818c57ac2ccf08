"""Robust reading of analysts' files into text tables, exactly as a user sees them.

Handles UTF-8 with or without a byte-order mark and Windows-1252; ``,`` or ``;`` separators;
.xlsx and .ods sheets; blank lines; and trailing note rows (text in the first column only,
below the data).  Every cell is kept as text (symbols are not numbers) and every row keeps
``source_row``: its line number in the file, or its row number in the sheet (header = 1).
Anything unreadable raises :class:`ReadError` naming the file, never a traceback.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SHEET_SUFFIXES = {".xlsx": "openpyxl", ".xlsm": "openpyxl", ".ods": "odf"}


class ReadError(ValueError):
    """The file cannot be read at all."""


@dataclass
class ReadResult:
    frame: pd.DataFrame  # text cells + source_row
    encoding: str
    delimiter: str
    note_rows: list[int] = field(default_factory=list)  # lines skipped as notes below the data
    blank_rows: list[int] = field(default_factory=list)


def _decode(raw: bytes, name: str) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"{name}: the file is neither UTF-8 nor Windows-1252 text ({exc})."
        ) from None


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def _rows_from_text(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, last = [], 0
    for record in reader:
        line = last + 1  # physical line where this record starts
        last = reader.line_num
        rows.append((line, record))
    return rows


def _rows_from_sheet(path: Path, engine: str) -> list[tuple[int, list[str]]]:
    try:
        sheet = pd.read_excel(
            path, sheet_name=0, header=None, dtype=str, engine=engine, keep_default_na=False
        )
    except ImportError as exc:
        raise ReadError(
            f"{path.name}: reading {path.suffix} files needs {exc.name}; run make setup."
        ) from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is reported, not raised
        raise ReadError(
            f"{path.name}: cannot read the spreadsheet ({type(exc).__name__}: {exc})."
        ) from None
    return [
        (i + 1, ["" if v is None else str(v) for v in row])
        for i, row in enumerate(sheet.itertuples(index=False, name=None))
    ]


SCAN_BLOCK = 1 << 22  # bytes per block when scanning a large file (4 MB)


@dataclass
class _Scan:
    """What a byte scan of a whole file found (without holding the file in memory)."""

    head: bytes  # the first line (after a byte-order mark)
    bom: bool
    quote_or_cr: bool  # a '"' or a carriage return anywhere
    padded: bool  # some cell may have leading or trailing white space


def _scan_file(fh) -> _Scan:
    """Scan an open binary file block by block for what rules out the vectorised reader
    (quotes, carriage returns) and for cells that may be padded with spaces or tabs.  A block
    remembers the last byte of the one before, so two-byte patterns across blocks are found."""
    first = fh.read(SCAN_BLOCK)
    bom = first[:3] == b"\xef\xbb\xbf"
    start = 3 if bom else 0
    head = first[start:]
    while head.find(b"\n") == -1:  # a header longer than a block (never in practice)
        more = fh.read(SCAN_BLOCK)
        if not more:
            break
        head += more
        first += more
    newline = head.find(b"\n")
    head = head[:newline] if newline != -1 else head
    sep = b";" if head.count(b";") > head.count(b",") else b","
    pairs = [b" " + sep, sep + b" ", b" \n", b"\n "]
    tab = space = pair = False
    block, prev, last = first, b"", b""
    while block:
        if block.find(b'"') != -1 or block.find(b"\r") != -1:
            return _Scan(head, bom, True, True)
        tab = tab or block.find(b"\t") != -1
        if not space and block.find(b" ") != -1:
            space = True
        if space and not pair:
            pair = prev + block[:1] in pairs or any(block.find(p) != -1 for p in pairs)
        prev = last = block[-1:]
        block = fh.read(SCAN_BLOCK)
    padded = tab or (space and (first[start : start + 1] == b" " or pair or last == b" "))
    return _Scan(head, bom, False, padded)


def _fast_csv(fh, path: Path) -> ReadResult | None:
    """Vectorised path for large plain UTF-8 files: no quotes (so one record per line), no
    carriage returns, every row as wide as the header.  ``fh`` is the file opened for binary
    reading; it is scanned block by block (never held in memory whole: the reader's peak
    memory is the table's).  Anything else returns None and takes the careful path, which
    gives the same result more slowly."""
    if path.stat().st_size < 1_000_000:
        return None
    fh.seek(0)
    scan = _scan_file(fh)
    if scan.quote_or_cr:
        return None
    delimiter = ";" if scan.head.count(b";") > scan.head.count(b",") else ","
    engine = "pyarrow" if _has_pyarrow() else "c"
    try:
        # blank lines are kept as empty rows, so row i is line i + 2 without counting lines
        frame = pd.read_csv(
            path,
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            engine=engine,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except Exception:  # noqa: BLE001 - irregular rows or not UTF-8: use the careful reader
        return None
    finally:
        if engine == "pyarrow":  # hand the parser's freed buffers back to the system
            import pyarrow as pa

            if hasattr(pa.default_memory_pool(), "release_unused"):
                pa.default_memory_pool().release_unused()
    header = [str(c).strip() for c in frame.columns]
    if any(h == "" or h.startswith("Unnamed:") for h in header) or len(set(header)) != len(header):
        return None
    frame.columns = header
    lines = np.arange(2, len(frame) + 2)
    first_empty = (frame[header[0]] == "").to_numpy(dtype=bool)
    blank_rows: list[int] = []
    if first_empty.any():
        candidates = frame[first_empty]
        blank = (candidates == "").all(axis=1).to_numpy(dtype=bool)
        blank_rows = [int(x) for x in lines[first_empty][blank]]
        keep = np.ones(len(frame), dtype=bool)
        keep[np.flatnonzero(first_empty)[blank]] = False
        frame, lines = frame[keep], lines[keep]
    if len(frame) and _is_note(list(frame.iloc[-1].astype(str)), len(header)):
        return None
    if scan.padded:  # only pay for trimming when some cell may be padded
        for col in header:
            frame[col] = frame[col].astype(str).str.strip()
    frame["source_row"] = lines  # (no _extra_cells: every row matched the header's width)
    encoding = "utf-8-sig" if scan.bom else "utf-8"
    return ReadResult(frame, encoding, delimiter, blank_rows=blank_rows)


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _is_note(record: list[str], width: int) -> bool:
    filled = [i for i, c in enumerate(record) if c]
    if not filled or filled[0] != 0 or len(filled) > 2 or width <= 3:
        return False
    first = record[0]
    return not first[0].isdigit() and not first.startswith("-")


def read_table(path: Path | str) -> ReadResult:
    """Read a CSV/XLSX/ODS file into a text DataFrame with ``source_row``."""
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: file not found.")
    if not path.is_file():
        raise ReadError(f"{path}: not a file.")
    suffix = path.suffix.lower()
    if suffix in SHEET_SUFFIXES:
        rows, encoding, delimiter = _rows_from_sheet(path, SHEET_SUFFIXES[suffix]), "sheet", ""
    else:
        try:
            with open(path, "rb") as fh:
                head = fh.read(4096)
                if b"\x00" in head:
                    raise ReadError(f"{path.name}: this looks like a binary file, not a CSV.")
                if path.stat().st_size >= 1_000_000:  # large: try the vectorised path first
                    fast = _fast_csv(fh, path)
                    if fast is not None:
                        return fast
            raw = path.read_bytes()
        except OSError as exc:
            raise ReadError(f"{path}: cannot be opened ({exc.strerror}).") from None
        text, encoding = _decode(raw, path.name)
        delimiter = _delimiter(text)
        try:
            rows = _rows_from_text(text, delimiter)
        except csv.Error as exc:
            raise ReadError(f"{path.name}: not a readable CSV ({exc}).") from None
    # the header is the first non-blank row
    rows = [(ln, [c.strip() for c in rec]) for ln, rec in rows]
    while rows and not any(rows[0][1]):
        rows.pop(0)
    if not rows:
        raise ReadError(f"{path.name}: the file is empty.")
    header_line, header = rows[0]
    while header and header[-1] == "":
        header.pop()
    if not header or any(h == "" for h in header):
        raise ReadError(f"{path.name}: line {header_line} (header) has an empty column name.")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ReadError(f"{path.name}: line {header_line} (header) repeats column(s) {dupes}.")
    width = len(header)
    body, blanks = [], []
    for ln, rec in rows[1:]:
        if not any(rec):
            blanks.append(ln)
            continue
        body.append((ln, rec))
    # trailing notes: a block at the end whose rows start with text (not a number) and fill at
    # most two cells, e.g. "Source: ..." (an unquoted comma splits a note into two cells)
    notes: list[int] = []
    while body and _is_note(body[-1][1], width):
        notes.insert(0, body.pop()[0])
    records = []
    for ln, rec in body:
        cells = rec[:width] + [""] * (width - len(rec))
        extra = [c for c in rec[width:] if c]
        records.append([ln, *cells, "|".join(extra)])
    frame = pd.DataFrame(records, columns=["source_row", *header, "_extra_cells"])
    frame["source_row"] = frame["source_row"].astype(int)
    for col in header:
        frame[col] = frame[col].astype(str)
    return ReadResult(frame, encoding, delimiter, notes, blanks)
