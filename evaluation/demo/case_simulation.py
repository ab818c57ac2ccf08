"""The random part of the SYNTHETIC case generator: calendar, requests and each case's path.

:func:`evaluation.demo.synthetic_returns.generate_cases` calls these in a fixed order (the order
of the draws from its one ``numpy.random.Generator``): :func:`make_calendar` (day weights of
new requests: weekends, August, Christmas and Easter), :func:`draw_requests` (Poisson counts per
LA x month and a day for each) and :func:`simulate_case_histories` (decision, assessment
outcome, plan issue and the data cut-off; the statutory path is described in
:mod:`evaluation.demo.synthetic_returns`).  Dates are integer day offsets from the first
generated day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.panel.cases import CLOCK_DAYS  # one definition of the clock and measures

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


# ---- calendar ----------------------------------------------------------------------------------
def parse_month(text: str) -> np.datetime64:
    """The month of a 'YYYY-MM...' text (datetime64[M])."""
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


def summer_holidays(days: np.ndarray) -> np.ndarray:
    """True for dates in the school summer holidays (approximated as 20 July - 5 September)."""
    doy = (days - days.astype("datetime64[Y]")).astype("int64")
    return (doy >= 200) & (doy <= 248)


@dataclass(frozen=True)
class Calendar:
    """Every day from the first generated month to the cut-off, with the request day weights."""

    day0: np.datetime64  # first generated day; case dates are day offsets from it
    cutoff: np.datetime64  # last day of the last month (the data cut-off)
    cum: np.ndarray  # cumulative day weights, cum[i] = weight of the days before day i
    months: np.ndarray  # generated months (datetime64[M])
    m_first_day: np.ndarray  # each month's first day (offset)
    m_last_day: np.ndarray  # the next month's first day (offset)
    month_weight: np.ndarray  # each month's share of the request intensity
    per_year: float  # average weight of a year


def make_calendar(m_gen: np.datetime64, m_end: np.datetime64) -> Calendar:
    """The calendar of months ``m_gen``..``m_end``."""
    day0 = m_gen.astype("datetime64[D]")
    cutoff = (m_end + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")
    days = np.arange(day0, cutoff + np.timedelta64(1, "D"))
    w = day_weights(days)
    cum = np.concatenate([[0.0], np.cumsum(w)])
    months = np.arange(m_gen, m_end + np.timedelta64(1, "M"))
    m_first_day = (months.astype("datetime64[D]") - day0).astype("int64")
    m_last_day = np.append(m_first_day[1:], len(days))
    return Calendar(
        day0=day0,
        cutoff=cutoff,
        cum=cum,
        months=months,
        m_first_day=m_first_day,
        m_last_day=m_last_day,
        month_weight=cum[m_last_day] - cum[m_first_day],
        per_year=w.sum() / (len(days) / 365.25),
    )


def draw_requests(
    rng: np.random.Generator,
    base: pd.DataFrame,
    cal: Calendar,
    scale: float,
    request_growth: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Requests: Poisson counts per LA x month (published yearly volume, trend and seasonality),
    each on a day drawn by inverse CDF of the day weights.  Returns (LA index, received day)."""
    cal_mid = (
        base["calibration_year"].to_numpy() - 1970
    ) * 12 + 6  # mid-year of calibration, months
    m_idx = cal.months.astype("int64")
    trend = (1 + request_growth) ** ((m_idx[None, :] - cal_mid[:, None]) / 12.0)
    lam = (
        scale
        * base["requests_per_year"].to_numpy()[:, None]
        * trend
        * cal.month_weight
        / cal.per_year
    )
    counts = rng.poisson(lam)  # (n_la, n_months)
    n = int(counts.sum())
    n_la, n_months = len(base), len(cal.months)
    la_i = np.repeat(np.repeat(np.arange(n_la), n_months), counts.ravel())
    mo_i = np.repeat(np.tile(np.arange(n_months), n_la), counts.ravel())
    # day within month by inverse CDF of the day weights
    lo, hi = cal.cum[cal.m_first_day[mo_i]], cal.cum[cal.m_last_day[mo_i]]
    target = lo + rng.random(n) * (hi - lo)
    recv = np.searchsorted(cal.cum, target, side="right") - 1
    recv = np.clip(recv, cal.m_first_day[mo_i], cal.m_last_day[mo_i] - 1)  # day offsets from day0
    return la_i, recv


@dataclass(frozen=True)
class CaseHistories:
    """Every generated request's path, as day offsets from the first generated day, and what is
    known by the data cut-off."""

    la: np.ndarray  # index into the generated LAs
    received: np.ndarray  # request received (day)
    decision: np.ndarray  # decision whether to assess (day)
    request_outcome: np.ndarray  # 0 assess, 1 not_assess, 2 withdrawn
    exception: np.ndarray  # exception to the 20-week limit (bool)
    assessment_outcome: np.ndarray  # 0 issued, 1 not_issued, 2 withdrawn
    assessment_date: np.ndarray  # assessment outcome (day)
    plan_date: np.ndarray  # plan issued (day)
    within: np.ndarray  # plan issued within 20 weeks (bool)
    treated: np.ndarray  # request received under a true effect (bool)
    decision_known: np.ndarray  # decision by the cut-off
    assessment_known: np.ndarray  # assessed, and assessment outcome by the cut-off
    plan_known: np.ndarray  # issued, and plan issued by the cut-off


def simulate_case_histories(
    rng: np.random.Generator,
    base: pd.DataFrame,
    cal: Calendar,
    la_i: np.ndarray,
    recv: np.ndarray,
    effects: dict,
) -> CaseHistories:
    """Decision, assessment outcome and plan issue of every request (the statutory path of
    :mod:`evaluation.demo.synthetic_returns`), then the data cut-off: later events have not
    happened yet.  ``la_i``/``recv``: each request's LA index and received day."""
    n = len(recv)
    col = {c: base[c].to_numpy(dtype=float)[la_i] for c in FALLBACK if c != "requests_per_year"}
    recv_dates = cal.day0 + recv.astype("timedelta64[D]")
    outcome, dec_delay = _request_decisions(rng, col, recv_dates)
    decision = recv + dec_delay
    exception = rng.random(n) < col["exception_share"]
    # assessment outcome among assessed: 0 issued, 1 not_issued, 2 withdrawn
    u = rng.random(n)
    a_out = np.where(
        u < col["issue_share"], 0, np.where(u < col["issue_share"] + WITHDRAWN_ASSESSMENT, 2, 1)
    )
    effect, treated = _true_effects(effects, base, cal.day0, la_i, recv)
    within, plan = _plan_issue(rng, col, recv, recv_dates, exception, effect, dec_delay)
    a_date = _assessment_dates(rng, recv, decision, dec_delay, plan, a_out)
    assessed = outcome == 0
    issued = assessed & (a_out == 0)
    # the data cut-off: later events have not happened yet
    cut = int((cal.cutoff - cal.day0).astype("int64"))
    dec_known = decision <= cut
    a_known = assessed & dec_known & (a_date <= cut)
    return CaseHistories(
        la=la_i,
        received=recv,
        decision=decision,
        request_outcome=outcome,
        exception=exception,
        assessment_outcome=a_out,
        assessment_date=a_date,
        plan_date=plan,
        within=within,
        treated=treated,
        decision_known=dec_known,
        assessment_known=a_known,
        plan_known=issued & a_known & (plan <= cut),
    )


def _request_decisions(
    rng: np.random.Generator, col: dict, recv_dates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Request outcome (0 assess, 1 not_assess, 2 withdrawn) and days to the decision."""
    n = len(recv_dates)
    u = rng.random(n)
    refused = col["refusal_share"] * (1 - WITHDRAWN_REQUEST)
    outcome = np.where(
        u < WITHDRAWN_REQUEST, 2, np.where(u < WITHDRAWN_REQUEST + refused, 1, 0)
    )  # 0 assess, 1 not_assess, 2 withdrawn
    summer_recv = np.isin(recv_dates.astype("datetime64[M]").astype("int64") % 12, [6, 7])
    dec_delay = np.exp(rng.normal(np.log(33.0), 0.35, n)) * np.where(summer_recv, 1.2, 1.0)
    dec_delay = np.clip(np.rint(dec_delay), 5, 100).astype(np.int64)
    return outcome, dec_delay


def _true_effects(
    effects: dict, base: pd.DataFrame, day0: np.datetime64, la_i: np.ndarray, recv: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each request's true effect on the within-20-weeks probability, and whether it has one."""
    n = len(recv)
    effect = np.zeros(n)
    treated = np.zeros(n, dtype=bool)
    codes = base["la_code"].to_numpy()
    for code, (eff_start, pp) in sorted(effects.items()):
        k = int(np.flatnonzero(codes == code)[0])
        first = int((parse_month(eff_start).astype("datetime64[D]") - day0).astype("int64"))
        hit = (la_i == k) & (recv >= first)
        treated |= hit
        effect[hit] = float(pp) / 100.0
    return effect, treated


def _plan_issue(
    rng: np.random.Generator,
    col: dict,
    recv: np.ndarray,
    recv_dates: np.ndarray,
    exception: np.ndarray,
    effect: np.ndarray,
    dec_delay: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether a plan would be issued within 20 weeks (probability with effects, exceptions and
    summer deadlines) and the day it would be issued."""
    n = len(recv)
    deadline_summer = summer_holidays(recv_dates + np.timedelta64(CLOCK_DAYS, "D"))
    p = col["timeliness_ex"] * np.where(exception, 0.5, 1.0) * np.where(deadline_summer, 0.85, 1.0)
    p = np.clip(p + effect, 0.02, 0.98)
    within = rng.random(n) < p
    early = np.floor(rng.gamma(1.3, 14.0, n)).astype(np.int64)
    overrun = np.exp(rng.normal(np.log(45.0), 0.9, n)) * np.where(deadline_summer, 1.2, 1.0)
    overrun = np.minimum(np.floor(overrun).astype(np.int64), 700)
    duration = np.where(
        within, np.maximum(CLOCK_DAYS - early, dec_delay + 28), CLOCK_DAYS + 1 + overrun
    )
    return within, recv + duration


def _assessment_dates(
    rng: np.random.Generator,
    recv: np.ndarray,
    decision: np.ndarray,
    dec_delay: np.ndarray,
    plan: np.ndarray,
    a_out: np.ndarray,
) -> np.ndarray:
    """Day of the assessment outcome: the final plan (issued), the decision not to issue, or
    the withdrawal."""
    n = len(recv)
    lag_final = rng.integers(0, 21, n)  # draft-to-final plan
    not_issued_t = recv + np.clip(
        np.rint(np.exp(rng.normal(np.log(110.0), 0.25, n))), dec_delay + 14, 300
    ).astype(np.int64)
    withdrawn_t = decision + rng.integers(14, 90, n)
    return np.where(
        a_out == 0,
        np.maximum(plan - lag_final, decision),
        np.where(a_out == 1, not_issued_t, withdrawn_t),
    )
