"""The tribunal table joins on validated (name, code) pairs, never on raw codes."""


def test_five_wrong_codes_are_corrected_and_reported(panel):
    warn = [f for f in panel.findings if f.rule == "known_source_erratum"]
    assert sorted(f.value for f in warn) == ["823", "873", "891", "892", "928"]
    obs = panel.observations
    t = obs[
        (obs["source"] == "send_tribunal")
        & (obs["time_period"] == 2024)
        & (obs["measure"] == "appealable_decisions")
    ]
    by_name = dict(zip(t["la_name"], t["old_la_code"], strict=True))
    assert by_name["Nottingham"] == "892" and by_name["Nottinghamshire"] == "891"
    assert by_name["Central Bedfordshire"] == "823" and by_name["Cambridgeshire"] == "873"


def test_every_la_parses_for_every_year(panel):
    obs = panel.observations
    t = obs[
        (obs["source"] == "send_tribunal")
        & (obs["geographic_level"] == "Local authority")
        & (obs["measure"] == "appealable_decisions")
        & obs["value"].notna()
    ]
    counts = t.groupby("time_period")["la_name"].nunique().to_dict()
    assert counts == {
        **{y: 152 for y in range(2014, 2019)},
        2019: 151,
        2020: 151,
        2021: 152,
        2022: 152,
        2023: 153,
        2024: 153,
    }
