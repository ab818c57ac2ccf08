"""Degenerate designs are refused, not estimated.

Before an estimator runs on a panel or series the analyst brings (``python -m evaluation did``
and ``its``), the data are checked against what the design needs; anything it cannot support
raises :class:`DesignError` with one sentence saying what is wrong, where (column, data rows
or units) and how to fix it, which the command line turns into exit code 2.  An estimator is
never left to return ``null``, a rank-deficient fit or a library warning instead.

* DiD (:func:`check_did_panel`): unit, time, outcome and first-treated are distinct columns;
  time, outcome (and weights) numeric, finite and complete; first-treated numeric or empty
  (empty or 0 = never treated) and the same in every row of a unit; one row per unit and
  period; at least one treated and one comparison unit; every treated unit observed at least
  once before and once from its first treated period; an outcome that is not constant.
* ITS (:func:`check_its_series`): time and outcome numeric and complete, one row per time
  point; an outcome (rate, for counts with an offset or trials) that is not constant; counts
  and trials that fit the family; more points than the model has parameters; a design whose
  terms are not linear combinations of each other.

"Constant" means every value lies within ``CONSTANT_RTOL`` (1e-12) of the largest absolute
value (at least 1) of each other, so floating-point noise on a constant series counts as
constant (METHODOLOGY, "Bad input").

Numerical warnings that remain (e.g. an optimiser at a bound) are caught where the fit runs
(:func:`caught_warnings`) and reported in the result's diagnostics, never on the terminal.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

CONSTANT_RTOL = 1e-12
MAX_MAGNITUDE = 1e150  # beyond this, squares and cross-products overflow double precision
ROWS_NAMED = 5  # at most this many data rows (or units) named in a message


class DesignError(ValueError):
    """The data cannot support the design asked for (exit code 2 on the command line)."""


def rows_text(mask) -> str:
    """'data row(s) 1, 2, ... and N more' for the 1-based data rows where ``mask`` holds."""
    rows = (np.flatnonzero(np.asarray(mask, dtype=bool)) + 1).tolist()
    shown = ", ".join(map(str, rows[:ROWS_NAMED]))
    more = len(rows) - ROWS_NAMED
    return f"data row{'s' if len(rows) > 1 else ''} {shown}" + (
        f" and {more} more" if more > 0 else ""
    )


def listed(values) -> str:
    """The first ``ROWS_NAMED`` values, and how many more."""
    values = list(values)
    more = len(values) - ROWS_NAMED
    return ", ".join(map(str, values[:ROWS_NAMED])) + (f" and {more} more" if more > 0 else "")


def is_constant(values) -> bool:
    """Do the finite values all lie within ``CONSTANT_RTOL`` of each other (or are there
    none)?"""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return True
    return float(v.max() - v.min()) <= CONSTANT_RTOL * max(1.0, float(np.abs(v).max()))


def numeric(data: pd.DataFrame, col: str, option: str, *, allow_missing: bool = False):
    """``data[col]`` as floats; refuses missing (unless allowed), non-numeric and infinite
    values, naming the column, the option and the data rows."""
    raw = data[col]
    missing = raw.isna().to_numpy()
    if missing.any() and not allow_missing:
        raise DesignError(
            f"column {col!r} ({option}) has {int(missing.sum())} missing value(s), at "
            f"{rows_text(missing)}: fill them in or remove those rows"
        )
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy() & ~missing
    if bad.any():
        shown = listed(dict.fromkeys(repr(str(v)) for v in raw[bad]))
        raise DesignError(
            f"column {col!r} ({option}) must be numeric; it holds {shown} at {rows_text(bad)}"
        )
    out = values.to_numpy(dtype=float)
    infinite = np.isinf(out)
    if infinite.any():
        raise DesignError(
            f"column {col!r} ({option}) has infinite value(s) at {rows_text(infinite)}: use "
            "finite numbers"
        )
    huge = np.abs(out) > MAX_MAGNITUDE
    if huge.any():
        raise DesignError(
            f"column {col!r} ({option}) has values as large as {np.nanmax(np.abs(out)):.3g} at "
            f"{rows_text(huge)}: their squares overflow double precision; rescale the column "
            f"(every value within +-{MAX_MAGNITUDE:g})"
        )
    return out


def distinct_columns(roles: dict[str, str | None]) -> None:
    """Each option names a different column (options set to None are skipped)."""
    seen: dict[str, str] = {}
    for option, col in roles.items():
        if col is None:
            continue
        if col in seen:
            raise DesignError(
                f"{seen[col]} and {option} both name column {col!r}: each must be a different "
                f"column ({', '.join(o for o, c in roles.items() if c is not None)})"
            )
        seen[col] = option


def duplicated_cells(data: pd.DataFrame, keys: list[str], what: str) -> None:
    """One row per ``keys`` (e.g. unit and period)."""
    dup = data.duplicated(keys, keep=False).to_numpy()
    if dup.any():
        first = data.loc[dup, keys].iloc[0].tolist()
        raise DesignError(
            f"{int(dup.sum())} rows repeat a {what} ({', '.join(keys)} = "
            f"{', '.join(map(str, first))} and others, at {rows_text(dup)}): the data need one "
            f"row per {what}"
        )


# ---- difference in differences -----------------------------------------------------------------
def check_did_panel(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    weights: str | None = None,
    cluster: str | None = None,
    method: str = "twfe",
    control: str = "never",
) -> None:
    """Refuse a panel the DiD family cannot be estimated on (:class:`DesignError`)."""
    distinct_columns(
        {
            "--unit": unit,
            "--time": time,
            "--outcome": outcome,
            "--first-treated": first_treated,
            "--weights": weights,
        }
    )
    if cluster in {time, outcome, first_treated}:
        raise DesignError(f"--cluster names column {cluster!r}, which is not a grouping of units")
    if data.empty:
        raise DesignError("the file has no data rows")
    for col, option in [(unit, "--unit")] + ([(cluster, "--cluster")] if cluster else []):
        missing = data[col].isna().to_numpy()
        if missing.any():
            raise DesignError(
                f"column {col!r} ({option}) is empty at {rows_text(missing)}: every row needs it"
            )
    times = numeric(data, time, "--time")
    y = numeric(data, outcome, "--outcome")
    if weights:
        w = numeric(data, weights, "--weights")
        if (w < 0).any() or not w.sum() > 0:
            raise DesignError(
                f"column {weights!r} (--weights) must be non-negative and not all 0"
                + (f"; negative at {rows_text(w < 0)}" if (w < 0).any() else "")
            )
    ft = numeric(data, first_treated, "--first-treated", allow_missing=True)
    ft = np.where(np.isnan(ft), 0.0, ft)
    if (ft < 0).any():
        raise DesignError(
            f"column {first_treated!r} (--first-treated) is negative at {rows_text(ft < 0)}: use "
            "the first treated period, or 0 (or empty) for never treated"
        )
    frame = pd.DataFrame({"unit": data[unit].to_numpy(), "time": times, "ft": ft})
    duplicated_cells(
        frame.rename(columns={"unit": unit, "time": time}), [unit, time], "unit and period"
    )
    _check_treatment(frame, first_treated, method, control)
    if is_constant(y):
        raise DesignError(
            f"column {outcome!r} (--outcome) is constant ({y[0]:g} in every row, to within "
            f"{CONSTANT_RTOL:g} relative): there is no variation to estimate an effect from; "
            "check that --outcome names the outcome"
        )


def binomial_trials(
    data: pd.DataFrame, outcome: str, trials: str, option: str, whole: bool = False
) -> np.ndarray:
    """The ``trials`` column, checked: numeric, > 0, and 0 <= ``outcome`` <= trials in every
    row; with ``whole``, both whole numbers (counts, not rates) (:class:`DesignError` naming
    the rows otherwise)."""
    y = numeric(data, outcome, "--outcome")
    m = numeric(data, trials, "--trials")
    for col, v, opt in ((outcome, y, "--outcome"), (trials, m, "--trials")):
        fractional = np.abs(v - np.round(v)) > 1e-9
        if whole and fractional.any():
            raise DesignError(
                f"column {col!r} ({opt}) must hold counts (whole numbers) for {option}, not "
                f"rates; not so at {rows_text(fractional)}"
            )
    bad = (m <= 0) | (y < 0) | (y > m)
    if bad.any():
        raise DesignError(
            f"{option} needs 0 <= {outcome} <= {trials} and {trials} > 0; not so at "
            f"{rows_text(bad)}"
        )
    return m


def _check_treatment(frame: pd.DataFrame, first_treated: str, method: str, control: str) -> None:
    """Treatment timing: one start per unit; treated and comparison units; every treated
    unit observed before and from its start."""
    per_unit = frame.groupby("unit", sort=True)["ft"].agg(["min", "max"])
    varying = per_unit.index[per_unit["min"] != per_unit["max"]]
    if len(varying):
        raise DesignError(
            f"column {first_treated!r} (--first-treated) differs between rows of the same unit "
            f"(units {listed(varying)}): give each unit one first treated period in every row"
        )
    starts = per_unit["min"]
    treated = starts.index[starts > 0]
    if len(treated) == 0:
        raise DesignError(
            f"no treated unit: every {first_treated} is 0 or empty; give treated units their "
            "first treated period"
        )
    cohorts = starts[starts > 0].nunique()
    if (starts == 0).sum() == 0 and not (method == "cs" and control == "notyet" and cohorts > 1):
        raise DesignError(
            f"no comparison unit: all {len(starts)} units are treated ({first_treated} > 0); a "
            "DiD needs at least one never-treated unit (0 or empty)"
            + (" (or, with staggered starts, --method cs --control notyet)" if cohorts > 1 else "")
        )
    observed = frame[frame["ft"] > 0]
    first_seen = observed.groupby("unit")["time"].min()
    last_seen = observed.groupby("unit")["time"].max()
    no_pre = treated[(first_seen.reindex(treated) >= starts.reindex(treated)).to_numpy()]
    no_post = treated[(last_seen.reindex(treated) < starts.reindex(treated)).to_numpy()]
    if len(no_pre):
        raise DesignError(
            f"{len(no_pre)} treated unit(s) have no period before their first treated period "
            f"(units {listed(no_pre)}): a DiD compares each treated unit with its own past; "
            "remove those units or add their earlier periods"
        )
    if len(no_post):
        raise DesignError(
            f"{len(no_post)} treated unit(s) have no period from their first treated period on "
            f"(units {listed(no_post)}): set their {first_treated} to 0 if they are not treated "
            "within the data, or add their later periods"
        )


# ---- interrupted time series -------------------------------------------------------------------
AR1_METHODS = {"ar1-reml", "glsar"}


def check_its_series(
    data: pd.DataFrame,
    *,
    time: str,
    outcome: str,
    interruption: float,
    family: str = "gaussian",
    method: str = "ar1-reml",
    offset: str | None = None,
    trials: str | None = None,
    washout: int = 0,
    **design_kw,
) -> None:
    """Refuse a series the ITS model cannot be fitted to (:class:`DesignError`).
    ``design_kw``: the options of :func:`evaluation.models.its.design` (effects, ramp, extra
    interruptions, harmonics); washout points are absorbed by their own indicators and do not
    count as fitted points."""
    distinct_columns({"--time": time, "--outcome": outcome, "--offset": offset, "--trials": trials})
    if data.empty:
        raise DesignError("the file has no data rows")
    numeric(data, time, "--time")
    duplicated_cells(data, [time], "time point")
    y = numeric(data, outcome, "--outcome")
    level = y
    if family in {"poisson", "quasipoisson"}:
        if (y < 0).any():
            raise DesignError(
                f"column {outcome!r} (--outcome) must be a count (>= 0) for --family {family}; "
                f"negative at {rows_text(y < 0)}"
            )
        if offset:
            exposure = numeric(data, offset, "--offset")
            if (exposure <= 0).any():
                raise DesignError(
                    f"column {offset!r} (--offset) must be positive (its log enters the model); "
                    f"zero or negative at {rows_text(exposure <= 0)}"
                )
            level = y / exposure
    if family == "binomial" and trials:
        level = y / binomial_trials(data, outcome, trials, "--family binomial")
    if is_constant(level):
        what = "rate" if level is not y else "value"
        raise DesignError(
            f"column {outcome!r} (--outcome) has the same {what} ({level[0]:g}) at every time "
            f"point, to within {CONSTANT_RTOL:g} relative: there is no trend or change to "
            "estimate; check that --outcome names the outcome"
        )
    season_col = design_kw.get("season_col")
    if design_kw.get("harmonics") and season_col:
        numeric(data, season_col, "--season-col")
    from evaluation.models.its import design

    d = data.sort_values(time)
    X = design(d, time, interruption, **design_kw)
    tt = d[time].astype(float).to_numpy()
    post_times = np.unique(tt[tt >= interruption])
    washed = np.isin(tt, post_times[:washout]) if washout else np.zeros(len(tt), bool)
    n_pre, n_post = int((tt < interruption).sum()), int(((tt >= interruption) & ~washed).sum())
    need_post = 2 if design_kw.get("effects", "level+slope") == "level+slope" else 1
    if n_pre < 3 or n_post < need_post:
        raise DesignError(
            f"--interruption {interruption:g} leaves {n_pre} time point(s) before it and "
            f"{n_post} fitted from it (the series runs from {tt.min():g} to {tt.max():g}"
            + (f", {washout} washout point(s) left out" if washout else "")
            + f"); ITS needs at least 3 before and {need_post} from it: --interruption is the "
            "first time value after the interruption"
            + ("; with fewer post points use --effects level" if need_post == 2 else "")
        )
    _check_parameters(X, washed, family, method)


def _check_parameters(X: pd.DataFrame, washed: np.ndarray, family: str, method: str) -> None:
    """More points than parameters, and no term a linear combination of the others (on the
    points fitted: not the ``washed`` ones)."""
    terms = list(X.columns)
    Xk = X.to_numpy(dtype=float)[~washed]
    n, k = Xk.shape
    extra = 1 if family == "gaussian" and method in AR1_METHODS else 0
    if n < k + extra + 1:
        raise DesignError(
            f"the model has {k} coefficients ({', '.join(terms)})"
            + (" and the AR(1) autocorrelation" if extra else "")
            + f" but only {n} time points are fitted; it needs at least {k + extra + 1}: use a "
            "longer series, --effects level, fewer --harmonics or --extra-interruption values"
            + (", or --method ols" if extra else "")
        )
    aliased, basis = [], np.empty((n, 0))
    for j, name in enumerate(terms):
        trial = np.column_stack([basis, Xk[:, j]])
        if np.linalg.matrix_rank(trial) > basis.shape[1]:
            basis = trial
        else:
            aliased.append(name)
    if aliased:
        raise DesignError(
            f"the model is not identified: term(s) {', '.join(aliased)} are a linear "
            "combination of the others on these time points (e.g. a harmonic at the season's "
            "Nyquist frequency, or an interruption outside the series): use fewer --harmonics, "
            "or move or drop the --interruption/--extra-interruption"
        )


# ---- warnings ----------------------------------------------------------------------------------
@contextmanager
def caught_warnings():
    """Collect the warnings raised inside the block (whatever the warning filters say) into
    the list it yields, as ``"Category: message"`` once each, instead of printing them."""
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield seen
    seen.extend(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
