"""Test-and-learn waves: what changed since the previous report for this area."""

from __future__ import annotations

from evaluation.designs.area_result import AreaEvaluation
from evaluation.report.text import escape, fmt


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
    if old.get("plan", ev.plan.name) != ev.plan.name:  # e.g. a synthetic demo in the same folder
        return (
            "<h2>Changes since the last report</h2><p>The previous report for this area was "
            f"produced with a different evaluation plan ({escape(str(old.get('plan')))}), so it "
            "is not compared with this one.</p>"
        )
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
        f"New periods in this report: {', '.join(ev.label(t) for t in added)}."
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
