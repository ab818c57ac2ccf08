"""Per outcome: which pre-period the estimate uses and why, the estimate on the other
pre-periods (sensitivity table), the LA-years missing from it, and the similar areas it was
compared with (METHODOLOGY.md sections 2f and 2g)."""

from __future__ import annotations

from evaluation.designs.area_result import AreaEvaluation, OutcomeResult
from evaluation.report.text import escape, fmt


def _span(labels: list) -> str:
    return str(labels[0]) if len(labels) == 1 else f"{labels[0]} to {labels[-1]}"


def pre_period_block(ev: AreaEvaluation, o: OutcomeResult) -> str:
    """The pre-period sentence and the sensitivity table (empty for monthly plans)."""
    pp = o.pre_period or {}
    if ev.monthly or not pp:
        return ""
    dp = o.outcome.decimals
    text = f"<p>Years before the programme used: {escape(pp['reason'])}.</p>"
    if pp.get("comparable_note"):
        text += f"<p>{escape(pp['comparable_note'])}</p>"
    rows = []
    for row in o.sensitivity:
        pre = escape(_span(row["pre"]))
        if row.get("estimate") is None:
            cells = f"<td colspan='3'>{escape(row.get('error', 'not estimated'))}</td>"
        else:
            interval = (
                f"{fmt(row['ci_low'], dp)} to {fmt(row['ci_high'], dp)}"
                if row.get("p_value") is not None
                else "none (one year gives no measure of variation)"
            )
            p = fmt(row["p_value"], 2) if row.get("p_value") is not None else "none"
            cells = f"<td>{fmt(row['estimate'], dp)}</td><td>{interval}</td><td>{p}</td>"
        used = "yes" if row["used"] else "no"
        rows.append(
            f"<tr><th scope='row'>{pre}</th><td>{used}</td>{cells}"
            f"<td>{escape(row['why'])}</td></tr>"
        )
    table = (
        "<table><caption>The estimate on other choices of the years before the programme"
        "</caption><thead><tr><th scope='col'>Years before</th><th scope='col'>Used</th>"
        "<th scope='col'>Estimate</th><th scope='col'>95% interval</th>"
        "<th scope='col'>Placebo p</th><th scope='col'>Why shown</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return text + f"<details><summary>Other choices of years</summary>{table}</details>"


def missing_data_block(ev: AreaEvaluation, o: OutcomeResult) -> str:
    """The LA-years the estimate lacked and what it did about them."""
    md = o.missing_data()
    parts = []
    if md["area_periods_left_out"]:
        parts.append(
            f"<p>{escape(ev.name)} has no figure for "
            f"{escape(', '.join(md['area_periods_left_out']))}; the estimate uses the other "
            f"{ev.plan.period_word}s.</p>"
        )
    left = md["comparison_units_left_out"]
    if left:
        items = "".join(
            f"<li>{escape(_name(ev, code))}: no figure for "
            f"{escape(', '.join(v['periods_missing']))}</li>"
            for code, v in sorted(left.items())
        )
        parts.append(
            f"<p>{len(left)} comparison area(s) lack this outcome in a {ev.plan.period_word} "
            f"the estimate uses and are left out of the comparison:</p><ul>{items}</ul>"
        )
    return "".join(parts)


def comparators_block(ev: AreaEvaluation, o: OutcomeResult) -> str:
    """The similar areas the robustness row compares the area with (the synthetic control's
    donors and weights are listed beside its chart)."""
    parts = []
    sim = o.alternatives.get("similar_areas")
    if sim is not None and sim.diagnostics.get("comparators"):
        names = ", ".join(sorted(sim.diagnostics["comparators"].values()))
        parts.append(
            f"<p>The {len(sim.diagnostics['comparators'])} areas most like {escape(ev.name)} "
            f"before the programme (level, trend and size of this outcome): {escape(names)}.</p>"
        )
    if not parts:
        return ""
    return "<details><summary>The most similar areas</summary>" + "".join(parts) + "</details>"


def _name(ev: AreaEvaluation, code: str) -> str:
    names = ev.panel.units.drop_duplicates("unit_id").set_index("unit_id")["unit_name"]
    return str(names.get(code, code))
