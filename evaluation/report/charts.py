"""Charts for reports.  Every chart function returns ``(figure, alt_text)``: a chart without a
message in words is not allowed.  :func:`figure_html` embeds the SVG with its alt text, so the
exported HTML needs no external request and screen readers get the message.  Reports call
:func:`chart_html`, which keeps each embedded chart in the one cache (drawing is most of a
page's render time, and a page re-rendered for a new pooled line has the same charts)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("svg")  # charts are rendered to SVG text here, never through the inline backend
# Text stays text in the SVG (selectable, readable by assistive technology, much smaller and
# faster to write than glyph outlines); the page's sans-serif font renders it.
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["font.family"] = "sans-serif"
matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans"]  # metrics; browsers fall back to sans
# The SVG's internal ids (clip paths, markers) are hashes salted with this, not with a random
# salt per run: the same chart gives the same bytes (each chart is its own SVG document, so
# equal ids in two charts cannot clash); the "Date" metadata is dropped where charts are saved.
matplotlib.rcParams["svg.hashsalt"] = "send-evaluation"
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluation.config import PROJECT_ROOT  # noqa: E402
from evaluation.designs.area_result import AreaEvaluation, OutcomeResult  # noqa: E402
from evaluation.panel import cache  # noqa: E402
from evaluation.panel.outcomes import CATALOGUE  # noqa: E402
from evaluation.report.text import escape, fmt, span  # noqa: E402

AREA_COLOUR = "#12436D"  # Analysis Function dark blue
COMPARISON_COLOUR = "#F46A25"  # Analysis Function orange
GREY = "#707070"


WIDTH = 7.5  # inches; every report chart has the page's width


def _start_label(ax, x: float, ev: AreaEvaluation) -> None:
    """'programme starts (Mon YYYY)' at the top of the plot, at ``x`` in data units."""
    ax.text(
        x,
        0.98,
        f"programme starts\n({ev.start_date:%b %Y})",
        transform=ax.get_xaxis_transform(),
        va="top",
        fontsize=8,
        color=GREY,
    )


def new_figure(height: float, right: float = 0.3, bottom: float = 0.55):
    """A report chart with fixed margins (inches; left 0.8 for tick labels and the axis label,
    top 0.4 for the title).  Saving it then takes one drawing pass instead of the three that
    ``bbox_inches="tight"`` needs (about a third of the chart time); :func:`figure_html` checks
    that nothing is cut off and falls back to the tight box if it would be."""
    fig, ax = plt.subplots(figsize=(WIDTH, height))
    fig.subplots_adjust(
        left=0.8 / WIDTH, right=1 - right / WIDTH, top=1 - 0.4 / height, bottom=bottom / height
    )
    fig.fixed_margins = True
    return fig, ax


def set_title(ax, text: str) -> None:
    """Left-aligned chart title, wrapped to fit the page width; a fixed-margin figure's top
    margin grows with the number of lines."""
    import textwrap

    lines = textwrap.wrap(text, 80) or [""]
    ax.set_title("\n".join(lines), fontsize=10, loc="left")
    fig = ax.figure
    if getattr(fig, "fixed_margins", False) and len(lines) > 1:
        height = fig.get_figheight()
        fig.subplots_adjust(top=1 - (0.25 + 0.17 * len(lines)) / height)


def _cut_off(fig) -> bool:
    """Would any title, annotation, axis label or legend reach outside a fixed-margin figure?"""
    renderer = fig._get_renderer()
    box = fig.bbox
    for ax in fig.axes:
        legend = ax.get_legend()
        artists = [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        artists += [*ax.texts, *([legend] if legend is not None else [])]
        for a in artists:
            if not a.get_visible() or (hasattr(a, "get_text") and not a.get_text()):
                continue
            e = a.get_window_extent(renderer)
            if e.x0 < box.x0 - 0.5 or e.y0 < box.y0 - 0.5 or e.x1 > box.x1 + 0.5:
                return True
            if e.y1 > box.y1 + 0.5:
                return True
    return False


def figure_html(fig, alt: str, caption: str = "") -> str:
    """SVG figure as an <img> data URI with alt text and an optional caption."""
    buf = io.BytesIO()
    if getattr(fig, "fixed_margins", False):
        fig.savefig(buf, format="svg", metadata={"Date": None})
        if _cut_off(fig):  # e.g. a long area name at the edge: never clip, take the tight box
            buf = io.BytesIO()
            fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    else:
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img src="data:image/svg+xml;base64,{data}" alt="{escape(alt)}" '
        f'style="max-width:100%;height:auto">{cap}</figure>'
    )


def chart_html(ev: AreaEvaluation, chart, *args) -> str:
    """``figure_html(fig, alt, caption=alt)`` of ``chart(ev, *args)``, from the one cache when
    the area's :attr:`~AreaEvaluation.key` is known.  A chart shows only the area's own
    estimates, its disclosure control and panel rows, never the pooled line or the
    multiplicity adjustment, and the area key hashes everything those come from; the entry's
    key adds the chart, its outcome or series, and the chart code with matplotlib's version."""

    def draw() -> str:
        fig, alt = chart(ev, *args)
        return figure_html(fig, alt, caption=alt)

    if not ev.key:
        return draw()
    parts = [_identity(a) for a in args]
    key = cache.digest("chart", ev.key, chart.__name__, parts, chart_version())
    html = cache.load("chart", key, str)
    if html is cache.MISSING:
        html = draw()
        cache.store("chart", key, html)
    return html


def _identity(arg):
    if isinstance(arg, OutcomeResult):
        return ("outcome", arg.outcome.name)
    if isinstance(arg, dict):  # an ITS item of AreaEvaluation.its
        return ("its", arg["outcome"], arg["design"])
    return arg


_VERSION: list[str] = []


def chart_version() -> str:
    """The chart code (this module and the text helpers) and matplotlib's version."""
    if not _VERSION:
        here = PROJECT_ROOT / "evaluation" / "report"
        code = cache.files_digest([here / "charts.py", here / "text.py"])
        _VERSION.append(cache.digest(code, matplotlib.__version__))
    return _VERSION[0]


def time_axis(ax, periods, ev: AreaEvaluation) -> None:
    """x-axis ticks: every year for yearly plans; for monthly plans January and July of each
    year, labelled 'Jan 2021' (a tick per month would be unreadable)."""
    periods = [int(p) for p in periods]
    if not ev.monthly:
        ax.set_xticks(periods)
        return
    ticks = [p for p in periods if p % 6 == 0] or periods[:1]
    ax.set_xticks(ticks)
    ax.set_xticklabels([ev.label(p) for p in ticks])


def _partial_spans(ev: AreaEvaluation) -> list[tuple[float, float, str]]:
    """(x from, x to, label) of each partially treated span left out of the estimate."""
    out = []
    for p in ev.plan.partially_treated:
        if p["handling"] != "exclude":
            continue
        ps = p["periods"] if "periods" in p else [p["year"]]
        out.append((min(ps) - 0.5, max(ps) + 0.5, ev.plan.partial_label(p)))
    return out


def _withheld_markers(ax, periods: list) -> None:
    """Withheld values are a gap in the line with a marker on the axis (never a 0), the same
    on every chart; the caption names the periods."""
    if not periods:
        return
    bottom = ax.get_ylim()[0]
    ax.plot(
        periods,
        [bottom] * len(periods),
        ls="none",
        marker="x",
        ms=8,
        color=GREY,
        clip_on=False,
        label="withheld (small numbers)",
        zorder=5,
    )


def comparison_chart(ev: AreaEvaluation, o: OutcomeResult) -> tuple[plt.Figure, str]:
    """The area's rate against the comparison pool's pooled rate, every year available."""
    units = ev.panel.units
    out = o.outcome
    time = ev.time
    area = units[units["unit_id"] == ev.la_code].set_index(time)[out.name].astype(float)
    area = area.where(~area.index.isin(o.suppressed))  # disclosure control: points left out
    pool = units[units["unit_id"].isin(o.result.distribution["unit"][1:])]
    sums = pool.groupby(time)[[out.numerator, out.denominator]].sum(min_count=1)
    comp = sums[out.numerator].astype(float) / sums[out.denominator].astype(float) * 100.0
    years = sorted((set(area.dropna().index) | o.suppressed) & set(comp.dropna().index))
    area, comp = area.reindex(years), comp.reindex(years)
    if ev.monthly:  # up to the end of the post-period (later months are not used)
        years = [t for t in years if t <= ev.plan.post[1]]
        return _monthly_comparison_chart(ev, o, years, area.reindex(years), comp.reindex(years))
    fig, ax = new_figure(3.8, right=1.2, bottom=0.7)
    start_year = ev.start_date.year
    ax.axvspan(start_year - 0.5, start_year + 0.5, color="#DDDDDD", zorder=0)
    ax.axvline(start_year + (ev.start_date.month - 1) / 12 - 0.5, color=GREY, ls="--", lw=1)
    _start_label(ax, start_year + 0.55, ev)
    ax.plot(years, area.values, marker="o", color=AREA_COLOUR, lw=2, label=ev.name)
    ax.plot(
        years,
        comp.values,
        marker="s",
        color=COMPARISON_COLOUR,
        lw=2,
        label="Comparison areas (combined)",
    )
    ax.set_ylabel("%")
    set_title(ax, out.label)
    ax.set_xticks(years)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_ylim(bottom=0)
    _withheld_markers(ax, [t for t in years if t in o.suppressed])
    ax.legend(frameon=False, fontsize=8, loc="best")
    r = o.result
    pre_area = area.reindex(r.pre_periods).mean()
    pre_comp = comp.reindex(r.pre_periods).mean()
    post = r.post_periods[-1]
    alt = (
        f"Line chart of the measure '{out.label}' from {years[0]} to {years[-1]}, {ev.name} against "
        f"the comparison areas combined. In {span(r.pre_periods)} {ev.name} averaged "
        f"{fmt(pre_area)}% against {fmt(pre_comp)}% for the comparison areas; in {post} the "
        f"figures were {_pct(area.get(post, float('nan')))} and {_pct(comp.get(post, float('nan')))}. "
        f"The shaded year, {start_year}, is only partly after the programme start and is left "
        f"out of the estimate."
        + (
            f" Years withheld because of small numbers: {', '.join(map(str, sorted(o.suppressed)))}."
            if o.suppressed
            else ""
        )
    )
    return fig, alt


def _pct(v) -> str:
    return "withheld (small numbers)" if v is None or v != v else f"{fmt(v)}%"


def _monthly_comparison_chart(ev, o, periods, area, comp) -> tuple[plt.Figure, str]:
    """Monthly version: lines without markers, the washout months shaded, ticks by half-year."""
    out = o.outcome
    fig, ax = new_figure(3.8, right=1.2, bottom=0.85)
    for lo, hi, _ in _partial_spans(ev):
        ax.axvspan(lo, hi, color="#DDDDDD", zorder=0)
    start = ev.start_period
    ax.axvline(start - 0.5, color=GREY, ls="--", lw=1)
    spans = _partial_spans(ev)
    _start_label(ax, max([start - 0.4] + [hi + 0.3 for _, hi, _ in spans]), ev)
    ax.plot(periods, area.values, color=AREA_COLOUR, lw=1.8, label=ev.name)
    ax.plot(
        periods, comp.values, color=COMPARISON_COLOUR, lw=1.8, label="Comparison areas (combined)"
    )
    ax.set_ylabel("%")
    set_title(ax, out.label)
    time_axis(ax, periods, ev)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=8, loc="best")
    ax.set_ylim(bottom=0)
    r = o.result
    pre_area, pre_comp = area.reindex(r.pre_periods).mean(), comp.reindex(r.pre_periods).mean()
    post_area, post_comp = area.reindex(r.post_periods).mean(), comp.reindex(r.post_periods).mean()
    shaded = "; ".join(label for _, _, label in _partial_spans(ev))
    alt = (
        f"Monthly line chart of the measure '{out.label}' from {ev.label(periods[0])} to "
        f"{ev.label(periods[-1])}, {ev.name} against the comparison areas combined. In "
        f"{span(r.pre_periods, ev.label)} {ev.name} averaged {fmt(pre_area)}% a month against "
        f"{fmt(pre_comp)}% for the comparison areas; in {span(r.post_periods, ev.label)} the "
        f"averages were {fmt(post_area)}% and {fmt(post_comp)}%."
        + (
            f" The shaded months ({shaded}) are the phase-in after the programme start and are "
            "left out of the estimate."
            if shaded
            else ""
        )
    )
    return fig, alt


def placebo_chart(ev: AreaEvaluation, o: OutcomeResult) -> tuple[plt.Figure, str]:
    """Placebo distribution of the normalised statistic with the area marked."""
    dist: pd.DataFrame = o.result.distribution
    placebo = dist.loc[~dist["is_treated"], "z"].clip(-10, 10)
    z = float(dist.loc[dist["is_treated"], "z"].iloc[0])
    fig, ax = new_figure(2.8, bottom=0.6)
    ax.hist(placebo, bins=30, color="#A0A0A0", edgecolor="white")
    marked = max(min(z, 10), -10)
    ax.axvline(marked, color=AREA_COLOUR, lw=2.5)
    right_half = marked > float(np.mean(ax.get_xlim()))  # label on the side with room
    ax.text(
        marked,
        0.95,
        f"{ev.name} " if right_half else f" {ev.name}",
        color=AREA_COLOUR,
        transform=ax.get_xaxis_transform(),
        va="top",
        ha="right" if right_half else "left",
        fontsize=9,
    )
    ax.set_xlabel(
        "Change relative to comparison, divided by pre-period variability (clipped at \u00b110)"
    )
    ax.set_ylabel("Comparison areas")
    ax.spines[["top", "right"]].set_visible(False)
    n = len(placebo)
    rank = o.result.diagnostics["placebo_rank"]
    alt = (
        f"Histogram of the same statistic computed for each of the {n} comparison areas as if "
        f"it had been a pilot. The statistic is the change relative to the comparison areas "
        f"divided by how much the gap varied before the programme, so areas with noisy data "
        f"are not over-counted; {ev.name}'s is {fmt(z, 2)}. {rank - 1} of {n} "
        f"comparison areas have a value at least as extreme, giving p = {o.result.p_value:.2f}."
    )
    return fig, alt


def its_chart(ev: AreaEvaluation, item: dict, title: str) -> tuple[plt.Figure, str]:
    """ITS chart for a report section (area alone or area minus comparison)."""
    controlled = item["design"] == "controlled"
    what = (
        f"the gap between {ev.name} and the comparison areas" if controlled else f"{ev.name}'s rate"
    )
    return its_figure(
        item["result"],
        title=title,
        what=what,
        ylabel="percentage points" if controlled else "%",
        zero_line=controlled,
        label=ev.label if ev.monthly else None,
        decimals=CATALOGUE[item["outcome"]].decimals if item["outcome"] in CATALOGUE else 1,
    )


def its_figure(
    res,
    title: str = "",
    what: str = "the series",
    ylabel: str = "",
    zero_line: bool = False,
    label=None,
    decimals: int = 1,
) -> tuple[plt.Figure, str]:
    """Observed, fitted and counterfactual (with its band) for any ITS result from
    :func:`evaluation.models.its.its`, the interruption marked; returns (figure, alt text).
    ``label`` (optional) maps a time value to its display label (e.g. month index -> 'Jan
    2021'); ticks then fall on every sixth time value divisible by 6 (January and July).
    ``decimals``: for the numbers in the alt text (the outcome's own precision)."""
    cf = res.extra["counterfactual"]
    fig, ax = new_figure(3.6, right=1.0, bottom=0.85 if label is not None else 0.7)
    years = cf["time"].to_numpy()
    band = _draw_its(ax, cf)
    if zero_line:
        ax.axhline(0, color="#BBBBBB", lw=0.8)
    set_title(ax, title)
    if label is not None:
        ticks = [t for t in years if int(t) % 6 == 0] or list(years[:1])
        ax.set_xticks(ticks)
        ax.set_xticklabels([label(int(t)) for t in ticks])
    elif len(years) <= 15:
        ax.set_xticks(years)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    _withheld_markers(ax, list(years[cf["observed"].isna().to_numpy()]))
    ax.legend(frameon=False, fontsize=7, loc="best")
    return fig, _its_alt(res, cf, years[band][-1], what, label, decimals)


def _draw_its(ax, cf: pd.DataFrame) -> np.ndarray:
    """Draw the observed points (washout ones open), the fitted line, the counterfactual with
    its band and the interruption line; returns the mask of the post-period points in the band."""
    post = cf["post"].to_numpy()
    washout = cf["washout"].to_numpy()
    years = cf["time"].to_numpy()
    obs = cf["observed"].to_numpy()
    ax.plot(years[~washout], obs[~washout], "o", color=AREA_COLOUR, ms=4, label="Observed")
    if washout.any():
        ax.plot(
            years[washout],
            obs[washout],
            "o",
            mfc="white",
            color=AREA_COLOUR,
            label="Observed, left out (washout)",
        )
    fitted = cf["fitted"].to_numpy().copy()
    fitted[washout] = float("nan")
    ax.plot(years, fitted, "-", color=AREA_COLOUR, lw=1.5, label="Fitted")
    band = post & ~washout
    last_pre = np.arange(len(years)) == np.argmax(post) - 1
    show = post | last_pre
    ax.plot(
        years[show],
        cf["counterfactual"].to_numpy()[show],
        "--",
        color=COMPARISON_COLOUR,
        lw=1.5,
        label="Counterfactual (no interruption)",
    )
    lo, hi = cf["cf_low"].to_numpy()[band], cf["cf_high"].to_numpy()[band]
    if band.sum() > 1:
        ax.fill_between(
            years[band], lo, hi, color=COMPARISON_COLOUR, alpha=0.2, label="Counterfactual band"
        )
    else:  # one post-period point: show the band as an interval bar
        mid = cf["counterfactual"].to_numpy()[band]
        ax.errorbar(
            years[band],
            mid,
            yerr=[mid - lo, hi - mid],
            fmt="none",
            ecolor=COMPARISON_COLOUR,
            capsize=4,
            label="Counterfactual band",
        )
    first_post = years[post][0]
    step = float(np.min(np.diff(years))) if len(years) > 1 else 1.0
    ax.axvline(first_post - step / 2, color=GREY, ls=":", lw=1)
    ax.text(
        first_post - step / 2,
        0.98,
        " interruption",
        transform=ax.get_xaxis_transform(),
        va="top",
        fontsize=8,
        color=GREY,
    )
    return band


def _its_alt(res, cf: pd.DataFrame, last, what: str, label, dp: int) -> str:
    """Alt text of an ITS chart: the span, observed against projected at the ``last`` point
    of the band, and the estimated level change with its interval."""
    years = cf["time"].to_numpy()
    lvl = res.terms.loc["level_change"]
    obs_last = float(cf.loc[cf["time"] == last, "observed"].iloc[0])
    obs_text = "withheld (small numbers)" if obs_last != obs_last else fmt(obs_last, dp)
    cf_last = float(cf.loc[cf["time"] == last, "counterfactual"].iloc[0])
    hidden = cf.loc[cf["observed"].isna(), "time"].to_numpy()
    show = label if label is not None else (lambda t: fmt(float(t), 0))
    hidden_text = (
        f" Points withheld because of small numbers: {', '.join(show(int(t)) for t in hidden)}."
        if len(hidden)
        else ""
    )
    scale = "" if "ratio" not in res.terms.columns else f" (ratio {fmt(float(lvl['ratio']), 3)})"
    first_txt, last_txt = (
        (label(int(years[0])), label(int(years[-1])))
        if label is not None
        else (fmt(float(years[0]), 0), fmt(float(years[-1]), 0))
    )
    return (
        f"Chart of {what} over time, {first_txt} to {last_txt}, "
        "with the fitted trend and the trend projected past the interruption. At the last "
        f"point the observed value was {obs_text} against {fmt(cf_last, dp)} projected; the "
        f"estimated level change is {fmt(float(lvl['estimate']), dp)}{scale} (interval "
        f"{fmt(float(lvl['ci_low']), dp)} to {fmt(float(lvl['ci_high']), dp)}).{hidden_text}"
    )


def event_study_chart(ev: AreaEvaluation, o: OutcomeResult) -> tuple[plt.Figure, str]:
    """Event-study coefficients (gap relative to the reference year) with placebo intervals."""
    es = o.alternatives["event_study"]
    terms = es.terms
    ref = es.diagnostics["reference_period"]
    periods = [int(p) for p in terms["period"]] + [int(ref)]
    est = list(terms["estimate"]) + [0.0]
    lo = list(terms["ci_low"]) + [0.0]
    hi = list(terms["ci_high"]) + [0.0]
    order = np.argsort(periods)
    periods = [periods[i] for i in order]
    est, lo, hi = (np.array([v[i] for i in order]) for v in (est, lo, hi))
    fig, ax = new_figure(3.4, right=1.6, bottom=0.85 if ev.monthly else 0.55)
    ax.axhline(0, color=GREY, lw=1)
    start = ev.start_period
    word = ev.plan.period_word
    ax.axvline(start, color=GREY, ls="--", lw=1)
    ax.text(
        start + 0.1,
        0.98,
        f"programme starts\n({ev.start_date:%b %Y}; "
        + ("year left out)" if not ev.monthly else "phase-in months left out)"),
        transform=ax.get_xaxis_transform(),
        va="top",
        fontsize=8,
        color=GREY,
    )
    finite = np.isfinite(lo) & np.isfinite(hi)
    lw, ms = (2, None) if not ev.monthly else (1, 3)
    ax.vlines(np.array(periods)[finite], lo[finite], hi[finite], color=AREA_COLOUR, lw=lw)
    pre = np.array(periods) < start
    ax.plot(np.array(periods)[pre], est[pre], "o", color=AREA_COLOUR, ms=ms, label="before (leads)")
    ax.plot(np.array(periods)[~pre], est[~pre], "D", color=AREA_COLOUR, ms=ms, label="after (lags)")
    ax.plot(
        [ref], [0], "o", mfc="white", mec=AREA_COLOUR, label=f"reference {word} ({ev.label(ref)})"
    )
    time_axis(ax, periods, ev)
    if ev.monthly:
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.set_ylabel(o.outcome.unit)
    set_title(ax, f"{o.outcome.label}: gap with comparison, relative to {ev.label(ref)}")
    ax.spines[["top", "right"]].set_visible(False)
    _withheld_markers(ax, [p for p, e in zip(periods, est, strict=True) if e != e])
    ax.legend(frameon=False, fontsize=8, loc="best")
    dp = o.outcome.decimals
    level = round(100 * (1 - es.alpha))
    post = terms[terms["period"] >= start]
    post_text = "; ".join(
        f"{ev.label(int(r.period))}: withheld (small numbers)"
        if r.estimate != r.estimate
        else f"{ev.label(int(r.period))}: {fmt(r.estimate, dp)} ({fmt(r.ci_low, dp)} to "
        f"{fmt(r.ci_high, dp)})"
        for r in post.itertuples()
    )
    trend = ev.pre_trend(o.outcome.name)["sentence"]
    alt = (
        f"Event-study chart for '{o.outcome.label}' in {ev.name}: the gap between the area and "
        f"the comparison areas in each {word}, minus the gap in {ev.label(ref)}, with {level}% placebo "
        f"intervals. After the start: {post_text} {o.outcome.unit}. {trend}"
    )
    return fig, alt


def synthetic_chart(ev: AreaEvaluation, o: OutcomeResult) -> tuple[plt.Figure, str]:
    """The area against its synthetic control (a weighted mix of comparison areas)."""
    sc = o.alternatives["synthetic_control"]
    paths = sc.extra["paths"]
    names = ev.panel.units.drop_duplicates("unit_id").set_index("unit_id")["unit_name"]
    w = sc.extra["weights"]
    w = w[w["weight"] > 0.005].sort_values("weight", ascending=False)
    fig, ax = new_figure(3.4, bottom=0.85 if ev.monthly else 0.55)
    ax.plot(paths["time"], paths["treated"], marker="o", color=AREA_COLOUR, lw=2, label=ev.name)
    ax.plot(
        paths["time"],
        paths["synthetic"],
        marker="s",
        ls="--",
        color=COMPARISON_COLOUR,
        lw=2,
        label="Synthetic comparison (weighted mix of areas)",
    )
    ax.axvline(ev.start_period, color=GREY, ls="--", lw=1)
    time_axis(ax, list(paths["time"]), ev)
    if ev.monthly:
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.set_ylabel("%")
    set_title(ax, f"{o.outcome.label}: synthetic control")
    ax.spines[["top", "right"]].set_visible(False)
    _withheld_markers(ax, list(paths.loc[paths["treated"].isna(), "time"]))
    ax.legend(frameon=False, fontsize=8, loc="best")
    dp = o.outcome.decimals
    top = ", ".join(f"{names.get(r.unit, r.unit)} {r.weight:.0%}" for r in w.head(5).itertuples())
    fit = sc.diagnostics.get("pre_rmspe", float("nan"))
    ok = sc.diagnostics.get("pre_fit_ok")
    fit_text = {
        True: "The pre-programme fit is good by the report's rule.",
        False: "The pre-programme fit is poor by the report's rule, so this estimate is not "
        "used as evidence.",
        None: "The pre-programme fit is exact by construction (more comparison areas than "
        "years), which says nothing about how good the comparison is.",
    }[ok]
    alt = (
        f"Line chart of '{o.outcome.label}' for {ev.name} and a synthetic comparison built "
        f"from {len(w)} comparison areas (largest weights: {top}). Before the programme the two "
        f"lines differ by {fmt(fit, dp)} points on average (root mean square). After it, the "
        f"gap averages {fmt(sc.estimate, dp)} {o.outcome.unit}. {fit_text}"
    )
    return fig, alt
