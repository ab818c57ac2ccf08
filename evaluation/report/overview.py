"""Programme overview: every pilot area's estimate side by side, and partnership and
programme level estimates (the page itself is :mod:`evaluation.report.overview_html`).

Per-area numbers are read back from each area's ``results.json`` (one source of truth); the
partnership and programme estimates are computed here from the same panel and plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.config import slugify
from evaluation.designs.area import load_panel
from evaluation.designs.area_sample import comparison_pool
from evaluation.designs.multiplicity import benjamini_hochberg
from evaluation.designs.power_analysis import PowerAnalysis, power_analysis
from evaluation.designs.pre_period import chosen_pre_period
from evaluation.designs.programme import partnership_did, programme_did, programme_robustness
from evaluation.designs.programme_verdict import partnership_verdict, programme_verdict
from evaluation.io.geography import load_geography
from evaluation.models.results import json_safe
from evaluation.panel.build import Panel, build_panel
from evaluation.panel.outcomes import CATALOGUE
from evaluation.panel.plan import Plan, load_plan
from evaluation.report.text import cut_ends


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
    verdicts: dict = field(default_factory=dict)  # outcome -> programme verdict (2b)

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
                        "verdict": self.verdicts.get(name),
                    }
                    for name, r in self.programme.items()
                },
                "programme_not_estimable": dict(self.errors),
                "partnerships": self.partnerships.to_dict(orient="records"),
                "areas_missing": list(self.missing),
                "multiplicity": self._multiplicity(),
                "power": self.power.to_dict() if self.power is not None else None,
            }
        )

    def _multiplicity(self) -> list[dict]:
        """Each area's p-value per outcome, adjusted within the area over the outcomes
        (Romano-Wolf) and across the areas for the outcome (Benjamini-Hochberg q-value)."""
        cols = ["la_code", "area", "outcome", "p_value", "p_value_romano_wolf", "q_value_bh"]
        if self.areas.empty:
            return []
        return self.areas[[c for c in cols if c in self.areas]].to_dict(orient="records")

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
                    "p_value_romano_wolf": _number(o.get("p_value_romano_wolf")),
                    "interval_cut": _interval_cut(o),
                    "verdict": (o.get("verdict") or {}).get("line", ""),
                    "grade": (o.get("verdict") or {}).get("grade", ""),
                }
            )
    frame = pd.DataFrame(rows)
    if not frame.empty:  # Benjamini-Hochberg across the areas, for each outcome
        frame["q_value_bh"] = frame.groupby("outcome")["p_value"].transform(benjamini_hochberg)
    return frame, missing


def _number(value) -> float:
    return float("nan") if value is None else float(value)


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
    programme, parts, robustness, errors, verdicts = {}, [], {}, {}, {}
    for planned in plan.outcomes:
        o = CATALOGUE[planned.name]
        kw = dict(
            outcome=o.name,
            numerator=o.numerator,
            denominator=o.denominator,
            pre=chosen_pre_period(panel, plan, o.name).years,
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
        mid = planned.minimum_important_difference
        rows = []
        for part, members in treated.items():
            row = {"partnership": part, "outcome": o.name, "n_las": len(members)}
            try:
                r = partnership_did(panel.units, members, pool, alpha=plan.alpha, **kw)
                row.update(
                    estimate=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, p_value=r.p_value
                )
            except ValueError:
                row.update(estimate=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
            row["verdict"] = partnership_verdict(
                o, row["estimate"], row["ci_low"], row["ci_high"], mid
            )
            rows.append(row)
        parts += rows
        if o.name in programme:
            verdicts[o.name] = programme_verdict(
                o,
                programme[o.name],
                robustness[o.name],
                chosen_pre_period(panel, plan, o.name),
                pd.DataFrame(rows),
                mid,
            )
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
        verdicts,
    )


def overview_for_notebook(
    plan: str | Path,
    reports_dir: str | Path = "reports",
    panel_cache: str | Path | None = None,
    output_dir: str | Path | None = None,
) -> Overview:
    """Everything ``notebooks/programme_overview.ipynb`` shows, from its papermill parameters:
    the panel (loaded from ``panel_cache`` or built), the areas' report folders (``slugs``), the
    plan's number of placebo programmes, and, when ``output_dir`` is given, ``results.json``
    (and ``permutation_distribution.csv``) written there."""
    plan_obj = load_plan(plan)
    panel = (
        load_panel(panel_cache)
        if panel_cache
        else build_panel(plan_obj.data_dir, plan_obj.boundary_policy)
    )
    geo = load_geography(plan_obj.data_dir)
    slugs = {p.la_code: slugify(geo.name_for_code(p.la_code) or p.la_name) for p in plan_obj.pilots}
    permutations = int(plan_obj.raw.get("inference", {}).get("programme_permutations", 999))
    ov = build_overview(panel, plan_obj, Path(reports_dir), slugs, permutations=permutations)
    if output_dir is not None:
        ov.to_json(Path(output_dir) / "results.json")
    return ov
