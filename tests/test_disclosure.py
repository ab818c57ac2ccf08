"""Disclosure control: primary and secondary (complementary) suppression."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.panel.disclosure import primary, rate_mask, secondary


def test_primary_flags_small_numerators_complements_and_denominators():
    num = [0, 3, 50, 95, 5, 20]
    den = [100, 100, 100, 100, 8, 0]
    assert primary(num, den, 10).tolist() == [False, True, False, True, True, False]


def test_single_hidden_year_in_an_average_forces_a_second():
    years = pd.Index([2019, 2020, 2021, 2022, 2024])
    num = pd.Series([40, 5, 60, 70, 80], index=years)
    den = pd.Series([100, 90, 120, 110, 130], index=years)
    out = rate_mask(num, den, 10, groups=[list(years)])
    assert out.loc[2020, "status"] == "primary"
    # the next least-populated year (smallest denominator) is suppressed too
    assert out.loc[2019, "status"] == "secondary"
    assert out["suppressed"].sum() == 2


def test_nothing_to_hide_hides_nothing():
    years = pd.Index([1, 2, 3])
    out = rate_mask(pd.Series([40, 50, 60], index=years), pd.Series([100] * 3, index=years), 10)
    assert not out["suppressed"].any()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=2, max_size=12),
    st.lists(st.lists(st.integers(0, 11), min_size=2, max_size=6), max_size=4),
)
def test_no_group_is_left_with_exactly_one_suppressed_cell(sizes, groups):
    n = len(sizes)
    idx = pd.RangeIndex(n)
    size = pd.Series(sizes, index=idx, dtype=float)
    prim = size.between(1, 9)
    groups = [[g for g in grp if g < n] for grp in groups]
    mask, added = secondary(prim, groups, size)
    assert (mask | ~prim).all()  # primary cells stay suppressed
    for g in groups:
        hidden = sum(bool(mask[c]) for c in set(g))
        assert hidden != 1 or len(set(g)) == 1
    assert set(added) == set(np.flatnonzero(mask & ~prim))
