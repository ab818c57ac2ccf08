"""Methods, assumptions and caveats (yearly and monthly plans), the boundary-change caveat,
and the plain-English "About this report"."""

from __future__ import annotations

from evaluation.designs.area_result import AreaEvaluation
from evaluation.report.text import escape, fmt, span


def methods_and_caveats(ev: AreaEvaluation) -> str:
    primary = ev.outcomes[0]
    d = primary.result.diagnostics
    gap = d["pre_period_gap"]
    above = "above" if gap > 0 else "below"
    handled = {
        "exclude": "left out of the estimate",
        "pre": "counted as before the programme",
        "post": "counted as after the start",
    }
    partial = " ".join(
        f"{ev.plan.partial_label(p)}: {handled[p['handling']]}. "
        f"{' '.join(str(p.get('why', '')).split())}".strip()
        for p in ev.plan.partially_treated
    )
    if ev.monthly:
        return _monthly_methods_and_caveats(ev, primary, gap, above, partial)
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
        f"{span(primary.result.pre_periods)} its rate for {_lower_first(primary.outcome.label)} "
        "was on average "
        f"{fmt(abs(gap))} percentage points {above} the comparison areas. "
        f"{escape(ev.pre_trend(primary.outcome.name)['sentence'])}</li>"
        "<li><strong>The data series breaks in 2023.</strong> From 2023 the SEN2 return moved "
        "from aggregate counts to person-level records; DfE advises care when comparing across "
        "the break. Because every area is affected, the comparison removes the common part of "
        "the break, but not any part that differs between areas.</li>"
        f"<li><strong>Partly treated year.</strong> {escape(partial)}</li>"
        "<li><strong>Only one year after the start.</strong> The post-period is "
        f"{span(ev.plan.post_years)}; effects of a reform of this kind may take longer to show."
        "</li>"
        f"<li><strong>Boundary changes.</strong> {escape(boundary_caveat(ev))}</li>"
        "<li><strong>Year-to-year noise.</strong> Timeliness in a single authority can swing by "
        "tens of percentage points from one year to the next, so intervals for one area are "
        "wide. A wide interval means the data cannot tell, not that there was no effect.</li>"
        "</ul>"
    )


def _lower_first(label: str) -> str:
    """'New EHC plans ...' -> 'new EHC plans ...' (acronyms keep their capitals)."""
    first, _, rest = label.partition(" ")
    return (first.lower() if not first.isupper() else first) + (f" {rest}" if rest else "")


def boundary_caveat(ev: AreaEvaluation) -> str:
    """Which authorities changed boundaries (from ``data/reference/geography.yaml``), how the
    plan's boundary policy treats them, which are in this area's region, and whether this
    area's own boundary changed."""
    from evaluation.io.geography import load_geography

    units = load_geography(ev.plan.data_dir).stable_units
    if not units:
        return "No boundary changes affect the years used."
    regions = ev.panel.regions
    region = regions.get(ev.la_code)

    def unit_region(u):
        return regions.get(u["unit_id"]) or next(
            (regions[m] for m in u["members"] if m in regions), None
        )

    def short(u):
        return u["unit_name"].split(" (")[0]

    listed = "Boundary changes in these years: " + "; ".join(u["why"].rstrip(". ") for u in units)
    if ev.plan.boundary_policy == "aggregate":
        policy = (
            "Under the plan's boundary policy (aggregate) each group is combined into one "
            "comparison unit covering the same area in every year."
        )
    else:
        policy = (
            "Under the plan's boundary policy (exclude) these authorities are left out of the "
            "comparison."
        )
    near = [short(u) for u in units if region is not None and unit_region(u) == region]
    if region is None:
        nearby = "This area's region is not known, so nearby changes cannot be listed."
    elif near:
        nearby = (
            f"{', '.join(near)} {'is' if len(near) == 1 else 'are'} in this area's region "
            f"({region}); the comparison uses the combined unit there."
        )
    else:
        nearby = f"None of them is in this area's region ({region})."
    own = next((u for u in units if ev.la_code in u["members"]), None)
    own_text = (
        f"This area's own boundary changed ({own['why'].rstrip('. ')}); its series is that of "
        f"{own['unit_name']}."
        if own is not None
        else "This area's own boundary did not change in these years."
    )
    return f"{listed}. {policy} {nearby} {own_text}"


def _monthly_methods_and_caveats(ev: AreaEvaluation, primary, gap, above, partial) -> str:
    d = primary.result.diagnostics
    post = ev.plan.post_years
    source = (
        "SYNTHETIC monthly returns (invented case records aggregated to area x month)"
        if ev.plan.synthetic
        else "the monthly returns named in the plan"
    )
    return (
        "<h2>Methods, assumptions and caveats</h2>"
        "<h3>Method</h3>"
        "<p>For each outcome the change in this area between the months before the programme "
        "and the months after it is compared with the change in all other local authorities "
        "taken together (their combined monthly rate, so larger authorities count for more). "
        f"Rates are recomputed from the counts in {escape(source)}, which were checked against "
        "the same data contract as every other return. To judge whether the difference is "
        "unusual, the same calculation is repeated with every comparison authority in turn "
        "pretending to be the pilot (a placebo test), each divided by how closely that "
        "authority tracked the comparison month by month before the programme. The interval is "
        "the range of effects this placebo test does not reject, limited to changes that keep "
        "the rate between 0% and 100%. Methods are described in full in METHODOLOGY.md.</p>"
        "<h3>Caveats for this area</h3><ul class='caveat'>"
        + (
            "<li><strong>Synthetic data.</strong> The returns are invented, with a built-in "
            "effect; this report shows how the analysis behaves, not what happened.</li>"
            if ev.plan.synthetic
            else ""
        )
        + "<li><strong>Pilots were not chosen at random.</strong> The comparison assumes that, "
        "without the programme, this area's monthly rate would have moved in parallel with the "
        "comparison areas' rate.</li>"
        f"<li><strong>This area already differed before the programme.</strong> In "
        f"{span(primary.result.pre_periods, ev.label)} its rate for "
        f"{_lower_first(primary.outcome.label)} was on average {fmt(abs(gap))} percentage points {above} the comparison areas, and the gap "
        f"changed by {fmt(d['pre_period_gap_slope_per_period'], 2)} points a month on average.</li>"
        f"<li><strong>Phase-in (washout).</strong> {escape(partial)}</li>"
        f"<li><strong>Post-period.</strong> {span(post, ev.label)} ({len(post)} months). "
        "The last months before the data cut-off are not used, because decisions on recent "
        "requests are still arriving.</li>"
        "<li><strong>Seasonality.</strong> Requests and plans follow the school year (fewer in "
        "August and over Christmas; deadlines that fall in the summer holidays are missed more "
        "often). The difference-in-differences compares the same months in the area and the "
        "comparison areas, so a common seasonal pattern cancels; the interrupted time series "
        "models it explicitly.</li>"
        f"<li><strong>Boundary changes.</strong> Boundary policy: {ev.plan.boundary_policy}.</li>"
        "<li><strong>Month-to-month noise.</strong> A single authority issues few plans in a "
        "month, so its monthly rate swings widely; the estimate averages many months, but for a "
        "small authority the interval stays wide. A wide interval means the data cannot tell, "
        "not that there was no effect.</li>"
        "</ul>"
    )


def about(ev: AreaEvaluation) -> str:
    """Plain-English notes on the method."""
    level = round(100 * (1 - ev.plan.alpha))
    word = ev.plan.period_word
    return (
        "<h2>About this report</h2>"
        f"<p><strong>What is compared.</strong> For each measure, the change in this area "
        f"between the {word}s before the programme and the {word}s after it is compared with the "
        f"change in all other local authorities over the same {word}s. If the area improved by "
        "more than the others, that extra change is the estimate.</p>"
        "<p><strong>How sure we can be.</strong> The same calculation is done pretending, in "
        "turn, that each other authority was the pilot. If this area's change is bigger than "
        "almost all of those pretend changes, it is unlikely to be chance. The "
        f"{level}% interval is the range of effects that this test cannot rule out.</p>"
        "<p><strong>Strength of evidence.</strong> 'Check the data' means the change is "
        "larger than any comparison area's over the same years, or the number of cases the "
        "rate is based on changed by more than half relative to the comparison areas: look at "
        "the data before reading it as evidence. 'No clear evidence' means the interval "
        "includes zero. Otherwise the label is 'Strong', 'Moderate' or 'Weak' depending on how "
        "many of these concerns apply: the area's earlier trend could explain much of the "
        "change; a test of the years before the programme finds the area already moving away "
        "from the others; before the programme the area tracked the others much less closely "
        "than most areas do; no weighted mix of comparison areas (a synthetic control) tracked "
        "it closely; another method (the controlled interrupted time series, the synthetic "
        "control or synthetic difference-in-differences) points the other way.</p>"
        "<p><strong>Small numbers.</strong> A figure that would reveal a count below "
        f"{ev.plan.disclosure_threshold} (or let one be worked out from other figures in this "
        "report) is shown as c and left out of the charts.</p>"
        + (
            "<p><strong>What it cannot tell you.</strong> Pilot areas were chosen, not drawn at "
            "random, and the data changed in 2023. A change can be real without being caused by "
            "the programme, and an effect can exist that these yearly figures cannot yet show.</p>"
            if not ev.monthly
            else "<p><strong>What it cannot tell you.</strong> Pilot areas were chosen, not drawn "
            "at random. A change can be real without being caused by the programme, and an "
            "effect can exist that these monthly figures cannot yet show.</p>"
        )
        + glossary()
    )


GLOSSARY = {
    "Difference-in-differences": "how much more (or less) this area's rate changed than the "
    "comparison areas' rate over the same years.",
    "Comparison areas": "the other local authorities in England that are not pilots.",
    "Placebo test": "the same calculation repeated with each comparison area pretending to be "
    "the pilot, to see how large a change arises by chance.",
    "Interval": "the range of effects the placebo test cannot rule out (95% unless stated); the verdict lines call it the likely range.",
    "Too early to tell": "the data vary so much that only an effect larger than the stated "
    "size would show up; a smaller effect may still exist.",
    "Minimum detectable effect": "the effect size that would be detected 80 times in 100 "
    "(80% power), larger than the size that would just show up.",
    "Pooled estimate": "the area's estimate pulled toward the average of all pilots, more so "
    "the less precise it is.",
    "Synthetic control": "a weighted mix of comparison areas chosen to track this area before "
    "the programme.",
    "Interrupted time series": "the area's own trend before the programme, projected forward.",
    "Pre-trend": "whether the gap with the comparison areas was already changing before the "
    "programme.",
    "Check the data": "a change no comparison area showed, or case numbers that jumped: "
    "usually a recording change, so look at the returns first.",
}


def glossary() -> str:
    """One sentence for every technical term the report still uses."""
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in GLOSSARY.items())
    return f"<h3 id='glossary'>Glossary</h3><dl class='glossary'>{items}</dl>"
