"""The interrupted time series section: the area alone and controlled (area minus comparison),
for yearly and monthly plans."""

from __future__ import annotations

from evaluation.designs.area_result import AreaEvaluation
from evaluation.report.charts import chart_html, its_chart
from evaluation.report.text import escape, fmt


def its_section(ev: AreaEvaluation) -> str:
    """Interrupted time series: the area alone and controlled (area minus comparison)."""
    if not ev.its:
        return (
            "<h2>Interrupted time series</h2><p>There are not enough complete "
            f"{'monthly' if ev.monthly else 'yearly'} points for this area to fit an "
            "interrupted time series.</p>"
        )
    first = ev.its[0]
    res = first["result"]
    d = res.diagnostics
    n_pre, n_post, wash = d["n_pre"], d["n_post"], d["washout_periods"]
    rows = []
    for item in ev.its:
        r = item["result"]
        o = next(x.outcome for x in ev.outcomes if x.outcome.name == item["outcome"])
        dp = o.decimals
        lvl = r.terms.loc["level_change"]
        design = (
            "area alone" if item["design"] == "single" else "controlled (area minus comparison)"
        )
        rows.append(
            f"<tr><td>{escape(o.label)}</td><td>{design}</td>"
            f"<td>{fmt(float(lvl['estimate']), dp)}</td>"
            f"<td>{fmt(float(lvl['ci_low']), dp)} to {fmt(float(lvl['ci_high']), dp)}</td>"
            f"<td>{float(lvl['p_value']):.3f}</td></tr>"
        )
    primary = [i for i in ev.its if i["outcome"] == ev.outcomes[0].outcome.name]
    charts = ""
    for item in primary:
        label = ev.outcomes[0].outcome.label
        title = (
            f"{label}: {ev.name}"
            if item["design"] == "single"
            else f"{label}: {ev.name} minus comparison areas"
        )
        charts += chart_html(ev, its_chart, item, title)
    level = round(100 * (1 - ev.plan.alpha))
    years = [int(y) for y in res.pre_periods]
    method = res.extra["method"]
    if ev.monthly:
        return _monthly_its_text(ev, res, n_pre, n_post, wash, years, rows, charts, level)
    method_text = {
        "ols": "ordinary least squares, treating the yearly errors as independent (with so "
        "few points the autocorrelation cannot be estimated)",
        "ar1-reml": "generalised least squares with first-order autocorrelated errors",
        "ols-hac": "ordinary least squares with Newey-West standard errors",
        "glsar": "feasible GLS with first-order autocorrelated errors",
    }.get(method, method)
    return (
        "<h2>Interrupted time series</h2>"
        "<p>An interrupted time series fits a trend to the years before the programme, projects "
        "it forward, and measures how far the later years sit from that projection (a change "
        "in level). The controlled version does the same for the gap between this area and the "
        "comparison areas, which removes changes common to all areas, including most of the "
        "2023 change in how the data were collected.</p>"
        "<div class='caveat'><p><strong>Few points.</strong> With annual public data there are "
        f"only {n_pre} yearly points before the programme ({years[0]} to {years[-1]}) and "
        f"{n_post} after it; {wash} partly treated year is left out. A series this short gives "
        "wide intervals and cannot separate a programme effect from a one-off change. For the "
        "area on its own it also cannot separate the programme from the 2023 data change, "
        "which happened at the same time. Monthly returns from the pilot areas will make this "
        f"analysis much stronger.</p></div><p>Model: {method_text}; {level}% intervals use t "
        "critical values.</p>"
        f"<table><caption>Level change after the programme start, by interrupted time series "
        f"({level}% intervals; percentage points)</caption><thead><tr><th scope='col'>Outcome"
        "</th><th scope='col'>Design</th><th scope='col'>Level change</th><th scope='col'>"
        "Interval</th><th scope='col'>p-value</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{charts}"
    )


def _monthly_its_text(ev, res, n_pre, n_post, wash, periods, rows, charts, level) -> str:
    d = res.diagnostics
    harmonics = int(ev.plan.its.get("harmonics", 0) or 0)
    season = (
        f"School-holiday seasonality is modelled with {harmonics} pair(s) of sine and cosine "
        "terms over the calendar year. "
        if harmonics
        else "Seasonality is not modelled. "
    )
    method = res.extra["method"]
    method_text = {
        "ar1-reml": "generalised least squares with first-order autocorrelated errors (the "
        "autocorrelation estimated by restricted maximum likelihood and bias-corrected; "
        "Kenward-Roger standard errors with Satterthwaite degrees of freedom)",
        "ols-hac": "ordinary least squares with Newey-West standard errors",
        "glsar": "feasible GLS with first-order autocorrelated errors",
        "ols": "ordinary least squares with independent errors",
    }.get(method, method)
    rho = d.get("rho")
    rho_text = (
        f" The estimated month-to-month autocorrelation is {fmt(rho, 2)}."
        if rho is not None
        else ""
    )
    return (
        "<h2>Interrupted time series</h2>"
        "<p>An interrupted time series fits a trend to the months before the programme, projects "
        "it forward, and measures how far the later months sit from that projection (a change "
        "in level). The controlled version does the same for the gap between this area and the "
        "comparison areas, which removes changes common to all areas.</p>"
        f"<p>There are {n_pre} monthly points before the programme ({ev.label(periods[0])} to "
        f"{ev.label(periods[-1])}) and {n_post} after it; the {wash} phase-in months after the "
        "start are washout periods (each has its own indicator, so they do not affect the fit; "
        f"open circles on the charts). {season}Model: {escape(method_text)}; {level}% "
        f"intervals use t critical values.{rho_text}</p>"
        f"<table><caption>Level change after the phase-in, by interrupted time series "
        f"({level}% intervals; percentage points)</caption><thead><tr><th scope='col'>Outcome"
        "</th><th scope='col'>Design</th><th scope='col'>Level change</th><th scope='col'>"
        "Interval</th><th scope='col'>p-value</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{charts}"
    )
