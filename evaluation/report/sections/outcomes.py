"""One section per outcome (chart, data table, placebo chart, event study, synthetic control)
and the table of all difference-in-differences estimates."""

from __future__ import annotations

from evaluation.designs.area_result import AreaEvaluation
from evaluation.report.charts import (
    chart_html,
    comparison_chart,
    event_study_chart,
    placebo_chart,
    synthetic_chart,
)
from evaluation.report.sections.headline import pre_trend_caveat
from evaluation.report.sections.pre_period import (
    comparators_block,
    missing_data_block,
    pre_period_block,
)
from evaluation.report.text import (
    bounds_note,
    count_text,
    escape,
    fmt,
    headline,
    mid_judgement,
    pooled_sentence,
    span,
)


def outcome_section(ev: AreaEvaluation, index: int) -> str:
    o = ev.outcomes[index]
    chart = chart_html(ev, comparison_chart, o)
    pchart = chart_html(ev, placebo_chart, o)
    r = o.result
    table = series_table(ev, index)
    excl = missing_data_block(ev, o)
    return (
        f"<h2>{escape(o.outcome.label)}</h2>"
        f"<p>{escape(o.outcome.description)}</p>"
        f"<p class='verdict'><strong>{escape(ev.verdict(o.outcome.name)['line'])}</strong></p>"
        f"<p>{escape(headline(ev, o))}</p>{pre_trend_caveat(o, ev)}"
        f"<p>{escape(mid_judgement(o))}</p>{_paragraph(pooled_sentence(ev, o))}"
        f"<h3>{escape(ev.name)} and the comparison areas over time</h3>{chart}"
        f"<details><summary>The same data as a table</summary>{table}</details>"
        f"<h3>How unusual is this change?</h3>{pchart}"
        f"<p>Based on {r.n_comparison_units} comparison areas.</p>{excl}"
        f"{pre_period_block(ev, o)}{comparators_block(ev, o)}"
        f"{event_study_block(ev, o)}{synthetic_block(ev, o)}"
    )


def _paragraph(text: str) -> str:
    return f"<p>{escape(text)}</p>" if text else ""


def _prefixed(sentence: str) -> str:
    return f" {sentence}" if sentence else ""


def synthetic_block(ev: AreaEvaluation, o) -> str:
    """Synthetic control chart, its weights as a table, and the caveat on few pre-years."""
    sc = o.alternatives.get("synthetic_control")
    if sc is None:
        return ""
    chart = chart_html(ev, synthetic_chart, o)
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
        f"{ev.plan.period_word}s, gives {fmt(sd.estimate, dp)} ({fmt(sd.ci_low, dp)} to "
        f"{fmt(sd.ci_high, dp)}).{_prefixed(bounds_note(sd, dp))}"
        if sd is not None
        else ""
    )
    problems = sc.diagnostics.get("pre_fit_problems") or []
    perfect = sc.diagnostics.get("n_perfect_prefit_placebos") or 0
    caveat = ""
    if problems:
        caveat += (
            "<p class='caveat'>Caution about the pre-programme fit: "
            f"{escape('; '.join(problems))}.</p>"
        )
    if perfect:
        caveat += (
            f"<p class='caveat'>With only {len(sc.pre_periods)} {ev.plan.period_word}s before the programme and "
            f"{sc.n_comparison_units} comparison areas, {perfect} of the placebo synthetic "
            "controls match their own pre-programme years exactly, so the placebo test has "
            "little power and the interval is wide.</p>"
        )
    return (
        "<h3>Synthetic control: a tailor-made comparison</h3>"
        f"{chart}"
        f"<p>Estimate {fmt(sc.estimate, dp)} {escape(o.outcome.unit)} "
        f"({round(100 * (1 - sc.alpha))}% placebo interval {fmt(sc.ci_low, dp)} to "
        f"{fmt(sc.ci_high, dp)}).{escape(_prefixed(bounds_note(sc, dp)))}{escape(sd_text)}</p>"
        f"{caveat}"
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
    word = ev.plan.period_word
    if es.diagnostics.get("withheld"):
        return (
            f"<h3>{word.capitalize()} by {word}: did the gap move before the programme?</h3>"
            f"<p>Not shown: every coefficient is measured from {ev.label(es.diagnostics['reference_period'])}, "
            "whose figure is withheld to protect small numbers. The pre-trend test result "
            "above is still based on all the data.</p>"
        )
    chart = chart_html(ev, event_study_chart, o)
    dp = o.outcome.decimals

    def cell(r):
        if r.estimate != r.estimate:  # NaN: withheld by disclosure control
            return "<td>c</td><td>c</td><td>c</td>"
        return (
            f"<td>{fmt(r.estimate, dp)}</td><td>{fmt(r.ci_low, dp)} to {fmt(r.ci_high, dp)}</td>"
            f"<td>{r.p_value:.2f}</td>"
        )

    rows = "".join(
        f"<tr><th scope='row'>{ev.label(int(r.period))}</th>{cell(r)}</tr>"
        for r in es.terms.itertuples()
    )
    level = round(100 * (1 - es.alpha))
    ref = ev.label(es.diagnostics["reference_period"])
    return (
        f"<h3>{word.capitalize()} by {word}: did the gap move before the programme?</h3>"
        f"{chart}"
        "<details><summary>The same data as a table</summary>"
        f"<table><caption>Gap with the comparison areas relative to {ref} ({level}% placebo "
        f"intervals; {escape(o.outcome.unit)})</caption><thead><tr><th scope='col'>{word.capitalize()}</th>"
        "<th scope='col'>Estimate</th><th scope='col'>Interval</th><th scope='col'>p-value</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></details>"
    )


def series_table(ev: AreaEvaluation, index: int) -> str:
    """The comparison chart's data: the rates and the counts they rest on (``o.counts``)."""
    o = ev.outcomes[index]
    treated = o.result.diagnostics["treated_series"]
    comp = o.result.diagnostics["comparison_series"]
    threshold = ev.plan.disclosure_threshold
    body = []
    for year in sorted(int(y) for y in treated):
        c = o.counts.get(str(year), {})
        rate = treated[str(year)]
        rate_txt = "c" if year in o.suppressed or rate is None else fmt(rate)
        use = (
            "pre-period"
            if year in o.result.pre_periods
            else "post-period"
            if year in o.result.post_periods
            else "not used"
        )
        cells = [
            rate_txt,
            count_text(c, "area_numerator"),
            count_text(c, "area_denominator"),
        ]
        cells += [fmt(comp[str(year)]), count_text(c, "comparison_denominator"), use]
        body.append(
            f"<tr><th scope='row'>{ev.label(year)}</th>"
            + "".join(f"<td>{v}</td>" for v in cells)
            + "</tr>"
        )
    name, num, den = (
        escape(ev.name),
        escape(o.outcome.numerator_label),
        escape(o.outcome.denominator_label),
    )
    heads = [f"{name} (%)", f"{name}: {num}", f"{name}: {den}", "Comparison areas (%)"]
    heads += [f"Comparison areas: {den}", "Use in the estimate"]
    return (
        f"<table><caption>{escape(o.outcome.label)}: {name} and the comparison "
        f"areas combined, rates (%) and the counts behind them. c = withheld to protect small "
        f"numbers: a count below {threshold}, a rate that would reveal a count below "
        f"{threshold}, or a second value hidden so that the published averages cannot reveal "
        "the first.</caption>"
        f"<thead><tr><th scope='col'>{ev.plan.period_word.capitalize()}</th>"
        + "".join(f"<th scope='col'>{h}</th>" for h in heads)
        + f"</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def results_table(ev: AreaEvaluation) -> str:
    rows = []
    for o in ev.outcomes:
        r, dp = o.result, o.outcome.decimals
        rows.append(
            f"<tr><td>{escape(o.outcome.label)}</td><td>{fmt(r.estimate, dp)}</td>"
            f"<td>{fmt(r.ci_low, dp)} to {fmt(r.ci_high, dp)}</td><td>{r.p_value:.3f}</td>"
            f"<td>{r.n_comparison_units}</td><td>{span(r.pre_periods, ev.label)}</td>"
            f"<td>{span(r.post_periods, ev.label)}</td></tr>"
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
