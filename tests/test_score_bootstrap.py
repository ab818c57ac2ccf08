"""Restricted score cluster bootstrap for the grouped-binomial logit (issue #18, part 1).

Independent checks: the two-way fixed-effects Newton fit against statsmodels' GLM with an
offset; the efficient scores against statsmodels' heteroskedasticity-robust (HC0) score test
(clusters of one cell; statsmodels centres the scores' covariance, we do not, as Kline and
Santos); exact properties (the statistic is zero at the MLE, the p-value is a
proportion of the draws, the interval holds the estimate and its p-value is above alpha
inside, at most alpha just outside).  The Monte Carlo rejection rate is in
``tests/test_monte_carlo.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM

from evaluation.inference.score_bootstrap import ScoreBootstrap, binomial_fe_inference, fe_logit
from evaluation.models.glm import binomial_fe


def _panel(seed=0, n_units=40, n_years=6, n_treated=8, tau=0.15):
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(n_units), n_years)
    t = np.tile(np.arange(n_years), n_units)
    trials = rng.integers(50, 400, size=n_units)[u].astype(float)
    alpha = rng.normal(0.3, 0.6, n_units)
    gamma = rng.normal(0, 0.2, n_years)
    D = ((u < n_treated) & (t >= n_years - 2)).astype(float)
    eta = alpha[u] + gamma[t] + tau * D + rng.normal(0, 0.1, len(u))
    s = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-eta))).astype(float)
    return pd.DataFrame({"u": u, "t": t, "s": s, "n": trials, "D": D, "g": u // 2})


def _dummies(d):
    dm = pd.get_dummies(d[["u", "t"]].astype(str), drop_first=True, dtype=float)
    return np.column_stack([np.ones(len(d)), dm.to_numpy()])


def test_fixed_effects_newton_fit_equals_statsmodels_glm_with_offset():
    d = _panel()
    endog = np.column_stack([d["s"], d["n"] - d["s"]])
    for tau0 in (0.0, 0.3, -0.5):
        ref = GLM(endog, _dummies(d), family=families.Binomial(), offset=tau0 * d["D"]).fit()
        fit = fe_logit(d["s"].to_numpy(), d["n"].to_numpy(), d["u"].to_numpy(),
                       d["t"].to_numpy(), tau0 * d["D"].to_numpy())  # fmt: skip
        assert fit.converged
        eta_ref = _dummies(d) @ ref.params + tau0 * d["D"].to_numpy()
        np.testing.assert_allclose(fit.eta, eta_ref, atol=1e-8)


def test_score_statistic_equals_statsmodels_robust_score_test_with_one_cell_clusters():
    d = _panel(seed=3)
    endog = np.column_stack([d["s"], d["n"] - d["s"]])
    restricted = GLM(endog, _dummies(d), family=families.Binomial()).fit(cov_type="HC0")
    ref = restricted.score_test(exog_extra=d[["D"]].to_numpy(), cov_type="HC0")
    sb = ScoreBootstrap(d["s"], d["n"], d["D"], d["u"].to_numpy(), d["t"].to_numpy(),
                        np.arange(len(d)), n_boot=99, seed=0, dist="webb")  # fmt: skip
    c = sb.cluster_scores(0.0)  # one cell per cluster: the efficient score of each cell
    assert sb.statistic(0.0) == pytest.approx(c.sum() / np.sqrt(np.sum(c**2)), rel=1e-12)
    # statsmodels studentises with the centred covariance n var(c) (ddof 1)
    n = len(c)
    lm = c.sum() ** 2 / (n * np.var(c, ddof=1))
    assert lm == pytest.approx(float(ref[0]), rel=1e-7)


def test_statistic_is_zero_at_the_maximum_likelihood_estimate():
    d = _panel(seed=4)
    r = binomial_fe(d, unit="u", time="t", successes="s", trials="n", treatment="D",
                    cluster="g")  # fmt: skip
    tau = float(r.terms.loc["log_odds_ratio", "estimate"])
    sb = ScoreBootstrap(d["s"], d["n"], d["D"], d["u"].to_numpy(), d["t"].to_numpy(),
                        pd.factorize(d["g"])[0], n_boot=99, seed=0, dist="webb")  # fmt: skip
    assert abs(sb.statistic(tau)) < 1e-6
    assert abs(sb.statistic(0.0)) > 1.0  # the simulated effect of 0.15 is far from zero


def _fit(d, **kw):
    r = binomial_fe(d, unit="u", time="t", successes="s", trials="n", treatment="D",
                    cluster="g")  # fmt: skip
    return binomial_fe_inference(r, **kw)


def test_the_rule_gives_the_score_bootstrap_with_few_clusters():
    d = _panel(seed=5)
    cr1 = binomial_fe(d, unit="u", time="t", successes="s", trials="n", treatment="D",
                      cluster="g")  # fmt: skip
    assert cr1.inference == "cluster-robust (CR1)" and not cr1.diagnostics["few_cluster_valid"]
    assert "too small" in cr1.conventions["few_clusters"]
    r = _fit(d, n_boot=999, seed=2)
    assert r.inference == "restricted score cluster bootstrap"
    assert r.se is None and r.diagnostics["few_cluster_valid"]
    assert r.diagnostics["n_treated_clusters"] == 4 and r.diagnostics["n_boot"] == 999
    assert "fewer than 42" in r.conventions["rule"]
    lo, hi = r.ci_low, r.ci_high
    assert lo < r.estimate < hi
    # p is a proportion of the 999 draws; the interval's ends are where p crosses alpha
    assert r.p_value * 999 == pytest.approx(round(r.p_value * 999))
    tau_lo, tau_hi = r.terms.loc["log_odds_ratio", ["ci_low", "ci_high"]]
    sb = ScoreBootstrap(d["s"], d["n"], d["D"], d["u"].to_numpy(), d["t"].to_numpy(),
                        pd.factorize(d["g"])[0], n_boot=999, seed=2, dist="webb")  # fmt: skip
    width = tau_hi - tau_lo
    assert sb.p_value(tau_lo + 1e-3 * width) > 0.05 and sb.p_value(tau_hi - 1e-3 * width) > 0.05
    assert sb.p_value(tau_lo - 1e-3 * width) <= 0.05 and sb.p_value(tau_hi + 1e-3 * width) <= 0.05
    # the odds-ratio interval is the exponent of the log-odds one; the same seed gives the same
    assert _fit(d, n_boot=999, seed=2).to_dict() == r.to_dict()
    assert r.diagnostics["se_cr1"] == cr1.se and r.estimate == cr1.estimate
    assert r.terms.loc["odds_ratio", "ci_low"] == pytest.approx(np.exp(tau_lo))


def test_many_clusters_keep_the_cluster_robust_wald_test():
    d = _panel(seed=6, n_units=200, n_treated=90)
    d["g"] = d["u"]
    r = _fit(d)
    assert r.inference == "cluster-robust (CR1)" and r.se is not None
    assert r.diagnostics["few_cluster_valid"] and "few_clusters" not in r.conventions
    assert _fit(d, inference="score_bootstrap", n_boot=99).se is None
    with pytest.raises(ValueError, match="inference must be"):
        _fit(d, inference="wild")


def test_one_treated_cluster_keeps_its_warning():
    d = _panel(seed=7)
    d["g"] = np.where(d["u"] < 8, 0, d["u"])  # all treated units in one cluster
    r = _fit(d, n_boot=99)
    assert r.inference == "cluster-robust (CR1)"
    assert r.conventions["warning"].startswith("one treated cluster")
    assert not r.diagnostics["few_cluster_valid"]


# ---- the `did` command: --method binomial --------------------------------------------------


@pytest.fixture(scope="module")
def binomial_csv(tmp_path_factory):
    d = _panel(seed=8, n_units=40, n_treated=8)
    d["ft"] = np.where(d["u"] < 8, 4, 0)
    path = tmp_path_factory.mktemp("binomial") / "panel.csv"
    d.to_csv(path, index=False)
    return path, d


def _did(capsys, path, *extra):
    """``python -m evaluation did`` in process: (exit code, stdout, stderr)."""
    from evaluation.cli import main

    code = main(["did", "--data", str(path), "--unit", "u", "--time", "t",
                 "--first-treated", "ft", *extra])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def test_did_command_binomial_defaults_to_the_score_bootstrap(binomial_csv, capsys):
    import json

    path, d = binomial_csv
    code, out, err = _did(capsys, path, "--outcome", "s", "--trials", "n", "--method",
                          "binomial", "--cluster", "g", "--n-boot", "999", "--seed", "3",
                          "--json")  # fmt: skip
    assert code == 0 and err == "", err
    got = json.loads(out)
    ref = _fit(d, n_boot=999, seed=3)  # treatment D is ft's indicator
    assert got["inference"] == "restricted score cluster bootstrap" and got["se"] is None
    assert got["p_value"] == pytest.approx(ref.p_value, abs=1e-12)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ref.ci_low, ref.ci_high), abs=1e-9)
    assert "fewer than 42" in got["conventions"]["rule"]
    cr1 = json.loads(_did(capsys, path, "--outcome", "s", "--trials", "n", "--method",
                          "binomial", "--cluster", "g", "--inference", "cluster",
                          "--json")[1])  # fmt: skip
    assert cr1["inference"] == "cluster-robust (CR1)" and cr1["estimate"] == got["estimate"]


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--outcome", "s", "--method", "binomial"], "needs --trials"),
        (["--outcome", "s", "--trials", "n", "--method", "twfe"], "--trials is for --method"),
        (["--outcome", "s", "--trials", "n", "--method", "binomial", "--weights", "n"], "drop"),
        (["--outcome", "rate", "--trials", "n", "--method", "binomial"], "counts (whole"),
        (["--outcome", "n", "--trials", "s", "--method", "binomial"], "0 <= n <= s"),
        (["--outcome", "s", "--trials", "n", "--method", "binomial", "--inference", "wild"],
         "supports --inference score"),
    ],
)  # fmt: skip
def test_did_command_binomial_refuses_bad_arguments(
    binomial_csv, tmp_path, capsys, extra, fragment
):
    path, d = binomial_csv
    d.assign(rate=d["s"] / d["n"] * 100).to_csv(tmp_path / "p.csv", index=False)
    code, out, err = _did(capsys, tmp_path / "p.csv", *extra)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in err, err
