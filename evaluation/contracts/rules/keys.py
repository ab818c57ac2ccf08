"""Key rules: each row's key (the contract's ``keys``) is unique.  A repeated key is a
duplicate submission when the whole row repeats an earlier one, and a duplicate key (which of
the two is right cannot be decided) when its values differ; either way the repeat is
quarantined.  Checking that a million keys are distinct is made cheap by
:func:`_all_distinct`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.contracts.parse import row_finding
from evaluation.contracts.spec import ROW_BLOCK, Contract
from evaluation.findings import ERROR, Finding


def _all_distinct(values: pd.Series) -> bool:
    """Are all values distinct?  Exact, and cheap in the usual cases:

    * values that arrive strictly increasing (an extract sorted by its key) are distinct: one
      vectorised comparison of each value with the next;
    * values of one fixed width (pseudonyms usually are) are packed into 64-bit words and
      hashed; distinct hashes prove distinct values (only a hash collision, about 1 in 10^7
      for a million keys, falls through to the exact test);
    * otherwise pyarrow counts the distinct values in a hash table (pandas without pyarrow).
    """
    n = len(values)
    if n < 2:
        return True
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return bool(values.is_unique)
    try:
        arr = pa.array(values, from_pandas=True)
        if arr.null_count:
            return bool(values.is_unique)
        if pc.all(pc.less(arr.slice(0, n - 1), arr.slice(1))).as_py():
            return True
        hashes = _fixed_width_hashes(arr)
        if hashes is not None:
            hashes.sort()
            if not (hashes[1:] == hashes[:-1]).any():
                return True
        return len(pc.unique(arr)) == n
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # values Arrow cannot hold as one array (e.g. mixed types): pandas' exact check
        return bool(values.is_unique)


def _fixed_width_hashes(arr) -> np.ndarray | None:
    """64-bit hashes of the values of a string array (or chunked array) whose values all have
    the same byte length (at most 64), computed from its data buffers chunk by chunk; None
    otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    lengths = pc.min_max(pc.binary_length(arr))
    width = lengths["min"].as_py()
    if width is None or width != lengths["max"].as_py() or not 0 < width <= 64:
        return None
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    h = np.zeros(len(arr), dtype=np.uint64)
    done = 0
    for chunk in chunks:
        n = len(chunk)
        if not n:
            continue
        first = int(np.frombuffer(chunk.buffers()[1], dtype=offset_type)[chunk.offset])
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
        cells = data[first : first + width * n].reshape(n, width)
        for lo in range(0, n, ROW_BLOCK):  # in blocks of rows: small temporaries
            block = cells[lo : lo + ROW_BLOCK]
            words = np.zeros((len(block), -(-width // 8) * 8), dtype=np.uint8)
            words[:, :width] = block
            words = words.view(np.uint64)
            hb = h[done + lo : done + lo + len(block)]
            for j in range(words.shape[1]):  # a multiply-xorshift mix per 8-byte word
                hb ^= words[:, j]
                hb *= np.uint64(0x9E3779B97F4A7C15)
                hb ^= hb >> np.uint64(31)
        done += n
    return h


def key_rules(
    typed: pd.DataFrame, raw: pd.DataFrame, contract: Contract, file: str
) -> list[Finding]:
    keys = [k for k in contract.keys if k in typed.columns]
    if not keys:
        return []
    findings = []
    rows = typed["source_row"]
    if len(keys) == 1 and _all_distinct(typed[keys[0]]):
        return []
    dup = typed.duplicated(keys, keep="first")
    if dup.to_numpy().any():
        value_cols = [c for c in raw.columns if c not in {"source_row", "_extra_cells"}]
        first_line = typed.loc[~dup].set_index(keys)["source_row"]
        same_as_first = raw.duplicated(value_cols, keep="first")
        for idx in typed.index[dup]:
            key = tuple(typed.loc[idx, keys])
            first = first_line.get(key if len(keys) > 1 else key[0])
            first = int(first.iloc[0]) if isinstance(first, pd.Series) else first
            if same_as_first[idx]:
                rule, msg = (
                    "duplicate_submission",
                    (
                        f"This row repeats line {first} exactly: the same area and period was "
                        "submitted twice. The repeat is quarantined."
                    ),
                )
            else:
                rule, msg = (
                    "duplicate_key",
                    (
                        f"Line {first} already has a row for the same {', '.join(keys)} with "
                        "different values; which one is right cannot be decided, so this one is "
                        "quarantined."
                    ),
                )
            findings.append(
                row_finding(file, rows, idx, keys[0], rule, ERROR, " | ".join(map(str, key)), msg)
            )
    return findings
