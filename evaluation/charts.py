"""Charts for reports.  Every chart function returns ``(figure, alt_text)``: a chart without a
message in words is not allowed.  :func:`figure_html` embeds the SVG with its alt text, so the
exported HTML needs no external request and screen readers get the message."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("svg")  # charts are rendered to SVG text here, never through the inline backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .area import AreaEvaluation, OutcomeResult  # noqa: E402
from .text import escape, fmt, span  # noqa: E402

AREA_COLOUR = "#12436D"  # Analysis Function dark blue
COMPARISON_COLOUR = "#F46A25"  # Analysis Function orange
GREY = "#707070"


def figure_html(fig, alt: str, caption: str = "") -> str:
    """SVG figure as an <img> data URI with alt text and an optional caption."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img src="data:image/svg+xml;base64,{data}" alt="{escape(alt)}" '
        f'style="max-width:100%;height:auto">{cap}</figure>'
    )


def comparison_chart(ev: AreaEvaluation, o: OutcomeResult) -> tuple[plt.Figure, str]:
    """The area's rate against the comparison pool's pooled rate, every year available."""
    units = ev.panel.units
    out = o.outcome
    area = units[units["unit_id"] == ev.la_code].set_index("year")[out.name].astype(float)
    pool = units[units["unit_id"].isin(o.result.distribution["unit"][1:])]
    sums = pool.groupby("year")[[out.numerator, out.denominator]].sum(min_count=1)
    comp = sums[out.numerator].astype(float) / sums[out.denominator].astype(float) * 100.0
    years = sorted(set(area.dropna().index) & set(comp.dropna().index))
    area, comp = area.reindex(years), comp.reindex(years)
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    start_year = ev.start_date.year
    ax.axvspan(start_year - 0.5, start_year + 0.5, color="#DDDDDD", zorder=0)
    ax.axvline(start_year + (ev.start_date.month - 1) / 12 - 0.5, color=GREY, ls="--", lw=1)
    ax.text(
        start_year + 0.55,
        0.98,
        "programme starts\n(Sep 2023)",
        transform=ax.get_xaxis_transform(),
        va="top",
        fontsize=8,
        color=GREY,
    )
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
    ax.set_title(out.label, fontsize=10, loc="left")
    ax.set_xticks(years)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=8, loc="best")
    ax.set_ylim(bottom=0)
    r = o.result
    pre_area = area.reindex(r.pre_periods).mean()
    pre_comp = comp.reindex(r.pre_periods).mean()
    post = r.post_periods[-1]
    alt = (
        f"Line chart of the measure '{out.label}' from {years[0]} to {years[-1]}, {ev.name} against "
        f"the comparison areas combined. In {span(r.pre_periods)} {ev.name} averaged "
        f"{fmt(pre_area)}% against {fmt(pre_comp)}% for the comparison areas; in {post} the "
        f"figures were {fmt(area.get(post, float('nan')))}% and {fmt(comp.get(post, float('nan')))}%. "
        f"The shaded year, {start_year}, is only partly after the programme start and is left "
        f"out of the estimate."
    )
    return fig, alt


def placebo_chart(ev: AreaEvaluation, o: OutcomeResult) -> tuple[plt.Figure, str]:
    """Placebo distribution of the normalised statistic with the area marked."""
    dist: pd.DataFrame = o.result.distribution
    placebo = dist.loc[~dist["is_treated"], "z"].clip(-10, 10)
    z = float(dist.loc[dist["is_treated"], "z"].iloc[0])
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    ax.hist(placebo, bins=30, color="#A0A0A0", edgecolor="white")
    ax.axvline(max(min(z, 10), -10), color=AREA_COLOUR, lw=2.5)
    ax.text(
        max(min(z, 10), -10),
        0.95,
        f" {ev.name}",
        color=AREA_COLOUR,
        transform=ax.get_xaxis_transform(),
        va="top",
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
        f"it had been a pilot, with {ev.name} marked at {fmt(z, 2)}. {rank - 1} of {n} "
        f"comparison areas have a value at least as extreme, giving p = {o.result.p_value:.2f}."
    )
    return fig, alt


def its_chart(ev: AreaEvaluation, item: dict, title: str) -> tuple[plt.Figure, str]:
    """Observed, fitted and counterfactual (with band) for one ITS; interruption marked."""
    res = item["result"]
    cf = res.extra["counterfactual"]
    post = cf["post"].to_numpy()
    washout = cf["washout"].to_numpy()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    years = cf["time"].to_numpy()
    ax.plot(
        years[~washout],
        cf["observed"].to_numpy()[~washout],
        "o",
        color=AREA_COLOUR,
        label="Observed",
    )
    if washout.any():
        ax.plot(
            years[washout],
            cf["observed"].to_numpy()[washout],
            "o",
            mfc="white",
            color=AREA_COLOUR,
            label="Observed, left out (partly treated)",
        )
    fitted = cf["fitted"].to_numpy().copy()
    fitted[washout] = float("nan")
    ax.plot(years, fitted, "-", color=AREA_COLOUR, lw=1.5, label="Fitted")
    band = post & ~washout
    cf_years = years[post | (np.arange(len(years)) == np.argmax(post) - 1)]
    cf_vals = cf["counterfactual"].to_numpy()[post | (np.arange(len(years)) == np.argmax(post) - 1)]
    ax.plot(
        cf_years,
        cf_vals,
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
    ax.axvline(first_post - 0.5, color=GREY, ls=":", lw=1)
    ax.text(
        first_post - 0.45,
        0.98,
        "interruption",
        transform=ax.get_xaxis_transform(),
        va="top",
        fontsize=8,
        color=GREY,
    )
    ax.axhline(0, color="#BBBBBB", lw=0.8) if item["design"] == "controlled" else None
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xticks(years)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.set_ylabel("percentage points" if item["design"] == "controlled" else "%")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=7, loc="best")
    lvl = res.terms.loc["level_change"]
    last = years[band][-1]
    obs_last = float(cf.loc[cf["time"] == last, "observed"].iloc[0])
    cf_last = float(cf.loc[cf["time"] == last, "counterfactual"].iloc[0])
    what = (
        "the gap between " + ev.name + " and the comparison areas"
        if item["design"] == "controlled"
        else ev.name + "'s rate"
    )
    alt = (
        f"Chart of {what} by year, {int(years[0])} to {int(years[-1])}, with a fitted trend "
        f"and the trend projected past the interruption. In {int(last)} the observed value was "
        f"{fmt(obs_last)} against {fmt(cf_last)} projected; the estimated level change is "
        f"{fmt(float(lvl['estimate']))} (interval {fmt(float(lvl['ci_low']))} to "
        f"{fmt(float(lvl['ci_high']))})."
    )
    return fig, alt
