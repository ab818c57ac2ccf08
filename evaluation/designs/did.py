"""One entry point for the difference-in-differences family on a tidy panel you bring.

``estimate(data, method=..., inference=..., unit=, time=, outcome=, first_treated=)`` picks the
estimator and the inference and returns an :class:`EstimationResult`; ``payload(result)`` is
the JSON object printed by ``python -m evaluation did --json``.  ``first_treated`` holds the
first treated period of each unit; 0 or empty means never treated.

Methods: ``twfe`` (two-way fixed effects), ``event`` (event study), ``cs`` (Callaway-Sant'Anna),
``imputation`` (Gardner two-stage / Borusyak-Jaravel-Spiess), ``sc`` (synthetic control),
``sdid`` (synthetic DiD).  Inference: ``cluster`` (CR1), ``wild`` (wild cluster bootstrap, Webb
weights, restricted), ``placebo`` (placebo-in-space; the only valid choice with one treated
unit), ``ri`` (randomisation inference permuting ``first_treated`` across units, or across
``--cluster`` groups when treatment was assigned by group).  ``covariates`` (``cs`` only):
conditional parallel trends, estimated by ``est_method`` (``dr``, ``ipw``, ``reg``,
``dr_improved``; see :mod:`evaluation.models.drdid`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.designs.checks import DesignError, binomial_trials, check_did_panel
from evaluation.designs.registry import COMMANDS, by_command
from evaluation.models.results import EstimationResult, json_safe

METHODS = COMMANDS
INFERENCE = ("cluster", "wild", "placebo", "ri", "score")


class DidUsageError(ValueError):
    """A combination of options that cannot give valid inference (exit code 2)."""


@dataclass(frozen=True)
class DidSpec:
    """The checked options of one `did` fit, as every runner receives them."""

    unit: str
    time: str
    outcome: str
    first_treated: str
    method: str
    inference: str
    weights: str | None
    cluster: str | None
    cluster_col: str  # --cluster, or the unit
    control: str
    seed: int
    alpha: float
    n_boot: int
    n_perm: int
    n_treated: int
    covariates: tuple[str, ...] = ()  # --method cs only
    est_method: str = "dr"  # 2x2 estimator of --method cs with covariates
    trials: str | None = None  # --method binomial: the trials; the outcome is the successes


def _first_treated(data: pd.DataFrame, col: str) -> pd.Series:
    ft = pd.to_numeric(data[col], errors="coerce").fillna(0)
    if (ft < 0).any():
        raise DidUsageError(f"{col}: negative first-treated periods")
    return ft


def _single_cohort(data, spec: DidSpec):
    """Treated units, pre and post periods when every treated unit starts together."""
    ft = data[spec.first_treated]
    starts = sorted(ft[ft > 0].unique())
    if len(starts) != 1:
        raise DidUsageError(
            f"this method needs one common start; the data have {len(starts)} start periods "
            "(use --method cs or imputation for staggered adoption)"
        )
    g = starts[0]
    times = sorted(pd.to_numeric(data[spec.time]).unique())
    treated = sorted(data.loc[ft > 0, spec.unit].unique().tolist())
    return treated, [t for t in times if t < g], [t for t in times if t >= g], g


def estimate(data: pd.DataFrame, **kwargs) -> EstimationResult:
    """Fit ``method`` with ``inference`` on a tidy panel (see :func:`_checked` for the
    arguments).  Defaults: placebo inference for one treated unit or for sc/sdid, clustered
    otherwise.  Raises :class:`DidUsageError` for invalid combinations, e.g. a clustered
    standard error with a single treated unit."""
    data, spec = _checked(data, **kwargs)
    res = by_command(spec.method).runner("did")(data, spec)
    res.diagnostics.setdefault("n_obs", int(len(data)))
    return res


def _checked(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    method: str = "twfe",
    inference: str | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    control: str = "never",
    seed: int = 0,
    alpha: float = 0.05,
    n_boot: int = 9999,
    n_perm: int = 9999,
    covariates: list[str] | tuple[str, ...] | None = None,
    est_method: str = "dr",
    trials: str | None = None,
) -> tuple[pd.DataFrame, DidSpec]:
    """The data (time numeric, ``first_treated`` 0 for never treated) and the checked options."""
    if method not in METHODS:
        raise DidUsageError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    _check_trials_option(method, trials, weights)
    columns = [unit, time, outcome, first_treated, weights, cluster, trials]
    missing = [c for c in columns if c is not None]
    missing = [c for c in missing if c not in data.columns]
    if missing:
        raise DidUsageError(
            f"column(s) {missing} not in the data (columns: {', '.join(data.columns)})"
        )
    covariates = tuple(covariates or ())
    _check_covariate_options(data, method, covariates, est_method)
    try:  # distinct columns, numeric and complete values, treated and comparison units, ...
        check_did_panel(
            data,
            unit=unit,
            time=time,
            outcome=outcome,
            first_treated=first_treated,
            weights=weights,
            cluster=cluster,
            method=method,
            control=control,
        )
        if trials:
            binomial_trials(data, outcome, trials, "--method binomial", whole=True)
    except DesignError as exc:
        raise DidUsageError(str(exc)) from None
    data = data.copy()
    data[time] = pd.to_numeric(data[time])
    ft = _first_treated(data, first_treated)
    data[first_treated] = ft
    n_treated = data.loc[ft > 0, unit].nunique()
    if n_treated == 0:
        raise DidUsageError(f"no treated unit: every {first_treated} is 0 or empty")
    if inference is None:
        inference = _default_inference(data, method, n_treated, cluster or unit, ft)
    if inference not in INFERENCE:
        raise DidUsageError(f"unknown inference {inference!r}; choose from {', '.join(INFERENCE)}")
    if n_treated == 1 and inference in {"cluster", "wild", "score"}:
        raise DidUsageError(
            "one treated unit: a clustered standard error (or a cluster bootstrap) is not "
            "valid; use --inference placebo (or ri)"
        )
    if inference not in by_command(method).inference:
        raise DidUsageError(by_command(method).inference_error)
    spec = DidSpec(
        unit, time, outcome, first_treated, method, inference, weights, cluster,
        cluster or unit, control, seed, alpha, n_boot, n_perm, int(n_treated), covariates,
        est_method, trials,
    )  # fmt: skip
    return data, spec


def _check_trials_option(method: str, trials: str | None, weights: str | None) -> None:
    """``--trials`` goes with ``--method binomial`` (which needs it), and the binomial
    likelihood weights each cell by its trials, so ``--weights`` does not apply."""
    if method == "binomial" and not trials:
        raise DidUsageError(
            "--method binomial needs --trials COL (the denominator); --outcome is then the "
            "count of successes"
        )
    if trials and method != "binomial":
        raise DidUsageError(f"--trials is for --method binomial only (got --method {method})")
    if method == "binomial" and weights:
        raise DidUsageError("--method binomial weights each cell by its --trials; drop --weights")


def _default_inference(data, method: str, n_treated: int, cluster_col: str, ft) -> str:
    """Placebo for one treated unit or sc/sdid; for binomial the few-cluster rule (score
    bootstrap with fewer than 42 treated or untreated clusters); cluster-robust otherwise."""
    if n_treated == 1 or method in {"sc", "sdid"}:
        return "placebo"
    if method == "binomial":
        from evaluation.models.glm import FEW_CLUSTERS

        g1 = data.loc[ft > 0, cluster_col].nunique()
        g0 = data[cluster_col].nunique() - g1
        return "score" if min(g1, g0) < FEW_CLUSTERS else "cluster"
    return "cluster"


def _check_covariate_options(data, method: str, covariates: tuple, est_method: str) -> None:
    """Covariates only with ``cs``; each a numeric column of the data (DidUsageError)."""
    from evaluation.models.drdid import EST_METHODS, CovariateError, check_covariate_columns

    if est_method not in EST_METHODS:
        raise DidUsageError(
            f"unknown est_method {est_method!r}; choose from {', '.join(EST_METHODS)}"
        )
    if covariates and method != "cs":
        raise DidUsageError(
            f"--covariates is only available with --method cs (got --method {method})"
        )
    if est_method != "dr" and method != "cs":
        raise DidUsageError(f"--est-method applies to --method cs only (got --method {method})")
    try:
        check_covariate_columns(data, list(covariates))
    except CovariateError as exc:
        raise DidUsageError(str(exc)) from None


def _synthetic_kw(data, spec: DidSpec) -> dict:
    treated, pre, post, _ = _single_cohort(data, spec)
    tr = treated[0] if len(treated) == 1 else treated
    return dict(
        unit=spec.unit,
        time=spec.time,
        outcome=spec.outcome,
        treated=tr,
        pre=pre,
        post=post,
        alpha=spec.alpha,
        seed=spec.seed,
    )


def fit_synthetic_control(data, spec: DidSpec) -> EstimationResult:
    from evaluation.models.synthetic_control import synthetic_control

    return synthetic_control(data, **_synthetic_kw(data, spec))


def fit_synthetic_did(data, spec: DidSpec) -> EstimationResult:
    from evaluation.models.synthetic_did import synthetic_did

    return synthetic_did(data, **_synthetic_kw(data, spec))


def _columns(spec: DidSpec, *options: str) -> dict:
    """The panel's column names and the named options of ``spec``, as keyword arguments."""
    names = ("unit", "time", "outcome", "first_treated", *options)
    return {name: getattr(spec, name) for name in names}


def fit_callaway_santanna(data, spec: DidSpec) -> EstimationResult:
    from evaluation.models.callaway_santanna import callaway_santanna
    from evaluation.models.drdid import CovariateError

    kw = _columns(spec, "control", "alpha", "seed", "cluster", "weights", "est_method")
    try:
        return callaway_santanna(data, **kw, covariates=list(spec.covariates))
    except CovariateError as exc:  # missing in a base period, constant, collinear
        raise DidUsageError(str(exc)) from None


def fit_binomial_fe(data, spec: DidSpec) -> EstimationResult:
    """Grouped-binomial logit with unit and period effects: CR1, or the restricted score
    cluster bootstrap (``--inference score``, the default with few clusters)."""
    from evaluation.inference.score_bootstrap import binomial_fe_inference
    from evaluation.models.glm import binomial_fe

    res = binomial_fe(
        data,
        unit=spec.unit,
        time=spec.time,
        successes=spec.outcome,
        trials=spec.trials,
        first_treated=spec.first_treated,
        cluster=spec.cluster_col,
        alpha=spec.alpha,
    )
    how = "score_bootstrap" if spec.inference == "score" else "cluster"
    binomial_fe_inference(res, inference=how, n_boot=spec.n_boot, seed=spec.seed)
    res.extra.pop("cells", None)
    return res


def fit_imputation(data, spec: DidSpec) -> EstimationResult:
    from evaluation.models.imputation_did import imputation_did

    return imputation_did(data, **_columns(spec, "weights", "alpha"), cluster=spec.cluster_col)


def fit_twfe(data, spec: DidSpec) -> EstimationResult:
    """Two-way fixed effects: placebo (one treated unit), clustered, wild bootstrap or RI."""
    if spec.inference == "placebo":
        return _one_treated(data, spec, event=False)
    from evaluation.models.twfe import twfe

    res = twfe(data, **_fe_kw(spec))
    if spec.inference == "cluster":
        return res
    if spec.inference == "wild":
        from evaluation.inference.wild import with_wild_bootstrap

        return with_wild_bootstrap(
            res,
            spec.cluster_col,
            n_boot=spec.n_boot,
            seed=spec.seed,
            weighted=spec.weights is not None,
        )
    return _with_randomisation_inference(res, spec)


def fit_event_study(data, spec: DidSpec) -> EstimationResult:
    """Event study: placebo (one treated unit) or clustered, with HonestDiD sensitivity."""
    if spec.inference == "placebo":
        return _one_treated(data, spec, event=True)
    from evaluation.models.event_study import event_study

    res = event_study(data, **_fe_kw(spec))
    add_honest_did(res, seed=spec.seed)
    return res


def _fe_kw(spec: DidSpec) -> dict:
    return {**_columns(spec, "weights", "alpha"), "cluster": spec.cluster_col}


def _one_treated(data, spec: DidSpec, event: bool) -> EstimationResult:
    """One treated unit: the estimator with placebo-in-space inference."""
    if spec.n_treated != 1:
        raise DidUsageError(
            "--inference placebo is for one treated unit; use ri or wild for several"
        )
    treated, pre, post, g = _single_cohort(data, spec)
    kw = dict(unit=spec.unit, time=spec.time, outcome=spec.outcome, treated=treated[0])
    if event:
        from evaluation.models.event_study import event_study_one_treated

        return event_study_one_treated(
            data, **kw, start=g, weighting="unweighted", alpha=spec.alpha
        )
    from evaluation.models.did_one_treated import did_one_treated

    return did_one_treated(data, **kw, pre=pre, post=post, weighting="unweighted", alpha=spec.alpha)


def _with_randomisation_inference(res: EstimationResult, spec: DidSpec) -> EstimationResult:
    """Randomisation inference: permute first_treated across assignment units."""
    from evaluation.inference.randomisation import randomisation_inference
    from evaluation.models.fe import demean

    fit = res.extra["fit"]
    d = res.extra["data"]
    assign_unit = spec.cluster_col
    units_ft = d.groupby(assign_unit)[spec.first_treated].agg(["min", "max"])
    if (units_ft["min"] != units_ft["max"]).any():
        raise DidUsageError(
            f"--inference ri: units in the same {assign_unit} start at different times"
        )
    starts = units_ft["min"]
    if starts[starts > 0].nunique() != 1:
        raise DidUsageError("--inference ri needs one common start date")
    g = float(starts[starts > 0].iloc[0])
    assignment = (starts > 0).astype(int)
    codes = pd.Categorical(d[assign_unit], categories=assignment.index).codes
    post = (d[spec.time].to_numpy(float) >= g).astype(float)
    y_fit, w = fit.y, fit.weights
    fe = [pd.factorize(d[spec.unit])[0], pd.factorize(d[spec.time])[0]]
    exposure = assignment.to_numpy()[codes] * post  # observed treated cells

    def _coef(D: np.ndarray, target: np.ndarray) -> np.ndarray:
        # TWFE coefficient for every assignment at once (treatment columns demeaned together;
        # linear in the outcome, so the sharp-null interval follows by test inversion)
        Tm = D[:, codes].T.astype(float) * post[:, None]
        Td = demean(Tm, fe, w)
        return (Td * (w * target)[:, None]).sum(axis=0) / (Td * Td * w[:, None]).sum(axis=0)

    ri = randomisation_inference(
        None,
        assignment,
        n_perm=spec.n_perm,
        seed=spec.seed,
        stat_fn_many=lambda D: _coef(D, y_fit),
        effect_fn_many=lambda D: _coef(D, exposure),
        alpha=spec.alpha,
    )
    _apply_randomisation(res, ri, assign_unit, spec.seed)
    return res


def _apply_randomisation(res: EstimationResult, ri, assign_unit: str, seed: int) -> None:
    res.p_value = ri.p_value
    res.ci_low, res.ci_high = ri.ci_low, ri.ci_high
    res.se = None
    how = "all" if ri.exact else "random"
    res.inference = (
        f"randomisation inference over {assign_unit} ({ri.n_assignments} {how} assignments)"
    )
    res.conventions["inference"] = (
        f"Fisher randomisation test: the treated {assign_unit}s are re-drawn ({how}, "
        f"{ri.n_assignments} assignments, seed {seed}); two-sided p = share of |estimate| at "
        "least as large; interval = constant additive effects not rejected (test inversion)"
    )
    res.conventions["standard_error"] = "not reported (randomisation inference)"
    res.conventions["critical_value"] = "permutation distribution (no t or normal approximation)"
    res.distribution = ri.distribution


def add_honest_did(res: EstimationResult, seed: int = 0) -> None:
    """HonestDiD sensitivity of the event study's average post-period effect (Rambachan-Roth):
    relative magnitudes (``res.extra["honest_did"]``, table over Mbar, hybrid ARP test) and
    smoothness (``res.extra["honest_did_sd"]``, the FLCI over HonestDiD's default grid of M),
    with their breakdown values."""
    from evaluation.models.honest import breakdown_value, flci_table, honest_did
    from evaluation.models.honest_flci import default_m_grid

    fit = res.extra["fit"]
    terms = res.terms
    n_pre = int((terms["event_time"] < 0).sum())
    n_post = int((terms["event_time"] >= 0).sum())
    if n_pre < 1 or n_post < 1:
        return
    k = n_pre + n_post
    betas, sigma = terms["estimate"].to_numpy()[:k], fit.vcov[:k, :k]
    kw = dict(n_pre=n_pre, n_post=n_post, alpha=res.alpha)
    sensitivity = honest_did(betas, sigma, **kw, seed=seed)
    res.extra["honest_did"] = sensitivity.table
    res.diagnostics["honest_did_breakdown_mbar"] = sensitivity.breakdown
    m_grid = default_m_grid(betas, sigma, n_pre=n_pre)
    res.extra["honest_did_sd"] = flci_table(betas, sigma, **kw, m_grid=m_grid, target="average")
    upper = 10 * max(float(m_grid[-1]), float(np.sqrt(sigma[0, 0])))  # in outcome units
    res.diagnostics["honest_did_sd_breakdown_m"] = breakdown_value(
        betas, sigma, **kw, upper=upper, tol=upper * 1e-4, target="average",
        restriction="SD", method="FLCI",
    )  # fmt: skip
    res.conventions["sensitivity"] = (
        "HonestDiD relative magnitudes: robust intervals for the average post-period effect "
        "when post-period departures from parallel trends are at most Mbar times the largest "
        "pre-period one (hybrid ARP test; METHODOLOGY 6.7); breakdown = smallest Mbar whose "
        "interval contains 0"
    )
    res.conventions["sensitivity_smoothness"] = (
        "HonestDiD smoothness: fixed-length intervals (FLCI, Armstrong-Kolesar) for the average "
        "post-period effect when the slope of the departure from parallel trends changes by at "
        "most M per period; M from 0 to the 95% upper bound of the pre-period second "
        "differences, 10 points (HonestDiD's default grid); breakdown = smallest M whose "
        "interval contains 0 (bisection to 1e-4 of ten times the grid's top)"
    )


def payload(res: EstimationResult) -> dict:
    """JSON object for ``python -m evaluation did --json``."""
    details: dict = {"diagnostics": res.diagnostics}
    if res.terms is not None:
        details["terms"] = res.terms.reset_index().to_dict(orient="records")
    for key in ("att_gt", "weights", "paths", "honest_did", "honest_did_sd"):
        val = res.extra.get(key)
        if isinstance(val, pd.DataFrame):
            details[key] = val.reset_index(drop=True).to_dict(orient="records")
    aggs = res.extra.get("aggregations")
    if isinstance(aggs, dict):
        details["aggregations"] = {
            k: (v.to_dict(orient="records") if isinstance(v, pd.DataFrame) else v)
            for k, v in aggs.items()
        }
    return json_safe(
        {
            "method": res.method,
            "outcome": res.outcome,
            "estimate": res.estimate,
            "se": res.se,
            "ci_low": res.ci_low,
            "ci_high": res.ci_high,
            "confidence_level": 1 - res.alpha,
            "p_value": res.p_value,
            "inference": res.inference,
            "n_obs": res.diagnostics.get("n_obs"),
            "n_treated": res.n_treated,
            "n_comparison_units": res.n_comparison_units,
            "conventions": res.conventions,
            "details": details,
        }
    )
