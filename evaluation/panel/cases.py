"""Case-level ingest: pseudonymised case records -> area x period counts in the EES layout.

Every file is validated against ``data_contracts/case_records.yaml`` first (bad rows are
quarantined with their reasons; ``rows_in == rows_accepted + rows_quarantined``).  The accepted
records are then counted per LA and period (month, quarter or calendar year) with the DfE 2025
column names, so the derived panel flows through the same outcome catalogue as the published
statistics:

* ``plans_issued_den``: plans issued in the period (counted in the period of
  ``plan_issue_date``);
* ``plans_issued_within_20_weeks``: of those, ``plan_issue_date - request_received_date <= 140``
  days (20 weeks; exactly 140 days is within);
* ``plans_issued_den_ex`` / ``plans_issued_20_weeks_ex``: the same two leaving out records with
  ``exception_20wk = 1``;
* ``requests_received``: requests received in the period (period of
  ``request_received_date``);
* ``requests_decided_not_to_assess``: requests with outcome ``not_assess``, counted in the
  period of *receipt* (so a month's figure can still grow while decisions arrive).

**Censoring.**  A plan counts only once it is issued, in the period it is issued.  A request
still open at the data cut-off (no plan and not otherwise closed) is neither a success nor a
failure: it is in no plan count.  So that this is visible, two stock columns give, at each
period end, ``open_at_period_end`` (received on or before the period end and not yet closed) and
``open_over_20_weeks_at_period_end`` (of those, received at least 140 days before the period
end: whatever happens next, they can no longer be issued within 20 weeks).  A case is closed by a
plan, by a ``not_assess`` or ``withdrawn`` request outcome, or by a ``not_issued`` or
``withdrawn`` assessment outcome.  Stocks are not additive: a quarter's or year's stock is the
stock at its last month end.  Withdrawn or refused requests never count as plans (a plan date
on such a record is reported as a warning and ignored).

**Cut-off.**  Events dated after the cut-off are treated as not (yet) happened.  The default
cut-off is the last day of the month of the latest date in the data (an extract taken at a month
end).  Only complete periods (ending on or before the cut-off) are reported; periods start at
``start`` (default: the period of the earliest request), so a burn-in can be left out.  Every
LA with an accepted record gets a row for every period of that range (zeros where nothing
happened), so a return that starts late shows zeros, not gaps, for its earlier periods.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.config import DEFAULT_DATA_DIR
from evaluation.contracts import (
    MONTHS,
    PARALLEL_ROWS,
    Encoded,
    ValidationResult,
    load_contract,
    parse_iso_dates,
    validate_frame,
)
from evaluation.findings import ERROR, WARNING, Finding
from evaluation.io.geography import Geography, load_geography

CLOCK_DAYS = 140  # the statutory 20 weeks
FREQS = ("month", "quarter", "year")
MEASURES = [
    "plans_issued_den",
    "plans_issued_within_20_weeks",
    "plans_issued_den_ex",
    "plans_issued_20_weeks_ex",
    "requests_received",
    "requests_decided_not_to_assess",
]
STOCKS = ["open_at_period_end", "open_over_20_weeks_at_period_end"]
ID_COLUMNS = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "old_la_code",
    "new_la_code",
    "la_name",
]
DATE_COLUMNS = [
    "request_received_date",
    "request_outcome_date",
    "assessment_outcome_date",
    "plan_issue_date",
]


@dataclass
class CasesInfo:
    """What happened on the way from files to panel (ValidationResult-like)."""

    results: list[ValidationResult]
    freq: str
    cutoff: dt.date | None
    first_period: str = ""
    last_period: str = ""
    findings: list[Finding] = field(default_factory=list)  # ingest findings beyond the contract
    open_at_cutoff: int = 0
    open_over_20_weeks_at_cutoff: int = 0
    records_counted: int = 0

    @property
    def rows_in(self) -> int:
        return sum(r.rows_in for r in self.results)

    @property
    def rows_accepted(self) -> int:
        return sum(r.rows_accepted for r in self.results)

    @property
    def rows_quarantined(self) -> int:
        return sum(r.rows_quarantined for r in self.results)

    @property
    def all_findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings] + list(self.findings)

    @property
    def n_errors(self) -> int:
        return sum(f.severity == ERROR for f in self.all_findings)

    @property
    def n_warnings(self) -> int:
        return sum(f.severity == WARNING for f in self.all_findings)

    def balanced(self) -> bool:
        return all(r.balanced() for r in self.results)

    def summary(self) -> str:
        return (
            f"{len(self.results)} file(s): {self.rows_in} rows in = {self.rows_accepted} accepted "
            f"+ {self.rows_quarantined} quarantined; {self.records_counted} records counted; "
            f"{self.freq} panel {self.first_period} to {self.last_period} (cut-off "
            f"{self.cutoff}); open at the cut-off: {self.open_at_cutoff}, of which "
            f"{self.open_over_20_weeks_at_cutoff} already past 20 weeks; "
            f"{self.n_errors} error(s), {self.n_warnings} warning(s)"
        )


# ---- periods -----------------------------------------------------------------------------------
def _period_labels(periods: np.ndarray, freq: str) -> tuple[np.ndarray, np.ndarray]:
    """(time_period, time_identifier) for period indices."""
    if freq == "month":
        return periods // 12 + 1970, np.array(MONTHS, dtype=object)[periods % 12]
    if freq == "quarter":
        ids = np.array([f"Calendar year Q{q}" for q in range(1, 5)], dtype=object)
        return periods // 4 + 1970, ids[periods % 4]
    return periods + 1970, np.full(len(periods), "Calendar year", dtype=object)


def _label(period: int, freq: str) -> str:
    year, ident = _period_labels(np.array([period]), freq)
    return f"{ident[0]} {year[0]}" if freq != "year" else str(year[0])


def _to_day(value) -> np.datetime64:
    return np.datetime64(pd.Timestamp(value).date(), "D")


# ---- counting ----------------------------------------------------------------------------------
# "No date" as a day number: later than any real date (int32 day numbers keep a million records'
# arrays small; day numbers of real dates stay far below it, and so does a date + 140 days).
NA_DAY = np.int32(1 << 30)
FAR = np.int32(1 << 30)  # period index of "no date" or a day beyond the lookup table
COUNT_BLOCK = 1 << 16  # records counted per block (keeps per-record temporaries small)


def _encoded(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values) of a text column, by pyarrow's hash encoding (blank for null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(series, type=pa.string(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):  # pragma: no cover - pa.array gives one chunk
        arr = arr.combine_chunks()
    enc = pc.dictionary_encode(pc.fill_null(arr, ""))
    return (
        enc.indices.to_numpy(zero_copy_only=False),
        np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object),
    )


def _day_table(series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, day number of each distinct value): int32 days since 1970-01-01,
    :data:`NA_DAY` for blanks.  ``series`` is YYYY-MM-DD text or a date column's
    :class:`~evaluation.contracts.Encoded` from validation (dates already parsed there); each
    distinct date is parsed once, strictly, by the contracts' parser."""
    if isinstance(series, Encoded) and series.parsed is not None:
        codes, parsed = series.codes, series.parsed
    else:
        codes, uniques = _encoded(series)
        parsed = parse_iso_dates(pd.Series(uniques, dtype=object))
    days = np.where(np.isnat(parsed), NA_DAY, parsed.astype("datetime64[D]").astype(np.int64))
    return codes, days.astype(np.int32)


def day_numbers(series) -> np.ndarray:
    """YYYY-MM-DD text (or its :class:`~evaluation.contracts.Encoded`) -> int32 days since
    1970-01-01 per row, :data:`NA_DAY` for blanks."""
    codes, days = _day_table(series)
    return days[codes]


def _codes(series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values) of a text column or of its encoding from validation."""
    if isinstance(series, Encoded):
        return series.codes, series.values
    return _encoded(series)


def _period_of_month(m, freq: str):
    m = np.asarray(m, dtype=np.int64)
    if freq == "month":
        return m
    if freq == "quarter":
        return (m // 12) * 4 + (m % 12) // 3
    return m // 12


def _month_table(lo: int, hi: int) -> np.ndarray:
    """Months since 1970-01 of the days lo..hi (a lookup table: a few thousand entries)."""
    return np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _encode_columns(records: pd.DataFrame, encoded: dict | None) -> tuple[dict, dict]:
    """Day tables of the dates and (codes, values) of the categories, reusing validation's."""
    # large frames: two threads share the work (pyarrow releases the GIL), as in the contract checks
    cats = ["request_outcome", "assessment_outcome", "exception_20wk", "la_code"]
    source = {c: records[c] for c in DATE_COLUMNS + cats}
    for c, e in (encoded or {}).items():
        if c in source and isinstance(e, Encoded) and len(e) == len(records):
            source[c] = e
    if len(records) >= PARALLEL_ROWS and any(not isinstance(v, Encoded) for v in source.values()):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=2) as pool:
            day_jobs = {c: pool.submit(_day_table, source[c]) for c in DATE_COLUMNS}
            cat_jobs = {c: pool.submit(_codes, source[c]) for c in cats}
            tables = {c: j.result() for c, j in day_jobs.items()}
            enc = {c: j.result() for c, j in cat_jobs.items()}
    else:
        tables = {c: _day_table(source[c]) for c in DATE_COLUMNS}
        enc = {c: _codes(source[c]) for c in cats}
    return tables, enc


def _cutoff_day(cutoff, tables: dict, n: int) -> int:
    """The cut-off's day number: as given, or the last day of the month of the latest date."""
    if cutoff is not None:
        return int(_to_day(cutoff).astype(np.int64))
    latest = -(1 << 40)
    for codes, days in tables.values():  # latest date any row holds
        held = days[np.bincount(codes, minlength=len(days)) > 0] if n else days[:0]
        held = held[held < NA_DAY]
        if len(held):
            latest = max(latest, int(held.max()))
    if latest <= -(1 << 40):
        raise ValueError("no dated records to count")
    month = np.datetime64(latest, "D").astype("datetime64[M]")
    return int(((month + np.timedelta64(1, "M")).astype("datetime64[D]")).astype(np.int64)) - 1


@dataclass
class _Grid:
    """LA x period cells (n_p periods from p_lo per LA); ``table``: periods of days from d_lo."""

    d_lo: int
    table: np.ndarray
    p_lo: int
    n_p: int
    cells: int  # n_p x the number of LAs

    def period(self, d: np.ndarray) -> np.ndarray:
        """Period index of day numbers (:data:`FAR` for NA or beyond the table)."""
        ok = (d >= self.d_lo) & (d - self.d_lo < len(self.table))
        return np.where(ok, self.table[np.where(ok, d - self.d_lo, 0)], FAR).astype(np.int32)

    def cell(self, mask: np.ndarray, per: np.ndarray, la_base: np.ndarray) -> np.ndarray:
        """Each record's LA x period cell, in ``per`` (``cells``: masked out or after cut-off)."""
        per -= np.int32(self.p_lo)  # no event precedes the first request: none falls before p_lo
        outside = ~(mask & (per < self.n_p))
        per += la_base
        np.copyto(per, np.int32(self.cells), where=outside)
        return per


def _grid(tables: dict, enc: dict, cut: int, freq: str, start) -> tuple[_Grid, int, int]:
    """The LA x period grid up to the last complete period; the first and last periods reported."""
    recv_c, recv_u = tables["request_received_date"]
    scope_held = (recv_u <= cut) & (np.bincount(recv_c, minlength=len(recv_u)) > 0)
    if not scope_held.any():
        raise ValueError(f"no request was received on or before the cut-off {_iso(cut)}")
    d_lo = int(recv_u[scope_held].min())
    table = _period_of_month(_month_table(d_lo, cut + CLOCK_DAYS + 1), freq)
    p_lo = int(table[0])  # the period of the first request received by the cut-off
    p_last = int(_period_of_month(_month_table(cut + 1, cut + 1)[0], freq)) - 1
    month = None if start is None else _to_day(start).astype("datetime64[M]").astype(np.int64)
    p_first = p_lo if month is None else int(_period_of_month(month, freq))
    n_p = p_last - p_lo + 1
    if n_p <= 0 or p_first > p_last:
        raise ValueError(f"no complete {freq} between the first request and the cut-off")
    return _Grid(d_lo, table, p_lo, n_p, len(enc["la_code"][1]) * n_p), p_first, p_last


def _lookups(tables: dict, enc: dict, cut: int, grid: _Grid) -> tuple[dict, np.ndarray]:
    """Per name, (codes per row, values per distinct value); and the LA codes in rank order."""

    def censored(c: str) -> tuple[np.ndarray, np.ndarray]:
        """(codes, day numbers) of date column ``c``; events after the cut-off have not happened."""
        codes, days = tables[c]
        return codes, np.where(days > cut, NA_DAY, days).astype(np.int32)

    def means(c: str, *values: str) -> tuple[np.ndarray, np.ndarray]:
        """(codes, whether each distinct value is one of ``values``) of category column ``c``."""
        return enc[c][0], np.isin(enc[c][1].astype(str), list(values))

    recv_c, recv_u = tables["request_received_date"]
    plan_c, plan_u = censored("plan_issue_date")
    scope_u = recv_u <= cut  # received on or before the cut-off
    due_u = recv_u + np.int32(CLOCK_DAYS)  # open past this day: can no longer be within 20 weeks
    l_codes, l_uniq = enc["la_code"]
    order = np.argsort(l_uniq.astype(str))
    rank = np.argsort(order).astype(np.int32)  # each LA's place in the sorted codes
    lookups = {
        "recv": (recv_c, recv_u),
        "scope": (recv_c, scope_u),
        "p_recv": (recv_c, grid.period(np.where(scope_u, recv_u, NA_DAY))),
        "p_due": (recv_c, grid.period(due_u)),
        "overdue_at_cut": (recv_c, due_u <= cut),
        "dec": censored("request_outcome_date"),
        "a_date": censored("assessment_outcome_date"),
        "plan": (plan_c, plan_u),
        "p_plan": (plan_c, grid.period(plan_u)),
        "closed_request": means("request_outcome", "not_assess", "withdrawn"),
        "not_assess": means("request_outcome", "not_assess"),
        "issued": means("assessment_outcome", "issued"),
        "a_closes": means("assessment_outcome", "not_issued", "withdrawn"),
        "exc": means("exception_20wk", "1"),
        "la_base": (l_codes, rank * np.int32(grid.n_p)),  # first cell of each LA
    }
    return lookups, l_uniq[order].astype(str)


def _flow_counts(b: dict, grid: _Grid) -> dict:
    """Plans (x within 20 weeks, exception) and requests (x not assessed) per LA x period."""
    within = b["is_plan"] & (b["plan"] - b["recv"] <= CLOCK_DAYS)
    not_assess = b["scope"] & b["not_assess"] & (b["dec"] < NA_DAY)
    flat = grid.cell(b["is_plan"], b["p_plan"], b["la_base"])
    flat *= 4
    flat += within * np.int32(2) + b["exc"]
    plans = np.bincount(flat, minlength=(grid.cells + 1) * 4)
    flat = grid.cell(b["scope"], b["p_recv"], b["la_base"])
    flat *= 2
    flat += not_assess
    return {"plans": plans, "requests": np.bincount(flat, minlength=(grid.cells + 1) * 2)}


def _stock_counts(b: dict, grid: _Grid) -> dict:
    """Closures and 20-week lapses per LA x period (for the stocks), and the cut-off census."""
    # closure: the first event that ends the case (NA_DAY = still open at the cut-off)
    closure = np.full(len(b["recv"]), NA_DAY, dtype=np.int32)
    np.copyto(closure, b["plan"], where=b["is_plan"])
    np.copyto(closure, b["a_date"], where=(b["a_date"] < NA_DAY) & b["a_closes"] & ~b["is_plan"])
    np.copyto(closure, b["dec"], where=b["closed_request"] & (b["dec"] < NA_DAY))
    # stocks at each period end by cumulative counts (closure >= receipt by the contract's
    # chronology rule): open(p) = #received by the end of p - #closed by then;
    # overdue(p) = #(received + 140 <= end of p) - #(max(received + 140, closure) <= end of p)
    in_scope, la_base, size = b["scope"], b["la_base"], grid.cells + 1
    late_close = grid.period(np.maximum(b["recv"] + np.int32(CLOCK_DAYS), closure))
    still_open = in_scope & (closure == NA_DAY)
    return {
        "closed": np.bincount(grid.cell(in_scope, grid.period(closure), la_base), minlength=size),
        "overdue": np.bincount(grid.cell(in_scope, b["p_due"], la_base), minlength=size),
        "overdue_closed": np.bincount(grid.cell(in_scope, late_close, la_base), minlength=size),
        "open_at_cutoff": int(still_open.sum()),
        "open_over_20_weeks_at_cutoff": int((still_open & b["overdue_at_cut"]).sum()),
        "records_counted": int(in_scope.sum()),
        "after_cutoff": int(((b["recv"] < NA_DAY) & ~in_scope).sum()),
    }


def _counts_frame(totals: dict, grid: _Grid, la_codes: np.ndarray, p_first: int) -> pd.DataFrame:
    """The measures and stocks (cumulative sums) per LA code and period from ``p_first``."""
    n_la, n_p, cells = len(la_codes), grid.n_p, grid.cells
    plans = totals["plans"][: cells * 4].reshape(n_la, n_p, 4)
    requests = totals["requests"][: cells * 2].reshape(n_la, n_p, 2)
    received = requests.sum(axis=2)
    closed, overdue, overdue_closed = (
        totals[k][:cells].reshape(n_la, n_p) for k in ("closed", "overdue", "overdue_closed")
    )
    out = {
        "plans_issued_den": plans.sum(axis=2),
        "plans_issued_within_20_weeks": plans[..., 2] + plans[..., 3],
        "plans_issued_den_ex": plans[..., 0] + plans[..., 2],
        "plans_issued_20_weeks_ex": plans[..., 2],
        "requests_received": received,
        "requests_decided_not_to_assess": requests[..., 1],
        "open_at_period_end": np.cumsum(received - closed, axis=1),
        "open_over_20_weeks_at_period_end": np.cumsum(overdue - overdue_closed, axis=1),
    }
    frame = pd.DataFrame({k: v.ravel() for k, v in out.items()})
    frame.insert(0, "period", np.tile(np.arange(grid.p_lo, grid.p_lo + n_p), n_la))
    frame.insert(0, "old_la_code", np.repeat(la_codes, n_p))
    return frame[frame["period"] >= p_first].reset_index(drop=True)


def count_cases(
    records: pd.DataFrame,
    *,
    freq: str = "month",
    cutoff=None,
    start=None,
    encoded: dict | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Count accepted case records (text columns as in the contract) per LA code and period.

    Returns a frame ``old_la_code, period`` (index of the period: months, quarters or years
    since 1970-01) + the measures and stocks, and a dict of facts (cut-off, open cases at the
    cut-off, records with a plan date that cannot count).  Vectorised: dates become integer day
    numbers (each distinct date parsed once), categories are hash-encoded, months come from a
    day -> month lookup table and every count is one ``np.bincount`` over ``LA x period``.
    ``encoded``: per column, the encoding validation already made of these rows
    (:attr:`~evaluation.contracts.ValidationResult.encoded`), so nothing is encoded or parsed
    twice.  What depends on one column only (the cut-off, a date's period) is computed once
    per distinct value; per-row arrays are int32 and updated in place, so a million records
    need a few tens of MB.
    """
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {', '.join(FREQS)}, not {freq!r}")
    tables, enc = _encode_columns(records, encoded)
    cut = _cutoff_day(cutoff, tables, len(records))
    grid, p_first, p_last = _grid(tables, enc, cut, freq, start)
    lookups, la_codes = _lookups(tables, enc, cut, grid)
    totals, bad_plans = {}, []
    for lo in range(0, len(records), COUNT_BLOCK):  # blocks keep the temporaries small
        b = {k: values[codes[lo : lo + COUNT_BLOCK]] for k, (codes, values) in lookups.items()}
        has_plan = b["scope"] & (b["plan"] < NA_DAY)
        bad_plans.append(np.flatnonzero(has_plan & b["closed_request"]) + lo)
        b["is_plan"] = has_plan & ~b["closed_request"] & b["issued"]
        for k, v in (_flow_counts(b, grid) | _stock_counts(b, grid)).items():
            totals[k] = totals.get(k, 0) + v  # each count summed over the blocks
    facts = {
        "cutoff": dt.date.fromisoformat(_iso(cut)),
        "first_period": p_first,
        "last_period": p_last,
        "open_at_cutoff": totals["open_at_cutoff"],
        "open_over_20_weeks_at_cutoff": totals["open_over_20_weeks_at_cutoff"],
        "records_counted": totals["records_counted"],
        "plan_on_closed_request": np.concatenate(bad_plans) if bad_plans else np.array([], int),
        "after_cutoff": totals["after_cutoff"],
    }
    return _counts_frame(totals, grid, la_codes, p_first), facts


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def la_identity(codes, years, geo: Geography | None) -> tuple[np.ndarray, np.ndarray]:
    """(la_name, new_la_code) per row: the lookup's name and the GSS code in force that year
    (the latest code where the reference records no change); the code itself and '' without
    a geography."""
    codes = pd.Series(np.asarray(codes, dtype=object)).astype(str)
    years = pd.Series(np.asarray(years, dtype=np.int64))
    if geo is None:
        return codes.to_numpy(dtype=object), np.full(len(codes), "", dtype=object)
    names = codes.map({c: geo.name_for_code(c) or c for c in codes.unique()})
    pairs = pd.MultiIndex.from_arrays([codes, years])
    gss_of = {(c, y): geo.gss_for_year(c, int(y)) or geo.current_gss(c) for c, y in pairs.unique()}
    gss = [gss_of[k] for k in pairs]
    return names.to_numpy(dtype=object), np.asarray(gss, dtype=object)


def to_ees(counts: pd.DataFrame, freq: str, geo: Geography | None = None) -> pd.DataFrame:
    """Counts by ``old_la_code, period`` -> the EES layout of ``data_contracts/pilot_returns``."""
    periods = counts["period"].to_numpy(dtype=np.int64)
    year, ident = _period_labels(periods, freq)
    codes = counts["old_la_code"].astype(str).to_numpy(dtype=object)
    names, gss = la_identity(codes, year, geo)
    out = pd.DataFrame(
        {
            "time_period": year,
            "time_identifier": ident,
            "geographic_level": "Local authority",
            "old_la_code": codes,
            "new_la_code": gss,
            "la_name": names,
        }
    )
    for col in MEASURES + STOCKS:
        out[col] = counts[col].to_numpy()
    return out


# ---- files -> panel ----------------------------------------------------------------------------
def _text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A caller's frame as the text table a file would give (dates as ISO text, blanks for
    missing values, ``source_row`` = line number)."""
    out = {}
    for col in frame.columns:
        if col in {"source_row", "_extra_cells"}:
            continue
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.strftime("%Y-%m-%d").fillna("")
        else:
            out[col] = s.astype(object).where(s.notna(), "").astype(str)
    text = pd.DataFrame(out, index=frame.index).reset_index(drop=True)
    text["source_row"] = (
        frame["source_row"].to_numpy() if "source_row" in frame else np.arange(2, len(frame) + 2)
    )
    return text


def _overall(column: str, rule: str, severity: str, value, message: str) -> Finding:
    """A finding about all the files together (no one file or row)."""
    return Finding("(all files)", None, column, rule, severity, str(value), message)


def _accepted_records(results: list[ValidationResult], info: CasesInfo) -> tuple:
    """(records, encodings) accepted in all files, each case_id's first copy; (None, {}) if none."""
    cols = ["case_id", "la_code", "request_outcome", "assessment_outcome", "exception_20wk"]
    accepted = [r for r in results if r.rows_accepted]
    parts = [r.accepted[cols + DATE_COLUMNS] for r in accepted]
    if not parts:
        return None, {}
    records = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    # the encodings validation made (dates parsed once), stacked like the records
    encoded = {
        c: Encoded.concat([r.encoded[c] for r in accepted])
        for c in DATE_COLUMNS + cols[1:]
        if all(c in r.encoded for r in accepted)
    }
    if len(parts) > 1:
        dup = records["case_id"].duplicated(keep="first").to_numpy()
        if dup.any():
            first = records["case_id"][dup].iloc[0]
            text = f"{int(dup.sum())} case_id(s) appear in more than one file; only the first "
            text += "copy is counted."
            info.findings.append(
                _overall("case_id", "duplicate_case_across_files", ERROR, first, text)
            )
            records = records[~dup]
            encoded = {c: e.take(~dup) for c, e in encoded.items()}
    return records, encoded


def _report_counts(info: CasesInfo, records: pd.DataFrame, facts: dict) -> None:
    """Put the facts of the counting on ``info``, with warnings on the records left out."""
    bad, late, cut = facts["plan_on_closed_request"], facts["after_cutoff"], facts["cutoff"]
    if len(bad):
        text = f"{len(bad)} record(s) have a plan issue date although the request was refused "
        text += "or withdrawn; these plans are not counted."
        rule, first = "plan_on_refused_or_withdrawn_request", records["case_id"].iloc[bad[0]]
        info.findings.append(_overall("plan_issue_date", rule, WARNING, first, text))
    if late:
        text = f"{late} request(s) were received after the cut-off {cut} and are not counted."
        info.findings.append(_overall("request_received_date", "after_cutoff", WARNING, cut, text))
    info.cutoff = cut
    info.first_period = _label(facts["first_period"], info.freq)
    info.last_period = _label(facts["last_period"], info.freq)
    info.open_at_cutoff = facts["open_at_cutoff"]
    info.open_over_20_weeks_at_cutoff = facts["open_over_20_weeks_at_cutoff"]
    info.records_counted = facts["records_counted"]


def cases_to_panel(
    files_or_frames, freq: str = "month", cutoff=None, *, start=None, geo: Geography | None = None
) -> tuple[pd.DataFrame, CasesInfo]:
    """Validate case-level files (paths) or frames and derive the area x period panel.

    ``freq``: month | quarter | year.  ``cutoff``: the data cut-off (date or 'YYYY-MM-DD'; default
    the last day of the month of the latest date in the data).  ``start``: first period to report
    (e.g. '2021-01'; default the period of the earliest request).  Returns the panel in the EES
    layout (see :data:`ID_COLUMNS`, :data:`MEASURES`, :data:`STOCKS`) and a :class:`CasesInfo`.
    Duplicate case_ids across files: the later copies are not counted (error findings).
    """
    from evaluation.contracts import validate_file

    if freq not in FREQS:
        raise ValueError(f"freq must be one of {', '.join(FREQS)}, not {freq!r}")
    if isinstance(files_or_frames, (str, Path, pd.DataFrame)):
        files_or_frames = [files_or_frames]
    geo = geo or load_geography(DEFAULT_DATA_DIR)
    contract = load_contract("case_records")
    results = []
    for i, item in enumerate(files_or_frames):
        if isinstance(item, pd.DataFrame):
            name = str(item.attrs.get("name", f"frame{i + 1}"))
            results.append(validate_frame(_text_frame(item), contract, name, geo))
        else:
            results.append(validate_file(item, contract, geo))
    info = CasesInfo(results, freq, None)
    records, encoded = _accepted_records(results, info)
    if records is None:
        return pd.DataFrame(columns=ID_COLUMNS + MEASURES + STOCKS), info
    counts, facts = count_cases(records, freq=freq, cutoff=cutoff, start=start, encoded=encoded)
    _report_counts(info, records, facts)
    return to_ees(counts, freq, geo), info
