"""HTML of the programme overview page (forest plots, the programme effect by method, the
power section, sortable partnership and area tables) and of the index page linking every report."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.designs.registry import labels as estimator_labels
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan import Plan
from evaluation.report.charts import AREA_COLOUR, GREY, figure_html
from evaluation.report.overview import Overview
from evaluation.report.overview_power import power_section
from evaluation.report.text import escape, fmt


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
    labels = estimator_labels("programme")
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
        "question with different assumptions. With only 9 partnerships, the regression and "
        "the logit use bootstraps built for few groups: in simulations like these data they "
        "raised false alarms about 5 times in 100, as they should. The Conley-Taber interval "
        "uses the many comparison areas to learn how noisy a partnership's change is. The "
        "doubly robust line compares the pilots with comparison areas that started at "
        "similar levels (pilots' rates differed before the programme); with 9 partnerships "
        "its interval is too narrow to trust, so only its direction counts.</p>"
        f"<table><caption>Programme effect by method ({level}% intervals; percentage points)"
        "</caption><thead><tr><th scope='col'>Outcome</th><th scope='col'>Method</th>"
        "<th scope='col'>Estimate</th><th scope='col'>Interval</th><th scope='col'>p-value</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def overview_html(ov: Overview) -> str:
    plan = ov.plan
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
    parts.append(_programme_effects(ov))
    parts.append(programme_robustness_table(ov))
    parts.append(power_section(ov))
    for planned in plan.outcomes:
        fig, alt = forest_chart(ov, planned.name)
        parts.append(f"<h2>{escape(CATALOGUE[planned.name].label)}: every pilot area</h2>")
        parts.append(figure_html(fig, alt, caption=alt))
    parts.append(_partnerships_table(ov))
    parts.append(_areas_table(ov))
    parts.append(SORT_SCRIPT)
    return "".join(parts)


def _programme_effects(ov: Overview) -> str:
    """'All pilot areas together': a verdict line per outcome (designs/programme_verdict.py),
    with the grade and the direction of good, then the numbers."""
    level = round(100 * (1 - ov.plan.alpha))
    parts = ["<h2>All pilot areas together</h2><ul class='verdicts'>"]
    for name, r in ov.programme.items():
        o = CATALOGUE[name]
        dp = o.decimals
        v = ov.verdicts[name]
        why = (
            f" Concerns counted in the grade: {escape('; '.join(v['concerns']))}."
            if v["concerns"] and v["grade"] not in ("No clear evidence",)
            else ""
        )
        parts.append(
            f"<li><p><strong>{escape(v['line'])}</strong></p>"
            + (f"<p>{escape(v['disagreement'])}</p>" if v["disagreement"] else "")
            + f"<p>{escape(_good(o))} Grade: {escape(v['grade'])}.{why} The {r.n_treated} "
            f"pilot areas combined changed by {fmt(r.estimate, dp)} {escape(o.unit)} relative "
            f"to the other areas ({level}% interval {fmt(r.ci_low, dp)} to "
            f"{fmt(r.ci_high, dp)}; p = {r.p_value:.2f}, from {len(r.distribution)} placebo "
            "programmes).</p></li>"
        )
    parts.append(
        "</ul><p>Programme-level inference repeats the comparison with placebo "
        "programmes: in each region, the same number of non-pilot authorities as the "
        "region's partnership is drawn at random (the level at which pilots were "
        "chosen). No standard errors are shown. The grade counts three concerns (the "
        "pre-period check, the other programme estimators' direction, and how many "
        "partnerships point the same way) and is at most weak when the methods disagree.</p>"
    )
    return "".join(parts)


def _good(o) -> str:
    return {
        "higher": "Higher is better.",
        "lower": "Lower is better.",
        "neither": "The plan does not say which direction is better.",
    }[o.better]


def _partnerships_table(ov: Overview) -> str:
    """One table per outcome, the verdict first (ungraded: section 2b)."""
    parts = [
        "<h2>Partnerships</h2><p>Each partnership's areas combined into one unit and compared "
        "with the comparison pool, with the same placebo test as a single area. Partnership "
        "results are not graded: only this one design is fitted for them.</p>"
    ]
    frame = ov.partnerships
    for planned in ov.plan.outcomes:
        if frame.empty:
            break
        rows = frame[frame["outcome"] == planned.name]
        if rows.empty:
            continue
        o = CATALOGUE[planned.name]
        cols = ["verdict", "partnership", "n_las", "estimate", "ci_low", "ci_high", "p_value"]
        heads = ["Verdict", "Partnership", "LAs", "Estimate", "Interval from", "Interval to"]
        parts.append(f"<h3>{escape(o.label)}</h3>")
        parts.append(
            _table(
                rows.sort_values("partnership"),
                cols,
                [*heads, "p-value"],
                f"Each partnership, in {o.unit}; select a column heading to sort",
                f"partnerships-{planned.name}",
            )
        )
    return "".join(parts)


def _areas_table(ov: Overview) -> str:
    """Every area, one table per outcome: the verdict line first ("Check the data" areas
    listed first, then by name, so the order holds without JavaScript), then the numbers."""
    cut = ov.areas.get("interval_cut", pd.Series(dtype=str))
    n_cut = int((cut != "no").sum())
    parts = [
        "<h2>Every area and outcome</h2>",
        (
            f"<p>{n_cut} of {len(ov.areas)} intervals have an end set by what is possible (a "
            "rate cannot go below 0 or above 100) rather than by the data; the column "
            "'Interval cut at 0-100' says which, and each area's report gives the unrestricted "
            "interval.</p>"
            if n_cut
            else ""
        ),
    ]
    extra = [c for c in ("p_value_romano_wolf", "q_value_bh") if c in ov.areas]
    heads = {
        "p_value_romano_wolf": "p adjusted for the outcomes (Romano-Wolf)",
        "q_value_bh": "q-value across areas (Benjamini-Hochberg)",
    }
    has_verdict = "verdict" in ov.areas
    for planned in ov.plan.outcomes:
        o = CATALOGUE[planned.name]
        rows = ov.areas[ov.areas["outcome"] == planned.name].copy() if len(ov.areas) else ov.areas
        if rows.empty:
            continue
        if has_verdict:
            rows["_flag"] = rows["grade"] != "Check the data"
            rows = rows.sort_values(["_flag", "area"]).drop(columns="_flag")
        cols = [*(["verdict"] if has_verdict else []), "area", "partnership", "estimate"]
        cols += ["ci_low", "ci_high", "p_value", *extra]
        cols += ["interval_cut"] if "interval_cut" in ov.areas else []
        names = [*(["Verdict"] if has_verdict else []), "Area", "Partnership", "Estimate"]
        names += ["Interval from", "Interval to", "p-value", *[heads[c] for c in extra]]
        names += ["Interval cut at 0-100"] if "interval_cut" in ov.areas else []
        parts.append(f"<h3>{escape(o.label)}</h3>")
        parts.append(
            _table(
                rows,
                cols,
                names,
                f"Each pilot area, in {o.unit}; areas to check first, then by name; select a "
                "column heading to sort",
                f"areas-{planned.name}",
            )
        )
    return "".join(parts)


P_COLUMNS = {"p_value", "p_value_romano_wolf", "q_value_bh"}  # shown to two decimals


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
                p_like = col in P_COLUMNS
                dp = 2 if p_like else (outcome.decimals if outcome else 1)
                if np.isnan(v):
                    shown = "not available" if p_like else "unbounded"
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
