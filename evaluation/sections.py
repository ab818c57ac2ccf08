"""HTML sections of the per-area evidence report, built from one :class:`AreaEvaluation`.

The notebook calls these functions and displays the result; nothing here is typed by hand
from the numbers.  Headings run h1 -> h2 -> h3 in order.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .area import AreaEvaluation
from .charts import (
    comparison_chart,
    event_study_chart,
    figure_html,
    its_chart,
    placebo_chart,
    synthetic_chart,
)
from .text import escape, fmt, headline, mid_judgement, span

DISCLAIMER = (
    "These are experimental statistics produced by the SEND test-and-learn evaluation "
    "toolkit from published DfE and MoJ data; they are not official statistics."
)


def title(ev: AreaEvaluation) -> str:
    return (
        f"<h1>{escape(ev.name)}: evidence report</h1>"
        f"<p><strong>{escape(ev.plan.title)}</strong>. {escape(ev.name)} "
        f"(LA code {ev.la_code}, {ev.gss_code}) is in the {escape(ev.partnership)} partnership, "
        f"which started on {ev.start_date:%-d %B %Y}.</p><p>{DISCLAIMER}</p>"
    )


def summary(ev: AreaEvaluation) -> str:
    items = []
    for o in ev.outcomes:
        role = "Primary outcome" if o.planned.role == "primary" else "Secondary outcome"
        evid = ev.evidence(o.outcome.name)
        why = (" Concerns: " + "; ".join(evid.concerns) + ".") if evid.concerns else ""
        items.append(
            f"<li><strong>{role}.</strong> {escape(headline(ev, o))} "
            f"<strong>Strength of evidence: {escape(evid.label)}.</strong>"
            f"{escape(why)}{pre_trend_caveat(o)}</li>"
        )
    return (
        '<section class="summary-box"><h2>Summary</h2>'
        "<p>Each line compares how this area changed with how all the other local "
        "authorities changed over the same years (a difference-in-differences). A positive "
        "number means the area's rate went up by more than the comparison areas' rate. The "
        "strength of evidence comes from fixed checks of the design (see About this report).</p>"
        f"<ul>{''.join(items)}</ul></section>"
    )


def pre_trend_caveat(o) -> str:
    """A visible caveat, placed beside the headline, when the pre-trend test fails."""
    if not o.pre_trend_fails():
        return ""
    p = o.pre_trend["p_value"]
    return (
        "<p class='caveat' role='note'><strong>Caution: pre-trend.</strong> Before the "
        "programme this area was already moving away from the comparison areas more than "
        f"most areas did (event-study pre-trend test p = {p:.2f}). Part or all of the "
        "estimate may be that earlier movement continuing, not the programme.</p>"
    )


def plan_judgement(ev: AreaEvaluation) -> str:
    rows = []
    for o in ev.outcomes:
        better = {
            "higher": "an increase",
            "lower": "a decrease",
            "neither": "no direction (reported, not judged)",
        }[o.outcome.better]
        rows.append(
            f"<tr><td>{escape(o.outcome.label)}</td><td>{o.planned.role}</td>"
            f"<td>{better}</td><td>{fmt(o.planned.minimum_important_difference)} "
            f"{escape(o.outcome.unit)}</td><td>{escape(mid_judgement(o))}</td></tr>"
        )
    return (
        "<h2>Judged against the evaluation plan</h2>"
        f"<p>The plan ({escape(ev.plan.name)}) declared, before results were seen, which "
        "direction counts as an improvement and the smallest difference that would matter.</p>"
        "<table><caption>Outcomes, the intended direction and the minimum important difference"
        "</caption><thead><tr><th scope='col'>Outcome</th><th scope='col'>Role</th>"
        "<th scope='col'>Intended direction</th><th scope='col'>Minimum important difference</th>"
        "<th scope='col'>Judgement</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def outcome_section(ev: AreaEvaluation, index: int) -> str:
    o = ev.outcomes[index]
    fig, alt = comparison_chart(ev, o)
    chart = figure_html(fig, alt, caption=alt)
    pfig, palt = placebo_chart(ev, o)
    pchart = figure_html(pfig, palt, caption=palt)
    r = o.result
    table = series_table(ev, index)
    excluded = r.diagnostics.get("excluded_units", {})
    excl = ""
    if excluded:
        excl = (
            f"<p>{len(excluded)} comparison area(s) lack this outcome in a pre- or "
            f"post-period year and are left out of the comparison: "
            f"{escape(', '.join(_unit_names(ev, list(excluded))))}.</p>"
        )
    return (
        f"<h2>{escape(o.outcome.label)}</h2>"
        f"<p>{escape(o.outcome.description)}</p>"
        f"<p><strong>{escape(headline(ev, o))}</strong></p>{pre_trend_caveat(o)}"
        f"<p>{escape(mid_judgement(o))}</p>"
        f"<h3>{escape(ev.name)} and the comparison areas over time</h3>{chart}"
        f"<details><summary>The same data as a table</summary>{table}</details>"
        f"<h3>How unusual is this change?</h3>{pchart}"
        f"<p>Based on {r.n_comparison_units} comparison areas.</p>{excl}"
        f"{event_study_block(ev, o)}{synthetic_block(ev, o)}"
    )


def synthetic_block(ev: AreaEvaluation, o) -> str:
    """Synthetic control chart, its weights as a table, and the caveat on few pre-years."""
    sc = o.alternatives.get("synthetic_control")
    if sc is None:
        return ""
    fig, alt = synthetic_chart(ev, o)
    names = ev.panel.units.drop_duplicates("unit_id").set_index("unit_id")["unit_name"]
    w = sc.extra["weights"]
    w = w[w["weight"] > 0.005].sort_values("weight", ascending=False)
    rows = "".join(
        f"<tr><th scope='row'>{escape(str(names.get(r.unit, r.unit)))}</th>"
        f"<td>{r.weight:.1%}</td></tr>"
        for r in w.itertuples()
    )
    dp = o.outcome.decimals
    sd = o.alternatives.get("synthetic_did")
    sd_text = (
        f" Synthetic difference-in-differences, which adds a constant gap and weights the "
        f"years, gives {fmt(sd.estimate, dp)} ({fmt(sd.ci_low, dp)} to {fmt(sd.ci_high, dp)})."
        if sd is not None
        else ""
    )
    problems = sc.diagnostics.get("pre_fit_problems") or []
    perfect = sc.diagnostics.get("n_perfect_prefit_placebos") or 0
    caveat = ""
    if problems:
        caveat += f"<p class='caveat'>Poor pre-programme fit: {escape('; '.join(problems))}.</p>"
    if perfect:
        caveat += (
            f"<p class='caveat'>With only {len(sc.pre_periods)} years before the programme and "
            f"{sc.n_comparison_units} comparison areas, {perfect} of the placebo synthetic "
            "controls match their own pre-programme years exactly, so the placebo test has "
            "little power and the interval is wide.</p>"
        )
    return (
        "<h3>Synthetic control: a tailor-made comparison</h3>"
        f"{figure_html(fig, alt, caption=alt)}"
        f"<p>Estimate {fmt(sc.estimate, dp)} {escape(o.outcome.unit)} "
        f"({round(100 * (1 - sc.alpha))}% placebo interval {fmt(sc.ci_low, dp)} to "
        f"{fmt(sc.ci_high, dp)}).{escape(sd_text)}</p>{caveat}"
        "<details><summary>The comparison areas in the synthetic control and their weights"
        "</summary><table><caption>Weights of the synthetic control</caption><thead><tr>"
        "<th scope='col'>Comparison area</th><th scope='col'>Weight</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></details>"
    )


def event_study_block(ev: AreaEvaluation, o) -> str:
    """Event study chart with its data as a table (the chart's alternative)."""
    es = o.alternatives.get("event_study")
    if es is None:
        return ""
    fig, alt = event_study_chart(ev, o)
    dp = o.outcome.decimals
    rows = "".join(
        f"<tr><th scope='row'>{int(r.period)}</th><td>{fmt(r.estimate, dp)}</td>"
        f"<td>{fmt(r.ci_low, dp)} to {fmt(r.ci_high, dp)}</td><td>{r.p_value:.2f}</td></tr>"
        for r in es.terms.itertuples()
    )
    level = round(100 * (1 - es.alpha))
    ref = es.diagnostics["reference_period"]
    return (
        f"<h3>Year by year: did the gap move before the programme?</h3>"
        f"{figure_html(fig, alt, caption=alt)}"
        "<details><summary>The same data as a table</summary>"
        f"<table><caption>Gap with the comparison areas relative to {ref} ({level}% placebo "
        f"intervals; {escape(o.outcome.unit)})</caption><thead><tr><th scope='col'>Year</th>"
        "<th scope='col'>Estimate</th><th scope='col'>Interval</th><th scope='col'>p-value</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></details>"
    )


def _unit_names(ev: AreaEvaluation, codes: list[str]) -> list[str]:
    names = ev.panel.units.drop_duplicates("unit_id").set_index("unit_id")["unit_name"]
    return [str(names.get(c, c)) for c in codes]


def series_table(ev: AreaEvaluation, index: int) -> str:
    o = ev.outcomes[index]
    treated = o.result.diagnostics["treated_series"]
    comp = o.result.diagnostics["comparison_series"]
    units = ev.panel.units
    row = units[units["unit_id"] == ev.la_code].set_index("year")
    threshold = ev.plan.disclosure_threshold
    body = []
    for year in sorted(int(y) for y in treated):
        den = row.loc[year, o.outcome.denominator] if year in row.index else pd.NA
        den_txt = "x" if pd.isna(den) else ("c" if int(den) < threshold else f"{int(den):,}")
        use = (
            "pre-period"
            if year in o.result.pre_periods
            else "post-period"
            if year in o.result.post_periods
            else "not used"
        )
        body.append(
            f"<tr><th scope='row'>{year}</th><td>{fmt(treated[str(year)])}</td>"
            f"<td>{fmt(comp[str(year)])}</td><td>{den_txt}</td><td>{use}</td></tr>"
        )
    return (
        f"<table><caption>{escape(o.outcome.label)}: {escape(ev.name)} and the comparison "
        f"areas combined (%). Denominators below {threshold} are shown as c.</caption>"
        "<thead><tr><th scope='col'>Year</th><th scope='col'>"
        + escape(ev.name)
        + " (%)</th><th scope='col'>Comparison areas (%)</th><th scope='col'>"
        + escape(ev.name)
        + " denominator</th><th scope='col'>Use in the estimate</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def results_table(ev: AreaEvaluation) -> str:
    rows = []
    for o in ev.outcomes:
        r, dp = o.result, o.outcome.decimals
        rows.append(
            f"<tr><td>{escape(o.outcome.label)}</td><td>{fmt(r.estimate, dp)}</td>"
            f"<td>{fmt(r.ci_low, dp)} to {fmt(r.ci_high, dp)}</td><td>{r.p_value:.3f}</td>"
            f"<td>{r.n_comparison_units}</td><td>{span(r.pre_periods)}</td>"
            f"<td>{span(r.post_periods)}</td></tr>"
        )
    level = round(100 * (1 - ev.plan.alpha))
    return (
        "<h2>All estimates</h2>"
        f"<table><caption>Difference-in-differences estimates with {level}% placebo intervals"
        " (percentage points)</caption><thead><tr><th scope='col'>Outcome</th>"
        "<th scope='col'>Estimate</th><th scope='col'>Interval</th><th scope='col'>Placebo "
        "p-value</th><th scope='col'>Comparison areas</th><th scope='col'>Before</th>"
        "<th scope='col'>After</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<p>No standard errors are shown: with a single pilot area a conventional (clustered) "
        "standard error is not valid, so uncertainty comes from the placebo comparison.</p>"
    )


def methods_and_caveats(ev: AreaEvaluation) -> str:
    primary = ev.outcomes[0]
    d = primary.result.diagnostics
    gap = d["pre_period_gap"]
    above = "above" if gap > 0 else "below"
    partial = "; ".join(
        f"{p['year']}: {p['handling']} ({' '.join(str(p.get('why', '')).split())})"
        for p in ev.plan.partially_treated
    )
    return (
        "<h2>Methods, assumptions and caveats</h2>"
        "<h3>Method</h3>"
        "<p>For each outcome the change in this area between the pre-period and the post-period "
        "is compared with the change in all other local authorities taken together (their "
        "combined rate, so larger authorities count for more). Rates are recomputed from the "
        "published counts. To judge whether the difference is unusual, the same calculation is "
        "repeated with every comparison authority in turn pretending to be the pilot "
        "(a placebo test). The p-value is the share of those placebo results at least as "
        "extreme as this area's, after dividing each by how well the authority tracked the "
        "comparison before the programme. The interval is the range of effects this placebo "
        "test does not reject, limited to changes that keep the rate between 0% and 100%. "
        "Methods are described in full in METHODOLOGY.md.</p>"
        "<h3>Caveats for this area</h3><ul class='caveat'>"
        "<li><strong>Pilots were not chosen at random.</strong> Officials picked Change "
        "Programme areas; they may differ from other areas in ways that also change their "
        "outcomes. The comparison assumes that, without the programme, this area's rate would "
        "have moved in parallel with the comparison areas' rate.</li>"
        f"<li><strong>This area already differed before the programme.</strong> In "
        f"{span(primary.result.pre_periods)} its {primary.outcome.label.lower()} was on average "
        f"{fmt(abs(gap))} percentage points {above} the comparison areas, and the gap changed by "
        f"{fmt(d['pre_period_gap_slope_per_period'])} points a year on average.</li>"
        "<li><strong>The data series breaks in 2023.</strong> From 2023 the SEN2 return moved "
        "from aggregate counts to person-level records; DfE advises care when comparing across "
        "the break. Because every area is affected, the comparison removes the common part of "
        "the break, but not any part that differs between areas.</li>"
        f"<li><strong>Partly treated year.</strong> {escape(partial)}</li>"
        "<li><strong>Only one year after the start.</strong> The post-period is "
        f"{span(ev.plan.post_years)}; effects of a reform of this kind may take longer to show."
        "</li>"
        f"<li><strong>Boundary changes.</strong> Boundary policy: {ev.plan.boundary_policy}. "
        "Dorset with Bournemouth, Christchurch and Poole (2019), Northamptonshire (2021) and "
        "Cumbria (2023) changed boundaries; each is combined into one comparison unit covering "
        "the same area in every year. This area's own boundary did not change.</li>"
        "<li><strong>Year-to-year noise.</strong> Timeliness in a single authority can swing by "
        "tens of percentage points from one year to the next, so intervals for one area are "
        "wide. A wide interval means the data cannot tell, not that there was no effect.</li>"
        "</ul>"
    )


RULE_EXPLANATIONS = {
    "gss_code_drift": "The file uses an older GSS code for an LA whose code changed without a "
    "boundary change; the 3-digit code is used.",
    "known_source_erratum": "The published table gives the wrong LA code; the name identifies "
    "the LA and the correct code is used.",
    "la_code_before_creation": "A post-2019 code is used for earlier years; the predecessor LA "
    "of the same name is used.",
    "known_record_after_end": "Records published under an LA after it ceased; they count "
    "towards its combined unit.",
    "la_year_missing": "The file has no row for this LA in a year; the values are missing.",
}


def data_quality(ev: AreaEvaluation) -> str:
    own = ev.area_findings()
    pool = ev.pool_findings()
    general = ev.panel.findings_frame()
    if own.empty:
        own_html = f"<p>No data-quality problems were found in the rows for {escape(ev.name)}.</p>"
    else:
        rows = "".join(
            f"<tr><td>{escape(str(r.file))}</td><td>{'' if pd.isna(r.row) else int(r.row)}</td>"
            f"<td>{escape(str(r.column))}</td><td>{escape(r.severity)}</td>"
            f"<td>{escape(r.message)}</td></tr>"
            for r in own.itertuples()
        )
        own_html = (
            f"<table><caption>Findings in the rows for {escape(ev.name)}</caption><thead><tr>"
            "<th scope='col'>File</th><th scope='col'>Line</th><th scope='col'>Column</th>"
            "<th scope='col'>Severity</th><th scope='col'>Finding</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    if pool.empty:
        pool_html = "<p>No data-quality problems were found for the comparison areas.</p>"
    else:
        names = ev.panel.units.drop_duplicates("unit_id").set_index("unit_id")["unit_name"]
        from .geography import load_geography

        geo = load_geography(ev.plan.data_dir)
        rows = []
        for (rule, severity), grp in pool.groupby(["rule", "severity"], sort=True):
            las = sorted({geo.name_for_code(c) or names.get(c, c) for c in grp["la_code"]})
            rows.append(
                f"<tr><td>{escape(rule)}</td><td>{escape(severity)}</td><td>{len(grp)}</td>"
                f"<td>{escape(', '.join(las))}</td>"
                f"<td>{escape(RULE_EXPLANATIONS.get(rule, grp['message'].iloc[0]))}</td></tr>"
            )
        pool_html = (
            "<table><caption>Findings for the comparison areas, by rule</caption><thead><tr>"
            "<th scope='col'>Rule</th><th scope='col'>Severity</th><th scope='col'>Lines</th>"
            "<th scope='col'>Local authorities</th><th scope='col'>What it means</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
        )
    n_err = int((general["severity"] == "error").sum()) if not general.empty else 0
    n_warn = int((general["severity"] == "warning").sum()) if not general.empty else 0
    balance = "; ".join(
        f"{v.file}: {v.rows_in:,} rows in = {v.rows_accepted:,} accepted + "
        f"{v.rows_quarantined:,} quarantined"
        for v in ev.panel.validation
    )
    return (
        "<h2>Data quality</h2>"
        "<p>Every input file was checked against its data contract before use. Local "
        "authorities are matched on their validated name and code together, never on a code "
        "alone.</p>"
        f"<h3>This area</h3>{own_html}<h3>Comparison areas</h3>{pool_html}"
        f"<p>Across all files: {n_err} error(s) (rows quarantined and not used) and {n_warn} "
        f"warning(s). Nothing is dropped silently: {escape(balance)}.</p>"
    )


def provenance(ev: AreaEvaluation) -> str:
    summary = ev.to_dict()
    prov = summary["generated_with"]
    files = "".join(
        f"<li><code>{escape(f)}</code>: SHA-256 <code>{h}</code></li>"
        for f, h in prov["data_sha256"].items()
    )
    return (
        "<h2>Provenance</h2><ul>"
        f"<li>Evaluation plan: <code>{escape(summary['plan_file'])}</code> "
        f"({escape(ev.plan.name)})</li>"
        f"<li>Toolkit version {escape(prov['version'])}, git commit "
        f"<code>{escape(prov['git_commit'])}</code></li>"
        f"<li>Seed: {ev.seed} (the placebo test uses every comparison area, so no random draws "
        "are made)</li>"
        f"<li>Run date: {dt.date.today():%-d %B %Y}</li>"
        "<li>Data contracts: "
        + escape(", ".join(f"{k} v{v}" for k, v in prov.get("contracts", {}).items()))
        + "</li></ul>"
        f"<p>Data files (Open Government Licence v3.0; Crown copyright):</p><ul>{files}</ul>"
    )


def robustness(ev: AreaEvaluation) -> str:
    """The same question answered by different estimators, side by side."""
    rows = []
    for o in ev.outcomes:
        dp = o.outcome.decimals
        r = o.result
        lines = [
            (
                "Difference-in-differences (placebo inference)",
                r.estimate,
                r.ci_low,
                r.ci_high,
                r.p_value,
            )
        ]
        from .area import ALTERNATIVE_LABELS

        for key, alt in o.alternatives.items():
            lines.append(
                (
                    ALTERNATIVE_LABELS.get(key, alt.method),
                    alt.estimate,
                    alt.ci_low,
                    alt.ci_high,
                    alt.p_value,
                )
            )
        for item in ev.its:
            if item["outcome"] != o.outcome.name:
                continue
            t = item["result"].terms.loc["level_change"]
            label = (
                "Controlled interrupted time series (level change)"
                if item["design"] == "controlled"
                else "Interrupted time series, area alone (level change)"
            )
            lines.append(
                (
                    label,
                    float(t["estimate"]),
                    float(t["ci_low"]),
                    float(t["ci_high"]),
                    float(t["p_value"]),
                )
            )
        for i, (label, est, lo, hi, p) in enumerate(lines):
            first = (
                f"<th scope='row' rowspan='{len(lines)}'>{escape(o.outcome.label)}</th>"
                if i == 0
                else ""
            )
            rows.append(
                f"<tr>{first}<td>{escape(label)}</td><td>{fmt(est, dp)}</td>"
                f"<td>{fmt(lo, dp)} to {fmt(hi, dp)}</td><td>{p:.3f}</td></tr>"
            )
    level = round(100 * (1 - ev.plan.alpha))
    return (
        "<h2>Robustness: the same question, different methods</h2>"
        "<p>If the methods broadly agree, the finding does not hang on one set of assumptions. "
        "The interrupted time series use more years (from "
        f"{ev.plan.its['first_year']}) and model the trend; see the caveats on few points.</p>"
        f"<table><caption>Estimates by method ({level}% intervals; percentage points)</caption>"
        "<thead><tr><th scope='col'>Outcome</th><th scope='col'>Method</th>"
        "<th scope='col'>Estimate</th><th scope='col'>Interval</th><th scope='col'>p-value</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def its_section(ev: AreaEvaluation) -> str:
    """Interrupted time series: the area alone and controlled (area minus comparison)."""
    if not ev.its:
        return (
            "<h2>Interrupted time series</h2><p>There are not enough complete yearly "
            "points for this area to fit an interrupted time series.</p>"
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
        fig, alt = its_chart(ev, item, title)
        charts += figure_html(fig, alt, caption=alt)
    level = round(100 * (1 - ev.plan.alpha))
    years = [int(y) for y in res.pre_periods]
    method = res.extra["method"]
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


def about(ev: AreaEvaluation) -> str:
    """Plain-English notes on the method."""
    level = round(100 * (1 - ev.plan.alpha))
    return (
        "<h2>About this report</h2>"
        "<p><strong>What is compared.</strong> For each measure, the change in this area "
        "between the years before the programme and the years after it is compared with the "
        "change in all other local authorities over the same years. If the area improved by "
        "more than the others, that extra change is the estimate.</p>"
        "<p><strong>How sure we can be.</strong> The same calculation is done pretending, in "
        "turn, that each other authority was the pilot. If this area's change is bigger than "
        "almost all of those pretend changes, it is unlikely to be chance. The "
        f"{level}% interval is the range of effects that this test cannot rule out.</p>"
        "<p><strong>Strength of evidence.</strong> 'No clear evidence' means the interval "
        "includes zero. Otherwise the label is 'Strong', 'Moderate' or 'Weak' depending on how "
        "many of these concerns apply: the area's earlier trend could explain much of the "
        "change; before the programme the area tracked the others much less closely than most "
        "areas do; a second method (the controlled interrupted time series) points the other "
        "way.</p>"
        "<p><strong>What it cannot tell you.</strong> Pilot areas were chosen, not drawn at "
        "random, and the data changed in 2023. A change can be real without being caused by "
        "the programme, and an effect can exist that these yearly figures cannot yet show.</p>"
    )


def changes_since_last(ev: AreaEvaluation, previous: str | None) -> str:
    """Test-and-learn waves: what changed since the previous report for this area."""
    import json
    from pathlib import Path

    if not previous or not Path(previous).exists():
        return (
            "<h2>Changes since the last report</h2><p>This is the first report for this "
            "area with this toolkit, so there is nothing to compare with yet.</p>"
        )
    old = json.loads(Path(previous).read_text(encoding="utf-8"))
    new = ev.to_dict()
    old_years = set(old.get("periods", {}).get("pre", [])) | set(
        old.get("periods", {}).get("post", [])
    )
    new_years = set(new["periods"]["pre"]) | set(new["periods"]["post"])
    added = sorted(new_years - old_years)
    old_hash = old.get("generated_with", {}).get("data_sha256", {})
    changed = sorted(
        f for f, h in new["generated_with"]["data_sha256"].items() if old_hash.get(f) != h
    )
    when = old.get("generated_with", {}).get("run_date", "an earlier date")
    rows = []
    before = {o["outcome"]: o for o in old.get("outcomes", [])}
    for o in ev.outcomes:
        dp = o.outcome.decimals
        r = o.result
        prev = before.get(o.outcome.name)
        if prev is None or prev.get("estimate") is None:
            was = "not estimated"
            moved = ""
        else:
            was = (
                f"{fmt(prev['estimate'], dp)} ({fmt(prev['ci_low'], dp)} to "
                f"{fmt(prev['ci_high'], dp)})"
            )
            moved = fmt(r.estimate - prev["estimate"], dp)
        rows.append(
            f"<tr><td>{escape(o.outcome.label)}</td><td>{was}</td>"
            f"<td>{fmt(r.estimate, dp)} ({fmt(r.ci_low, dp)} to {fmt(r.ci_high, dp)})</td>"
            f"<td>{moved}</td></tr>"
        )
    new_periods = (
        f"New periods in this report: {', '.join(map(str, added))}."
        if added
        else "No new periods since the last report."
    )
    data_text = (
        f"Data files that changed: {', '.join(changed)}."
        if changed
        else "The data files are the same as last time."
    )
    return (
        "<h2>Changes since the last report</h2>"
        f"<p>The previous report for {escape(ev.name)} was produced on {escape(str(when))}. "
        f"{escape(new_periods)} {escape(data_text)}</p>"
        "<table><caption>Estimates in the previous report and in this one</caption><thead><tr>"
        "<th scope='col'>Outcome</th><th scope='col'>Previous estimate (interval)</th>"
        "<th scope='col'>This report (interval)</th><th scope='col'>Moved by</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
