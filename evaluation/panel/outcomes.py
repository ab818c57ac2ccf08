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
    # The first calendar year of the shipped annual series that is comparable with the later
    # ones, and why the years before it are not (None: no limit known; monthly returns are
    # not limited by it).  A plan's pre-period starts no earlier than this for the outcome.
    short: str = ""  # a name short enough for a one-line verdict (default: the label)
    first_comparable: int | None = None
    comparable_note: str = ""
    counts: tuple[str, str] = ("", "")  # plain names of the numerator and denominator counts

    @property
    def short_name(self) -> str:
        return self.short or self.label

    @property
    def numerator_label(self) -> str:
        return self.counts[0] or self.numerator.replace("_", " ")

    @property
    def denominator_label(self) -> str:
        return self.counts[1] or self.denominator.replace("_", " ")

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
            short="Timeliness (plans within 20 weeks)",
            counts=("plans issued within 20 weeks", "plans issued, excluding exceptions"),
            first_comparable=2015,
            comparable_note="EHC plans replaced statements from 1 September 2014, so 2014 holds "
            "four months of plans and only about half of LAs reported timeliness for it; 2015 "
            "is the first full year.",
        ),
        Outcome(
            "timeliness_20wk",
            "New EHC plans issued within 20 weeks (including exceptions)",
            "plans_issued_within_20_weeks",
            "plans_issued_den",
            "higher",
            "percentage points",
            "New EHC plans issued within 20 weeks as a percentage of all plans issued.",
            short="Timeliness including exceptions",
            counts=("plans issued within 20 weeks", "plans issued"),
            first_comparable=2015,
            comparable_note="EHC plans replaced statements from 1 September 2014, so 2014 holds "
            "four months of plans and only about half of LAs reported timeliness for it; 2015 "
            "is the first full year.",
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
            short="The tribunal appeal rate",
            counts=("appeals registered", "appealable decisions"),
            first_comparable=2014,
            comparable_note="The MoJ/DfE table publishes 2014 to 2024 as one calendar-year "
            "series; its notes flag only 2023 (the person-level SEN2 change), which the plan "
            "leaves out.",
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
            short="Refusals to assess",
            counts=("requests refused an assessment", "requests received"),
            first_comparable=2016,
            comparable_note="The shipped SEN2 series has requests refused an assessment from "
            "2016 only.",
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
