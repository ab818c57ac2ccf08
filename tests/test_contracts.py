"""Data contracts: every contract loads, the shipped data validate, and each file of the broken
corpus gives the documented exit code and a finding at the right line and column."""

import json
import re
import shutil

import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.contracts import (
    ContractError,
    infer_contract,
    list_contracts,
    load_contract,
    validate_file,
)

from .conftest import ROOT

CORPUS = ROOT / "tests" / "contracts_corpus"


def _manifest():
    rows = []
    for line in (CORPUS / "MANIFEST.md").read_text().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        name, contract, rule, row, column, code = cells
        rows.append(
            (
                name,
                None if contract == "None" else contract,
                None if rule == "None" else rule,
                None if row == "None" else int(row),
                None if column == "None" else column,
                int(code),
            )
        )
    return rows


MANIFEST = _manifest()


def test_every_contract_loads_and_is_a_data_dictionary():
    names = list_contracts()
    assert {
        "ehcp_2025_timeliness",
        "ehcp_2025_requests",
        "ehcp_2025_assessments",
        "ehcp_2023_sen2_mi",
        "send_tribunal",
        "la_lookup",
        "evaluation_plan",
        "pilot_returns",
        "case_records",
    } <= set(names)
    for name in names:
        c = load_contract(name)
        assert c.title and c.description and c.version
        for col in c.columns.values():
            assert col.type
        if c.layout not in {"plan"}:
            assert c.columns and c.missing_symbols is not None


def test_a_typo_in_a_contract_fails_loudly(tmp_path):
    bad = (
        (ROOT / "data_contracts" / "pilot_returns.yaml")
        .read_text()
        .replace("type: count", "type: cuont", 1)
    )
    path = tmp_path / "pilot_returns.yaml"
    path.write_text(bad)
    with pytest.raises(ContractError, match="cuont"):
        load_contract(path)


def test_corpus_has_at_least_30_broken_files():
    assert len([m for m in MANIFEST if m[2] is not None or m[5] == 2]) >= 30


@pytest.mark.parametrize(
    "name, contract, rule, row, column, code", MANIFEST, ids=[m[0] for m in MANIFEST]
)
def test_broken_file(name, contract, rule, row, column, code, tmp_path, capsys):
    report = tmp_path / "report.json"
    exit_code = main(
        [
            "validate",
            str(CORPUS / name),
            "--report-json",
            str(report),
            "--quarantine-dir",
            str(tmp_path / "q"),
        ]
    )
    assert exit_code == code
    files = json.loads(report.read_text())["files"]
    assert len(files) == 1
    entry = files[0]
    if code == 2:
        assert name in entry["error"]
        if contract is not None:  # refused, naming the closest contract and what it lacks
            assert entry["closest_contracts"][0] == contract and column in entry["missing_columns"]
            assert contract in entry["error"] and column in entry["error"]
            assert not (tmp_path / "q").exists()  # nothing validated, nothing quarantined
        return
    assert entry["contract"] == contract
    assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]
    found = [(f["rule"], f["row"], f["column"]) for f in entry["findings"]]
    assert (rule, row, column) in found, found
    errors = [f for f in entry["findings"] if f["severity"] == "error"]
    if code == 0:
        assert errors == [] and entry["rows_quarantined"] == 0
    elif rule.startswith("personal_data"):
        assert entry["rows_accepted"] == 0
        assert all(f["value"] == "(withheld)" for f in entry["findings"])
        # the offending values never reach the terminal or the quarantine file
        err = capsys.readouterr().err
        text = (CORPUS / name).read_text()
        header, first = text.splitlines()[0], text.splitlines()[1]
        col_index = header.split(",").index(column)
        secret = first.split(",")[col_index]
        assert secret not in err
        q = next((tmp_path / "q").glob("*.csv"))
        assert secret not in q.read_text() and list(pd.read_csv(q).columns) == ["line", "reasons"]
    elif rule == "required_columns":
        assert entry["rows_accepted"] == 0
    else:
        # one defect: every error is on the defective line, and only that row is quarantined
        assert {f["row"] for f in errors} == {row}
        assert entry["rows_quarantined"] == 1
        q = pd.read_csv(next((tmp_path / "q").glob("*.csv")), dtype=str)
        assert q["line"].tolist() == [str(row)] and rule in q["reasons"].iloc[0]


def test_unknown_contract_exits_2(tmp_path):
    assert (
        main(
            [
                "validate",
                str(CORPUS / "clean_pilot_return.csv"),
                "--contract",
                "nope",
                "--quarantine-dir",
                str(tmp_path),
            ]
        )
        == 2
    )


def test_clean_files_have_no_findings():
    for name, contract in [
        ("clean_pilot_return.csv", "pilot_returns"),
        ("clean_cases.csv", "case_records"),
    ]:
        r = validate_file(CORPUS / name)
        assert r.contract == contract
        assert r.findings == [] and r.rows_quarantined == 0 and r.balanced()


def test_inference_names_the_contracts_tried():
    with pytest.raises(ContractError, match="tried .*pilot_returns"):
        infer_contract(["colour", "size"])


def test_shipped_public_data_validate_with_every_finding_explained(panel):
    explained = {
        "gss_code_drift",
        "known_source_erratum",
        "la_code_before_creation",
        "known_record_after_end",
        "la_year_missing",
    }
    for result in panel.validation:
        assert result.n_errors == 0, result.summary()
        assert {f.rule for f in result.findings} <= explained
    methodology = (ROOT / "METHODOLOGY.md").read_text()
    for rule in explained:
        assert rule in methodology


def _variants(tmp_path):
    src = CORPUS / "p13_code_name_mismatch.csv"
    text = src.read_text(encoding="utf-8").replace("Hartlepool", "Hartlepool")
    frame = pd.read_csv(src, dtype=str, keep_default_na=False)
    out = {}
    p = tmp_path / "win1252_semicolon.csv"
    p.write_bytes(text.replace(",", ";").encode("cp1252"))
    out["cp1252 ;"] = p
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    out["utf-8 BOM"] = p
    p = tmp_path / "sheet.xlsx"
    frame.to_excel(p, index=False)
    out["xlsx"] = p
    p = tmp_path / "sheet.ods"
    frame.to_excel(p, index=False, engine="odf")
    out["ods"] = p
    return src, out


def test_encodings_separators_and_sheets_validate_identically(tmp_path):
    src, variants = _variants(tmp_path)
    ref = validate_file(src)

    def key(r):
        return [(f.row, f.column, f.rule, f.severity, f.value) for f in r.findings]

    for label, path in variants.items():
        r = validate_file(path)
        assert r.contract == ref.contract, label
        assert key(r) == key(ref), label
        assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (
            ref.rows_in,
            ref.rows_accepted,
            ref.rows_quarantined,
        ), label
        a = r.accepted.drop(columns=["_la_code"], errors="ignore").reset_index(drop=True)
        b = ref.accepted.drop(columns=["_la_code"], errors="ignore").reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_windows_1252_names_survive(tmp_path):
    path = tmp_path / "cases.csv"
    shutil.copy(CORPUS / "clean_cases.csv", path)
    text = path.read_text() + ""
    path.write_bytes(text.encode("cp1252"))
    assert validate_file(path).rows_accepted == 8


def test_published_percent_with_sign_and_thousands_separators(tmp_path):
    text = (CORPUS / "clean_pilot_return.csv").read_text().splitlines()
    header, rows = text[0], text[1:]
    first = rows[0].split(",")
    first[-1] = first[-1] + "%"
    rows[0] = ",".join(first)
    second = re.sub(r",9,", ',"9",', rows[1], count=1)
    rows[1] = second
    path = tmp_path / "r.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    r = validate_file(path)
    assert r.findings == [] and r.rows_accepted == 24


def test_fast_and_careful_readers_agree_on_a_large_file(tmp_path, monkeypatch):
    """Large plain files take a vectorised path; it must give the careful path's rows, line
    numbers and blank lines exactly (here with blank lines and a padded cell)."""
    import evaluation.io.readers as readers
    from bench.validate_cases import make_cases

    lines = make_cases(30_000).to_csv(index=False).split("\n")
    lines.insert(100, "")
    lines.insert(5000, "")
    lines[7] = lines[7].replace(",805,", ", 805 ,", 1)
    path = tmp_path / "cases.csv"
    path.write_text("\n".join(lines) + "\n")
    fast = readers.read_table(path)
    assert "_extra_cells" not in fast.frame  # the vectorised path was taken
    monkeypatch.setattr(readers, "_fast_csv", lambda raw, path: None)
    careful = readers.read_table(path)
    assert fast.blank_rows == careful.blank_rows and 101 in fast.blank_rows
    a = fast.frame.reset_index(drop=True)
    b = careful.frame.drop(columns=["_extra_cells"]).reset_index(drop=True)[a.columns]
    pd.testing.assert_frame_equal(a.astype(str), b.astype(str))
    assert validate_file(path, "case_records").rows_in == 30_000


def test_large_files_with_bom_or_windows_1252_read_correctly(tmp_path):
    from bench.validate_cases import make_cases
    from evaluation.io.readers import read_table

    text = make_cases(30_000).to_csv(index=False)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    win = tmp_path / "win.csv"
    win.write_bytes(text.replace("C00000001", "C\xe90000001").encode("cp1252"))
    a, b = read_table(bom), read_table(win)
    assert a.encoding == "utf-8-sig" and b.encoding == "cp1252"
    assert "case_id" in a.frame.columns and len(a.frame) == len(b.frame) == 30_000
    assert a.frame["source_row"].tolist() == b.frame["source_row"].tolist()
    assert b.frame.loc[b.frame["source_row"] == 3, "case_id"].item() == "C\xe90000001"
