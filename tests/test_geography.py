"""LA identity: validated (name, code) pairs, errata, boundary changes, AREA resolution."""

import pytest

from evaluation.config import normalise_name, slugify
from evaluation.io.geography import AreaNotFoundError


def test_name_drift_is_resolved_by_alias_and_normalisation(geo):
    assert geo.canonical_name("Durham") == "County Durham"
    assert geo.canonical_name("Kingston Upon Hull, City of") == "Kingston upon Hull, City of"
    assert geo.canonical_name("  telford & wrekin ") == "Telford and Wrekin"
    assert normalise_name("Bristol,  City of") == "bristol, city of"
    assert slugify("Herefordshire, County of") == "herefordshire-county-of"


def test_known_tribunal_code_error_is_corrected_with_a_warning(geo):
    code, findings = geo.validate_pair(
        "Central Bedfordshire", "873", 2020, source="send_tribunal", file="t.csv", row=90
    )
    assert code == "823"
    assert [(f.rule, f.severity, f.row) for f in findings] == [
        ("known_source_erratum", "warning", 90)
    ]


def test_unknown_code_name_disagreement_is_an_error(geo):
    code, findings = geo.validate_pair("Hartlepool", "806", 2020, source="ees", file="r.csv", row=5)
    assert code is None
    assert findings[0].rule == "la_code_name_pair" and findings[0].severity == "error"
    assert findings[0].file == "r.csv" and findings[0].row == 5


def test_retired_la_after_its_end_is_an_error_but_gss_drift_is_a_warning(geo):
    code, findings = geo.validate_pair("Cumbria", "909", 2023, source="x", file="f", row=3)
    assert code is None and findings[0].rule == "retired_la_used"
    # North Yorkshire keeps its county E10 code after becoming a unitary in 2023 (EES files)
    code, findings = geo.validate_pair(
        "North Yorkshire", "815", 2024, source="x", file="f", row=3, gss="E10000023"
    )
    assert code == "815"
    assert [(f.rule, f.severity) for f in findings] == [("gss_code_drift", "warning")]
    code, findings = geo.validate_pair(
        "North Yorkshire", "815", 2024, source="x", file="f", row=3, gss="E06000065"
    )
    assert code == "815" and findings == []
    code, findings = geo.validate_pair(
        "North Yorkshire", "815", 2022, source="x", file="f", row=3, gss="E10000023"
    )
    assert findings == []
    code, findings = geo.validate_pair(
        "Hartlepool", "805", 2024, source="x", file="f", row=3, gss="E06000002"
    )
    assert code is None and findings[0].rule == "gss_code_in_lookup"


@pytest.mark.parametrize("value", ["hartlepool", "Hartlepool", "805", "E06000001", "e06000001"])
def test_area_resolution_accepts_slug_code_and_gss(geo, plan, value):
    assert geo.resolve_area(value, plan.pilot_codes) == "805"


def test_area_resolution_of_multiword_names(geo, plan):
    assert geo.resolve_area("telford-and-wrekin", plan.pilot_codes) == "894"
    assert geo.resolve_area("county-durham", plan.pilot_codes) == "840"


@pytest.mark.parametrize(
    "value", ["../etc", "nowhere", "", "kent", "886", "E06000999", "805; rm -rf /", "a" * 200]
)
def test_bad_area_values_are_refused_with_a_hint(geo, plan, value):
    with pytest.raises(AreaNotFoundError, match="make areas"):
        geo.resolve_area(value, plan.pilot_codes)


def test_non_pilot_la_is_named_in_the_refusal(geo, plan):
    with pytest.raises(AreaNotFoundError, match=r"Kent \(886\) is not a pilot area"):
        geo.resolve_area("kent", plan.pilot_codes)


def test_lookup_file_row_count_and_english_subset(geo):
    import csv

    from .conftest import DATA

    with open(DATA / "public" / "la_lookup_old_la_codes.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 230  # as published in dfeR
    english = [r for r in rows if r["new_la_code"].startswith("E")]
    assert len(geo.lookup) == len(english)
