"""Data-quality findings: one record per problem, naming file, row, column and rule.

Every reader and check reports through :class:`Finding`, so that the command line, the
quarantine file and the report all say the same thing in the same words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One data-quality finding.

    ``row`` is the line number a user sees when opening the file (the header is line 1);
    ``None`` when the finding is about the whole file or a derived table.
    """

    file: str
    row: int | None
    column: str
    rule: str
    severity: str
    value: str
    message: str
    index: int | None = field(default=None, compare=False, repr=False)  # frame row, internal

    def __str__(self) -> str:
        where = f"{self.file}" + (f", line {self.row}" if self.row is not None else "")
        return (
            f"{self.severity.upper()}: {where}, column '{self.column}': {self.message} "
            f"[rule {self.rule}; value {self.value!r}]"
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("index", None)
        return d


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Findings as a DataFrame with a fixed column order (empty frame if none)."""
    cols = ["file", "row", "column", "rule", "severity", "value", "message"]
    if not findings:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame([f.to_dict() for f in findings], columns=cols)
