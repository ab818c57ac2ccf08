"""Programme overview: every pilot area's estimate side by side, partnership and programme
level estimates, and the index page linking every report.

Per-area numbers are read back from each area's ``results.json`` (one source of truth); the
partnership and programme estimates are computed here from the same panel and plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.power_analysis import PowerAnalysis, power_analysis
from evaluation.designs.programme import partnership_did, programme_did, programme_robustness
from evaluation.models.results import json_safe
from evaluation.panel.build import Panel
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan import Plan
from evaluation.report.charts import AREA_COLOUR, COMPARISON_COLOUR, GREY, figure_html
from evaluation.report.text import cut_ends, escape, fmt


@dataclass
class Overview:
    plan: Plan
    areas: pd.DataFrame  # one row per (area, outcome) from results.json
    programme: dict  # outcome -> EstimationResult
    partnerships: pd.DataFrame  # partnership x outcome estimates
    missing: list[str]
    robustness: dict = field(default_factory=dict)  # outcome -> {key: EstimationResult}
    power: PowerAnalysis | None = None  # MDE of the plan's designs (evaluation/power.py)
    power_error: str = ""  # why the power analysis is missing, if it is
    errors: dict = field(default_factory=dict)  # outcome -> why no programme estimate

    def to_dict(self) -> dict:
        """``reports/overview/results.json``: every programme-level estimate names its
        estimator and its inference method."""

        def item(key, r):
            return {
                "key": key,
                "method": r.method,
                "inference": r.inference,
                "estimate": r.estimate,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "confidence_level": 1 - r.alpha,
                "p_value": r.p_value,
                "se": r.se,
                "n_treated": r.n_treated,
                "n_comparison_units": r.n_comparison_units,
                "conventions": dict(r.conventions),
            }

        return json_safe(
            {
                "plan": self.plan.name,
                "seed": self.plan.seed,
                "programme": {
                    name: {
                        "headline": item("randomisation_inference", r),
                        "robustness": [
                            item(k, v) for k, v in self.robustness.get(name, {}).items()
                        ],
                    }
                    for name, r in self.programme.items()
                },
                "programme_not_estimable": dict(self.errors),
                "partnerships": self.partnerships.to_dict(orient="records"),
                "areas_missing": list(self.missing),
                "power": self.power.to_dict() if self.power is not None else None,
            }
        )

    def to_json(self, path) -> str:
        """Write results.json and, beside it, ``permutation_distribution.csv`` (the placebo
        programmes' estimates behind each programme-level p-value and interval)."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        Path(path).write_text(text + "\n", encoding="utf-8")
        frames = [
            r.distribution.assign(outcome=name, draw=range(1, len(r.distribution) + 1))
            for name, r in self.programme.items()
            if r.distribution is not None
        ]
        if frames:
            pd.concat(frames)[["outcome", "draw", "estimate"]].to_csv(
                Path(path).with_name("permutation_distribution.csv"), index=False
            )
        return text


def collect_results(
    out_root: Path, plan: Plan, slugs: dict[str, str]
) -> tuple[pd.DataFrame, list[str]]:
    rows, missing = [], []
    for code, slug in slugs.items():
        path = Path(out_root) / slug / "results.json"
        if not path.exists():
            missing.append(code)
            continue
        res = json.loads(path.read_text(encoding="utf-8"))
        for o in res["outcomes"]:
            rows.append(
                {
                    "la_code": code,
                    "slug": slug,
                    "area": res["area"]["name"],
                    "partnership": res["area"]["partnership"],
                    "outcome": o["outcome"],
                    "estimate": o["estimate"],
                    "ci_low": o["ci_low"],
                    "ci_high": o["ci_high"],
                    "p_value": o["p_value"],
                    "interval_cut": _interval_cut(o),
                }
            )
    return pd.DataFrame(rows), missing


def _interval_cut(o: dict) -> str:
    """Which end of an area's interval the 0-100 range set (rather than the data)."""
    raw = (o.get("diagnostics") or {}).get("interval_before_bounds")
    low, high = cut_ends(o["ci_low"], o["ci_high"], raw)
    return {(True, True): "both ends", (True, False): "lower end", (False, True): "upper end"}.get(
        (low, high), "no"
    )


def build_overview(
    panel: Panel,
    plan: Plan,
    out_root: Path,
    slugs: dict[str, str],
    permutations: int = 999,
    power: PowerAnalysis | None = None,
    compute_power: bool = True,
) -> Overview:
    """``power``: a ready :class:`PowerAnalysis`; otherwise, with ``compute_power``, it is
    computed here (a few seconds) with the plan's seed and ``permutations``."""
    areas, missing = collect_results(out_root, plan, slugs)
    power_error = ""
    if power is None and compute_power:
        try:
            power = power_analysis(panel, plan, permutations=permutations)
        except Exception as exc:  # noqa: BLE001 - the overview still renders; the page says why
            power_error = f"{type(exc).__name__}: {exc}"
    pool = comparison_pool(panel, plan)
    treated: dict[str, list[str]] = {}
    for p in plan.pilots:
        treated.setdefault(p.partnership, []).append(p.la_code)
    programme, parts, robustness, errors = {}, [], {}, {}
    for planned in plan.outcomes:
        o = CATALOGUE[planned.name]
        kw = dict(
            outcome=o.name,
            numerator=o.numerator,
            denominator=o.denominator,
            pre=plan.pre_years,
            post=plan.post_years,
        )
        try:
            programme[o.name] = programme_did(
                panel.units,
                treated=treated,
                pool=pool,
                region_of=panel.regions,
                permutations=permutations,
                seed=plan.seed,
                alpha=plan.alpha,
                **kw,
            )
            robustness[o.name] = programme_robustness(
                panel.units, treated=treated, pool=pool, seed=plan.seed, alpha=plan.alpha, **kw
            )
        except ValueError as exc:  # reported on the page, the rest of the overview renders
            errors[o.name] = str(exc)
        for part, members in treated.items():
            row = {"partnership": part, "outcome": o.name, "n_las": len(members)}
            try:
                r = partnership_did(panel.units, members, pool, alpha=plan.alpha, **kw)
                row.update(
                    estimate=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, p_value=r.p_value
                )
            except ValueError:
                row.update(estimate=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
            parts.append(row)
    return Overview(
        plan,
        areas,
        programme,
        pd.DataFrame(parts),
        missing,
        robustness,
        power,
        power_error,
        errors,
    )


def forest_chart(overview: Overview, outcome: str) -> tuple[plt.Figure, str]:
    o = CATALOGUE[outcome]
    d = overview.areas[overview.areas["outcome"] == outcome].sort_values("estimate")
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(d) + 1.2))
    y = np.arange(len(d))
    lo = d["ci_low"].astype(float).fillna(-np.inf).clip(lower=-100)
    hi = d["ci_high"].astype(float).fillna(np.inf).clip(upper=100)
    ax.hlines(y, lo, hi, color=GREY, lw=1.5)
    ax.plot(d["estimate"], y, "o", color=AREA_COLOUR, ms=4)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(d["area"], fontsize=7)
    ax.set_xlabel(f"Difference-in-differences ({o.unit})")
    ax.set_title(o.label, fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    excl = d[(d["ci_low"] > 0) | (d["ci_high"] < 0)]
    alt = (
        f"Forest plot of {len(d)} pilot areas' estimates for {o.label}, each with its "
        f"95% placebo interval, sorted from {d['area'].iloc[0]} ({fmt(d['estimate'].iloc[0])})"
        f" to {d['area'].iloc[-1]} ({fmt(d['estimate'].iloc[-1])}). {len(excl)} of "
        f"{len(d)} intervals exclude zero."
    )
    return fig, alt


def programme_robustness_table(ov: Overview) -> str:
    """The programme effect by several estimators, each with its inference method."""
    level = round(100 * (1 - ov.plan.alpha))
    labels = {
        "twfe_wild": "Two-way fixed effects, weighted (wild cluster bootstrap by partnership)",
        "conley_taber": "Partnerships combined, Conley-Taber interval",
        "binomial_fe": "Grouped-binomial logit with area and year effects (cluster-robust)",
    }
    rows = []
    for name, r in ov.programme.items():
        o = CATALOGUE[name]
        dp = o.decimals
        lines = [("Combined pilots vs comparison (randomisation inference)", r)]
        lines += [(labels.get(k, v.method), v) for k, v in ov.robustness.get(name, {}).items()]
        for i, (label, x) in enumerate(lines):
            first = (
                f"<th scope='row' rowspan='{len(lines)}'>{escape(o.label)}</th>" if i == 0 else ""
            )
            rows.append(
                f"<tr>{first}<td>{escape(label)}</td><td>{fmt(x.estimate, dp)}</td>"
                f"<td>{fmt(x.ci_low, dp)} to {fmt(x.ci_high, dp)}</td><td>{x.p_value:.2f}</td></tr>"
            )
    return (
        "<h2>The programme effect by other methods</h2>"
        "<p>The first line of each block is the headline above. The others ask the same "
        "question with different assumptions. With only 9 partnerships, the cluster-based "
        "methods (the bootstrap and the logit) can be unreliable; the Conley-Taber interval "
        "uses the many comparison areas to learn how noisy a partnership's change is.</p>"
        f"<table><caption>Programme effect by method ({level}% intervals; percentage points)"
        "</caption><thead><tr><th scope='col'>Outcome</th><th scope='col'>Method</th>"
        "<th scope='col'>Estimate</th><th scope='col'>Interval</th><th scope='col'>p-value</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


DESIGN_LABELS = {
    "per_area": "One pilot area (placebo-in-space test)",
    "programme": "All pilots combined (placebo programmes)",
}


def _mde_text(value: float, dp: int) -> str:
    return "not reached" if value is None or not np.isfinite(value) else fmt(value, dp)


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
        o = CATALOGUE[name]
        dp = o.decimals
        mid = d.get("minimum_important_difference")
        r = pw.rows[pw.rows["outcome"] == name]
        obs = r[r["basis"] == "observed"]
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
            now_rows.append(
                f"<tr>{first}<td>{escape(DESIGN_LABELS[row.design])}</td>"
                f"<td>{_mde_text(row.mde, dp)}</td><td>{pilots}</td>"
                f"<td>{fmt(mid, dp) if mid else 'not set'}</td></tr>"
            )
        more = r[r["basis"] != "observed"]
        for i, row in enumerate(more.itertuples(index=False)):
            first = (
                f"<th scope='row' rowspan='{len(more)}'>{escape(o.label)}</th>" if i == 0 else ""
            )
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
            more_rows.append(
                f"<tr>{first}<td>{escape(DESIGN_LABELS[row.design])}</td><td>{data}</td>"
                f"<td>{_mde_text(row.mde, dp)}</td><td>{pilots}</td></tr>"
            )
        area_obs = obs[obs["design"] == "per_area"]
        if mid and len(area_obs) and area_obs["pilots_median"].iloc[0] > mid:
            parts.append(
                f"<p class='caveat'>{escape(o.label)}: with {len(d['post_periods'])} year(s) of "
                f"annual data, the median pilot area's MDE ({fmt(area_obs['pilots_median'].iloc[0], dp)} "
                f"{escape(o.unit)}) is larger than the plan's minimum important difference "
                f"({fmt(mid, dp)}). A single area's estimate cannot show an effect of that size; "
                "the programme-level estimate, and monthly returns, can do better.</p>"
            )
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


def overview_html(ov: Overview) -> str:
    plan = ov.plan
    level = round(100 * (1 - plan.alpha))
    parts = [
        f"<h1>{escape(plan.title)}: programme overview</h1>",
        "<p>These are experimental statistics from published DfE and MoJ data, not "
        "official statistics. Each pilot area has its own report; this page puts them "
        "side by side.</p>",
    ]
    if ov.missing:
        parts.append(
            f"<p class='caveat'>Reports missing for {len(ov.missing)} area(s): "
            f"{escape(', '.join(ov.missing))}.</p>"
        )
    parts.append("<h2>All pilot areas together</h2><ul>")
    for name, r in ov.programme.items():
        o = CATALOGUE[name]
        dp = o.decimals
        parts.append(
            f"<li><strong>{escape(o.label)}</strong>: the {r.n_treated} pilot areas combined "
            f"changed by {fmt(r.estimate, dp)} {escape(o.unit)} relative to the other areas "
            f"({level}% interval {fmt(r.ci_low, dp)} to {fmt(r.ci_high, dp)}; "
            f"p = {r.p_value:.2f}, from {len(r.distribution)} placebo programmes).</li>"
        )
    parts.append(
        "</ul><p>Programme-level inference repeats the comparison with placebo "
        "programmes: in each region, the same number of non-pilot authorities as the "
        "region's partnership is drawn at random (the level at which pilots were "
        "chosen). No standard errors are shown.</p>"
    )
    parts.append(programme_robustness_table(ov))
    parts.append(power_section(ov))
    for planned in plan.outcomes:
        fig, alt = forest_chart(ov, planned.name)
        parts.append(f"<h2>{escape(CATALOGUE[planned.name].label)}: every pilot area</h2>")
        parts.append(figure_html(fig, alt, caption=alt))
    parts.append(
        "<h2>Partnerships</h2>"
        + _table(
            ov.partnerships,
            ["partnership", "outcome", "n_las", "estimate", "ci_low", "ci_high", "p_value"],
            [
                "Partnership",
                "Outcome",
                "LAs",
                "Estimate",
                "Interval from",
                "Interval to",
                "p-value",
            ],
            "Each partnership's areas combined, against the comparison pool, in each outcome's "
            "units; select a column heading to sort",
            "partnerships",
        )
    )
    cut = ov.areas.get("interval_cut", pd.Series(dtype=str))
    n_cut = int((cut != "no").sum())
    parts.append(
        "<h2>Every area and outcome</h2>"
        + (
            f"<p>{n_cut} of {len(ov.areas)} intervals have an end set by what is possible (a "
            "rate cannot go below 0 or above 100) rather than by the data; the column "
            "'Interval cut at 0-100' says which, and each area's report gives the unrestricted "
            "interval.</p>"
            if n_cut
            else ""
        )
        + _table(
            ov.areas,
            [
                "area",
                "partnership",
                "outcome",
                "estimate",
                "ci_low",
                "ci_high",
                "p_value",
                *(["interval_cut"] if "interval_cut" in ov.areas else []),
            ],
            [
                "Area",
                "Partnership",
                "Outcome",
                "Estimate",
                "Interval from",
                "Interval to",
                "p-value",
                *(["Interval cut at 0-100"] if "interval_cut" in ov.areas else []),
            ],
            "Per-area difference-in-differences, in each outcome's units ("
            + "; ".join(sorted({CATALOGUE[p.name].unit for p in ov.plan.outcomes}))
            + "); select a column heading to sort",
            "areas",
        )
    )
    parts.append(SORT_SCRIPT)
    return "".join(parts)


def _table(frame: pd.DataFrame, cols: list[str], heads: list[str], caption: str, tid: str) -> str:
    """A sortable table: outcomes by their labels, numbers to each outcome's decimals,
    p-values to two; each cell keeps its raw value in ``data-v`` for sorting."""
    head = "".join(
        f"<th scope='col'><button type='button' data-col='{i}'>{escape(h)}</button></th>"
        for i, h in enumerate(heads)
    )
    body = []
    for rec in frame.to_dict("records"):
        outcome = CATALOGUE.get(rec.get("outcome"))
        cells = []
        for col in cols:
            v = rec[col]
            if col == "outcome" and outcome is not None:
                v = outcome.label
            if isinstance(v, float):
                dp = 2 if col == "p_value" else (outcome.decimals if outcome else 1)
                if np.isnan(v):
                    shown = "not available" if col == "p_value" else "unbounded"
                    cells.append(f"<td data-v=''>{shown}</td>")
                else:
                    cells.append(f"<td data-v='{v if np.isfinite(v) else ''}'>{fmt(v, dp)}</td>")
            else:
                cells.append(f"<td data-v='{escape(str(v))}'>{escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table class='sortable' id='{tid}'><caption>{escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


# A few lines of inline script (no network): sort a table by a column when its heading button
# is pressed; the order is announced through aria-sort.
SORT_SCRIPT = """<script>
document.querySelectorAll('table.sortable th button').forEach(function (btn) {
  btn.addEventListener('click', function () {
    var th = btn.parentElement, table = th.closest('table'), col = +btn.dataset.col;
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var rows = Array.from(table.tBodies[0].rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
  });
});
</script>"""


def index_html(
    plan: Plan,
    slugs: dict[str, str],
    names: dict[str, str],
    partnerships: dict[str, str],
    available: set[str],
    overview: bool = True,
) -> str:
    items = []
    for code in sorted(slugs, key=lambda c: (partnerships[c], names[c])):
        slug = slugs[code]
        link = (
            f"<a href='{slug}/index.html'>{escape(names[code])}</a>"
            if code in available
            else f"{escape(names[code])} (report not available)"
        )
        items.append(
            f"<tr><td>{link}</td><td>{code}</td><td>{escape(partnerships[code])}</td></tr>"
        )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(plan.title)}: evidence reports</title>"
        "<style>body{font-family:Arial,Helvetica,sans-serif;font-size:19px;line-height:1.5;"
        "max-width:960px;margin:0 auto;padding:1em;color:#0b0c0c}a{color:#1d70b8}"
        "table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #b1b4b6;"
        "text-align:left}</style></head><body><main>"
        f"<h1>{escape(plan.title)}: evidence reports</h1>"
        + (
            "<p><a href='overview/index.html'>Programme overview</a>: all pilot areas side by "
            "side, with partnership and programme-level estimates.</p>"
            if overview
            else "<p>There is no programme overview for this plan.</p>"
        )
        + "<h2>Reports by area</h2><table><caption>Pilot areas and their reports</caption>"
        "<thead><tr><th scope='col'>Area</th><th scope='col'>LA code</th>"
        "<th scope='col'>Partnership</th></tr></thead><tbody>"
        + "".join(items)
        + "</tbody></table></main></body></html>"
    )
