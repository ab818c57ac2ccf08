"""Robustness: the same question answered by different estimators, side by side."""

from __future__ import annotations

from evaluation.designs.area_result import AreaEvaluation
from evaluation.designs.registry import labels as estimator_labels
from evaluation.report.text import escape, fmt

ITS_SINGLE_LABEL = "Interrupted time series, area alone (level change)"


def robustness(ev: AreaEvaluation) -> str:
    """The same question answered by different estimators, side by side."""
    rows = []
    for o in ev.outcomes:
        rows += _method_rows(o, _method_lines(ev, o))
    level = round(100 * (1 - ev.plan.alpha))
    its_note = (
        "The interrupted time series use more years (from "
        f"{ev.plan.its['first_year']}) and model the trend; see the caveats on few points.</p>"
        if not ev.monthly
        else "The interrupted time series use every month from "
        f"{ev.label(ev.plan.its['first_period'])} and model the trend and the seasons.</p>"
    )
    return (
        "<h2>Robustness: the same question, different methods</h2>"
        "<p>If the methods broadly agree, the finding does not hang on one set of assumptions. "
        "c = withheld to protect small numbers. "
        f"{its_note}"
        f"<table><caption>Estimates by method ({level}% intervals; percentage points)</caption>"
        "<thead><tr><th scope='col'>Outcome</th><th scope='col'>Method</th>"
        "<th scope='col'>Estimate</th><th scope='col'>Interval</th><th scope='col'>p-value</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _method_lines(ev: AreaEvaluation, o) -> list[tuple]:
    """(method, estimate, low, high, p-value) for one outcome: the headline DiD, every
    alternative estimator, the interrupted time series, then the withheld methods (all None)."""
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
    for key, alt in o.alternatives.items():
        lines.append(
            (
                estimator_labels("area").get(key, alt.method),
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
            else ITS_SINGLE_LABEL
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
    names = {**estimator_labels("area"), "its_single": ITS_SINGLE_LABEL}
    for key in o.withheld:
        lines.append((names.get(key, key), None, None, None, None))
    return lines


def _method_rows(o, lines: list[tuple]) -> list[str]:
    """Table rows for one outcome's methods; the outcome heads the block; c = withheld."""
    dp = o.outcome.decimals
    rows = []
    for i, (label, est, lo, hi, p) in enumerate(lines):
        first = (
            f"<th scope='row' rowspan='{len(lines)}'>{escape(o.outcome.label)}</th>"
            if i == 0
            else ""
        )
        cells = (
            "<td>c</td><td>c</td><td>c</td>"
            if est is None
            else f"<td>{fmt(est, dp)}</td><td>{fmt(lo, dp)} to {fmt(hi, dp)}</td><td>{p:.3f}</td>"
        )
        rows.append(f"<tr>{first}<td>{escape(label)}</td>{cells}</tr>")
    return rows
