"""The programme overview's power section: how big an effect the plan's designs could detect
(minimum detectable effect now, and as more data arrive), with its chart."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.designs.power_analysis import PowerAnalysis
from evaluation.panel.outcomes import CATALOGUE
from evaluation.report.charts import AREA_COLOUR, COMPARISON_COLOUR, GREY, figure_html
from evaluation.report.overview import Overview
from evaluation.report.text import escape, fmt

DESIGN_LABELS = {
    "per_area": "One pilot area (placebo-in-space test)",
    "programme": "All pilots combined (placebo programmes)",
}


def _mde_text(value: float, dp: int) -> str:
    """The MDE as shown; on the 0-100 scale of every rate an MDE above 100 points cannot be
    an effect at all, so it is said as "larger than the scale"."""
    if value is None or not np.isfinite(value):
        return "not reached"
    return "larger than the scale" if value > 100 else fmt(value, dp)


def power_chart(pw: PowerAnalysis, outcome: str, mid: float | None) -> tuple[plt.Figure, str]:
    """MDE against months of post-period data: monthly returns (synthetic noise model) and the
    annual data (bootstrap), per area (median pilot) and for the programme."""
    o = CATALOGUE[outcome]
    rows = pw.rows[pw.rows["outcome"] == outcome]
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    said = []
    styles = {"per_area": (AREA_COLOUR, "o"), "programme": (COMPARISON_COLOUR, "s")}
    for design, (colour, marker) in styles.items():
        label = "one pilot area (median pilot)" if design == "per_area" else "all pilots combined"
        col = "pilots_median" if design == "per_area" else "mde"
        m = rows[(rows["design"] == design) & (rows["timescale"] == "months")]
        if len(m):
            ax.plot(
                m["post_periods"],
                m[col],
                "-",
                marker=marker,
                color=colour,
                ms=4,
                label=f"{label}, monthly returns",
            )
            said.append(
                f"{label}: {fmt(m[col].iloc[0], o.decimals)} after {int(m['post_periods'].iloc[0])}"
                f" month(s) of monthly returns, {fmt(m[col].iloc[-1], o.decimals)} after "
                f"{int(m['post_periods'].iloc[-1])}"
            )
        y = rows[
            (rows["design"] == design)
            & (rows["timescale"] == "years")
            & (rows["basis"] == "bootstrap")
        ]
        if len(y):
            ax.plot(
                12 * y["post_periods"],
                y[col],
                "--",
                marker=marker,
                mfc="white",
                color=colour,
                ms=4,
                label=f"{label}, annual data",
            )
            said.append(
                f"{label} with annual data: {fmt(y[col].iloc[0], o.decimals)} after 1 year, "
                f"{fmt(y[col].iloc[-1], o.decimals)} after {int(y['post_periods'].iloc[-1])}"
            )
    if mid:
        ax.axhline(mid, color=GREY, lw=1, ls=":", label="plan's minimum important difference")
    ax.set_yscale("log")
    ax.set_xlabel("Months of post-period data")
    ax.set_ylabel(f"MDE ({o.unit}, log scale)")
    ax.set_title(o.label, fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False)
    alt = (
        f"Line chart of the minimum detectable effect for {o.label} against months of "
        f"post-period data. It falls as data arrive: "
        + "; ".join(said)
        + "."
        + (f" The plan's minimum important difference is {fmt(mid, o.decimals)}." if mid else "")
    )
    return fig, alt


def power_section(ov: Overview) -> str:
    """'How big an effect could this design detect?': MDE at 80% power now, and as data arrive."""
    head = "<h2>How big an effect could this design detect?</h2>"
    pw = ov.power
    if pw is None:
        why = f" ({escape(ov.power_error)})" if ov.power_error else ""
        return head + f"<p>The power analysis is not available{why}.</p>"
    level = round(100 * pw.alpha)
    power = round(100 * pw.target)
    parts = [
        head,
        f"<p>The <strong>minimum detectable effect</strong> (MDE) is the smallest true effect "
        f"that the analysis would find significant (two-sided, {level}% level) in {power}% of "
        "evaluations. Smaller effects may be real but would usually be missed, so a result of "
        "'no clear evidence' below the MDE says little. The MDE is found by simulation from the "
        "real data: each comparison area (or placebo programme) in turn is treated as a pilot "
        "with a known effect added, and the same test is run. For one area it depends on how "
        "noisy that area's own pre-period was. Run <code>python -m evaluation power</code> for "
        "every number and the power curves.</p>",
    ]
    now_rows, more_rows = [], []
    for name, d in pw.outcomes.items():
        r = pw.rows[pw.rows["outcome"] == name]
        obs = r[r["basis"] == "observed"]
        now_rows += _mde_now_rows(name, d, obs)
        more_rows += _mde_more_rows(name, r[r["basis"] != "observed"])
        parts.append(_mid_caveat(name, d, obs))
    parts.append(
        f"<table><caption>Minimum detectable effect at {power}% power with the data available "
        "now (natural units of each outcome; 'one pilot area' is for a typical comparison area "
        "as pseudo-pilot, then the median and range over the pilot areas)</caption><thead><tr>"
        "<th scope='col'>Outcome (direction)</th><th scope='col'>Design</th>"
        "<th scope='col'>MDE</th><th scope='col'>Pilot areas: median (range)</th>"
        "<th scope='col'>Plan's minimum important difference</th></tr></thead>"
        f"<tbody>{''.join(now_rows)}</tbody></table>"
    )
    parts.append(
        "<h3>How the MDE shrinks as more data arrive</h3>"
        "<p>More years of annual data are projected by resampling each area's year-to-year "
        "noise from the pre-period; the part of the post-period change that the real data show "
        "beyond ordinary year-to-year noise is assumed to persist, so the projection does not "
        "promise too much; the projection starts from the MDE with the data available now. Monthly returns are simulated from the synthetic monthly data "
        "(<code>make demo-data</code>), which carry only sampling noise: real returns will be "
        "noisier, so read the monthly MDEs as the best case.</p>"
        f"<table><caption>Minimum detectable effect at {power}% power by amount of post-period "
        "data</caption><thead><tr><th scope='col'>Outcome</th><th scope='col'>Design</th>"
        "<th scope='col'>Post-period data</th><th scope='col'>MDE</th>"
        "<th scope='col'>Median pilot area</th></tr></thead>"
        f"<tbody>{''.join(more_rows)}</tbody></table>"
    )
    for name, d in pw.outcomes.items():
        if d.get("available") is False:
            parts.append(
                f"<p>{escape(CATALOGUE[name].label)}: not available ({escape(d['reason'])}).</p>"
            )
            continue
        fig, alt = power_chart(pw, name, d.get("minimum_important_difference"))
        parts.append(figure_html(fig, alt, caption=alt))
    return "".join(parts)


def _mde_now_rows(name: str, d: dict, obs: pd.DataFrame) -> list[str]:
    """Rows of the 'data available now' table for one outcome (its observed-basis MDEs)."""
    o = CATALOGUE[name]
    dp = o.decimals
    mid = d.get("minimum_important_difference")
    rows = []
    for i, row in enumerate(obs.itertuples(index=False)):
        first = (
            f"<th scope='row' rowspan='{len(obs)}'>{escape(o.label)} "
            f"({escape(d['headline_direction'])})</th>"
            if i == 0
            else ""
        )
        pilots = (
            f"{_mde_text(row.pilots_median, dp)} ({_mde_text(row.pilots_min, dp)} to "
            f"{_mde_text(row.pilots_max, dp)})"
            if row.design == "per_area" and pd.notna(getattr(row, "pilots_median", np.nan))
            else "not applicable"
        )
        rows.append(
            f"<tr>{first}<td>{escape(DESIGN_LABELS[row.design])}</td>"
            f"<td>{_mde_text(row.mde, dp)}</td><td>{pilots}</td>"
            f"<td>{fmt(mid, dp) if mid else 'not set'}</td></tr>"
        )
    return rows


def _mde_more_rows(name: str, more: pd.DataFrame) -> list[str]:
    """Rows of the 'as more data arrive' table for one outcome (projected and simulated MDEs)."""
    o = CATALOGUE[name]
    dp = o.decimals
    rows = []
    for i, row in enumerate(more.itertuples(index=False)):
        first = f"<th scope='row' rowspan='{len(more)}'>{escape(o.label)}</th>" if i == 0 else ""
        data = (
            f"{row.post_periods} year(s) of annual data (projected)"
            if row.timescale == "years"
            else f"{row.post_periods} month(s) of monthly returns (synthetic noise)"
        )
        pilots = (
            _mde_text(row.pilots_median, dp)
            if row.design == "per_area" and pd.notna(getattr(row, "pilots_median", np.nan))
            else "not applicable"
        )
        rows.append(
            f"<tr>{first}<td>{escape(DESIGN_LABELS[row.design])}</td><td>{data}</td>"
            f"<td>{_mde_text(row.mde, dp)}</td><td>{pilots}</td></tr>"
        )
    return rows


def _mid_caveat(name: str, d: dict, obs: pd.DataFrame) -> str:
    """A caution when the median pilot's MDE now exceeds the plan's minimum important
    difference (empty otherwise)."""
    o = CATALOGUE[name]
    dp = o.decimals
    mid = d.get("minimum_important_difference")
    area_obs = obs[obs["design"] == "per_area"]
    if not (mid and len(area_obs) and area_obs["pilots_median"].iloc[0] > mid):
        return ""
    return (
        f"<p class='caveat'>{escape(o.label)}: with {len(d['post_periods'])} year(s) of "
        f"annual data, the median pilot area's MDE ({fmt(area_obs['pilots_median'].iloc[0], dp)} "
        f"{escape(o.unit)}) is larger than the plan's minimum important difference "
        f"({fmt(mid, dp)}). A single area's estimate cannot show an effect of that size; "
        "the programme-level estimate, and monthly returns, can do better.</p>"
    )
