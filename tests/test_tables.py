"""Downloadable tables (``evaluation/report/tables.py``): each rendered report has an ODS
workbook and a zip of CSVs beside it, linked from the page; read back with pandas they hold the
numbers of the page's ``results.json``; values the disclosure rule withholds stay withheld
(``c``); the workbook has the GOV.UK accessible-spreadsheet layout (cover, notes, one table per
sheet, title in A1, no merged cells)."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest

from evaluation.report.render import render_area
from evaluation.report.tables import (
    CSV_ZIP_NAME,
    ODS_NAME,
    SUPPRESSED,
    overview_workbook,
    read_table,
    write_tables,
)

from .conftest import PLAN


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    report = render_area("hartlepool", PLAN, out_root=out)
    results = json.loads(report.results.read_text(encoding="utf-8"))
    return report, results, report.html.parent / ODS_NAME, report.html.parent / CSV_ZIP_NAME


def _csvs(path) -> dict[str, pd.DataFrame]:
    with zipfile.ZipFile(path) as z:
        return {n: pd.read_csv(io.BytesIO(z.read(n)), dtype=str) for n in z.namelist()}


def test_files_are_beside_the_page_and_linked(rendered):
    report, _, ods, csv_zip = rendered
    assert ods.exists() and csv_zip.exists()
    html = report.html.read_text(encoding="utf-8")
    assert 'href="tables.ods"' in html and 'href="tables-csv.zip"' in html


def test_layout_cover_notes_one_table_per_sheet_no_merged_cells(rendered):
    _, _, ods, _ = rendered
    sheets = pd.read_excel(ods, sheet_name=None, engine="odf", header=None)
    assert list(sheets)[:2] == ["Cover", "Notes"]
    assert list(sheets)[2:] == [
        "Estimates", "Robustness", "Chart_data", "Pre_period", "Data_quality"
    ]  # fmt: skip
    cover = sheets["Cover"]
    for name in list(sheets)[2:]:
        assert f"Worksheet {name}" in set(cover[0])  # the contents list every table
        title = sheets[name].iloc[0, 0]
        assert title.startswith("Table ") and "one table" in sheets[name].iloc[1, 0]
    notes = sheets["Notes"]
    assert any(str(t).startswith("c = confidential") for t in notes[1])
    with zipfile.ZipFile(ods) as z:
        content = z.read("content.xml").decode("utf-8")
    assert "number-columns-spanned" not in content and "number-rows-spanned" not in content


def test_estimates_equal_results_json(rendered):
    _, results, ods, csv_zip = rendered
    table = read_table(ods, "Estimates").set_index("Outcome code")
    csv = _csvs(csv_zip)["estimates.csv"].set_index("Outcome code")
    for o in results["outcomes"]:
        row = table.loc[o["outcome"]]
        for col, key in [
            ("Estimate", "estimate"),
            ("Lower limit", "ci_low"),
            ("Upper limit", "ci_high"),
            ("p-value", "p_value"),
        ]:
            assert float(row[col]) == pytest.approx(o[key], rel=1e-12, abs=1e-12)
            assert float(csv.loc[o["outcome"], col]) == pytest.approx(o[key], rel=1e-12)
        assert int(row["Comparison areas"]) == o["n_comparison_units"]
        assert row["Unit"] == o["unit"]


def test_robustness_rows_equal_results_json(rendered):
    _, results, ods, _ = rendered
    table = read_table(ods, "Robustness")
    n_its = len(results["its"])
    n_rows = sum(1 + len(o["robustness"]) + len(o["disclosure"]["estimates_withheld"])
                 for o in results["outcomes"])  # fmt: skip
    assert len(table) == n_rows + n_its
    for o in results["outcomes"]:
        mine = table[table["Outcome code"] == o["outcome"]]
        for r in o["robustness"]:
            got = mine[mine["Method"] == r["method"]]
            assert len(got) == 1, r["method"]
            value = got["Estimate"].iloc[0]
            if r["estimate"] is None:
                assert value in ("x", "c")
            else:
                assert float(value) == pytest.approx(r["estimate"], rel=1e-12)


def _chart_data(rendered):
    """results.json and the chart data as the ODS sheet and as the CSV."""
    _, results, ods, csv_zip = rendered
    table = read_table(ods, "Chart_data").astype({"Period": str})
    return results, table, _csvs(csv_zip)["chart_data.csv"]


def test_chart_data_equal_results_json_and_suppressed_cells_stay_suppressed(rendered):
    results, table, csv = _chart_data(rendered)
    n_suppressed = 0
    for o in results["outcomes"]:
        hidden = set(o["disclosure"]["suppressed_periods"])
        series = o["diagnostics"]["treated_series"]
        for frame in (table, csv):
            mine = frame[frame["Outcome code"] == o["outcome"]].set_index("Period")["Area rate"]
            for period in hidden:
                assert mine[period] == SUPPRESSED, (o["outcome"], period)
            for period, value in series.items():
                if value is not None and period not in hidden:
                    assert float(mine[period]) == pytest.approx(value, rel=1e-12)
        n_suppressed += len(hidden)
    # the shipped data withhold some of Hartlepool's small counts, so this checks something
    assert n_suppressed > 0
    assert (table["Area rate"] == SUPPRESSED).sum() == n_suppressed


def test_chart_data_carry_the_counts_of_results_json_with_withheld_counts_as_c(rendered):
    results, table, csv = _chart_data(rendered)
    n_withheld = 0
    for o in results["outcomes"]:
        counts = o["counts"]
        for frame in (table, csv):
            mine = frame[frame["Outcome code"] == o["outcome"]].set_index("Period")
            for period, c in counts["by_period"].items():
                for who in ("area", "comparison"):
                    for part in ("numerator", "denominator"):
                        cell = mine.loc[
                            period,
                            f"{who.capitalize() if who == 'area' else 'Comparison areas'}: {counts[part]}",
                        ]
                        key = f"{who}_{part}"
                        if key in c["withheld"]:
                            assert cell == SUPPRESSED
                            n_withheld += 1
                        elif c[key] is None:
                            assert cell == "x"
                        else:
                            assert int(float(cell)) == c[key]
    assert n_withheld > 0  # Hartlepool has withheld counts in the shipped data


def test_overview_tables_equal_its_results_json(tmp_path):
    """The overview's workbook from a results.json of its documented shape
    (``Overview.to_dict``): the programme rows keep every number."""
    item = dict(
        method="Programme DiD", inference="placebo programmes", estimate=1.25, ci_low=-0.5,
        ci_high=3.0, confidence_level=0.95, p_value=0.2, se=None, n_treated=32,
        n_comparison_units=118, conventions={},
    )  # fmt: skip
    res = {
        "plan": "change_programme_2023",
        "seed": 1,
        "programme": {"timeliness_20wk_ex": {"headline": item, "robustness": [
            {**item, "key": "twfe_wild", "method": "TWFE", "estimate": 2.5, "se": 0.9}]}},
        "programme_not_estimable": {},
        "partnerships": [{"partnership": "North East", "outcome": "timeliness_20wk_ex",
                          "estimate": 0.75, "ci_low": None}],
        "areas_missing": [],
        "multiplicity": [{"la_code": "805", "area": "Hartlepool", "outcome": "x",
                          "p_value": 0.5, "p_value_romano_wolf": 0.7, "q_value_bh": 0.9}],
        "power": None,
    }  # fmt: skip
    paths = write_tables(overview_workbook(res), tmp_path)
    programme = read_table(paths["ods"], "Programme")
    assert list(programme["Estimate"]) == [1.25, 2.5]
    assert list(programme["Standard error"]) == ["x", 0.9]
    partnerships = read_table(paths["ods"], "Partnerships")
    assert partnerships.loc[0, "estimate"] == 0.75 and partnerships.loc[0, "ci_low"] == "x"
    assert read_table(paths["ods"], "Areas").loc[0, "q_value_bh"] == 0.9
    assert set(_csvs(paths["csv_zip"])) == {
        "programme.csv", "partnerships.csv", "areas.csv", "notes.csv"
    }  # fmt: skip
