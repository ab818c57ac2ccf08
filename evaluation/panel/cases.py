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


def _is(codes: np.ndarray, uniques: np.ndarray, *values: str) -> np.ndarray:
    """Mask of rows whose encoded value is one of ``values``."""
    hit = np.isin(uniques.astype(str), list(values))
    return hit[codes]


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
    # hash-encode every column once (unless validation did); on large frames two threads share
    # the work (pyarrow releases the GIL), as the contract checks do
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
    del source
    n = len(records)
    if cutoff is None:
        latest = -(1 << 40)
        for codes, days in tables.values():  # latest date any row holds
            held = days[np.bincount(codes, minlength=len(days)) > 0] if n else days[:0]
            held = held[held < NA_DAY]
            if len(held):
                latest = max(latest, int(held.max()))
        if latest <= -(1 << 40):
            raise ValueError("no dated records to count")
        month = np.datetime64(latest, "D").astype("datetime64[M]")
        cut = int(((month + np.timedelta64(1, "M")).astype("datetime64[D]")).astype(np.int64)) - 1
    else:
        cut = int(_to_day(cutoff).astype(np.int64))

    # per distinct value: day numbers (events after the cut-off have not happened yet), the
    # categories' meanings, each LA's rank
    def censored(c: str) -> tuple[np.ndarray, np.ndarray]:
        codes, days = tables[c]
        return codes, np.where(days > cut, NA_DAY, days).astype(np.int32)

    recv_c, recv_u = tables["request_received_date"]
    dec_c, dec_u = censored("request_outcome_date")
    a_date_c, a_date_u = censored("assessment_outcome_date")
    plan_c, plan_u = censored("plan_issue_date")
    scope_u = recv_u <= cut  # received on or before the cut-off
    scope_held = scope_u & (np.bincount(recv_c, minlength=len(recv_u)) > 0)
    if not scope_held.any():
        raise ValueError(f"no request was received on or before the cut-off {_iso(cut)}")
    r_codes, r_uniq = enc["request_outcome"]
    a_codes, a_uniq = enc["assessment_outcome"]
    x_codes, x_uniq = enc["exception_20wk"]
    exc_u = np.isin(x_uniq.astype(str), ["1"])
    closed_request_u = np.isin(r_uniq.astype(str), ["not_assess", "withdrawn"])
    not_assess_u = np.isin(r_uniq.astype(str), ["not_assess"])
    issued_u = np.isin(a_uniq.astype(str), ["issued"])
    a_closes_u = np.isin(a_uniq.astype(str), ["not_issued", "withdrawn"])

    l_codes, l_uniq = enc["la_code"]
    order = np.argsort(l_uniq.astype(str))
    codes = l_uniq[order].astype(str)
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order))
    n_la = len(codes)

    d_lo = int(recv_u[scope_held].min())
    d_hi = cut + CLOCK_DAYS + 1
    p_table = _period_of_month(_month_table(d_lo, d_hi), freq)

    def period(d: np.ndarray) -> np.ndarray:
        """Period index of day numbers (:data:`FAR` for NA or beyond the table)."""
        ok = (d >= d_lo) & (d <= d_hi)
        return np.where(ok, p_table[np.where(ok, d - d_lo, 0)], FAR).astype(np.int32)

    p_recv_u = period(np.where(scope_u, recv_u, NA_DAY))
    p_plan_u = period(plan_u)
    due_u = recv_u + np.int32(CLOCK_DAYS)  # open past this day: can no longer be within 20 weeks
    p_due_u = period(due_u)
    overdue_at_cut_u = due_u <= cut
    p_last = int(_period_of_month(_month_table(cut + 1, cut + 1)[0], freq)) - 1
    p_lo = int(p_recv_u[scope_held].min())
    if start is not None:
        month = _to_day(start).astype("datetime64[M]").astype(np.int64)
        p_first = int(_period_of_month(month, freq))
    else:
        p_first = p_lo
    n_p = p_last - p_lo + 1
    if n_p <= 0 or p_first > p_last:
        raise ValueError(f"no complete {freq} between the first request and the cut-off")

    cells = n_la * n_p
    la_base_u = rank * np.int32(n_p)  # first cell of each LA

    def cell(mask: np.ndarray, per: np.ndarray, la_base: np.ndarray) -> np.ndarray:
        """LA x period cell of each record (``cells`` = outside: masked out or after the cut-off;
        no event precedes the first request, so nothing falls before p_lo).  Reuses ``per``."""
        per -= np.int32(p_lo)
        outside = ~(mask & (per < n_p))
        per += la_base
        np.copyto(per, np.int32(cells), where=outside)
        return per

    # one pass over blocks of records (small temporaries); each count is a bincount over
    # LA x period cells (x a code), summed over the blocks
    plans = np.zeros((cells + 1) * 4, dtype=np.int64)  # x (within 20 weeks, exception)
    requests = np.zeros((cells + 1) * 2, dtype=np.int64)  # x not_assess
    closed, overdue, overdue_closed = (np.zeros(cells + 1, dtype=np.int64) for _ in range(3))
    open_at_cutoff = open_over_20_weeks = records_counted = after_cutoff = 0
    bad_plans = []
    for lo in range(0, n, COUNT_BLOCK):
        rows = slice(lo, min(n, lo + COUNT_BLOCK))
        recv = recv_u[recv_c[rows]]
        in_scope = scope_u[recv_c[rows]]
        dec = dec_u[dec_c[rows]]
        plan = plan_u[plan_c[rows]]
        r_code, a_code = r_codes[rows], a_codes[rows]
        closed_request = closed_request_u[r_code]
        has_plan = in_scope & (plan < NA_DAY)
        bad_plans.append(np.flatnonzero(has_plan & closed_request) + lo)
        is_plan = has_plan & ~closed_request & issued_u[a_code]
        within = is_plan & (plan - recv <= CLOCK_DAYS)
        not_assess = in_scope & not_assess_u[r_code] & (dec < NA_DAY)
        # closure: the first event that ends the case (NA_DAY = still open at the cut-off)
        closure = np.full(len(recv), NA_DAY, dtype=np.int32)
        np.copyto(closure, plan, where=is_plan)
        a_date = a_date_u[a_date_c[rows]]
        np.copyto(closure, a_date, where=(a_date < NA_DAY) & a_closes_u[a_code] & ~is_plan)
        np.copyto(closure, dec, where=closed_request & (dec < NA_DAY))
        due = due_u[recv_c[rows]]
        la_base = la_base_u[l_codes[rows]]

        flat = cell(is_plan, p_plan_u[plan_c[rows]], la_base)
        flat *= 4
        flat += within * np.int32(2) + exc_u[x_codes[rows]]
        plans += np.bincount(flat, minlength=len(plans))
        flat = cell(in_scope, p_recv_u[recv_c[rows]], la_base)
        flat *= 2
        flat += not_assess
        requests += np.bincount(flat, minlength=len(requests))
        # stocks at each period end by cumulative counts (closure >= receipt by the contract's
        # chronology rule): open(p) = #received by the end of p - #closed by then;
        # overdue(p) = #(received + 140 <= end of p) - #(max(received + 140, closure) <= end
        # of p)
        closed += np.bincount(cell(in_scope, period(closure), la_base), minlength=cells + 1)
        overdue += np.bincount(cell(in_scope, p_due_u[recv_c[rows]], la_base), minlength=cells + 1)
        late_close = period(np.maximum(due, closure))
        overdue_closed += np.bincount(cell(in_scope, late_close, la_base), minlength=cells + 1)
        still_open = in_scope & (closure == NA_DAY)
        open_at_cutoff += int(still_open.sum())
        open_over_20_weeks += int((still_open & overdue_at_cut_u[recv_c[rows]]).sum())
        records_counted += int(in_scope.sum())
        after_cutoff += int(((recv < NA_DAY) & ~in_scope).sum())

    plans = plans[: cells * 4].reshape(n_la, n_p, 4)
    requests = requests[: cells * 2].reshape(n_la, n_p, 2)
    received = requests.sum(axis=2)
    out = {
        "plans_issued_den": plans.sum(axis=2),
        "plans_issued_within_20_weeks": plans[..., 2] + plans[..., 3],
        "plans_issued_den_ex": plans[..., 0] + plans[..., 2],
        "plans_issued_20_weeks_ex": plans[..., 2],
        "requests_received": received,
        "requests_decided_not_to_assess": requests[..., 1],
    }
    closed, overdue, overdue_closed = (
        v[:cells].reshape(n_la, n_p) for v in (closed, overdue, overdue_closed)
    )
    out["open_at_period_end"] = np.cumsum(received - closed, axis=1)
    out["open_over_20_weeks_at_period_end"] = np.cumsum(overdue - overdue_closed, axis=1)
    frame = pd.DataFrame({k: v.ravel() for k, v in out.items()})
    frame.insert(0, "period", np.tile(np.arange(p_lo, p_lo + n_p), n_la))
    frame.insert(0, "old_la_code", np.repeat(codes, n_p))
    frame = frame[frame["period"] >= p_first].reset_index(drop=True)
    facts = {
        "cutoff": dt.date.fromisoformat(_iso(cut)),
        "first_period": p_first,
        "last_period": p_last,
        "open_at_cutoff": open_at_cutoff,
        "open_over_20_weeks_at_cutoff": open_over_20_weeks,
        "records_counted": records_counted,
        "plan_on_closed_request": np.concatenate(bad_plans) if bad_plans else np.array([], int),
        "after_cutoff": after_cutoff,
    }
    return frame, facts


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


def cases_to_panel(
    files_or_frames,
    freq: str = "month",
    cutoff=None,
    *,
    start=None,
    geo: Geography | None = None,
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
    cols = ["case_id", "la_code", "request_outcome", "assessment_outcome", "exception_20wk"]
    accepted = [r for r in results if r.rows_accepted]
    parts = [r.accepted[cols + DATE_COLUMNS] for r in accepted]
    if not parts:
        return pd.DataFrame(columns=ID_COLUMNS + MEASURES + STOCKS), info
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
            info.findings.append(
                Finding(
                    "(all files)",
                    None,
                    "case_id",
                    "duplicate_case_across_files",
                    ERROR,
                    str(records["case_id"][dup].iloc[0]),
                    f"{int(dup.sum())} case_id(s) appear in more than one file; only the first "
                    "copy is counted.",
                )
            )
            records = records[~dup]
            encoded = {c: e.take(~dup) for c, e in encoded.items()}
    counts, facts = count_cases(records, freq=freq, cutoff=cutoff, start=start, encoded=encoded)
    bad = facts["plan_on_closed_request"]
    if len(bad):
        info.findings.append(
            Finding(
                "(all files)",
                None,
                "plan_issue_date",
                "plan_on_refused_or_withdrawn_request",
                WARNING,
                str(records["case_id"].iloc[bad[0]]),
                f"{len(bad)} record(s) have a plan issue date although the request was refused "
                "or withdrawn; these plans are not counted.",
            )
        )
    if facts["after_cutoff"]:
        info.findings.append(
            Finding(
                "(all files)",
                None,
                "request_received_date",
                "after_cutoff",
                WARNING,
                str(facts["cutoff"]),
                f"{facts['after_cutoff']} request(s) were received after the cut-off "
                f"{facts['cutoff']} and are not counted.",
            )
        )
    info.cutoff = facts["cutoff"]
    info.first_period = _label(facts["first_period"], freq)
    info.last_period = _label(facts["last_period"], freq)
    info.open_at_cutoff = facts["open_at_cutoff"]
    info.open_over_20_weeks_at_cutoff = facts["open_over_20_weeks_at_cutoff"]
    info.records_counted = facts["records_counted"]
    return to_ees(counts, freq, geo), info
