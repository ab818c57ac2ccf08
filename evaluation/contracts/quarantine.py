"""Quarantine, the last step of validation: rows with an error leave the accepted data, with
their reasons, and nothing is lost (``rows_in == rows_accepted + rows_quarantined``).

Quarantine usually takes a few rows out of a large frame, so the accepted Arrow-backed text
columns are rebuilt from zero-copy slices of the runs of kept rows, and the quarantined rows
are taken chunk by chunk: neither copies the whole file's text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.contracts.parse import Encoded
from evaluation.findings import ERROR, Finding

MAX_SLICES = 10_000  # dropped rows up to which kept text columns are slices, not copies


def quarantine_reasons(findings: list[Finding]) -> dict:
    """Row index -> the ``rule (column)`` of each error at that row, in order of finding."""
    reasons: dict = {}
    for f in findings:
        if f.severity == ERROR and f.index is not None:
            reasons.setdefault(f.index, []).append(f"{f.rule} ({f.column})")
    return reasons


def split_rows(
    frame: pd.DataFrame,
    typed: pd.DataFrame,
    symbols: pd.DataFrame,
    encoded: dict[str, Encoded],
    findings: list[Finding],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Encoded]]:
    """(accepted typed rows, quarantined text rows with their ``reasons``, accepted symbols,
    accepted encodings).  Rows with an error (a finding with a row index) are quarantined."""
    reasons = quarantine_reasons(findings)
    if not reasons:  # nothing to quarantine: no copies of a large frame
        return typed, frame.iloc[0:0].assign(reasons=""), symbols, encoded
    if frame.index.is_unique:  # (a RangeIndex knows without looking)
        is_bad = np.zeros(len(frame), dtype=bool)
        is_bad[frame.index.get_indexer(list(reasons))] = True
    else:
        is_bad = frame.index.isin(list(reasons))
    quarantined = take_rows(frame, np.flatnonzero(is_bad))
    quarantined["reasons"] = [("; ".join(dict.fromkeys(reasons[i]))) for i in quarantined.index]
    kept_index = typed.index[~is_bad]
    return (
        keep_rows(typed, ~is_bad, kept_index),
        quarantined,
        keep_rows(symbols, ~is_bad, kept_index),
        {c: e.take(~is_bad) for c, e in encoded.items()},
    )


def _is_arrow_text(col: pd.Series) -> bool:
    return isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow"


def _chunks(col: pd.Series):
    """The Arrow chunked array behind an Arrow-backed text column (no copy)."""
    import pyarrow as pa

    data = pa.array(col)
    return data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])


def take_rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """``frame.iloc[positions].copy()`` for a few rows of a large frame: Arrow-backed text columns
    take from each chunk separately (a take from the whole chunked column would first
    concatenate it, copying every row)."""
    import pyarrow as pa

    index = frame.index[positions]
    columns = {}
    for name in frame.columns:
        col = frame[name]
        if _is_arrow_text(col):
            data = _chunks(col)
            starts = np.cumsum([0] + [len(c) for c in data.chunks])
            chunk_of = np.searchsorted(starts, positions, side="right") - 1
            pieces = [
                data.chunk(k).take(pa.array(positions[chunk_of == k] - starts[k]))
                for k in dict.fromkeys(chunk_of.tolist())
            ]
            taken = pa.chunked_array(pieces, type=data.type)
            array = pd.arrays.ArrowStringArray(taken, dtype=col.dtype)
            columns[name] = pd.Series(array, index=index, copy=False)
        else:
            columns[name] = pd.Series(col.array[positions], index=index, dtype=col.dtype)
    return pd.DataFrame(columns, index=index, columns=frame.columns, copy=False)


def keep_rows(frame: pd.DataFrame, keep: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """``frame[keep]`` (``index`` is ``frame.index[keep]``).  When few rows are dropped
    (quarantined), each Arrow-backed text column is rebuilt from zero-copy slices of the runs of
    kept rows: a copy of a million rows of text would double the memory a large file needs for
    the sake of a few bad rows."""
    dropped = np.flatnonzero(~keep)
    if not 0 < len(dropped) <= MAX_SLICES:
        return frame[keep]
    import pyarrow as pa

    starts = np.concatenate([[0], dropped + 1])
    ends = np.concatenate([dropped, [len(frame)]])
    runs = [(int(a), int(b - a)) for a, b in zip(starts, ends, strict=True) if b > a]
    columns = {}
    for name in frame.columns:
        col = frame[name]
        if _is_arrow_text(col):
            data = _chunks(col)
            pieces = [c for a, n in runs for c in data.slice(a, n).chunks]
            kept = pa.chunked_array(pieces, type=data.type)
            columns[name] = pd.Series(
                pd.arrays.ArrowStringArray(kept, dtype=col.dtype), index=index, copy=False
            )
        else:
            columns[name] = pd.Series(col.array[keep], index=index, dtype=col.dtype, copy=False)
    return pd.DataFrame(columns, index=index, columns=frame.columns, copy=False)
