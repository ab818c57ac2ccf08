"""Plan options read beside the core keys of :mod:`evaluation.panel.plan`:

* ``periods.fallback_pre`` / ``periods.sensitivity``: the pre-period used for an outcome whose
  long pre-period fails its in-time placebo check, and the pre-periods shown as a sensitivity
  for every outcome (yearly plans; METHODOLOGY.md section 2f);
* ``comparison_pool.similar_areas`` / ``comparison_pool.min_donor_denominator``: the
  similar-area comparison pool and the smallest denominator a synthetic donor may have
  (METHODOLOGY.md section 2g);
* ``comparison_pool.synthetic_ridge``: the synthetic control's ridge penalty on its weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def _span(value, path: Path, key: str, require: Callable) -> tuple[int, int]:
    span = tuple(value or [])
    require(
        len(span) == 2 and all(isinstance(y, int) for y in span) and span[0] <= span[1],
        path,
        key,
        "must be [first_year, last_year]",
    )
    return span


def pre_options(
    periods: dict, path: Path, pre: tuple, post: tuple, monthly: bool, require: Callable
) -> tuple[tuple | None, list[dict]]:
    """``(fallback_pre, sensitivity)`` of the ``periods`` section.

    ``fallback_pre`` must lie inside ``pre`` and end where it ends; every sensitivity entry is
    ``{pre: [a, b], why: text}`` with ``b`` before the post-period."""
    fallback, sensitivity = periods.get("fallback_pre"), periods.get("sensitivity") or []
    if monthly:
        require(
            fallback is None and not sensitivity,
            path,
            "periods.fallback_pre",
            "fallback and sensitivity pre-periods are for yearly plans",
        )
        return None, []
    if fallback is not None:
        fallback = _span(fallback, path, "periods.fallback_pre", require)
        require(
            pre[0] < fallback[0] and fallback[1] == pre[1],
            path,
            "periods.fallback_pre",
            "must start after periods.pre starts and end where it ends",
        )
    require(isinstance(sensitivity, list), path, "periods.sensitivity", "must be a list")
    out = []
    for i, entry in enumerate(sensitivity):
        key = f"periods.sensitivity[{i}]"
        require(isinstance(entry, dict), path, key, "must be {pre: [a, b], why: text}")
        span = _span(entry.get("pre"), path, f"{key}.pre", require)
        require(span[1] < post[0], path, f"{key}.pre", "must end before the post-period")
        why = str(entry.get("why", "") or "").strip()
        require(bool(why), path, f"{key}.why", "must say why this pre-period is shown")
        out.append({"pre": span, "why": why})
    return fallback, out


SIMILAR_DEFAULTS = {"k": 20, "region": False}


def pool_options(pool: dict, path: Path, require: Callable) -> dict:
    """``{similar_areas: {k, region} or None, min_donor_denominator: float}``."""
    similar = pool.get("similar_areas")
    if similar is not None:
        require(isinstance(similar, dict), path, "comparison_pool.similar_areas", "must be a map")
        unknown = set(similar) - set(SIMILAR_DEFAULTS)
        require(
            not unknown,
            path,
            "comparison_pool.similar_areas",
            f"unknown keys {sorted(unknown)}; allowed: {sorted(SIMILAR_DEFAULTS)}",
        )
        similar = SIMILAR_DEFAULTS | similar
        k = similar["k"]
        require(
            isinstance(k, int) and not isinstance(k, bool) and k >= 2,
            path,
            "comparison_pool.similar_areas.k",
            "must be an integer >= 2",
        )
        require(
            isinstance(similar["region"], bool),
            path,
            "comparison_pool.similar_areas.region",
            "must be true or false",
        )
    floor = pool.get("min_donor_denominator", 0)
    require(
        isinstance(floor, int | float) and not isinstance(floor, bool) and floor >= 0,
        path,
        "comparison_pool.min_donor_denominator",
        "must be a number >= 0 (mean yearly denominator over the pre-period)",
    )
    ridge = pool.get("synthetic_ridge", 0.0)
    require(
        isinstance(ridge, int | float) and not isinstance(ridge, bool) and ridge >= 0,
        path,
        "comparison_pool.synthetic_ridge",
        "must be a number >= 0 (1 = synthetic DiD's unit-weight penalty)",
    )
    return {
        "similar_areas": similar,
        "min_donor_denominator": float(floor),
        "synthetic_ridge": float(ridge),
    }
