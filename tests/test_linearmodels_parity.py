"""Two-way fixed effects with cluster-robust standard errors against an independent
implementation, ``linearmodels.PanelOLS`` (METHODOLOGY.md section 6.1, "linearmodels").

PanelOLS with entity and time effects, clustered by entity, ``debiased=True`` and
``group_debias=True`` (its documented small-sample corrections) gives the same coefficient, and a
covariance that differs from ours (R fixest's CR1) only in the degrees of freedom: PanelOLS
counts every one of the N + T - 1 effects whenever the model has two effects, while fixest counts
a fixed effect nested in the clusters as one parameter.  So

    se_ours = se_linearmodels * sqrt((n - (N + T - 1) - k) / (n - K_fixest))

exactly, and with the time effects as dummy regressors (one effect left, nested in the clusters,
so PanelOLS does not count it) the two standard errors are equal with no rescaling.

Data: mpdta (tests/data/mpdta.csv, the R ``did`` package's data, as published) and the shipped
area x year panel (pilots against the comparison pool, every outcome, weighted and not,
clustered by LA and by partnership).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from linearmodels import PanelOLS

from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.programme import programme_panel
from evaluation.models.twfe import twfe
from evaluation.panel.outcomes import CATALOGUE

DATA = Path(__file__).parent / "data"
LM_OPTIONS = dict(cov_type="clustered", debiased=True, group_debias=True)


def _df_rescale(n: int, n_units: int, n_times: int, k_x: int, k_ours: int) -> float:
    """se_ours / se_linearmodels: (n - (N + T - 1) - k) / (n - K) under the square root."""
    return float(np.sqrt((n - (n_units + n_times - 1) - k_x) / (n - k_ours)))


def _panel_ols(d: pd.DataFrame, unit, time, outcome, *, weights=None, cluster=None):
    """PanelOLS of ``outcome`` on ``D`` with entity and time effects, clustered by ``cluster``
    (None: by entity)."""
    p = d.set_index([unit, time])
    model = PanelOLS(
        p[outcome],
        p[["D"]],
        entity_effects=True,
        time_effects=True,
        weights=None if weights is None else p[weights],
    )
    if cluster is None:
        return model.fit(cluster_entity=True, **LM_OPTIONS)
    codes = pd.Series(pd.factorize(p[cluster])[0], index=p.index, name=cluster)
    return model.fit(clusters=codes, **LM_OPTIONS)


@pytest.fixture(scope="module")
def mpdta():
    d = pd.read_csv(DATA / "mpdta.csv")
    d["D"] = ((d["first.treat"] > 0) & (d["year"] >= d["first.treat"])).astype(float)
    return d


@pytest.fixture(scope="module")
def mpdta_ours(mpdta):
    return twfe(mpdta, unit="countyreal", time="year", outcome="lemp", first_treated="first.treat")


def test_mpdta_coefficient_and_se_equal_panelols(mpdta, mpdta_ours):
    r = mpdta_ours
    lm = _panel_ols(mpdta, "countyreal", "year", "lemp")
    n, n_units, n_times = len(mpdta), mpdta["countyreal"].nunique(), mpdta["year"].nunique()
    assert r.estimate == pytest.approx(lm.params["D"], abs=1e-12)
    scale = _df_rescale(n, n_units, n_times, 1, r.diagnostics["k"])
    assert r.se == pytest.approx(lm.std_errors["D"] * scale, rel=1e-10)
    # the convention difference is material here (500 county effects): PanelOLS's SE is
    # sqrt(2494 / 1995) = 1.118 times fixest's
    assert (n - r.diagnostics["k"], n - (n_units + n_times - 1) - 1) == (2494, 1995)
    assert lm.std_errors["D"] / r.se == pytest.approx(np.sqrt(2494 / 1995), rel=1e-10)
    # and fixest's published numbers still hold
    assert r.estimate == pytest.approx(-0.0365, abs=5e-5)
    assert r.se == pytest.approx(0.0133, abs=5e-5)


def test_mpdta_time_dummies_give_fixest_se_without_rescaling(mpdta, mpdta_ours):
    """With the year effects as regressors PanelOLS has one effect, nested in the clusters, and
    does not count it: its covariance is then fixest's CR1 exactly."""
    p = mpdta.set_index(["countyreal", "year"])
    years = pd.get_dummies(mpdta["year"], prefix="y", drop_first=True, dtype=float)
    X = pd.concat([pd.Series(1.0, index=mpdta.index, name="const"), mpdta[["D"]], years], axis=1)
    X.index = p.index
    lm = PanelOLS(p["lemp"], X, entity_effects=True).fit(cluster_entity=True, **LM_OPTIONS)
    assert mpdta_ours.estimate == pytest.approx(lm.params["D"], abs=1e-12)
    assert mpdta_ours.se == pytest.approx(lm.std_errors["D"], rel=1e-10)
    assert X.shape[1] == mpdta_ours.diagnostics["k"]  # K = const + D + 4 years = fixest's 6


@pytest.fixture(scope="module")
def pilots_and_pool(panel, plan):
    treated: dict[str, list[str]] = {}
    for p in plan.pilots:
        treated.setdefault(p.partnership, []).append(p.la_code)
    return treated, comparison_pool(panel, plan)


@pytest.mark.parametrize("outcome", list(CATALOGUE))
def test_shipped_panel_equals_panelols(panel, plan, pilots_and_pool, outcome):
    """The pilots against the comparison pool, pre and post years of the plan (an unbalanced
    panel: LA-years without the outcome are dropped), unweighted and weighted by the rate's
    denominator, clustered by LA and by partnership."""
    treated, pool = pilots_and_pool
    o = CATALOGUE[outcome]
    d = programme_panel(
        panel.units,
        treated,
        pool,
        outcome=o.name,
        numerator=o.numerator,
        denominator=o.denominator,
        years=plan.pre_years + plan.post_years,
    )
    start = min(plan.post_years)
    d["first_treated"] = np.where(d["pilot"] == 1, start, 0)
    d["D"] = ((d["pilot"] == 1) & (d["year"] >= start)).astype(float)
    n, n_units, n_times = len(d), d["unit_id"].nunique(), d["year"].nunique()
    assert d["D"].sum() > 0 and n_units > 100
    for weights in (None, o.denominator):
        for cluster in (None, "cluster"):
            ours = twfe(
                d,
                unit="unit_id",
                time="year",
                outcome=o.name,
                first_treated="first_treated",
                weights=weights,
                cluster=cluster,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no absorbed-variable or other warning
                lm = _panel_ols(d, "unit_id", "year", o.name, weights=weights, cluster=cluster)
            case = f"{outcome}, weights={weights}, cluster={cluster or 'LA'}"
            assert ours.estimate == pytest.approx(lm.params["D"], abs=1e-9), case
            scale = _df_rescale(n, n_units, n_times, 1, ours.diagnostics["k"])
            assert ours.se == pytest.approx(lm.std_errors["D"] * scale, rel=1e-9), case
            assert ours.diagnostics["n_obs"] == lm.nobs == n
