"""The analysis panel: stable geography, sums, and nothing lost."""

import pandas as pd

from evaluation.panel.build import MEASURES, build_panel

from .conftest import DATA


def test_every_stable_unit_is_present_every_year(panel):
    counts = panel.units.groupby("year")["unit_id"].nunique()
    assert set(counts.index) == set(range(2014, 2025))
    # 152 LAs before 2019 -> 150 stable units (Bournemouth, Poole, Dorset -> 1).
    assert (counts == 150).all()


def test_merged_units_equal_the_sum_of_their_members(panel, geo):
    """Property: a merged unit's count is the sum of its member LAs' selected observations."""
    from evaluation.panel.build import select_sources

    chosen = select_sources(panel.observations)
    la = chosen[chosen["geographic_level"] == "Local authority"]
    units = panel.units.set_index(["unit_id", "year"])
    for unit in geo.stable_units:
        for year in [2016, 2020, 2022, 2024]:
            members = [c for c in unit["members"] if geo.exists_in(c, year)]
            part = la[
                la["old_la_code"].isin(members)
                & (la["time_period"] == year)
                & (la["measure"] == "plans_issued_den")
            ]
            got = units.loc[(unit["unit_id"], year), "plans_issued_den"]
            if len(part) == len(members) and part["value"].notna().all():
                assert got == part["value"].sum()
            else:
                assert pd.isna(got)


def test_tribunal_la_sums_equal_the_published_england_total(panel):
    obs = panel.observations
    t = obs[obs["source"] == "send_tribunal"]
    la = (
        t[t["geographic_level"] == "Local authority"]
        .groupby(["time_period", "measure"])["value"]
        .sum()
    )
    nat = t[t["geographic_level"] == "National"].set_index(["time_period", "measure"])["value"]
    assert nat[(2024, "appeals")] == 22_276 and nat[(2024, "appealable_decisions")] == 689_739
    assert (la.sort_index() == nat.sort_index()).all()


def test_late_northamptonshire_appeals_count_towards_the_stable_unit(panel):
    """85 appeals were registered against Northamptonshire in 2021, after its split: a
    warning, and they belong to the combined Northamptonshire unit."""
    late = [f for f in panel.findings if f.rule == "known_record_after_end"]
    assert [(f.row, f.value, f.severity) for f in late] == [(68, "2021", "warning")]
    obs = panel.observations
    t = obs[
        (obs["source"] == "send_tribunal")
        & (obs["time_period"] == 2021)
        & (obs["measure"] == "appeals")
    ].set_index("old_la_code")["value"]
    nth = panel.units.set_index(["unit_id", "year"]).loc[("NTH", 2021), "appeals"]
    assert t["928"] == 85 and nth == t["928"] + t["940"] + t["941"]


def test_rows_in_equal_rows_accepted_plus_quarantined(panel):
    assert len(panel.validation) == 5
    for result in panel.validation:
        assert result.rows_in == result.rows_accepted + result.rows_quarantined, result.summary()
        assert "rows in =" in result.summary()
    # the shipped public data raise no errors at all: nothing is quarantined
    assert [f for f in panel.findings if f.severity == "error"] == []
    assert sum(r.rows_quarantined for r in panel.validation) == 0


def test_rates_are_recomputed_from_counts(panel):
    u = panel.units.dropna(subset=["plans_issued_den_ex"])
    u = u[u["plans_issued_den_ex"] > 0]
    expected = (
        u["plans_issued_20_weeks_ex"].astype(float) / u["plans_issued_den_ex"].astype(float) * 100
    )
    assert ((u["timeliness_20wk_ex"].astype(float) - expected).abs() < 1e-9).all()


def test_exclude_policy_drops_the_changed_las():
    p = build_panel(DATA, boundary_policy="exclude")
    ids = set(p.units["unit_id"])
    assert not ids & {"DOR", "NTH", "CMB", "835", "838", "839", "928", "940", "909", "942"}
    assert p.units.groupby("year")["unit_id"].nunique().eq(147).all()
    assert set(p.excluded_units) >= {"909", "942", "943", "928", "940", "941"}
    assert list(p.units.columns[:3]) == ["unit_id", "unit_name", "year"]
    assert set(MEASURES) <= set(p.units.columns)


def test_hartlepool_2024_counts_from_the_files(panel):
    row = panel.units[(panel.units["unit_id"] == "805") & (panel.units["year"] == 2024)].iloc[0]
    assert (row["plans_issued_20_weeks_ex"], row["plans_issued_den_ex"]) == (91, 122)
    assert (row["appeals"], row["appealable_decisions"]) == (22, 1035)
