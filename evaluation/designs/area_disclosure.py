"""Statistical disclosure control applied to one area's results (the rule itself is in
:mod:`evaluation.panel.disclosure`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.designs.area_result import OutcomeResult
from evaluation.panel.build import Panel


def apply_disclosure(
    o: OutcomeResult, its_items: list[dict], panel: Panel, code: str, threshold: int
) -> None:
    """Disclosure control for one outcome of one area (:mod:`evaluation.panel.disclosure`): periods
    whose rate would reveal a count below the plan's threshold are suppressed, and so is the
    next least-populated period of the pre- or post-period when the published average of that
    span would otherwise give the hidden one away.  Suppressed periods disappear from every
    per-period output (series table, charts, event-study coefficients, synthetic paths, ITS
    points and results.json); estimates that pool many periods are still shown.  If the
    event study's reference period is suppressed, its coefficients (all relative to that period)
    are withheld."""
    from evaluation.panel.disclosure import rate_mask

    out = o.outcome
    rows = panel.units[panel.units["unit_id"] == code].set_index(panel.time)
    num = pd.to_numeric(rows[out.numerator], errors="coerce")
    den = pd.to_numeric(rows[out.denominator], errors="coerce")
    groups = [list(o.result.pre_periods), list(o.result.post_periods)]
    mask = rate_mask(num, den, threshold, groups=groups)
    hidden = set(mask.index[mask["suppressed"]])
    o.suppressed = hidden
    o.suppression = {str(k): v for k, v in mask.loc[mask["suppressed"], "status"].items()}
    _sensitivity_disclosure(o, num, den, threshold)
    o.counts = disclosed_counts(o, panel, num, den, threshold)
    if not hidden:
        return
    d = o.result.diagnostics
    if "treated_series" in d:
        d["treated_series"] = {
            k: (None if _as_period(k) in hidden else v) for k, v in d["treated_series"].items()
        }
    d["suppressed_periods"] = sorted(str(k) for k in hidden)
    for res in [o.result, *o.alternatives.values()]:
        raw = res.diagnostics.get("interval_before_bounds")
        if raw and set(res.post_periods) & hidden and [res.ci_low, res.ci_high] != list(raw):
            # the 0-100 bounds are computed from post-period values: a clipped end would give
            # a withheld value back, so the unclipped (still valid, wider) interval is shown
            res.ci_low, res.ci_high = raw
            res.conventions["bounds"] = (
                "not applied: the bound would reveal a value withheld to protect small numbers"
            )
    pooled = o.pooled or {}
    if "interval_before_bounds" in pooled and set(o.result.post_periods) & hidden:
        pooled["ci_low"], pooled["ci_high"] = pooled.pop("interval_before_bounds")
        pooled["conventions"]["bounds"] = (
            "not applied: the bound would reveal a value withheld to protect small numbers"
        )
    es = o.alternatives.get("event_study")
    if es is not None:
        ref = es.diagnostics.get("reference_period")
        cols = [c for c in ["estimate", "ci_low", "ci_high", "p_value"] if c in es.terms]
        if ref in hidden:
            es.terms[cols] = np.nan
            es.diagnostics["withheld"] = "reference period suppressed (small numbers)"
        else:
            es.terms.loc[es.terms["period"].isin(hidden), cols] = np.nan
    for key in ("synthetic_control", "synthetic_did"):
        alt = o.alternatives.get(key)
        paths = alt.extra.get("paths") if alt is not None else None
        if paths is not None:
            paths.loc[paths["time"].isin(hidden), ["treated", "gap"]] = np.nan
    for item in its_items:
        if item["outcome"] == out.name:
            frame = item["data"]
            frame.loc[frame[frame.columns[0]].isin(hidden), ["area", "gap"]] = np.nan
            # the observed points drawn on the ITS charts (the gap gives the area's rate back)
            cf = item["result"].extra.get("counterfactual")
            if cf is not None:
                cf.loc[cf["time"].isin(hidden), "observed"] = np.nan
    if set(o.result.post_periods) <= hidden:
        # Every post-period value is withheld.  A synthetic comparison is built from published
        # comparison areas, so its estimate would give the withheld value back exactly (and the
        # area-alone ITS nearly so): those estimates are withheld too.
        why = "withheld: every post-period value is protected (small numbers) and this estimate would reveal it"
        for key in ("synthetic_control", "synthetic_did"):
            if o.alternatives.pop(key, None) is not None:
                o.withheld[key] = why
        for item in [i for i in its_items if i["outcome"] == out.name and i["design"] == "single"]:
            its_items.remove(item)
            o.withheld["its_single"] = why


def disclosed_counts(o: OutcomeResult, panel: Panel, num, den, threshold: int) -> dict:
    """The counts each period's rates rest on, for the area and the comparison areas combined
    (the units of the headline's placebo distribution), keyed by period as ``treated_series``.
    A count not published is None: ``withheld`` lists those hidden by disclosure control (the
    area's numerator wherever its rate is withheld, its denominator where it is below the
    threshold, as in the series table); the others are missing in the data."""
    units = panel.units
    out = o.outcome
    pool = units[units["unit_id"].isin(list(o.result.distribution["unit"][1:]))]
    sums = pool.groupby(panel.time)[[out.numerator, out.denominator]].sum(min_count=1)
    counts = {}
    for key in o.result.diagnostics.get("treated_series", {}):
        t = _as_period(key)
        d = _count(den.get(t))
        withheld = ["area_denominator"] if d is not None and 0 < d < threshold else []
        if t in o.suppressed or withheld:
            withheld.insert(0, "area_numerator")
        row = {
            "area_numerator": _count(num.get(t)),
            "area_denominator": d,
            "comparison_numerator": _count(sums[out.numerator].get(t)),
            "comparison_denominator": _count(sums[out.denominator].get(t)),
        }
        counts[str(key)] = {**row, **dict.fromkeys(withheld), "withheld": withheld}
    return counts


def _count(x) -> int | None:
    return None if x is None or x != x or pd.isna(x) else int(x)


def _sensitivity_disclosure(o: OutcomeResult, num, den, threshold: int) -> None:
    """A pre-period sensitivity row is withheld when its pre- or post-period is a single
    period whose value is suppressed: its estimate would give that value back (estimates that
    average many periods are shown, as the headline is)."""
    from evaluation.panel.disclosure import rate_mask

    post = list(o.result.post_periods)
    for row in o.sensitivity:
        pre = [_as_period(t) for t in row["pre"]]
        mask = rate_mask(num, den, threshold, groups=[pre, post])
        hidden = set(mask.index[mask["suppressed"]])
        single = [g for g in (pre, post) if len(g) == 1 and g[0] in hidden]
        if single and row.get("estimate") is not None:
            for key in ("estimate", "ci_low", "ci_high", "p_value"):
                row[key] = None
            row["error"] = "withheld: it would reveal a value protected for small numbers"


def _as_period(key):
    try:
        return int(key)
    except (TypeError, ValueError):
        return key
