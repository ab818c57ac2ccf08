"""Monte Carlo checks of the headline inference on panels shaped like ours.

Data-generating process (one draw): 150 LAs in 9 regions, 11 years (2014-2024), start 2023;
9 partnerships of 4,4,4,4,4,3,3,3,3 LAs (32 pilots), one per region, drawn at random within
their region (the design being mimicked).  Rate = LA level + year effect + LA-year noise
(sd 2 points) + binomial sampling noise from denominators between 150 and 3,000 + the effect
for pilots from 2023.  The one-treated case uses the same panel with one pilot.

Targets (issue #4): 95% intervals cover the true effect in 93-97% of draws and tests reject a
true null in 3-7%.  The slow versions (600 draws each) assert those bands; CI runs a small
version with bands wide enough for 40 draws.  The draws run through
``evaluation.compute.map_ordered``: local processes, or the Dask cluster named by
``DASK_SCHEDULER_ADDRESS``, with the same numbers either way (checked below).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.compute import map_ordered
from evaluation.designs.programme import programme_did, programme_robustness
from evaluation.models.did_one_treated import did_one_treated
from evaluation.models.event_study import event_study_one_treated

PRE, POST = list(range(2014, 2023)), [2023, 2024]
SIZES = [4, 4, 4, 4, 4, 3, 3, 3, 3]


def simulate(seed: int, effect: float = 0.0, n_la: int = 150, n_reg: int = 9):
    rng = np.random.default_rng(seed)
    la = [f"L{i:03d}" for i in range(n_la)]
    region = {u: f"R{i % n_reg}" for i, u in enumerate(la)}
    treated = {}
    for r in range(n_reg):
        members = [u for u in la if region[u] == f"R{r}"]
        treated[f"P{r}"] = list(rng.choice(members, size=SIZES[r], replace=False))
    pilots = {u for ms in treated.values() for u in ms}
    years = PRE + POST
    den = rng.integers(150, 3000, size=n_la)
    level = rng.normal(60, 10, size=n_la)
    year_effect = rng.normal(0, 3, size=len(years))
    is_pilot = np.array([u in pilots for u in la])
    post = np.array([t >= POST[0] for t in years])
    mu = (
        level[:, None]
        + year_effect[None, :]
        + rng.normal(0, 2, size=(n_la, len(years)))
        + effect * (is_pilot[:, None] & post[None, :])
    )
    num = rng.binomial(np.repeat(den[:, None], len(years), axis=1), np.clip(mu, 1, 99) / 100)
    units = pd.DataFrame(
        {
            "unit_id": np.repeat(la, len(years)),
            "year": np.tile(years, n_la),
            "num": num.ravel(),
            "den": np.repeat(den, len(years)),
        }
    )
    units["rate"] = units["num"] / units["den"] * 100
    pool = [u for u in la if u not in pilots]
    return units, treated, pool, region


KW = dict(outcome="rate", numerator="num", denominator="den", pre=PRE, post=POST)


def _programme_draw(seed: int, effect: float) -> dict[str, tuple[float, float, float]]:
    units, treated, pool, region = simulate(seed, effect)
    out = {}
    ri = programme_did(
        units, treated=treated, pool=pool, region_of=region, permutations=399, seed=seed, **KW
    )
    out["randomisation"] = (ri.p_value, ri.ci_low, ri.ci_high)
    rob = programme_robustness(units, treated=treated, pool=pool, seed=seed, n_boot=399, **KW)
    for key in ("twfe_wild", "conley_taber", "binomial_fe"):
        r = rob[key]
        out[key] = (r.p_value, r.ci_low, r.ci_high)
    return out


def _one_treated_draw(seed: int, effect: float) -> dict[str, tuple[float, float, float]]:
    units, treated, pool, _ = simulate(seed, effect)
    pilot = treated["P0"][0]
    others = {u for ms in treated.values() for u in ms} - {pilot}
    data = units[~units["unit_id"].isin(others)]
    kw = dict(unit="unit_id", time="year", outcome="rate", treated=pilot, pool=pool)
    kw.update(numerator="num", denominator="den")
    did = did_one_treated(data, pre=PRE, post=POST, **kw)
    es = event_study_one_treated(data, start=POST[0], **kw)
    return {
        "did_placebo": (did.p_value, did.ci_low, did.ci_high),
        "event_study_placebo": (es.p_value, es.ci_low, es.ci_high),
    }


def _rates(draw, reps: int, seed0: int) -> dict[str, tuple[float, float]]:
    """(rejection rate under the null, coverage of a true effect of 3 points) per method."""
    tasks = [(seed0 + r, 0.0) for r in range(reps)] + [
        (seed0 + 10_000 + r, 3.0) for r in range(reps)
    ]
    draws = map_ordered(draw, tasks)  # one seeded draw per task: local processes or Dask
    null, alt = draws[:reps], draws[reps:]
    out = {}
    for key in null[0]:
        reject = np.mean([d[key][0] <= 0.05 for d in null])
        cover = np.mean([d[key][1] <= 3.0 <= d[key][2] for d in alt])
        out[key] = (float(reject), float(cover))
    return out


def test_programme_inference_small_monte_carlo():
    rates = _rates(_programme_draw, 40, seed0=1)
    for key, (reject, cover) in rates.items():
        assert reject <= 0.2, (key, reject)
        assert cover >= 0.8, (key, cover)


def test_one_treated_inference_small_monte_carlo():
    rates = _rates(_one_treated_draw, 60, seed0=5)
    for key, (reject, cover) in rates.items():
        assert reject <= 0.15, (key, reject)
        assert cover >= 0.85, (key, cover)


@pytest.mark.slow
def test_programme_inference_monte_carlo():
    rates = _rates(_programme_draw, 600, seed0=100)
    print(rates)
    for key, (reject, cover) in rates.items():
        assert 0.03 <= reject <= 0.07, (key, reject)
        assert 0.93 <= cover <= 0.97, (key, cover)


@pytest.mark.slow
def test_one_treated_inference_monte_carlo():
    rates = _rates(_one_treated_draw, 1000, seed0=200)
    print(rates)
    for key, (reject, cover) in rates.items():
        assert 0.03 <= reject <= 0.07, (key, reject)
        assert 0.93 <= cover <= 0.97, (key, cover)


def _binomial_draw(seed: int, effect: float) -> dict[str, float]:
    """The grouped-binomial logit on one draw: score-bootstrap p-value and interval, and the
    p-value of the cluster-robust (CR1) Wald test it replaces, from the same fit."""
    from evaluation.designs.programme import programme_panel
    from evaluation.inference.score_bootstrap import binomial_fe_inference
    from evaluation.models.glm import binomial_fe

    units, treated, pool, _ = simulate(seed, effect)
    d = programme_panel(units, treated, pool, outcome="rate", numerator="num",
                        denominator="den", years=PRE + POST)  # fmt: skip
    d["first_treated"] = np.where(d["pilot"] == 1, min(POST), 0)
    r = binomial_fe(d, unit="unit_id", time="year", successes="num", trials="den",
                    first_treated="first_treated", cluster="cluster")  # fmt: skip
    binomial_fe_inference(r, n_boot=999, seed=seed)
    assert r.diagnostics["n_treated_clusters"] == 9
    return {"p": r.p_value, "lo": r.ci_low, "hi": r.ci_high, "p_cr1": r.p_value_cr1}


def _binomial_rates(null_draws: int, alt_draws: int, seed0: int) -> dict[str, float]:
    tasks = [(seed0 + r, 0.0) for r in range(null_draws)]
    tasks += [(seed0 + 50_000 + r, 3.0) for r in range(alt_draws)]
    draws = map_ordered(_binomial_draw, tasks)
    null, alt = draws[:null_draws], draws[null_draws:]
    rates = {
        "reject": float(np.mean([d["p"] <= 0.05 for d in null])),
        "reject_cr1": float(np.mean([d["p_cr1"] <= 0.05 for d in null])),
    }
    if alt:
        rates["cover"] = float(np.mean([d["lo"] <= 3.0 <= d["hi"] for d in alt]))
    return rates


def test_binomial_score_bootstrap_small_monte_carlo():
    rates = _binomial_rates(60, 0, seed0=7)
    assert rates["reject"] <= 0.15, rates


@pytest.mark.slow
def test_binomial_score_bootstrap_monte_carlo():
    """Issue #18: rejection of a true null within 3.5-6.5% with 9 treated partnerships (2,000
    null draws: Monte Carlo standard error 0.5 points); coverage of a true 3-point effect
    (additive on the rate scale, so the logit model is misspecified) reported, not asserted."""
    rates = _binomial_rates(2000, 600, seed0=300)
    print(rates)
    assert 0.035 <= rates["reject"] <= 0.065, rates


def test_draws_are_the_same_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    tasks = [(seed, effect) for seed in (1, 2) for effect in (0.0, 3.0)]
    local = [_one_treated_draw(*t) for t in tasks]
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        remote = map_ordered(_one_treated_draw, tasks, scheduler=cluster.scheduler_address)
    assert remote == local
