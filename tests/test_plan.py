"""The default evaluation plan and plan validation."""

import pytest
import yaml

from evaluation.panel.plan import PlanError, load_plan

from .conftest import PLAN


def test_default_plan_describes_the_change_programme(plan, geo):
    assert len(plan.pilots) == 32
    assert len({p.partnership for p in plan.pilots}) == 9
    assert {p.start_date.isoformat() for p in plan.pilots} == {"2023-09-01"}
    for p in plan.pilots:  # every pilot's (code, name) pair is in the DfE lookup
        assert geo.name_for_code(p.la_code) == p.la_name
    assert [o.name for o in plan.outcomes if o.role == "primary"] == ["timeliness_20wk_ex"]
    assert {o.name for o in plan.outcomes if o.role == "secondary"} == {
        "tribunal_appeal_rate",
        "timeliness_20wk",
        "refusal_to_assess_rate",
    }
    assert plan.pre == (2014, 2022) and plan.fallback_pre == (2019, 2022)
    assert plan.post_years == [2024]
    assert [e["pre"] for e in plan.pre_sensitivity] == [(2019, 2022), (2023, 2023)]
    assert plan.seed == 20230901


def _write(tmp_path, mutate):
    raw = yaml.safe_load(PLAN.read_text())
    mutate(raw)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    "mutate, key",
    [
        (
            lambda r: r["outcomes"]["primary"][0].update(name="happiness"),
            "outcomes.primary[0].name",
        ),
        (lambda r: r["pilots"][0].update(la_code="8050"), "pilots[0].la_code"),
        (lambda r: r["inference"].update(seed="abc"), "inference.seed"),
        (lambda r: r["periods"].update(pre=[2023, 2024]), "periods"),
        (lambda r: r["geography"].update(boundary_policy="guess"), "geography.boundary_policy"),
    ],
)
def test_invalid_plans_name_the_key(tmp_path, mutate, key):
    with pytest.raises(PlanError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_plan(_write(tmp_path, mutate))
