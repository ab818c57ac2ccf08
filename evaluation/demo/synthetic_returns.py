"""SYNTHETIC pseudonymised case-level records for every LA, monthly, with known true effects.

The pilots' own case-level returns are not public.  This generator produces realistic stand-ins
in the columns of ``data_contracts/case_records.yaml`` so that the case-level ingest
(:mod:`evaluation.cases`), the monthly estimators and the power analysis can be built and checked
before any real return arrives.  **Nothing it writes is real data**: every case_id starts with
``SYN-``, every row has ``synthetic = 1`` and every file gets a ``<file>.SYNTHETIC.md`` sidecar.

Each record is one request for an EHC needs assessment and follows the statutory path:

* **request** received (the 20-week clock starts); monthly counts per LA are Poisson with a
  mean calibrated to the LA's requests in the public data (``ehcp_2025_requests.csv``), a trend
  of ``request_growth`` a year and school-holiday seasonality (day weights: weekends, August,
  late December and the Easter holidays receive fewer requests);
* **decision** whether to assess (``assess`` / ``not_assess`` / ``withdrawn``), log-normal delay
  with a median of about 5 weeks (most within the statutory 6), longer for requests received in
  July and August; the refusal share is the LA's published share of requests refused;
* **assessment outcome** (``issued`` / ``not_issued`` / ``withdrawn``);
* **plan issue date** for issued plans.  Whether a plan is issued within 20 weeks is a Bernoulli
  draw with the LA's published 20-week rate excluding exceptions (``ehcp_2025_timeliness``),
  halved for exception cases, reduced by 15% when the 20-week deadline falls in the summer
  holidays, plus the configured true effect.  On-time plans pile up just under 140 days (140
  minus a gamma delay); late plans have a log-normal overrun stretched by 20% over the summer.

True effects are a plain dict ``{la_code: (start_month "YYYY-MM", effect_pp)}``: for requests
*received* on or after the first day of ``start_month`` the within-20-weeks probability is raised
by ``effect_pp`` percentage points (clipped to [0.02, 0.98]).  Because a plan is counted in the
month it is issued, the effect shows in the plan-issue series with a lag (about 4-5 months to
phase in fully); ``plans_from_treated_requests`` in the intended-counts sidecar says, per area and
month, how many plans came from treated requests.  By default the 32 pilots of
``plans/change_programme_2023.yaml`` get +10 points from their start month (2023-09).

Records are generated from ``burn_in_months`` before ``start`` so that the first analysed months
already contain late plans from earlier requests; months before ``start`` are a burn-in and should
be left out of analyses (``python -m evaluation cases --start``).  The data cut-off is the last
day of ``end``: events after it are blanked (the case is still open), as in a real extract.
LAs whose boundaries changed inside ``start``..``end`` (created or retired) are left out.

Deterministic: one ``numpy.random.default_rng(seed)`` drives every draw, records are written in a
fixed order with a fixed writer, so the same seed and settings give byte-identical files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.config import DEFAULT_DATA_DIR, PROJECT_ROOT
from evaluation.io.geography import Geography, load_geography
from evaluation.panel.cases import CLOCK_DAYS  # one definition of the clock and measures

DEFAULT_PLAN = PROJECT_ROOT / "plans" / "change_programme_2023.yaml"
CASE_COLUMNS = [
    "case_id",
    "la_code",
    "request_received_date",
    "request_outcome",
    "request_outcome_date",
    "assessment_outcome",
    "assessment_outcome_date",
    "plan_issue_date",
    "exception_20wk",
    "synthetic",
]
DEFAULT_EFFECT_PP = 10.0
DEFAULT_SCALE = 1.0
# national fall-backs (England 2024, ehcp_2025 release) for LAs with suppressed or missing cells
FALLBACK = {
    "requests_per_year": 1000.0,
    "refusal_share": 0.25,
    "timeliness_ex": 0.46,
    "exception_share": 0.06,
    "issue_share": 0.85,
}
WITHDRAWN_REQUEST = 0.02  # share of requests withdrawn before the decision
WITHDRAWN_ASSESSMENT = 0.02  # share of assessments withdrawn


@dataclass
class SyntheticCases:
    """Generated records (text, contract columns + ``synthetic``), the intended area x month
    counts (EES layout, the ground truth for :mod:`evaluation.cases`) and the settings used."""

    records: pd.DataFrame
    intended: pd.DataFrame
    settings: dict = field(default_factory=dict)


# ---- calibration -------------------------------------------------------------------------------
def la_baselines(
    data_dir: Path | str = DEFAULT_DATA_DIR, geo: Geography | None = None
) -> pd.DataFrame:
    """Per-LA baselines from the shipped public data (latest year each LA has a value).

    Columns: ``la_code, requests_per_year, refusal_share, timeliness_ex`` (share of plans within
    20 weeks excluding exceptions), ``exception_share`` (1 - den_ex / den), ``issue_share``
    (plans issued per request decided to assess, capped to 0.5-0.97), ``appeal_rate`` (appeals
    per appealable decision, for information) and ``calibration_year``.  Missing or suppressed
    values fall back to national figures (``FALLBACK``).
    """
    from evaluation.panel.sources import read_sources

    data_dir = Path(data_dir)
    geo = geo or load_geography(data_dir)
    obs, _, _ = read_sources(
        data_dir, geo, ["ehcp_2025_timeliness", "ehcp_2025_requests", "send_tribunal"]
    )
    la = obs[(obs["geographic_level"] == "Local authority") & obs["value"].notna()]
    la = la[la["old_la_code"].ne("")]
    wide = la.pivot_table(
        index=["old_la_code", "time_period"], columns="measure", values="value", aggfunc="first"
    ).astype(float)

    def latest(num: str, den: str | None = None) -> pd.DataFrame:
        cols = [num] + ([den] if den else [])
        sub = wide[cols].dropna()
        if den:
            sub = sub[sub[den] > 0]
        sub = sub.reset_index().sort_values("time_period").groupby("old_la_code").last()
        return sub

    req = latest("requests_received", "requests_decided_not_to_assess")
    tim = latest("plans_issued_20_weeks_ex", "plans_issued_den_ex")
    den = latest("plans_issued_den", "plans_issued_den_ex")
    app = latest("appeals", "appealable_decisions")
    codes = sorted(set(geo.lookup["old_la_code"]))
    out = pd.DataFrame({"la_code": codes}).set_index("la_code")
    out["requests_per_year"] = req["requests_received"]
    out["refusal_share"] = req["requests_decided_not_to_assess"] / req["requests_received"]
    out["timeliness_ex"] = tim["plans_issued_20_weeks_ex"] / tim["plans_issued_den_ex"]
    out["exception_share"] = 1 - den["plans_issued_den_ex"] / den["plans_issued_den"]
    assessed = req["requests_received"] - req["requests_decided_not_to_assess"]
    out["issue_share"] = (den["plans_issued_den"] / assessed.where(assessed > 0)).clip(0.5, 0.97)
    out["appeal_rate"] = app["appeals"] / app["appealable_decisions"]
    out["calibration_year"] = req["time_period"]
    out["requests_per_year"] = out["requests_per_year"].where(out["requests_per_year"] > 0)
    for col, value in FALLBACK.items():
        out[col] = out[col].fillna(value)
    out["refusal_share"] = out["refusal_share"].clip(0.0, 0.8)
    out["exception_share"] = out["exception_share"].clip(0.0, 0.3)
    out["calibration_year"] = out["calibration_year"].fillna(2024).astype(int)
    return out.reset_index()


def default_effects(
    plan_path: Path | str = DEFAULT_PLAN, effect_pp: float = DEFAULT_EFFECT_PP
) -> dict[str, tuple[str, float]]:
    """``{la_code: (start month 'YYYY-MM', effect_pp)}`` for every pilot of a plan."""
    from evaluation.panel.plan import load_plan

    plan = load_plan(plan_path)
    return {p.la_code: (p.start_date.strftime("%Y-%m"), float(effect_pp)) for p in plan.pilots}


# ---- calendar ----------------------------------------------------------------------------------
def _month(text: str) -> np.datetime64:
    return np.datetime64(str(text)[:7], "M")


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def day_weights(days: np.ndarray) -> np.ndarray:
    """Relative intensity of new requests on each day (datetime64[D]): weekends 0.25, August
    0.55, 22 December - 1 January 0.35, Easter holidays (Good Friday - 7 days to Easter Monday +
    7 days) 0.6; 1 otherwise."""
    w = np.ones(len(days))
    weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    w[weekday >= 5] = 0.25
    month = days.astype("datetime64[M]").astype("int64") % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype("int64") + 1
    w[month == 8] *= 0.55
    w[((month == 12) & (dom >= 22)) | ((month == 1) & (dom == 1))] *= 0.35
    years = np.unique(days.astype("datetime64[Y]").astype("int64") + 1970)
    for y in years:
        e = np.datetime64(easter_sunday(int(y)))
        w[(days >= e - np.timedelta64(9, "D")) & (days <= e + np.timedelta64(8, "D"))] *= 0.6
    return w


def _summer(days: np.ndarray) -> np.ndarray:
    """True for dates in the school summer holidays (approximated as 20 July - 5 September)."""
    doy = (days - days.astype("datetime64[Y]")).astype("int64")
    return (doy >= 200) & (doy <= 248)


# ---- generation --------------------------------------------------------------------------------
def generate_cases(
    baselines: pd.DataFrame,
    *,
    seed: int,
    start: str = "2021-01",
    end: str = "2025-12",
    burn_in_months: int = 12,
    scale: float = DEFAULT_SCALE,
    effects: dict[str, tuple[str, float]] | None = None,
    request_growth: float = 0.08,
    geo: Geography | None = None,
) -> SyntheticCases:
    """Generate synthetic case-level records.

    ``baselines``: one row per LA with the columns of :func:`la_baselines` (``la_code``,
    ``requests_per_year``, ``refusal_share``, ``timeliness_ex``, ``exception_share``,
    ``issue_share``, ``calibration_year``).  ``scale`` multiplies every LA's request volume (1.0 =
    published volumes).  ``effects``: ``{la_code: (start 'YYYY-MM', pp)}`` (None = no effect).
    Returns records, intended counts (months ``start``..``end``) and the settings.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    rng = np.random.default_rng(seed)
    effects = dict(effects or {})
    m_start, m_end = _month(start), _month(end)
    if m_end < m_start:
        raise ValueError("end is before start")
    m_gen = m_start - np.timedelta64(int(burn_in_months), "M")
    first_year, last_year = int(str(m_start)[:4]), int(str(m_end)[:4])
    base = baselines.copy()
    base["la_code"] = base["la_code"].astype(str)
    if geo is not None:
        keep = [
            all(geo.exists_in(c, y) for y in range(first_year, last_year + 1))
            for c in base["la_code"]
        ]
        base = base[keep]
    base = base.sort_values("la_code").reset_index(drop=True)
    unknown = sorted(set(effects) - set(base["la_code"]))
    if unknown:
        raise ValueError(f"effects name LA code(s) not generated: {', '.join(unknown)}")
    n_la = len(base)

    # calendar: every day from the first generated month to the cut-off
    day0 = m_gen.astype("datetime64[D]")
    cutoff = (m_end + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")
    days = np.arange(day0, cutoff + np.timedelta64(1, "D"))
    w = day_weights(days)
    cum = np.concatenate([[0.0], np.cumsum(w)])
    months = np.arange(m_gen, m_end + np.timedelta64(1, "M"))
    m_first_day = (months.astype("datetime64[D]") - day0).astype("int64")
    m_last_day = np.append(m_first_day[1:], len(days))
    month_weight = cum[m_last_day] - cum[m_first_day]
    per_year = w.sum() / (len(days) / 365.25)  # average weight of a year
    # expected requests per LA x month: published yearly volume, trend and seasonality
    cal_mid = (
        base["calibration_year"].to_numpy() - 1970
    ) * 12 + 6  # mid-year of calibration, months
    m_idx = months.astype("int64")
    trend = (1 + request_growth) ** ((m_idx[None, :] - cal_mid[:, None]) / 12.0)
    lam = scale * base["requests_per_year"].to_numpy()[:, None] * trend * month_weight / per_year
    counts = rng.poisson(lam)  # (n_la, n_months)
    n = int(counts.sum())

    la_i = np.repeat(np.repeat(np.arange(n_la), len(months)), counts.ravel())
    mo_i = np.repeat(np.tile(np.arange(len(months)), n_la), counts.ravel())
    # day within month by inverse CDF of the day weights
    lo, hi = cum[m_first_day[mo_i]], cum[m_last_day[mo_i]]
    target = lo + rng.random(n) * (hi - lo)
    recv = np.searchsorted(cum, target, side="right") - 1
    recv = np.clip(recv, m_first_day[mo_i], m_last_day[mo_i] - 1)  # day offsets from day0

    col = {c: base[c].to_numpy(dtype=float)[la_i] for c in FALLBACK if c != "requests_per_year"}
    recv_dates = day0 + recv.astype("timedelta64[D]")
    # request decision
    u = rng.random(n)
    refused = col["refusal_share"] * (1 - WITHDRAWN_REQUEST)
    outcome = np.where(
        u < WITHDRAWN_REQUEST, 2, np.where(u < WITHDRAWN_REQUEST + refused, 1, 0)
    )  # 0 assess, 1 not_assess, 2 withdrawn
    summer_recv = np.isin(recv_dates.astype("datetime64[M]").astype("int64") % 12, [6, 7])
    dec_delay = np.exp(rng.normal(np.log(33.0), 0.35, n)) * np.where(summer_recv, 1.2, 1.0)
    dec_delay = np.clip(np.rint(dec_delay), 5, 100).astype(np.int64)
    decision = recv + dec_delay
    exception = rng.random(n) < col["exception_share"]

    # assessment outcome among assessed: 0 issued, 1 not_issued, 2 withdrawn
    u = rng.random(n)
    a_out = np.where(
        u < col["issue_share"], 0, np.where(u < col["issue_share"] + WITHDRAWN_ASSESSMENT, 2, 1)
    )
    # 20-week probability with effects, exceptions and summer deadlines
    effect = np.zeros(n)
    treated = np.zeros(n, dtype=bool)
    codes = base["la_code"].to_numpy()
    for code, (eff_start, pp) in sorted(effects.items()):
        k = int(np.flatnonzero(codes == code)[0])
        first = int((_month(eff_start).astype("datetime64[D]") - day0).astype("int64"))
        hit = (la_i == k) & (recv >= first)
        treated |= hit
        effect[hit] = float(pp) / 100.0
    deadline_summer = _summer(recv_dates + np.timedelta64(CLOCK_DAYS, "D"))
    p = col["timeliness_ex"] * np.where(exception, 0.5, 1.0) * np.where(deadline_summer, 0.85, 1.0)
    p = np.clip(p + effect, 0.02, 0.98)
    within = rng.random(n) < p
    early = np.floor(rng.gamma(1.3, 14.0, n)).astype(np.int64)
    overrun = np.exp(rng.normal(np.log(45.0), 0.9, n)) * np.where(deadline_summer, 1.2, 1.0)
    overrun = np.minimum(np.floor(overrun).astype(np.int64), 700)
    duration = np.where(
        within, np.maximum(CLOCK_DAYS - early, dec_delay + 28), CLOCK_DAYS + 1 + overrun
    )
    plan = recv + duration
    lag_final = rng.integers(0, 21, n)  # draft-to-final plan
    not_issued_t = recv + np.clip(
        np.rint(np.exp(rng.normal(np.log(110.0), 0.25, n))), dec_delay + 14, 300
    ).astype(np.int64)
    withdrawn_t = decision + rng.integers(14, 90, n)
    a_date = np.where(
        a_out == 0,
        np.maximum(plan - lag_final, decision),
        np.where(a_out == 1, not_issued_t, withdrawn_t),
    )
    assessed = outcome == 0
    issued = assessed & (a_out == 0)

    # the data cut-off: later events have not happened yet
    cut = int((cutoff - day0).astype("int64"))
    dec_known = decision <= cut
    a_known = assessed & dec_known & (a_date <= cut)
    plan_known = issued & a_known & (plan <= cut)

    intended = _intended(
        base,
        la_i,
        recv,
        decision,
        outcome,
        dec_known,
        a_known,
        a_date,
        a_out,
        plan,
        plan_known,
        within,
        exception,
        treated,
        day0,
        m_start,
        m_end,
        geo,
    )

    # text columns, in a fixed order: LA, received date, draw order
    order = np.lexsort((np.arange(n), recv, la_i))
    seq = np.zeros(n, dtype=np.int64)
    seq[order] = np.arange(n)
    la_txt = codes[la_i]
    per_la_rank = seq - np.searchsorted(la_i[order], la_i)  # 0-based rank within LA
    case_id = _case_ids(la_txt, per_la_rank)
    req_outcome = np.array(["assess", "not_assess", "withdrawn"], dtype=object)[outcome]
    req_outcome = np.where(dec_known, req_outcome, "")
    a_txt = np.array(["issued", "not_issued", "withdrawn"], dtype=object)[a_out]
    a_txt = np.where(a_known, a_txt, "")
    records = (
        pd.DataFrame(
            {
                "case_id": case_id,
                "la_code": la_txt,
                "request_received_date": _iso(day0, recv, np.ones(n, bool)),
                "request_outcome": req_outcome,
                "request_outcome_date": _iso(day0, decision, dec_known),
                "assessment_outcome": a_txt,
                "assessment_outcome_date": _iso(day0, a_date, a_known),
                "plan_issue_date": _iso(day0, plan, plan_known),
                "exception_20wk": np.where(exception, "1", "0"),
                "synthetic": np.full(n, "1", dtype=object),
            }
        )
        .iloc[order]
        .reset_index(drop=True)
    )
    settings = {
        "seed": int(seed),
        "start": str(m_start),
        "end": str(m_end),
        "burn_in_months": int(burn_in_months),
        "first_generated_month": str(m_gen),
        "cutoff": str(cutoff),
        "scale": float(scale),
        "request_growth": float(request_growth),
        "effects": {k: [v[0], float(v[1])] for k, v in sorted(effects.items())},
        "n_las": int(n_la),
        "n_records": int(n),
    }
    return SyntheticCases(records, intended, settings)


def _iso(day0: np.datetime64, offsets: np.ndarray, known: np.ndarray) -> np.ndarray:
    """YYYY-MM-DD text of day offsets ('' where not known); each distinct day formatted once."""
    lo = int(offsets.min()) if len(offsets) else 0
    span = (int(offsets.max()) - lo + 1) if len(offsets) else 1
    table = np.datetime_as_string(day0 + np.arange(lo, lo + span).astype("timedelta64[D]"))
    text = table.astype(object)[offsets - lo]
    return np.where(known, text, "")


def _case_ids(la: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """'SYN-<la>-<7-digit rank>' pseudonyms."""
    ranks = np.char.zfill(rank.astype(str), 7)
    return np.char.add(np.char.add(np.char.add("SYN-", la.astype(str)), "-"), ranks).astype(object)


def _intended(
    base,
    la_i,
    recv,
    decision,
    outcome,
    dec_known,
    a_known,
    a_date,
    a_out,
    plan,
    plan_known,
    within,
    exception,
    treated,
    day0,
    m_start,
    m_end,
    geo,
) -> pd.DataFrame:
    """The counts the records are meant to produce, area x month for start..end (computed here
    from the generator's own integer day arrays, independently of the text files)."""
    months = np.arange(m_start, m_end + np.timedelta64(1, "M"))
    n_m, n_la = len(months), len(base)
    m0 = int(m_start.astype("int64"))

    def month_of(offsets):
        return (day0 + offsets.astype("timedelta64[D]")).astype("datetime64[M]").astype(
            "int64"
        ) - m0

    def count(mask, offsets):
        mi = month_of(offsets[mask])
        ok = (mi >= 0) & (mi < n_m)
        flat = la_i[mask][ok] * n_m + mi[ok]
        return np.bincount(flat, minlength=n_la * n_m).reshape(n_la, n_m)

    ex0 = ~exception
    out = {
        "plans_issued_den": count(plan_known, plan),
        "plans_issued_within_20_weeks": count(plan_known & within, plan),
        "plans_issued_den_ex": count(plan_known & ex0, plan),
        "plans_issued_20_weeks_ex": count(plan_known & within & ex0, plan),
        "requests_received": count(np.ones(len(recv), bool), recv),
        "requests_decided_not_to_assess": count(dec_known & (outcome == 1), recv),
    }
    # open at each month end: received on or before it and not closed by it
    big = np.iinfo(np.int64).max // 4
    closure = np.full(len(recv), big, dtype=np.int64)
    closure = np.where(dec_known & (outcome != 0), decision, closure)
    closure = np.where(a_known & (a_out != 0), a_date, closure)
    closure = np.where(plan_known, plan, closure)
    month_ends = (
        (months + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D") - day0
    ).astype("int64")
    overdue_from = recv + CLOCK_DAYS
    open_ = np.zeros((n_la, n_m), dtype=np.int64)
    overdue = np.zeros((n_la, n_m), dtype=np.int64)
    for j, e in enumerate(month_ends):  # one pass per month (60 months): small
        is_open = (recv <= e) & (closure > e)
        open_[:, j] = np.bincount(la_i[is_open], minlength=n_la)
        overdue[:, j] = np.bincount(la_i[is_open & (overdue_from <= e)], minlength=n_la)
    out["open_at_period_end"] = open_
    out["open_over_20_weeks_at_period_end"] = overdue
    out["plans_from_treated_requests"] = count(plan_known & treated, plan)
    frame = pd.DataFrame({k: v.ravel() for k, v in out.items()})
    codes = base["la_code"].to_numpy()
    frame.insert(0, "old_la_code", np.repeat(codes, n_m))
    month_no = months.astype("int64") % 12
    year = months.astype("int64") // 12 + 1970
    frame.insert(0, "time_identifier", np.tile(np.array(MONTH_NAMES, dtype=object)[month_no], n_la))
    frame.insert(0, "time_period", np.tile(year, n_la))
    return _ees_identity(frame, geo)


MONTH_NAMES = [dt.date(2000, m, 1).strftime("%B") for m in range(1, 13)]


def _ees_identity(frame: pd.DataFrame, geo: Geography | None) -> pd.DataFrame:
    """Insert geographic_level, new_la_code and la_name after the time columns."""
    from evaluation.panel.cases import la_identity

    names, gss = la_identity(frame["old_la_code"], frame["time_period"], geo)
    frame = frame.copy()
    frame.insert(2, "geographic_level", "Local authority")
    frame.insert(4, "new_la_code", gss)
    frame.insert(5, "la_name", names)
    return frame


# ---- writing -----------------------------------------------------------------------------------
def write_csv(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write a text frame as UTF-8 CSV with '\\n' line ends, byte-reproducibly (written to a
    temporary file, then renamed).  Large frames of plain cells (the records) go through
    pyarrow without quotes; anything else (e.g. LA names with commas) through pandas."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    text = {c: frame[c].astype(str).to_numpy(dtype=object) for c in frame}
    plain = all(not pd.Series(v).str.contains(r'[,"\n\r]', regex=True).any() for v in text.values())
    if plain:
        table = pa.table({c: pa.array(v, type=pa.string()) for c, v in text.items()})
        with open(tmp, "wb") as fh:
            fh.write((",".join(frame.columns) + "\n").encode())
            if len(frame):
                pacsv.write_csv(
                    table, fh, pacsv.WriteOptions(include_header=False, quoting_style="none")
                )
    else:
        pd.DataFrame(text).to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
    tmp.replace(path)
    return path


def write_synthetic(
    result: SyntheticCases, out_dir: Path | str, name: str = "synthetic_cases"
) -> dict:
    """Write ``<name>.csv`` (records), ``<name>.intended.csv`` (area x month ground truth) and
    a ``.SYNTHETIC.md`` sidecar for each.  Returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = write_csv(result.records, out_dir / f"{name}.csv")
    intended = write_csv(result.intended, out_dir / f"{name}.intended.csv")
    note = synthetic_note(result)
    for path in (cases, intended):
        path.with_name(path.name + ".SYNTHETIC.md").write_text(
            note.replace("{file}", path.name), encoding="utf-8"
        )
    return {"cases": cases, "intended": intended}


def synthetic_note(result: SyntheticCases) -> str:
    s = result.settings
    effects = s["effects"]
    eff = (
        ", ".join(f"{k} {v[1]:+g} pp from {v[0]}" for k, v in effects.items())
        if effects
        else "none"
    )
    return (
        "# SYNTHETIC DATA - NOT REAL RETURNS\n\n"
        "`{file}` was generated by `evaluation/synthetic_returns.py` (`python -m evaluation "
        "synth`). Every record is invented: case_ids start with `SYN-` and every row has "
        "`synthetic = 1`. Do not use it as evidence about any local authority.\n\n"
        f"- seed: {s['seed']}; scale: {s['scale']:g} x published request volumes; "
        f"request growth {s['request_growth']:.0%} a year\n"
        f"- analysis window: {s['start']} to {s['end']} (data cut-off {s['cutoff']}); months "
        f"from {s['first_generated_month']} before {s['start']} are a burn-in: leave them out "
        f"(`python -m evaluation cases ... --start {s['start']}`)\n"
        f"- {s['n_las']} LAs, {s['n_records']:,} records\n"
        f"- true effects on the within-20-weeks probability, for requests received from the "
        f"start month: {eff}\n"
    )


# ---- command line ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m evaluation synth",
        description="Generate SYNTHETIC case-level returns for every LA (clearly labelled).",
    )
    p.add_argument("--seed", type=int, default=20230901)
    p.add_argument("--out", default="data/synthetic", help="output directory")
    p.add_argument(
        "--scale",
        type=float,
        default=DEFAULT_SCALE,
        help=f"multiplier of published request volumes (default {DEFAULT_SCALE})",
    )
    p.add_argument("--start", default="2021-01", help="first analysed month YYYY-MM")
    p.add_argument("--end", default="2025-12", help="last month YYYY-MM (cut-off: its last day)")
    p.add_argument("--burn-in", type=int, default=12, help="months generated before --start")
    p.add_argument("--effect-pp", type=float, default=DEFAULT_EFFECT_PP, help="pilot effect")
    p.add_argument("--plan", default=str(DEFAULT_PLAN), help="plan whose pilots get the effect")
    p.add_argument("--no-effect", action="store_true", help="no true effect anywhere")
    p.add_argument("--name", default="synthetic_cases", help="file stem")
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m evaluation synth``; exit 0 on success, 2 on bad arguments."""
    args = build_parser().parse_args(argv)
    geo = load_geography(DEFAULT_DATA_DIR)
    try:
        effects = {} if args.no_effect else default_effects(args.plan, args.effect_pp)
        result = generate_cases(
            la_baselines(DEFAULT_DATA_DIR, geo),
            seed=args.seed,
            start=args.start,
            end=args.end,
            burn_in_months=args.burn_in,
            scale=args.scale,
            effects=effects,
            geo=geo,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = write_synthetic(result, args.out, args.name)
    s = result.settings
    print(
        f"SYNTHETIC: {s['n_records']:,} records for {s['n_las']} LAs -> {paths['cases']}; "
        f"intended counts -> {paths['intended']}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
