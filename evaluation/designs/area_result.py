"""What a per-area evaluation computed: :class:`AreaEvaluation` (one area) and
:class:`OutcomeResult` (one outcome), with their ``results.json`` form (``to_dict`` /
``to_json``).  Computed by :func:`evaluation.designs.area.evaluate_area`; the report only
displays it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evaluation.designs.provenance import provenance, relative_path
from evaluation.models.results import EstimationResult, json_safe
from evaluation.panel.build import Panel
from evaluation.panel.outcomes import CATALOGUE, Outcome
from evaluation.panel.plan import Plan, PlannedOutcome

ALTERNATIVE_DIAGNOSTICS = {
    "pre_trend_test",
    "pre_fit_problems",
    "n_perfect_prefit_placebos",
    "effective_n0",
    "reference_period",
    "pre_rmspe",
    "post_pre_rmspe_ratio",
    "pre_fit_ok",
    "pre_fit_rule",
    "placebo_p_value",
    "placebo_rank",
}


@dataclass
class OutcomeResult:
    planned: PlannedOutcome
    outcome: Outcome
    result: EstimationResult
    alternatives: dict[str, EstimationResult] = field(default_factory=dict)
    suppressed: set = field(default_factory=set)  # periods withheld by disclosure control
    suppression: dict = field(default_factory=dict)  # period -> "primary" / "secondary"
    withheld: dict = field(default_factory=dict)  # estimator -> why it is not published
    pooled: dict | None = None  # robust EBCI across the pilots (designs/pooling.py)
    p_value_romano_wolf: float | None = None  # adjusted over the plan's outcomes
    pre_period: dict | None = None  # how the pre-period was chosen (designs/pre_period.py)
    sensitivity: list = field(default_factory=list)  # the estimate on other pre-periods
    counts: dict = field(default_factory=dict)  # period -> counts behind the rates (disclosed)

    @property
    def pre_trend(self) -> dict | None:
        """The event study's joint pre-trend test (None when it could not be run)."""
        es = self.alternatives.get("event_study")
        return es.diagnostics.get("pre_trend_test") if es is not None else None

    def pre_trend_fails(self) -> bool:
        pt = self.pre_trend
        return bool(pt and pt.get("p_value") is not None and pt["p_value"] < self.result.alpha)

    def missing_data(self) -> dict:
        """Periods the estimate lacked, and what it did about them."""
        d = self.result.diagnostics
        return {
            "area_periods_left_out": list(d.get("periods_without_data", [])),
            "comparison_units_left_out": {
                u: {"periods_missing": periods, "what_was_done": "left out of the comparison pool"}
                for u, periods in d.get("excluded_unit_periods", {}).items()
            },
        }

    def to_dict(self) -> dict:
        r = self.result.to_dict()
        return {
            "outcome": self.outcome.name,
            "label": self.outcome.label,
            "role": self.planned.role,
            "better": self.outcome.better,
            "minimum_important_difference": self.planned.minimum_important_difference,
            "method": r["method"],
            "estimate": r["estimate"],
            "ci_low": r["ci_low"],
            "ci_high": r["ci_high"],
            "confidence_level": r["confidence_level"],
            "p_value": r["p_value"],
            "p_value_romano_wolf": json_safe(self.p_value_romano_wolf),
            "se": r["se"],
            "unit": self.outcome.unit,
            "inference": r["inference"],
            "n_comparison_units": r["n_comparison_units"],
            "pre_periods": r["pre_periods"],
            "post_periods": r["post_periods"],
            "conventions": r["conventions"],
            "diagnostics": r["diagnostics"],
            "pre_trend_test": self.pre_trend,
            "pooled": json_safe(self.pooled),
            "pre_period": json_safe(self.pre_period),
            "pre_period_sensitivity": json_safe(self.sensitivity),
            "missing_data": self.missing_data(),
            "counts": {
                "numerator": self.outcome.numerator_label,
                "denominator": self.outcome.denominator_label,
                "by_period": json_safe(self.counts),
            },
            "disclosure": {
                "suppressed_periods": sorted(str(k) for k in self.suppressed),
                "why": dict(self.suppression),
                "estimates_withheld": dict(self.withheld),
            },
            "robustness": [
                {
                    "key": key,
                    "method": alt.method,
                    "inference": alt.inference,
                    "estimate": json_safe(alt.estimate),
                    "ci_low": json_safe(alt.ci_low),
                    "ci_high": json_safe(alt.ci_high),
                    "p_value": json_safe(alt.p_value),
                    "se": json_safe(alt.se) if alt.se is not None else None,
                    "conventions": dict(alt.conventions),
                    "diagnostics": json_safe(
                        {k: v for k, v in alt.diagnostics.items() if k in ALTERNATIVE_DIAGNOSTICS}
                    ),
                    "terms": (
                        json_safe(alt.terms.reset_index().to_dict(orient="records"))
                        if alt.terms is not None and key == "event_study"
                        else None
                    ),
                }
                for key, alt in self.alternatives.items()
            ],
        }


@dataclass
class AreaEvaluation:
    la_code: str
    name: str
    gss_code: str
    slug: str
    partnership: str
    start_date: dt.date
    plan: Plan
    seed: int
    panel: Panel = field(repr=False)
    outcomes: list[OutcomeResult]
    pool: list[str]
    its: list[dict] = field(default_factory=list)
    # designs/area_key.area_key: what the area's own numbers were computed from ("" if unknown)
    key: str = ""

    def result(self, outcome: str) -> EstimationResult:
        return next(o.result for o in self.outcomes if o.outcome.name == outcome)

    @property
    def monthly(self) -> bool:
        return self.plan.monthly

    @property
    def time(self) -> str:
        """The panel's time column ("year", or "period" for monthly returns)."""
        return self.panel.time

    def label(self, period) -> str:
        """Display label of a period ('2024' or 'Jan 2024')."""
        return self.plan.period_label(period)

    @property
    def start_period(self) -> int:
        """The period in which the area's programme started (year or month index)."""
        return self.plan.start_period(self.start_date)

    def evidence(self, outcome: str):
        """Strength-of-evidence label for one outcome (see evaluation/designs/evidence.py)."""
        from evaluation.designs.evidence import evidence_strength

        its_item = next(
            (i for i in self.its if i["outcome"] == outcome and i["design"] == "controlled"), None
        )
        from evaluation.designs.data_flags import data_quality_flags

        o = next(o for o in self.outcomes if o.outcome.name == outcome)
        flags = data_quality_flags(o.result, self.panel, self.la_code, self.pool, o.outcome)
        return evidence_strength(
            o.result,
            its_item,
            CATALOGUE[outcome].decimals,
            alternatives=o.alternatives,
            data_flags=flags,
            period_word=self.plan.period_word,
        )

    def pre_trend(self, outcome: str) -> dict:
        """The one pre-trend assessment of an outcome (designs/pre_trend.py)."""
        from evaluation.designs.pre_trend import pre_trend_assessment

        o = next(o for o in self.outcomes if o.outcome.name == outcome)
        return pre_trend_assessment(
            o.result, o.alternatives, o.outcome.decimals, self.plan.period_word
        )

    def verdict(self, outcome: str) -> dict:
        """The verdict line, grade and design reconciliation (designs/verdict.py)."""
        from evaluation.designs.verdict import outcome_verdict

        return outcome_verdict(self, outcome)

    def area_findings(self) -> pd.DataFrame:
        """Data-quality findings that concern this area."""
        frame = self.panel.findings_by_la()
        return frame[frame["la_code"] == self.la_code] if not frame.empty else frame

    def pool_findings(self) -> pd.DataFrame:
        """Data-quality findings that concern the comparison pool (member LAs of its units)."""
        frame = self.panel.findings_by_la()
        if frame.empty:
            return frame
        from evaluation.io.geography import load_geography

        mapping = load_geography(self.plan.data_dir).unit_map(self.plan.boundary_policy)
        units = frame["la_code"].map(lambda c: mapping.get(c, (c, ""))[0])
        return frame[units.isin(self.pool) & (frame["la_code"] != "")]

    def to_dict(self) -> dict:
        return {
            "area": {
                "name": self.name,
                "la_code": self.la_code,
                "gss_code": self.gss_code,
                "slug": self.slug,
                "partnership": self.partnership,
                "start_date": self.start_date.isoformat(),
            },
            "plan": self.plan.name,
            "plan_file": relative_path(self.plan.path),
            "seed": self.seed,
            "boundary_policy": self.plan.boundary_policy,
            "periods": self._periods_dict(),
            "generated_with": provenance(self.panel),
            "outcomes": [
                {
                    **o.to_dict(),
                    "evidence": self.evidence(o.outcome.name).to_dict(),
                    "pre_trend": self.pre_trend(o.outcome.name),
                    "verdict": self.verdict(o.outcome.name),
                }
                for o in self.outcomes
            ],
            "its": [
                {
                    "outcome": i["outcome"],
                    "design": i["design"],
                    **{
                        k: v
                        for k, v in i["result"].to_dict().items()
                        if k
                        in {
                            "method",
                            "estimate",
                            "se",
                            "ci_low",
                            "ci_high",
                            "p_value",
                            "unit",
                            "pre_periods",
                            "post_periods",
                            "conventions",
                            "terms",
                        }
                    },
                    "rho": i["result"].diagnostics.get("rho"),
                    "n_points": i["n_points"],
                }
                for i in self.its
            ],
        }

    def _periods_dict(self) -> dict:
        plan = self.plan
        if not plan.monthly:
            return {
                "pre": plan.pre_years,
                "post": plan.post_years,
                "partially_treated": [
                    {"year": p["year"], "handling": p["handling"]} for p in plan.partially_treated
                ],
            }
        return {
            "frequency": "month",
            "index": "months since January 2000 (2021-01 = 252)",
            "pre": plan.pre_years,
            "post": plan.post_years,
            "pre_labels": [self.label(t) for t in plan.pre_years],
            "post_labels": [self.label(t) for t in plan.post_years],
            "partially_treated": [
                {
                    "periods": p["periods"],
                    "labels": [self.label(t) for t in p["periods"]],
                    "handling": p["handling"],
                }
                for p in plan.partially_treated
            ],
        }

    def to_json(self, path: Path | str | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False, allow_nan=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text
