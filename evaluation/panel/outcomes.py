"""The outcome catalogue (product brief section 5): names, numerators, denominators, direction.

Rates are always recomputed from counts (never averaged from published percentages) and are
expressed on a 0-100 scale, so effects are in percentage points; for the tribunal rate a
percentage point is one appeal per 100 appealable decisions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    name: str
    label: str
    numerator: str
    denominator: str
    better: str  # "higher", "lower" or "neither" (report, do not judge)
    unit: str  # natural unit of an effect, used in plain-English text
    description: str
    decimals: int = 1  # decimals for effects in prose and tables

    def rate(self, numerator, denominator):
        """Rate on the 0-100 scale; NA where the denominator is zero or missing."""
        den = denominator.astype("Float64")
        return (numerator.astype("Float64") / den.where(den > 0)) * 100.0


CATALOGUE: dict[str, Outcome] = {
    o.name: o
    for o in [
        Outcome(
            "timeliness_20wk_ex",
            "New EHC plans issued within 20 weeks (excluding exceptions)",
            "plans_issued_20_weeks_ex",
            "plans_issued_den_ex",
            "higher",
            "percentage points",
            "New EHC plans issued within 20 weeks, excluding plans where a statutory exception "
            "applied, as a percentage of plans issued excluding exceptions.",
        ),
        Outcome(
            "timeliness_20wk",
            "New EHC plans issued within 20 weeks (including exceptions)",
            "plans_issued_within_20_weeks",
            "plans_issued_den",
            "higher",
            "percentage points",
            "New EHC plans issued within 20 weeks as a percentage of all plans issued.",
        ),
        Outcome(
            "tribunal_appeal_rate",
            "SEND Tribunal appeal rate",
            "appeals",
            "appealable_decisions",
            "lower",
            "appeals per 100 appealable decisions",
            "SEND Tribunal appeals registered as a percentage of appealable decisions "
            "(MoJ/DfE definition).",
            decimals=2,
        ),
        Outcome(
            "refusal_to_assess_rate",
            "Requests refused an EHC needs assessment",
            "requests_decided_not_to_assess",
            "requests_received",
            "neither",
            "percentage points",
            "Requests for an EHC needs assessment that the LA decided not to assess, as a "
            "percentage of requests received.",
        ),
    ]
}


def get_outcome(name: str) -> Outcome:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(
            f"Unknown outcome '{name}'. The catalogue has: {', '.join(CATALOGUE)}."
        ) from None
