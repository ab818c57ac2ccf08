"""Strength-of-evidence labels follow the fixed rules in evaluation/evidence.py."""

import numpy as np
import pandas as pd

from evaluation.designs.evidence import evidence_strength
from evaluation.models.did_one_treated import did_one_treated

PRE, POST = [2016, 2017, 2018, 2019, 2020, 2021, 2022], [2023, 2024]


def _panel(effect, trend=0.0, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in ["T"] + [f"C{i}" for i in range(40)]:
        level = rng.normal(60, 5)
        for y in PRE + POST:
            v = level + rng.normal(0, noise)
            if u == "T":
                v += trend * (y - 2016) + (effect if y >= 2023 else 0)
            rows.append({"unit": u, "year": y, "rate": v})
    return pd.DataFrame(rows)


def _result(data):
    return did_one_treated(
        data,
        unit="unit",
        time="year",
        outcome="rate",
        treated="T",
        pre=PRE,
        post=POST,
        weighting="unweighted",
    )


def test_clear_effect_without_concerns_is_strong():
    ev = evidence_strength(_result(_panel(12.0)))
    assert ev.label == "Strong" and ev.concerns == []
    assert ev.checks["placebo_interval_excludes_zero"] is True


def test_no_effect_is_no_clear_evidence():
    assert evidence_strength(_result(_panel(0.0, seed=3))).label == "No clear evidence"


def test_a_pre_trend_that_explains_the_change_lowers_the_label():
    ev = evidence_strength(_result(_panel(4.0, trend=2.0, seed=1)))
    assert ev.checks["pre_trend_small"] is False
    assert ev.label in {"Moderate", "Weak", "No clear evidence"}
    assert any("Carried forward, that trend alone" in c for c in ev.concerns)


def test_disagreeing_controlled_its_is_a_concern():
    res = _result(_panel(12.0))

    class _ITS:
        terms = pd.DataFrame({"estimate": [-3.0]}, index=["level_change"])

    ev = evidence_strength(res, {"result": _ITS()})
    assert ev.checks["controlled_its_agrees"] is False and ev.label == "Moderate"
