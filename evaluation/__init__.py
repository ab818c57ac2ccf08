"""SEND test-and-learn evaluation toolkit.

Pipeline: :mod:`evaluation.ingest` -> :mod:`evaluation.panel` -> :mod:`evaluation.models` ->
:mod:`evaluation.area` -> :mod:`evaluation.reports`.  See ARCHITECTURE.md.
"""

__version__ = "0.1.0"
