"""Per-area evaluation: everything an evidence report shows, computed once, from one place.

``evaluate_area(area, plan)`` returns an :class:`AreaEvaluation`; the report notebook only
displays it, and ``results.json`` is its :meth:`AreaEvaluation.to_json`.  Text, tables and
charts therefore come from the same numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation import __version__
from evaluation.config import PROJECT_ROOT, slugify
from evaluation.io.geography import Geography, load_geography
from evaluation.models.did_one_treated import did_one_treated
from evaluation.models.event_study import event_study_one_treated
from evaluation.models.its import its
from evaluation.models.results import EstimationResult, json_safe
from evaluation.panel.build import Panel, panel_for_plan
from evaluation.panel.outcomes import CATALOGUE, Outcome
from evaluation.panel.plan import Plan, PlannedOutcome, load_plan

# Estimators shown beside the headline, in the report's robustness table and in results.json.
ALTERNATIVE_LABELS = {
    "event_study": "Event study (placebo inference), average of post-period coefficients",
    "synthetic_control": "Synthetic control (placebo inference)",
    "synthetic_did": "Synthetic difference-in-differences (placebo inference)",
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

    @property
    def pre_trend(self) -> dict | None:
        """The event study's joint pre-trend test (None when it could not be run)."""
        es = self.alternatives.get("event_study")
        return es.diagnostics.get("pre_trend_test") if es is not None else None

    def pre_trend_fails(self) -> bool:
        pt = self.pre_trend
        return bool(pt and pt.get("p_value") is not None and pt["p_value"] < self.result.alpha)

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
            "se": r["se"],
            "unit": self.outcome.unit,
            "inference": r["inference"],
            "n_comparison_units": r["n_comparison_units"],
            "pre_periods": r["pre_periods"],
            "post_periods": r["post_periods"],
            "conventions": r["conventions"],
            "diagnostics": r["diagnostics"],
            "pre_trend_test": self.pre_trend,
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
        """Strength-of-evidence label for one outcome (see evaluation/evidence.py)."""
        from evaluation.designs.evidence import evidence_strength

        its_item = next(
            (i for i in self.its if i["outcome"] == outcome and i["design"] == "controlled"), None
        )
        o = next(o for o in self.outcomes if o.outcome.name == outcome)
        return evidence_strength(
            o.result, its_item, CATALOGUE[outcome].decimals, alternatives=o.alternatives
        )

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
            "plan_file": _relative(self.plan.path),
            "seed": self.seed,
            "boundary_policy": self.plan.boundary_policy,
            "periods": self._periods_dict(),
            "generated_with": provenance(self.panel),
            "outcomes": [
                {**o.to_dict(), "evidence": self.evidence(o.outcome.name).to_dict()}
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


def _relative(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


@lru_cache(maxsize=1)
def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(panel: Panel) -> dict:
    return {
        "package": "send-evaluation",
        "version": __version__,
        "git_commit": git_commit(),
        "run_date": dt.date.today().isoformat(),
        "data_sha256": dict(sorted(panel.source_files.items())),
        "contracts": {v.contract: contract_version(v.contract) for v in panel.validation},
    }


@lru_cache(maxsize=32)
def contract_version(name: str) -> str:
    from evaluation.contracts import load_contract

    try:
        return load_contract(name).version
    except ValueError:
        return "unknown"


def save_panel(panel: Panel, path: Path | str) -> Path:
    """Save a built panel for other processes (pickle; a run-local cache, never published)."""
    import pickle

    path = Path(path)
    with open(path, "wb") as fh:
        pickle.dump(panel, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


@lru_cache(maxsize=2)
def load_panel(path: Path | str) -> Panel:
    import pickle

    with open(path, "rb") as fh:
        panel = pickle.load(fh)  # noqa: S301 - a file this run wrote itself
    if not isinstance(panel, Panel):
        raise TypeError(f"{path} does not hold an analysis panel")
    return panel


def comparison_pool(panel: Panel, plan: Plan) -> list[str]:
    """All units that are not pilots and not excluded by the plan."""
    pilots = set(plan.pilot_codes)
    return sorted(
        u
        for u in panel.units["unit_id"].unique()
        if u not in pilots and u not in set(plan.comparison_exclude)
    )


def evaluate_area(
    area: str,
    plan: Plan | str | Path = "plans/change_programme_2023.yaml",
    seed: int | None = None,
    geo: Geography | None = None,
    panel: Panel | str | Path | None = None,
) -> AreaEvaluation:
    """Resolve ``area`` against the plan's pilots and estimate every planned outcome.

    ``panel`` may be a built :class:`Panel` or the path of one saved with
    :func:`save_panel` (``make reports`` builds it once and shares it with every area)."""
    plan = plan if isinstance(plan, Plan) else load_plan(plan)
    geo = geo or load_geography(plan.data_dir)
    code = geo.resolve_area(area, plan.pilot_codes)
    pilot = plan.pilot(code)
    if panel is None:
        panel = panel_for_plan(plan)
    elif not isinstance(panel, Panel):
        panel = load_panel(panel)
    pool = comparison_pool(panel, plan)
    start = plan.start_period(pilot.start_date)
    results = []
    for planned in plan.outcomes:
        outcome = CATALOGUE[planned.name]
        pre, post, dropped = area_periods(panel, plan, code, outcome)
        res = did_one_treated(
            panel.units,
            unit="unit_id",
            time=panel.time,
            outcome=outcome.name,
            treated=code,
            pre=pre,
            post=post,
            pool=pool,
            numerator=outcome.numerator,
            denominator=outcome.denominator,
            weighting="pooled",
            alpha=plan.alpha,
            outcome_label=outcome.name,
            bounds=(0.0, 100.0),
        )
        res.unit = outcome.unit
        if dropped:
            res.diagnostics["periods_without_data"] = [plan.period_label(t) for t in dropped]
            res.conventions["periods"] = (
                f"{len(dropped)} planned {plan.period_word}(s) left out because this area had "
                f"no {outcome.denominator} (the rate is undefined): "
                + ", ".join(plan.period_label(t) for t in dropped)
            )
        alternatives = area_alternatives(panel, plan, code, pool, outcome, start)
        results.append(OutcomeResult(planned, outcome, res, alternatives))
    its_results = area_its(
        panel,
        plan,
        code,
        pool,
        [r.outcome for r in results],
        start,
        plan.seed if seed is None else int(seed),
    )
    name = geo.name_for_code(code) or pilot.la_name
    for o in results:
        apply_disclosure(o, its_results, panel, code, plan.disclosure_threshold)
    return AreaEvaluation(
        la_code=code,
        name=name,
        gss_code=geo.current_gss(code),
        slug=slugify(name),
        partnership=pilot.partnership,
        start_date=pilot.start_date,
        plan=plan,
        seed=plan.seed if seed is None else int(seed),
        panel=panel,
        outcomes=results,
        pool=pool,
        its=its_results,
    )


def apply_disclosure(
    o: OutcomeResult, its_items: list[dict], panel: Panel, code: str, threshold: int
) -> None:
    """Disclosure control for one outcome of one area (``evaluation/disclosure.py``): periods
    whose rate would reveal a count below the plan's threshold are suppressed, and so is the
    next least-populated period of the pre- or post-period when the published average of that
    span would otherwise give the hidden one away.  Suppressed periods disappear from every
    per-period output (series table, charts, event-study coefficients, synthetic paths, ITS
    points and results.json); estimates that pool many periods are still shown.  If the
    event study's reference period is suppressed, its coefficients (all relative to that period)
    are withheld."""
    from evaluation.panel.disclosure import rate_mask

    out = o.outcome
    rows = panel.units[panel.units["unit_id"] == code].set_index(panel.time)
    num = pd.to_numeric(rows[out.numerator], errors="coerce")
    den = pd.to_numeric(rows[out.denominator], errors="coerce")
    groups = [list(o.result.pre_periods), list(o.result.post_periods)]
    mask = rate_mask(num, den, threshold, groups=groups)
    hidden = set(mask.index[mask["suppressed"]])
    o.suppressed = hidden
    o.suppression = {str(k): v for k, v in mask.loc[mask["suppressed"], "status"].items()}
    if not hidden:
        return
    d = o.result.diagnostics
    if "treated_series" in d:
        d["treated_series"] = {
            k: (None if _as_period(k) in hidden else v) for k, v in d["treated_series"].items()
        }
    d["suppressed_periods"] = sorted(str(k) for k in hidden)
    for res in [o.result, *o.alternatives.values()]:
        raw = res.diagnostics.get("interval_before_bounds")
        if raw and set(res.post_periods) & hidden and [res.ci_low, res.ci_high] != list(raw):
            # the 0-100 bounds are computed from post-period values: a clipped end would give
            # a withheld value back, so the unclipped (still valid, wider) interval is shown
            res.ci_low, res.ci_high = raw
            res.conventions["bounds"] = (
                "not applied: the bound would reveal a value withheld to protect small numbers"
            )
    es = o.alternatives.get("event_study")
    if es is not None:
        ref = es.diagnostics.get("reference_period")
        cols = [c for c in ["estimate", "ci_low", "ci_high", "p_value"] if c in es.terms]
        if ref in hidden:
            es.terms[cols] = np.nan
            es.diagnostics["withheld"] = "reference period suppressed (small numbers)"
        else:
            es.terms.loc[es.terms["period"].isin(hidden), cols] = np.nan
    for key in ("synthetic_control", "synthetic_did"):
        alt = o.alternatives.get(key)
        paths = alt.extra.get("paths") if alt is not None else None
        if paths is not None:
            paths.loc[paths["time"].isin(hidden), ["treated", "gap"]] = np.nan
    for item in its_items:
        if item["outcome"] == out.name:
            frame = item["data"]
            frame.loc[frame[frame.columns[0]].isin(hidden), ["area", "gap"]] = np.nan
    if set(o.result.post_periods) <= hidden:
        # Every post-period value is withheld.  A synthetic comparison is built from published
        # comparison areas, so its estimate would give the withheld value back exactly (and the
        # area-alone ITS nearly so): those estimates are withheld too.
        why = "withheld: every post-period value is protected (small numbers) and this estimate would reveal it"
        for key in ("synthetic_control", "synthetic_did"):
            if o.alternatives.pop(key, None) is not None:
                o.withheld[key] = why
        for item in [i for i in its_items if i["outcome"] == out.name and i["design"] == "single"]:
            its_items.remove(item)
            o.withheld["its_single"] = why


def _as_period(key):
    try:
        return int(key)
    except (TypeError, ValueError):
        return key


def area_periods(
    panel: Panel, plan: Plan, code: str, outcome: Outcome
) -> tuple[list[int], list[int], list[int]]:
    """The plan's pre- and post-periods for one area and outcome, and the periods left out.

    Yearly plans use the plan's periods as they are.  In monthly returns a small area can have
    months with no plan issued (or no request received), where its rate is undefined: those
    months are left out for that area and outcome (listed in the result), rather than dropping
    the area.  Comparison units lacking a month are left out of the pool as usual."""
    pre, post = plan.pre_years, plan.post_years
    if not plan.monthly:
        return pre, post, []
    row = panel.units[panel.units["unit_id"] == code].set_index(panel.time)
    den = row[outcome.denominator].astype("Float64")
    ok = row[outcome.name].notna() & den.notna() & (den > 0)
    have = set(ok[ok].index)
    return (
        [t for t in pre if t in have],
        [t for t in post if t in have],
        [t for t in pre + post if t not in have],
    )


def analysis_rows(panel: Panel, plan: Plan) -> pd.DataFrame:
    """The panel's rows from the first pre-period to the last post-period, without the
    periods the plan leaves out (the data every per-area alternative estimator sees)."""
    first, last = plan.pre[0], plan.post[1]
    keep = [t for t in range(first, last + 1) if t not in plan.excluded_periods]
    return panel.units[panel.units[panel.time].isin(keep)]


def area_alternatives(
    panel: Panel, plan: Plan, code: str, pool: list[str], outcome: Outcome, start_year: int
) -> dict[str, EstimationResult]:
    """Other estimators of the same per-area effect (one treated area: placebo inference for
    each).  An estimator that cannot run on this area's data is left out, not faked.
    ``start_year`` is the start period (a year, or a month index for monthly plans)."""
    time = panel.time
    excluded = plan.excluded_periods
    units = analysis_rows(panel, plan)
    out: dict[str, EstimationResult] = {}
    wanted = plan.alternatives
    try:
        if not wanted.get("event_study", True):
            raise ValueError("not requested by the plan")
        es = event_study_one_treated(
            units,
            unit="unit_id",
            time=time,
            outcome=outcome.name,
            treated=code,
            start=start_year,
            pool=pool,
            numerator=outcome.numerator,
            denominator=outcome.denominator,
            exclude=excluded,
            alpha=plan.alpha,
        )
        es.unit = outcome.unit
        out["event_study"] = es
    except ValueError:
        pass
    from evaluation.models.synthetic_control import synthetic_control
    from evaluation.models.synthetic_did import synthetic_did

    kw = dict(
        unit="unit_id",
        time=time,
        outcome=outcome.name,
        treated=code,
        pre=plan.pre_years,
        post=plan.post_years,
        donors=pool,
        alpha=plan.alpha,
        outcome_label=outcome.name,
        unit_label=outcome.unit,
    )
    planned = next(p for p in plan.outcomes if p.name == outcome.name)
    post_vals = units.loc[
        (units["unit_id"] == code) & units[time].isin(plan.post_years), outcome.name
    ].astype(float)
    fits = []
    if wanted.get("synthetic_control", True):
        fits.append(
            (
                "synthetic_control",
                lambda: synthetic_control(units, placebo_cache=_SC_PLACEBOS, **kw),
            )
        )
    if wanted.get("synthetic_did", True):
        fits.append(
            (
                "synthetic_did",
                lambda: synthetic_did(
                    units,
                    inference="rank",
                    placebo_cache=_SDID_PLACEBOS,
                    treated_cache=_SDID_TREATED,
                    seed=plan.seed,
                    **kw,
                ),
            )
        )
    for key, fit in fits:
        try:
            res = fit()
        except ValueError:
            continue
        res.diagnostics.update(pre_fit_check(res, planned.minimum_important_difference))
        bound_interval(res, post_vals, (0.0, 100.0))
        out[key] = res
    return out


def bound_interval(res: EstimationResult, post_vals: pd.Series, bounds: tuple) -> None:
    """Intersect a rate's interval with the effects that are logically possible (those that
    keep every post-period counterfactual inside ``bounds``), as ``did_one_treated`` does: a
    confidence set restricted to the parameter space keeps its coverage.  With few pre-periods
    and many donors, synthetic-control placebos can fit perfectly and give huge intervals."""
    if post_vals.empty or post_vals.isna().any():
        return
    lo = max(res.ci_low, float(post_vals.max()) - bounds[1])
    hi = min(res.ci_high, float(post_vals.min()) - bounds[0])
    if (lo, hi) != (res.ci_low, res.ci_high):
        res.diagnostics["interval_before_bounds"] = [res.ci_low, res.ci_high]
        res.ci_low, res.ci_high = lo, hi
        res.conventions["bounds"] = (
            f"interval intersected with the effects that keep the post-period counterfactual "
            f"within {bounds}"
        )


class _DiskCache(dict):
    """A dict that also keeps its entries in ``.cache/`` (git-ignored), one pickle per key.

    Keys are hashed together with the source of ``models/synth.py``, so a change to the
    algorithm never reuses an old result; the synthetic-DiD keys already include a digest of
    the donors' data.  Unreadable or unwritable files are ignored (the work is redone)."""

    def __init__(self, prefix: str = "sdid-placebos"):
        super().__init__()
        self.prefix = prefix

    def _path(self, key):
        import hashlib

        from evaluation.config import CACHE_DIR, PROJECT_ROOT

        models = sorted((PROJECT_ROOT / "evaluation" / "models").glob("*.py"))
        code = b"".join(p.read_bytes() for p in models)
        digest = hashlib.sha256(repr(key).encode() + code).hexdigest()[:32]
        return CACHE_DIR / f"{self.prefix}-{digest}.pkl"

    def __contains__(self, key):
        if dict.__contains__(self, key):
            return True
        import pickle

        try:
            with open(self._path(key), "rb") as fh:
                dict.__setitem__(self, key, pickle.load(fh))  # noqa: S301 - our own cache
            return True
        except Exception:  # noqa: BLE001 - missing or damaged: recompute
            return False

    def __setitem__(self, key, value):
        import os
        import pickle

        dict.__setitem__(self, key, value)
        path = self._path(key)
        try:
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            with open(tmp, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError:
            pass


# Placebo fits of synthetic DiD do not involve the pilot, so every pilot evaluated against the
# same donors shares them (see models/synth.py, placebo_cache): in this process, and across
# runs through .cache/ (keyed by the donors' data and the synthetic-DiD code).
_SDID_PLACEBOS: dict = _DiskCache("sdid-placebos")
# The same for the synthetic control's placebo fits (each donor against the other donors).
_SC_PLACEBOS: dict = _DiskCache("sc-placebos")
# The pilots' own synthetic-DiD fits, batched for all pilots at once by prefit_shared_work
# (make reports) and reused by each area's evaluation.
_SDID_TREATED: dict = _DiskCache("sdid-treated")


def prefit_shared_work(panel: Panel, plan: Plan) -> int:
    """Work shared by every area report, done once before the areas are rendered: the
    synthetic-DiD fits of all pilots (one batched run per outcome against the same donors) and
    the synthetic-control and synthetic-DiD placebo fits (which do not involve any pilot).  Results go to the caches that
    ``evaluate_area`` reads, in memory and in ``.cache/``.  Returns the number of fits made."""
    from evaluation.models.synthetic_control import synthetic_control
    from evaluation.models.synthetic_did import synthetic_did, synthetic_did_prefit

    time = panel.time
    units = analysis_rows(panel, plan)
    pool = comparison_pool(panel, plan)
    made = 0
    for planned in plan.outcomes:
        name = planned.name
        kw = dict(unit="unit_id", time=time, outcome=name, pre=plan.pre_years)
        kw.update(post=plan.post_years, donors=pool)
        if plan.alternatives.get("synthetic_control", True):
            _fit_for_any_pilot(
                plan, synthetic_control, units, alpha=plan.alpha, placebo_cache=_SC_PLACEBOS, **kw
            )
        if not plan.alternatives.get("synthetic_did", True):
            continue
        made += synthetic_did_prefit(
            units, treated_units=list(plan.pilot_codes), cache=_SDID_TREATED, **kw
        )
        _fit_for_any_pilot(
            plan,
            synthetic_did,
            units,
            inference="rank",
            placebo_cache=_SDID_PLACEBOS,
            treated_cache=_SDID_TREATED,
            seed=plan.seed,
            **kw,
        )
    return made


def _fit_for_any_pilot(plan: Plan, fit, units, **kwargs) -> None:
    """Run ``fit(units, treated=code, **kwargs)`` for the first pilot it works for: the placebo
    fits it caches do not depend on the pilot, so one pilot's run fills the cache for all."""
    for code in plan.pilot_codes:
        try:
            fit(units, treated=code, **kwargs)
            return
        except ValueError:  # e.g. this pilot lacks the outcome in a pre-period year
            continue


def pre_fit_check(res: EstimationResult, mid: float) -> dict:
    """Is the synthetic comparison's pre-period fit good enough to use as evidence?  Poor if
    the pre-period RMSPE exceeds half the area's own pre-period SD, twice the median placebo
    pre-RMSPE, or the plan's minimum important difference (METHODOLOGY.md section 6)."""
    d = res.diagnostics
    pre = d.get("pre_rmspe")
    if pre is not None and pre < 1e-6:
        return {
            "pre_fit_ok": None,
            "pre_fit_problems": [
                "the pre-period fit is exact by construction (fewer pre-programme years than "
                "comparison areas), which is not evidence of a good comparison"
            ],
            "pre_fit_rule": "not assessable when the pre-period fit is exact",
        }
    reasons = []
    ratio = d.get("pre_rmspe_over_pre_sd")
    if ratio is not None and ratio > 0.5:
        reasons.append("pre-period error above half the area's own pre-period variation")
    med = d.get("placebo_median_pre_rmspe")
    if pre is not None and med is not None and pre > 2 * med:
        reasons.append("pre-period error above twice the comparison areas' median")
    if pre is not None and pre >= mid:
        reasons.append("pre-period error as large as the minimum important difference")
    return {
        "pre_fit_ok": None if pre is None else not reasons,
        "pre_fit_problems": reasons,
        "pre_fit_rule": "poor if pre-RMSPE > 0.5 x area's pre-period SD, > 2 x median placebo "
        "pre-RMSPE, or >= the minimum important difference",
    }


def area_its(
    panel: Panel,
    plan: Plan,
    code: str,
    pool: list[str],
    outcomes: list[Outcome],
    start_year: int,
    seed: int,
) -> list[dict]:
    """Single-series ITS for the area and controlled ITS (area minus pooled comparison rate)
    for each outcome, on the plan's ITS years.  Partially treated years are washout periods."""
    cfg = plan.its
    time = panel.time
    last = plan.post[1]
    washout_years = [t for t in plan.excluded_periods if t >= start_year]
    interruption = min(washout_years) if washout_years else plan.post[0]
    washout = len(washout_years)
    units = panel.units[panel.units[time].between(cfg["first_period"], last)]
    season = {}
    if plan.monthly and cfg.get("harmonics"):
        # school-holiday seasonality: Fourier pairs in the calendar month (period 12)
        season = dict(
            harmonics=int(cfg["harmonics"]),
            season_col="month",
            season_period=float(cfg.get("season_period", 12)),
        )
    out = []
    for outcome in outcomes:
        num, den = outcome.numerator, outcome.denominator
        area = units[units["unit_id"] == code].set_index(time)[outcome.name].astype(float)
        comp_units = units[units["unit_id"].isin(pool)]
        # the same comparison units in every year: those with positive counts in all years
        good_row = comp_units[num].notna() & comp_units[den].notna() & (comp_units[den] > 0)
        ok = good_row.groupby(comp_units["unit_id"]).all()
        members = ok[ok].index
        sums = comp_units[comp_units["unit_id"].isin(members)].groupby(time)[[num, den]].sum()
        comp = sums[num].astype(float) / sums[den].astype(float) * 100
        frame = pd.DataFrame(
            {time: area.index, "area": area.values, "comparison": comp.reindex(area.index).values}
        )
        if plan.monthly:
            frame["month"] = frame[time] % 12 + 1
        frame["gap"] = frame["area"] - frame["comparison"]
        for design, col in [("single", "area"), ("controlled", "gap")]:
            if frame[col].isna().any():
                continue  # a gap in the series: ITS needs complete, equally spaced years
            try:
                res = its(
                    frame,
                    time=time,
                    outcome=col,
                    interruption=interruption,
                    washout=washout,
                    effects=cfg["effects"],
                    method=cfg["method"],
                    alpha=plan.alpha,
                    label=outcome.name,
                    seed=seed,
                    **season,
                )
            except ValueError:
                continue
            out.append(
                {
                    "outcome": outcome.name,
                    "design": design,
                    "result": res,
                    "data": frame,
                    "n_points": int(len(frame)),
                    "n_comparison_units": int(len(members)),
                }
            )
    return out
