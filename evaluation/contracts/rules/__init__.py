"""Rules beyond types, the third step of validation, one module per family.

- :mod:`~evaluation.contracts.rules.time`: time_identifier allowed, time_period width, one
  time family per file;
- :mod:`~evaluation.contracts.rules.keys`: unique keys, duplicate submissions;
- :mod:`~evaluation.contracts.rules.key_values`: every key has a value (not blank, not a
  missing-value symbol; EES geography above its level excepted);
- :mod:`~evaluation.contracts.rules.ratio`: numerator <= denominator, published percentages
  against their recomputation;
- :mod:`~evaluation.contracts.rules.geography`: (name, code[, GSS]) against the LA lookup;
- :mod:`~evaluation.contracts.rules.cases`: chronology and outcome/date pairs of case records;
- :mod:`~evaluation.contracts.rules.period_gap`: gaps in a return's periods (warnings).

Each rule returns :class:`~evaluation.findings.Finding` records; errors that carry a row
index send that row to quarantine.
"""

from evaluation.contracts.rules.cases import case_rules
from evaluation.contracts.rules.geography import geography_rules
from evaluation.contracts.rules.key_values import key_value_rules
from evaluation.contracts.rules.keys import key_rules
from evaluation.contracts.rules.period_gap import period_gap_rules
from evaluation.contracts.rules.ratio import ratio_rules
from evaluation.contracts.rules.time import time_rules, year_of

__all__ = [
    "case_rules",
    "geography_rules",
    "key_rules",
    "key_value_rules",
    "period_gap_rules",
    "ratio_rules",
    "time_rules",
    "year_of",
]
