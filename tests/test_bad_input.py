"""Bad input never passes silently (issue 19), part 1: contract inference explains itself, and
key values are required in every contract."""

from __future__ import annotations

import functools
import json

import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.contracts import (
    ContractInferenceError,
    infer_contract,
    list_contracts,
    load_contract,
    validate_frame,
)
from evaluation.contracts.validate import _tribunal_text
from evaluation.io.readers import read_table
from evaluation.panel.sources import SOURCES

from .conftest import DATA, ROOT

CORPUS = ROOT / "tests" / "contracts_corpus"
PUBLIC = DATA / "public"


def _validate(capsys, tmp_path, path, *extra):
    report = tmp_path / "report.json"
    code = main(
        [
            "validate",
            str(path),
            "--report-json",
            str(report),
            "--quarantine-dir",
            str(tmp_path / "q"),
        ]
        + list(extra)
    )
    err = capsys.readouterr().err
    return code, json.loads(report.read_text())["files"][0], err


def _public_head(name: str, rows: int = 40) -> pd.DataFrame:
    return pd.read_csv(PUBLIC / name, dtype=str, keep_default_na=False).head(rows)


# ---- 1. contract inference ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "source, dropped, closest",
    [
        # satisfied pilot_returns before: validated silently against the wrong contract
        ("ehcp_2025_timeliness_20_week.csv", "plans_issued_den", "ehcp_2025_timeliness"),
        ("ehcp_2025_requests.csv", "breakdown", "ehcp_2025_requests"),
        ("ehcp_2025_requests.csv", "requests_decided_not_to_assess", "ehcp_2025_requests"),
        ("ehcp_2023_sen2_mi.csv", "inreq_ehc", "ehcp_2023_sen2_mi"),
    ],
)
def test_a_file_lacking_a_column_is_refused_naming_the_closest_contract(
    source, dropped, closest, tmp_path, capsys
):
    path = tmp_path / f"no_{dropped}.csv"
    _public_head(source).drop(columns=[dropped]).to_csv(path, index=False)
    code, entry, err = _validate(capsys, tmp_path, path)
    assert code == 2
    assert entry["closest_contracts"][0] == closest and entry["missing_columns"] == [dropped]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path.name}: ")
    assert closest in lines[0] and dropped in lines[0] and "--contract" in lines[0]
    assert not (tmp_path / "q").exists() and "rows_accepted" not in entry


def test_a_file_fitting_two_contracts_equally_is_refused_naming_both(tmp_path, capsys):
    columns = ["time_period", "time_identifier", "geographic_level", "country_code"]
    columns += ["breakdown_topic", "breakdown", "requests_received_in_year"]
    columns += ["requests_decided_not_to_assess", "requests_decided_to_assess"]
    columns += ["assess_in_year", "assess_issued", "assess_not_issued"]
    path = tmp_path / "both.csv"
    pd.DataFrame([["1"] * len(columns)], columns=columns).to_csv(path, index=False)
    code, entry, err = _validate(capsys, tmp_path, path)
    assert code == 2
    assert sorted(entry["closest_contracts"]) == ["ehcp_2025_assessments", "ehcp_2025_requests"]
    assert "equally" in err and "--contract ehcp_2025" in err
    # naming one settles it
    code, entry, _ = _validate(capsys, tmp_path, path, "--contract", "ehcp_2025_requests")
    assert code in {0, 1} and entry["contract"] == "ehcp_2025_requests"


def test_a_named_contract_with_missing_columns_quarantines_every_row(tmp_path, capsys):
    code, entry, _ = _validate(
        capsys,
        tmp_path,
        CORPUS / "p01_missing_required_column.csv",
        "--contract",
        "pilot_returns",
    )
    assert code == 1 and entry["rows_accepted"] == 0 and entry["rows_quarantined"] == 24
    assert [(f["rule"], f["column"]) for f in entry["findings"]] == [
        ("required_columns", "la_name")
    ]


@pytest.mark.parametrize("key", sorted(SOURCES))
def test_every_shipped_file_infers_the_contract_its_source_names(key):
    spec = SOURCES[key]
    if spec.layout == "tribunal":
        pytest.skip("the tribunal workbook is recognised by its title, not its columns")
    columns = list(read_table(PUBLIC / spec.file).frame.columns)
    assert infer_contract(columns).name == spec.contract


def test_clean_corpus_files_and_the_lookup_infer_their_contracts():
    for path, name in [
        (CORPUS / "clean_pilot_return.csv", "pilot_returns"),
        (CORPUS / "clean_cases.csv", "case_records"),
        (PUBLIC / "la_lookup_old_la_codes.csv", "la_lookup"),
    ]:
        assert infer_contract(list(read_table(path).frame.columns)).name == name


def test_inference_error_carries_the_closest_contract_and_missing_columns():
    cols = list(read_table(CORPUS / "clean_cases.csv").frame.columns)
    with pytest.raises(ContractInferenceError) as info:
        infer_contract([c for c in cols if c not in {"exception_20wk", "la_code"}], "x.csv")
    assert info.value.closest == ["case_records"]
    assert info.value.missing == ["la_code", "exception_20wk"]
    assert str(info.value).startswith("x.csv: no contract fits exactly")


# ---- 2. key values are required, for every contract ---------------------------------------------
@functools.cache
def _frame_for(contract) -> pd.DataFrame:
    """A small text frame of real rows for the contract (the readers' own columns included)."""
    contract = load_contract(contract)
    if contract.name == "send_tribunal":
        return _tribunal_text(PUBLIC / SOURCES["send_tribunal"].file).head(200)
    if contract.name == "pilot_returns":
        return read_table(CORPUS / "clean_pilot_return.csv").frame
    if contract.name == "case_records":
        return read_table(CORPUS / "clean_cases.csv").frame
    if contract.name == "la_lookup":
        return read_table(PUBLIC / "la_lookup_old_la_codes.csv").frame.head(40)
    spec = next(s for s in SOURCES.values() if s.contract == contract.name)
    return read_table(PUBLIC / spec.file).frame.head(60)


KEYED = [name for name in list_contracts() if load_contract(name).keys]


@pytest.mark.parametrize("name", KEYED)
@pytest.mark.parametrize("kind", ["blank", "symbol"])
def test_a_blank_or_symbol_key_is_an_error_at_its_line_and_quarantined(name, kind):
    """Each key column blanked (or set to a missing-value symbol) in a row of its own: every
    such row has an error at its line naming that column, and is quarantined."""
    contract = load_contract(name)
    value = ""
    if kind == "symbol":
        symbols = [s for s in contract.missing_symbols if s]
        if not symbols:
            pytest.skip(f"{name} has no missing-value symbol")
        value = symbols[0]
    frame = _frame_for(name).copy()
    # rows where the keys apply (LA rows: EES geography is blank above its level)
    rows = frame.index
    if "geographic_level" in frame.columns:
        rows = frame.index[frame["geographic_level"] == "Local authority"]
    rows = frame.loc[rows].drop_duplicates("source_row").index  # one cell per source line
    edited = {}
    for key, idx in zip(contract.keys, rows[1::2], strict=False):
        frame.loc[idx, key] = value
        edited[int(frame.at[idx, "source_row"])] = key
    assert len(edited) == len(contract.keys)
    result = validate_frame(frame, contract, "f.csv")
    errors = {(f.row, f.column) for f in result.findings if f.severity == "error"}
    assert {(line, key) for line, key in edited.items()} <= errors
    assert set(edited) <= set(result.quarantined["source_row"].astype(int))
    assert result.balanced()
    assert result.rows_quarantined >= _clean_quarantined(name) + len(edited)


@functools.cache
def _clean_quarantined(name: str) -> int:
    return validate_frame(_frame_for(name), load_contract(name), "f.csv").rows_quarantined


def test_ees_geography_blank_above_its_level_is_not_a_finding():
    contract = load_contract("ehcp_2025_requests")
    frame = read_table(PUBLIC / "ehcp_2025_requests.csv").frame.head(200)
    assert {"National", "Regional"} <= set(frame["geographic_level"])
    result = validate_frame(frame, contract, "f.csv")
    assert not [f for f in result.findings if f.rule == "key_missing"]
    # the same blank on a Local authority row is an error
    idx = frame.index[frame["geographic_level"] == "Local authority"][0]
    frame.loc[idx, "region_code"] = ""
    result = validate_frame(frame, contract, "f.csv")
    hits = [f for f in result.findings if f.rule == "key_missing"]
    assert [(f.row, f.column) for f in hits] == [(int(frame.at[idx, "source_row"]), "region_code")]
    assert "Key column 'region_code' is blank" in hits[0].message


def test_validate_cli_names_file_line_column_and_rule_of_a_blank_key(tmp_path, capsys):
    frame = _public_head("ehcp_2025_requests.csv")
    idx = frame.index[frame["geographic_level"] == "Local authority"][0]
    frame.loc[idx, "old_la_code"] = ""
    path = tmp_path / "blank_key.csv"
    frame.to_csv(path, index=False)
    code, entry, err = _validate(capsys, tmp_path, path)
    assert code == 1
    assert entry["rows_in"] == 40 and entry["rows_quarantined"] == 1
    assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]
    line = idx + 2  # header = line 1
    assert f"blank_key.csv, line {line}, column 'old_la_code'" in err and "key_missing" in err
