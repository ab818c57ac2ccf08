"""HTML sections of the per-area evidence report, built from one :class:`AreaEvaluation`.

The notebook calls these functions and displays the result; nothing here is typed by hand
from the numbers.  Headings run h1 -> h2 -> h3 in order.  One module per part of the report:

- ``headline``: title, summary, judgement against the plan, pre-trend caution
- ``outcomes``: one section per outcome (charts, tables, event study, synthetic control) and
  the table of all estimates
- ``changes``: what changed since the previous report
- ``time_series``: the interrupted time series section
- ``method_comparison``: the robustness table (every estimator side by side)
- ``quality``: data quality and provenance
- ``methods``: methods and caveats, the boundary caveat, "About this report"
"""

from evaluation.report.sections.changes import changes_since_last
from evaluation.report.sections.headline import plan_judgement, summary, title
from evaluation.report.sections.method_comparison import robustness
from evaluation.report.sections.methods import about, boundary_caveat, methods_and_caveats
from evaluation.report.sections.outcomes import outcome_section, results_table, series_table
from evaluation.report.sections.quality import data_quality, provenance
from evaluation.report.sections.time_series import its_section

__all__ = [
    "about",
    "boundary_caveat",
    "changes_since_last",
    "data_quality",
    "its_section",
    "methods_and_caveats",
    "outcome_section",
    "plan_judgement",
    "provenance",
    "results_table",
    "robustness",
    "series_table",
    "summary",
    "title",
]
