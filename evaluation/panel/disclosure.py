"""Statistical disclosure control for published reports.

Rule (threshold ``T`` from the plan's ``disclosure.threshold``):

* **Primary suppression.** A cell is disclosive if it publishes, or lets a reader compute, a
  count between 1 and ``T - 1``: a denominator below ``T``, or a rate whose numerator or whose
  complement (denominator minus numerator) is below ``T`` (the rate times the published
  denominator gives the numerator).  Zero is not suppressed (DfE practice: a true zero is not
  disclosive on its own).
* **Secondary suppression.** Some published numbers combine cells: a difference-in-differences
  averages one area's yearly rates, so with the estimate and all but one year on show, the
  hidden year could be solved for.  For every such group of cells, if exactly one cell is
  suppressed, the next least-populated cell of the group (smallest denominator) is suppressed
  too, and this repeats until no group has exactly one suppressed cell.
* Suppressed values are shown as ``c`` (the EES symbol "confidential"); charts leave the point
  out and say so.  No case-level value ever reaches a report: reports are built from
  area-period aggregates only.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

SYMBOL = "c"


def primary(num, den, threshold: int) -> np.ndarray:
    """Boolean array: True where a rate num/den (or den itself) discloses a small count."""
    num = np.asarray(pd.to_numeric(pd.Series(num), errors="coerce"), dtype=float)
    den = np.asarray(pd.to_numeric(pd.Series(den), errors="coerce"), dtype=float)

    def small(x):
        return np.isfinite(x) & (x > 0) & (x < threshold)

    return small(den) | small(num) | small(den - num)


def secondary(
    suppressed: pd.Series, groups: Iterable[Iterable], size: pd.Series
) -> tuple[pd.Series, list]:
    """Complementary suppression: no group may have exactly one suppressed cell.

    ``suppressed`` is a boolean Series indexed by cell; each group lists cells whose values
    are combined in a published figure; ``size`` (same index) ranks candidates: the smallest
    unsuppressed cell of an exposed group is suppressed next.  Returns the new mask and the
    cells added, in order.  Raises if a group cannot be protected (one cell only)."""
    mask = suppressed.astype(bool).copy()
    added = []
    groups = [list(g) for g in groups]
    changed = True
    while changed:
        changed = False
        for g in groups:
            cells = list(dict.fromkeys(c for c in g if c in mask.index))
            hidden = [c for c in cells if mask[c]]
            if len(hidden) != 1:
                continue
            candidates = [c for c in cells if not mask[c]]
            if not candidates:
                continue
            pick = min(candidates, key=lambda c: (size.get(c, np.inf), str(c)))
            mask[pick] = True
            added.append(pick)
            changed = True
    return mask, added


def rate_mask(
    num: pd.Series, den: pd.Series, threshold: int, groups: Iterable[Iterable] = ()
) -> pd.DataFrame:
    """Per cell (the Series' index, e.g. years): ``status`` is ``shown``, ``primary`` or
    ``secondary``.  ``groups`` are sets of cells combined in a published figure."""
    prim = pd.Series(primary(num, den, threshold), index=num.index)
    mask, added = secondary(prim, groups, pd.to_numeric(den, errors="coerce"))
    status = pd.Series("shown", index=num.index, dtype=object)
    status[prim] = "primary"
    status[mask & ~prim] = "secondary"
    return pd.DataFrame({"status": status, "suppressed": mask})


def show(value, suppressed: bool, formatter=str) -> str:
    """The published text of one cell."""
    return SYMBOL if suppressed else formatter(value)
