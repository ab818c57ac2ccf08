"""Parsing, the first step of validation: each cell is a value of its column's type or one of
*this source's* missing-value symbols.

Numbers (counts, percentages) become ``Float64`` with the symbol each cell holds beside them.
Columns whose values repeat (categories, codes, dates) are hash-encoded once into
:class:`Encoded` (integer codes into the distinct values); a date column's distinct values are
parsed strictly as YYYY-MM-DD, so a million dates cost a few hundred parses.  Also here: the two
small helpers every later step uses, :func:`row_finding` (a finding at one row) and
:func:`resolve` (the value of a check that may be running on a thread pool).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.contracts.spec import EES_TEXT_COLUMNS, Contract
from evaluation.findings import ERROR, Finding

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def row_finding(file, rows, idx, column, rule, severity, value, message) -> Finding:
    """A finding at the row labelled ``idx`` (its line from ``rows``, the source_row column)."""
    return Finding(file, int(rows[idx]), column, rule, severity, str(value), message, index=idx)


def resolve(x):
    """The value of a future (checks on a pool), or the value itself."""
    from concurrent.futures import Future

    return x.result() if isinstance(x, Future) else x


# ---- numbers -----------------------------------------------------------------------------------
def parse_numbers(text: pd.Series, symbols: dict[str, str], *, integer: bool, percent: bool):
    """(values as Float64, symbol per cell, mask of unparseable cells)."""
    t = text.astype(str).str.strip()
    is_symbol = t.isin(list(symbols))
    cleaned = t.str.replace(",", "", regex=False)
    if percent:
        cleaned = cleaned.str.replace("%", "", regex=False).str.strip()
    is_number = cleaned.str.match(NUMBER) & ~is_symbol
    values = pd.to_numeric(cleaned.where(is_number), errors="coerce").astype("Float64")
    if "-" in symbols and symbols["-"].startswith("nil"):
        values = values.mask(t == "-", 0.0)
    bad = ~is_number & ~is_symbol
    return values, t.where(is_symbol, ""), bad


# ---- hash encoding and dates -------------------------------------------------------------------
def _strict_iso(values: np.ndarray) -> np.ndarray:
    """Strictly parse an array of distinct strings as YYYY-MM-DD (NaT otherwise)."""
    text = pd.Series(values, dtype=object).fillna("")
    ok = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)
    parsed = pd.to_datetime(text.where(ok), format="%Y-%m-%d", errors="coerce")
    return parsed.to_numpy(dtype="datetime64[D]")


def _code_dtype(n_values: int):
    """The smallest integer type for codes into ``n_values`` distinct values."""
    return np.uint8 if n_values <= 256 else np.uint16 if n_values <= 65536 else np.int32


@dataclass
class Encoded:
    """A text column as integer codes into its distinct values (hash encoding).

    Checks whose outcome depends on the cell value alone run once per distinct value and are
    spread back to the rows through ``codes``: a column of a million dates has a few hundred
    distinct values.  ``parsed`` holds, for a date column, each distinct value parsed strictly
    (NaT when it is not a real YYYY-MM-DD date)."""

    codes: np.ndarray  # one per row: position of the row's value in ``values``
    values: np.ndarray  # the distinct values (object array of str), in order of first appearance
    parsed: np.ndarray | None = None  # datetime64[D] per distinct value (date columns)

    def __len__(self) -> int:
        return len(self.codes)

    def rows(self, hit: np.ndarray) -> np.ndarray:
        """Positions of the rows whose value is flagged in ``hit`` (a mask over ``values``)."""
        return np.flatnonzero(hit[self.codes])

    def mask(self, hit: np.ndarray) -> np.ndarray:
        """Row mask from a mask over the distinct values."""
        return hit[self.codes]

    def dates(self) -> np.ndarray:
        """datetime64[D] per row (NaT for blanks and non-dates)."""
        return self.parsed[self.codes]

    def take(self, keep: np.ndarray) -> Encoded:
        """The encoding of a subset of rows (boolean mask or positions): only the values those
        rows hold remain."""
        codes = self.codes[keep]
        present = np.zeros(len(self.values), dtype=bool)
        present[codes] = True
        if present.all():
            return Encoded(codes, self.values, self.parsed)
        position = (np.cumsum(present) - 1).astype(codes.dtype)
        parsed = self.parsed[present] if self.parsed is not None else None
        return Encoded(position[codes], self.values[present], parsed)

    @staticmethod
    def concat(parts: list[Encoded]) -> Encoded:
        """One encoding for rows stacked in order (distinct values merged)."""
        if len(parts) == 1:
            return parts[0]
        values = pd.unique(np.concatenate([p.values for p in parts]))
        values = np.asarray(values, dtype=object)
        position = {v: i for i, v in enumerate(values)}
        dtype = _code_dtype(len(values))
        codes = np.concatenate(
            [np.array([position[v] for v in p.values], dtype=dtype)[p.codes] for p in parts]
        )
        parsed = None
        if all(p.parsed is not None for p in parts):
            parsed = np.empty(len(values), dtype="datetime64[D]")
            for p in parts:
                parsed[[position[v] for v in p.values]] = p.parsed
        return Encoded(codes, values, parsed)


def encode(text: pd.Series, *, dates: bool = False) -> Encoded | None:
    """Hash-encode a text column (pyarrow ``dictionary_encode``; pandas ``factorize`` for other
    storage).  None when a cell is missing (NA): such a column is checked row by row.  With
    ``dates``, each distinct value is also parsed strictly as YYYY-MM-DD."""
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = values = None
    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow":
        arr = pa.array(text)  # the column's own Arrow data (no copy; may be chunked)
        if arr.null_count:
            return None
        if len(arr):
            enc = pc.dictionary_encode(arr)  # chunks share the final dictionary
            chunks = enc.chunks if isinstance(enc, pa.ChunkedArray) else [enc]
            chunks = [c for c in chunks if len(c)]
            values = np.asarray(chunks[0].dictionary.to_numpy(zero_copy_only=False), dtype=object)
            dtype = _code_dtype(len(values))
            codes = np.concatenate(
                [c.indices.to_numpy(zero_copy_only=False).astype(dtype) for c in chunks]
            )
    if codes is None:
        factor, uniques = pd.factorize(text.to_numpy(dtype=object))
        if (factor < 0).any():
            return None
        values = np.asarray(uniques, dtype=object)
        codes = factor.astype(_code_dtype(len(values)))
    return Encoded(codes, values, _strict_iso(values) if dates else None)


def parse_iso_dates(text: pd.Series) -> np.ndarray:
    """YYYY-MM-DD text -> datetime64[D] array (NaT for blanks and impossible dates such as
    2024-02-30).

    Dates repeat a lot (a few hundred distinct days in a million records), so only the distinct
    strings are parsed, strictly, and the result is spread back by index."""
    enc = encode(text.fillna("") if text.hasnans else text, dates=True)
    return enc.dates()


def parse_date_column(text: pd.Series) -> Encoded | np.ndarray:
    """A date column's encoding with its distinct values parsed (a per-row array if the column
    has missing cells and so cannot be encoded)."""
    enc = encode(text, dates=True)
    return enc if enc is not None else parse_iso_dates(text)


# ---- the whole frame ---------------------------------------------------------------------------
def parse_frame(
    frame: pd.DataFrame,
    contract: Contract,
    file: str,
    pool=None,
    encoded: dict | None = None,
    *,
    parse_dates: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding], dict]:
    """Typed frame, symbols frame, parse findings and parsed date columns (per date column its
    :class:`Encoded` with the distinct values parsed, or a future of it when ``pool`` is given).
    ``encoded`` may hold date columns' encodings (or futures of them) already under way; with
    ``parse_dates`` False the caller parses the date columns (none are returned)."""
    rows = frame["source_row"]
    typed_cols: dict[str, pd.Series] = {"source_row": rows}
    symbol_cols: dict[str, pd.Series] = {}
    dates: dict = {}
    findings: list[Finding] = []
    extra_kind = {"number_or_symbol": "number", "count_or_symbol": "count"}.get(
        contract.extra_columns or "", "text"
    )
    pre_parsed = _start_date_parsing(frame, contract, pool, encoded) if parse_dates else {}
    for col in frame.columns:
        if col in {"source_row", "_extra_cells"}:
            continue
        spec = contract.columns.get(col)
        if spec is not None:
            kind = spec.type
        else:
            kind = "text" if col in EES_TEXT_COLUMNS else extra_kind
        text = frame[col]  # text, already trimmed by the readers
        if kind == "date":
            typed_cols[col] = text
            if parse_dates:
                dates[col] = pre_parsed[col]  # parsed, or a future when parsing on a pool
        elif kind in {"count", "percent", "number"}:
            values, sym, number_findings = _number_column(text, rows, col, kind, contract, file)
            findings += number_findings
            typed_cols[col] = values
            symbol_cols[col] = sym
        else:
            typed_cols[col] = text
    # no copies: the columns are the frame's text (copy-on-write keeps the frame unchanged)
    typed = pd.DataFrame(typed_cols, index=frame.index, copy=False)
    symbols = pd.DataFrame(symbol_cols, index=frame.index, copy=False)
    if pool is None:
        dates = {c: resolve(d) for c, d in dates.items()}
    return typed, symbols, findings, dates


def _start_date_parsing(frame: pd.DataFrame, contract: Contract, pool, encoded) -> dict:
    """Per date column its parsed encoding: given in ``encoded``, or parsed now (submitted to
    ``pool`` if given, while the caller starts other checks)."""
    date_cols = [c for c, spec in contract.columns.items() if spec.type == "date" and c in frame]
    pre_parsed = dict(encoded or {})
    for c in date_cols:
        if pre_parsed.get(c) is None:
            pre_parsed[c] = (
                pool.submit(parse_date_column, frame[c]) if pool else parse_date_column(frame[c])
            )
    return pre_parsed


def _number_column(text: pd.Series, rows, col: str, kind: str, contract: Contract, file: str):
    """(values, symbols, value_or_symbol findings) of a count, percent or number column."""
    syms = contract.missing_symbols
    values, sym, bad = parse_numbers(text, syms, integer=kind == "count", percent=kind == "percent")
    listed = ", ".join(repr(s) for s in syms) or "none"
    findings = [
        row_finding(
            file,
            rows,
            idx,
            col,
            "value_or_symbol",
            ERROR,
            text[idx],
            f"'{text[idx]}' is not a number or one of this source's symbols ({listed}).",
        )
        for idx in text.index[bad]
    ]
    return values, sym, findings
