"""Plain-English sentences generated from results, so prose can never contradict the numbers."""

from __future__ import annotations

import html
import math

from evaluation.designs.area_result import AreaEvaluation, OutcomeResult


def fmt(x: float, dp: int = 1) -> str:
    """Format a number for prose: '-' sign as a real minus, fixed decimals."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "unbounded"
    s = f"{abs(x):.{dp}f}"
    return ("\u2212" + s) if x < 0 and float(s) != 0 else s


def span(years: list[int], label=str) -> str:
    """'2019 to 2022' (or 'Jan 2021 to Aug 2023' with a month ``label``)."""
    first, last = label(years[0]), label(years[-1])
    return first if len(years) == 1 else f"{first} to {last}"


def verdict(o: OutcomeResult, period_word: str = "year") -> str:
    """What the interval says, in words, relative to zero and the direction of improvement."""
    r = o.result
    if not r.ci_is_finite:
        return "There are too few comparison areas to give an interval."
    if r.ci_low <= 0 <= r.ci_high:
        return (
            "The interval includes zero, so these data cannot distinguish the change from "
            f"the {period_word}-to-{period_word} variation seen in other areas."
        )
    direction = "higher" if r.estimate > 0 else "lower"
    if o.outcome.better == "neither":
        return f"The interval excludes zero: the rate is clearly {direction} than expected."
    good = (direction == "higher") == (o.outcome.better == "higher")
    return (
        "The interval excludes zero: there is evidence of an improvement."
        if good
        else "The interval excludes zero: there is evidence that this got worse."
    )


def cut_ends(ci_low, ci_high, raw) -> tuple[bool, bool]:
    """(lower cut, upper cut): which ends of an interval a parameter-space bound moved away
    from the unrestricted interval ``raw`` (``diagnostics['interval_before_bounds']``)."""
    if not raw or ci_low is None or ci_high is None:
        return False, False
    return ci_low != raw[0], ci_high != raw[1]


def bounds_note(r, dp: int) -> str:
    """A sentence when an interval end was set by the range a rate can take (0 to 100) rather
    than by the data (``interval_before_bounds`` in the result's diagnostics); empty otherwise."""
    raw = (r.diagnostics or {}).get("interval_before_bounds")
    if not raw or not r.ci_is_finite:
        return ""
    cut_low, cut_high = cut_ends(r.ci_low, r.ci_high, raw)
    if not (cut_low or cut_high):
        return ""
    if cut_low and cut_high:
        ends = "Both ends of the interval are"
    else:
        ends = f"The {'lower' if cut_low else 'upper'} end of the interval is"
    # an end beyond +-1,000 points (ten times the whole range) comes from placebos that fit
    # their pre-period almost exactly: it is no limit at all, and printed digits would mislead
    lo_ok, hi_ok = (math.isfinite(x) and abs(x) <= 1000 for x in raw)
    if lo_ok and hi_ok:
        rest = f"it would run from {fmt(raw[0], dp)} to {fmt(raw[1], dp)}"
    elif lo_ok or hi_ok:
        known = f"from {fmt(raw[0], dp)}" if lo_ok else f"up to {fmt(raw[1], dp)}"
        rest = f"it would run {known} with no {'upper' if lo_ok else 'lower'} limit"
    else:
        rest = "the data would set no useful limit either way"
    return (
        f"{ends} set by what is possible (a rate cannot go below 0 or above 100), not by the "
        f"data; without that limit {rest}."
    )


def headline(ev: AreaEvaluation, o: OutcomeResult) -> str:
    """One sentence (plus a verdict) for one outcome."""
    r = o.result
    dp = o.outcome.decimals
    level = round(100 * (1 - r.alpha))
    unit = o.outcome.unit
    size = fmt(abs(r.estimate), dp)
    if float(size) == 0:
        change = f"changed in line with the comparison areas (difference {size} {unit})"
    else:
        moved = "rose" if r.estimate > 0 else "fell"
        change = f"{moved} by {size} {unit} more than expected from the comparison areas"
    note = bounds_note(r, dp)
    return (
        f"{o.outcome.label}: {ev.name}'s rate {change}, comparing "
        f"{span(r.post_periods, ev.label)} with {span(r.pre_periods, ev.label)} ({level}% "
        f"interval {fmt(r.ci_low, dp)} to {fmt(r.ci_high, dp)}; placebo p = {r.p_value:.2f}"
        f"{_adjusted(ev, o)}). "
        f"{verdict(o, ev.plan.period_word)}" + (f" {note}" if note else "")
    )


def _adjusted(ev: AreaEvaluation, o: OutcomeResult) -> str:
    """', p = x adjusted for the plan's k outcomes' (Romano-Wolf), or nothing."""
    if o.p_value_romano_wolf is None or len(ev.outcomes) < 2:
        return ""
    return f", {o.p_value_romano_wolf:.2f} adjusted for the plan's {len(ev.outcomes)} outcomes"


def mid_judgement(o: OutcomeResult) -> str:
    """Judgement against the plan's minimum important difference (MID)."""
    r, mid = o.result, o.planned.minimum_important_difference
    unit, dp = o.outcome.unit, o.outcome.decimals
    if o.outcome.better == "neither":
        return (
            f"The plan does not judge this outcome; its minimum important difference is "
            f"{fmt(mid, dp)} {unit} either way."
        )
    sign = 1 if o.outcome.better == "higher" else -1
    if not r.ci_is_finite:
        return "No judgement is possible without a finite interval."
    improvement_low = min(sign * r.ci_low, sign * r.ci_high)
    improvement_high = max(sign * r.ci_low, sign * r.ci_high)
    if improvement_low >= mid:
        return (
            f"The whole interval is an improvement of at least the planned {fmt(mid, dp)} {unit}."
        )
    if improvement_high < mid:
        return (
            f"An improvement as large as the planned minimum important difference "
            f"({fmt(mid, dp)} {unit}) is outside the interval."
        )
    return (
        f"The interval is too wide to say whether the planned minimum important difference "
        f"({fmt(mid, dp)} {unit}) was reached."
    )


def pooled_sentence(ev: AreaEvaluation, o: OutcomeResult) -> str:
    """The area's effect after borrowing strength from the other pilots (robust EBCI)."""
    p = o.pooled
    if not p:
        return ""
    dp, unit = o.outcome.decimals, o.outcome.unit
    level = round(100 * p["confidence_level"])
    pulled = round(100 * (1 - p["shrinkage"]))
    return (
        f"Borrowing strength from the other pilots: with all {p['n_areas']} pilot areas taken "
        f"together, {ev.name}'s estimate becomes {fmt(p['shrunk'], dp)} {unit} ({level}% "
        f"interval {fmt(p['ci_low'], dp)} to {fmt(p['ci_high'], dp)}). This pulls each "
        f"area's estimate toward the average of the pilots ({fmt(p['pilots_mean'], dp)} "
        f"{unit}), more strongly the less precise it is: here {pulled}% of the way. Such "
        f"intervals contain the true effect in {level}% of the pilot areas on average, not "
        "necessarily in this one."
    )


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def count_text(counts: dict, key: str) -> str:
    """One count of a period's ``OutcomeResult.counts`` entry as the report prints it:
    thousands separated; c when withheld to protect small numbers, x when not in the data
    (the DfE open-data symbols)."""
    if key in counts.get("withheld", ()):
        return "c"
    value = counts.get(key)
    return "x" if value is None else f"{int(value):,}"
