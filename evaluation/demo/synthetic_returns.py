"""SYNTHETIC pseudonymised case-level records for every LA, monthly, with known true effects.

The pilots' own case-level returns are not public.  This generator produces realistic stand-ins
in the columns of ``data_contracts/case_records.yaml`` so that the case-level ingest
(:mod:`evaluation.panel.cases`), the monthly estimators and the power analysis can be built and checked
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

This module calibrates (:func:`la_baselines`), runs the generator (:func:`generate_cases`), turns
its day arrays into text records and intended counts, and writes them; the random draws
themselves (calendar, requests, each case's path) are in :mod:`evaluation.demo.case_simulation`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.config import DEFAULT_DATA_DIR, PROJECT_ROOT
from evaluation.demo.case_simulation import (
    FALLBACK,
    CaseHistories,
    draw_requests,
    make_calendar,
    parse_month,
    simulate_case_histories,
)
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


@dataclass
class SyntheticCases:
    """Generated records (text, contract columns + ``synthetic``), the intended area x month
    counts (EES layout, the ground truth for :mod:`evaluation.panel.cases`) and the settings used."""

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
    m_start, m_end = parse_month(start), parse_month(end)
    if m_end < m_start:
        raise ValueError("end is before start")
    m_gen = m_start - np.timedelta64(int(burn_in_months), "M")
    base = _generated_las(baselines, effects, m_start, m_end, geo)
    cal = make_calendar(m_gen, m_end)
    # the order of these steps is the order of the random draws: keep it
    la, received = draw_requests(rng, base, cal, scale, request_growth)
    cases = simulate_case_histories(rng, base, cal, la, received, effects)
    intended = _intended(base, cases, cal.day0, m_start, m_end, geo)
    records = _records(base, cases, cal.day0)
    settings = {
        "seed": int(seed),
        "start": str(m_start),
        "end": str(m_end),
        "burn_in_months": int(burn_in_months),
        "first_generated_month": str(m_gen),
        "cutoff": str(cal.cutoff),
        "scale": float(scale),
        "request_growth": float(request_growth),
        "effects": {k: [v[0], float(v[1])] for k, v in sorted(effects.items())},
        "n_las": int(len(base)),
        "n_records": int(len(received)),
    }
    return SyntheticCases(records, intended, settings)


def _generated_las(
    baselines: pd.DataFrame,
    effects: dict,
    m_start: np.datetime64,
    m_end: np.datetime64,
    geo: Geography | None,
) -> pd.DataFrame:
    """The baselines of the LAs to generate, sorted by code: with ``geo``, only LAs that exist
    in every year of ``m_start``..``m_end``.  Raises ValueError if ``effects`` names another."""
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
    return base


def _records(base: pd.DataFrame, cases: CaseHistories, day0: np.datetime64) -> pd.DataFrame:
    """The text records, in a fixed order: LA, received date, draw order."""
    la_i, recv = cases.la, cases.received
    n = len(recv)
    order = np.lexsort((np.arange(n), recv, la_i))
    seq = np.zeros(n, dtype=np.int64)
    seq[order] = np.arange(n)
    la_txt = base["la_code"].to_numpy()[la_i]
    per_la_rank = seq - np.searchsorted(la_i[order], la_i)  # 0-based rank within LA
    req_outcome = np.array(["assess", "not_assess", "withdrawn"], dtype=object)[
        cases.request_outcome
    ]
    a_txt = np.array(["issued", "not_issued", "withdrawn"], dtype=object)[cases.assessment_outcome]
    a_known = cases.assessment_known
    return (
        pd.DataFrame(
            {
                "case_id": _case_ids(la_txt, per_la_rank),
                "la_code": la_txt,
                "request_received_date": _iso(day0, recv, np.ones(n, bool)),
                "request_outcome": np.where(cases.decision_known, req_outcome, ""),
                "request_outcome_date": _iso(day0, cases.decision, cases.decision_known),
                "assessment_outcome": np.where(a_known, a_txt, ""),
                "assessment_outcome_date": _iso(day0, cases.assessment_date, a_known),
                "plan_issue_date": _iso(day0, cases.plan_date, cases.plan_known),
                "exception_20wk": np.where(cases.exception, "1", "0"),
                "synthetic": np.full(n, "1", dtype=object),
            }
        )
        .iloc[order]
        .reset_index(drop=True)
    )


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


# ---- intended counts ---------------------------------------------------------------------------
def _intended(
    base: pd.DataFrame,
    cases: CaseHistories,
    day0: np.datetime64,
    m_start: np.datetime64,
    m_end: np.datetime64,
    geo: Geography | None,
) -> pd.DataFrame:
    """The counts the records are meant to produce, area x month for start..end (computed here
    from the generator's own integer day arrays, independently of the text files)."""
    months = np.arange(m_start, m_end + np.timedelta64(1, "M"))
    n_m, n_la = len(months), len(base)
    m0 = int(m_start.astype("int64"))
    la_i = cases.la

    def month_of(offsets):
        return (day0 + offsets.astype("timedelta64[D]")).astype("datetime64[M]").astype(
            "int64"
        ) - m0

    def count(mask, offsets):
        mi = month_of(offsets[mask])
        ok = (mi >= 0) & (mi < n_m)
        flat = la_i[mask][ok] * n_m + mi[ok]
        return np.bincount(flat, minlength=n_la * n_m).reshape(n_la, n_m)

    plan, plan_known, within = cases.plan_date, cases.plan_known, cases.within
    recv, ex0 = cases.received, ~cases.exception
    out = {
        "plans_issued_den": count(plan_known, plan),
        "plans_issued_within_20_weeks": count(plan_known & within, plan),
        "plans_issued_den_ex": count(plan_known & ex0, plan),
        "plans_issued_20_weeks_ex": count(plan_known & within & ex0, plan),
        "requests_received": count(np.ones(len(recv), bool), recv),
        "requests_decided_not_to_assess": count(
            cases.decision_known & (cases.request_outcome == 1), recv
        ),
    }
    out["open_at_period_end"], out["open_over_20_weeks_at_period_end"] = _open_at_month_ends(
        cases, months, day0, n_la
    )
    out["plans_from_treated_requests"] = count(plan_known & cases.treated, plan)
    frame = pd.DataFrame({k: v.ravel() for k, v in out.items()})
    frame.insert(0, "old_la_code", np.repeat(base["la_code"].to_numpy(), n_m))
    month_no = months.astype("int64") % 12
    year = months.astype("int64") // 12 + 1970
    frame.insert(0, "time_identifier", np.tile(np.array(MONTH_NAMES, dtype=object)[month_no], n_la))
    frame.insert(0, "time_period", np.tile(year, n_la))
    return _ees_identity(frame, geo)


def _open_at_month_ends(
    cases: CaseHistories, months: np.ndarray, day0: np.datetime64, n_la: int
) -> tuple[np.ndarray, np.ndarray]:
    """(LA x month) cases open at each month end (received on or before it and not closed by
    it), and those of them open for more than 20 weeks."""
    recv, la_i = cases.received, cases.la
    big = np.iinfo(np.int64).max // 4
    closure = np.full(len(recv), big, dtype=np.int64)
    closure = np.where(cases.decision_known & (cases.request_outcome != 0), cases.decision, closure)
    closure = np.where(
        cases.assessment_known & (cases.assessment_outcome != 0), cases.assessment_date, closure
    )
    closure = np.where(cases.plan_known, cases.plan_date, closure)
    month_ends = (
        (months + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D") - day0
    ).astype("int64")
    overdue_from = recv + CLOCK_DAYS
    open_ = np.zeros((n_la, len(months)), dtype=np.int64)
    overdue = np.zeros((n_la, len(months)), dtype=np.int64)
    for j, e in enumerate(month_ends):  # one pass per month (60 months): small
        is_open = (recv <= e) & (closure > e)
        open_[:, j] = np.bincount(la_i[is_open], minlength=n_la)
        overdue[:, j] = np.bincount(la_i[is_open & (overdue_from <= e)], minlength=n_la)
    return open_, overdue


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
    """The ``.SYNTHETIC.md`` sidecar text (``{file}`` stands for the file's name)."""
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
