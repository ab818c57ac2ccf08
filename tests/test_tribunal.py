"""Tests for evaluation.tribunal against the published SEND Tribunal appeal-rate table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evaluation.io.tribunal import (
    COLUMNS,
    TRIBUNAL_SYMBOLS,
    in_dev_symbols,
    read_tribunal,
    strip_footnotes,
)

DATA = Path(__file__).resolve().parents[1] / "data/public/send_tribunal_appeal_rate_2014_2024.csv"
YEARS = list(range(2014, 2025))

# LA rows with a published appealable-decisions figure, per year (read off the file).
LA_COUNTS = {
    2014: 152,
    2015: 152,
    2016: 152,
    2017: 152,
    2018: 152,
    2019: 151,
    2020: 151,
    2021: 152,
    2022: 152,
    2023: 153,
    2024: 153,
}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """The parsed table, read once for the module."""
    return read_tribunal(DATA)


@pytest.fixture(scope="module")
def las(table: pd.DataFrame) -> pd.DataFrame:
    """Local-authority rows only."""
    return table[table["geographic_level"] == "Local authority"]


def _cell(table: pd.DataFrame, name: str, year: int) -> pd.Series:
    """The single row for one area and year."""
    rows = table[(table["la_name"] == name) & (table["time_period"] == year)]
    assert len(rows) == 1, (name, year, len(rows))
    return rows.iloc[0]


def test_columns_and_dtypes(table: pd.DataFrame) -> None:
    assert list(table.columns) == list(COLUMNS)
    for column in ("appeals", "appealable_decisions", "in_dev_decisions"):
        assert table[column].dtype == "Int64"
    for column in ("rate_pct_published", "in_dev_rate_pct"):
        assert table[column].dtype == "Float64"
    assert table["time_period"].dtype == "int64"
    assert set(table["geographic_level"]) == {"Local authority", "National"}


@pytest.mark.parametrize(
    ("year", "appeals", "decisions", "rate"),
    [(2024, 22_276, 689_739, 3.2), (2023, 15_615, 617_776, 2.5), (2014, 4_108, 251_096, 1.6)],
)
def test_england_totals(
    table: pd.DataFrame, year: int, appeals: int, decisions: int, rate: float
) -> None:
    row = _cell(table, "England", year)
    assert row["geographic_level"] == "National"
    assert row["la_name_raw"] == "England Total4,9"
    assert row["region_banner"] == ""
    assert row["appeals"] == appeals
    assert row["appealable_decisions"] == decisions
    assert row["rate_pct_published"] == pytest.approx(rate)


def test_england_in_development_2024(table: pd.DataFrame, las: pd.DataFrame) -> None:
    england = _cell(table, "England", 2024)
    assert england["in_dev_decisions"] == 364_912
    assert england["in_dev_rate_pct"] == pytest.approx(6.1)
    la_2024 = las[las["time_period"] == 2024]
    assert la_2024["in_dev_decisions"].sum() == 364_912


def test_in_development_only_on_2024(table: pd.DataFrame) -> None:
    earlier = table[table["time_period"] != 2024]
    assert earlier["in_dev_decisions"].isna().all()
    assert earlier["in_dev_rate_pct"].isna().all()


def test_every_year_for_every_row(table: pd.DataFrame) -> None:
    years = table.groupby("source_row")["time_period"].apply(sorted)
    assert all(found == YEARS for found in years)
    assert table["la_name"].nunique() == table["source_row"].nunique()


def test_la_counts_by_year(las: pd.DataFrame) -> None:
    counts = las.groupby("time_period")["appealable_decisions"].count().to_dict()
    assert counts == LA_COUNTS
    assert las["source_row"].nunique() == 157


def test_northamptonshire_2021_has_appeals_but_no_decisions(table: pd.DataFrame) -> None:
    row = _cell(table, "Northamptonshire", 2021)
    assert row["appeals"] == 85
    assert pd.isna(row["appealable_decisions"])
    assert row["decisions_symbol"] == ".."


@pytest.mark.parametrize("year", YEARS)
def test_la_sums_match_england_total(table: pd.DataFrame, las: pd.DataFrame, year: int) -> None:
    england = _cell(table, "England", year)
    la_year = las[las["time_period"] == year]
    assert la_year["appeals"].sum() == england["appeals"]
    assert la_year["appealable_decisions"].sum() == england["appealable_decisions"]


def test_nil_symbol_is_zero(table: pd.DataFrame) -> None:
    row = _cell(table, "Hartlepool", 2014)
    assert row["appeals"] == 0
    assert row["appeals_symbol"] == "-"
    assert row["appealable_decisions"] == 401
    assert row["decisions_symbol"] == ""


def test_not_available_symbol(table: pd.DataFrame) -> None:
    row = _cell(table, "Bournemouth", 2019)
    for value, symbol in (
        ("appeals", "appeals_symbol"),
        ("appealable_decisions", "decisions_symbol"),
        ("rate_pct_published", "rate_symbol"),
    ):
        assert pd.isna(row[value])
        assert row[symbol] == ".."


def test_blank_cell_is_missing(table: pd.DataFrame) -> None:
    row = _cell(table, "Isles of Scilly", 2023)
    assert pd.isna(row["appeals"])
    assert row["appeals_symbol"] == ""
    assert row["appealable_decisions"] == 20


def test_undefined_x_symbol_for_plymouth_in_development() -> None:
    symbols = in_dev_symbols(DATA)
    assert symbols[("Plymouth", "rate")] == "x"
    assert symbols[("Plymouth", "decisions")] == "x"
    assert set(symbols.values()) <= set(TRIBUNAL_SYMBOLS)


def test_plymouth_in_development_missing(table: pd.DataFrame) -> None:
    row = _cell(table, "Plymouth", 2024)
    assert pd.isna(row["in_dev_decisions"])
    assert pd.isna(row["in_dev_rate_pct"])
    assert row["appeals"] == 252


def test_footnotes_stripped(table: pd.DataFrame) -> None:
    names = dict(zip(table["la_name_raw"], table["la_name"], strict=True))
    assert names["Northamptonshire7"] == "Northamptonshire"
    assert names["Bournemouth, Christchurch and Poole5"] == "Bournemouth, Christchurch and Poole"
    assert names["Cumberland8"] == "Cumberland"
    assert names["Bristol, City of"] == "Bristol, City of"
    assert not table["la_name"].str.contains(r"\d").any()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("England Total4,9", "England Total"), ("Poole5", "Poole"), (" Darlington ", "Darlington")],
)
def test_strip_footnotes(raw: str, clean: str) -> None:
    assert strip_footnotes(raw) == clean


def test_codes_and_banners(table: pd.DataFrame) -> None:
    darlington = _cell(table, "Darlington", 2014)
    assert darlington["la_code_raw"] == "841"
    assert darlington["region_banner"] == "NORTH EAST"
    assert _cell(table, "Bournemouth", 2014)["la_code_raw"] == ""
    # Published as-is: the misaligned code is not corrected here.
    assert _cell(table, "Northamptonshire", 2014)["la_code_raw"] == "892"
    assert _cell(table, "Camden", 2014)["region_banner"] == "INNER LONDON"


def test_source_rows(table: pd.DataFrame) -> None:
    assert _cell(table, "Darlington", 2014)["source_row"] == 7
    lines = DATA.read_text(encoding="utf-8-sig").splitlines()
    for raw, row in table[["la_name_raw", "source_row"]].drop_duplicates().itertuples(index=False):
        assert lines[row - 1].lstrip('"').startswith(raw), (raw, row)


def test_published_rate_matches_recomputed(table: pd.DataFrame) -> None:
    both = table.dropna(subset=["appeals", "appealable_decisions", "rate_pct_published"])
    both = both[both["appealable_decisions"] > 0]
    recomputed = both["appeals"] / both["appealable_decisions"] * 100
    off = both[(recomputed - both["rate_pct_published"]).abs() > 0.05]
    assert off.empty, off[["la_name", "time_period"]].to_dict("records")
    assert len(both) > 1600


def _write_copy(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the data file with one exact substring replaced."""
    text = DATA.read_bytes().decode("utf-8")
    assert text.count(old) == 1
    path = tmp_path / "tribunal_copy.csv"
    path.write_bytes(text.replace(old, new).encode("utf-8"))
    return path


def test_malformed_number_raises(tmp_path: Path) -> None:
    path = _write_copy(tmp_path, "Darlington,841, - ,450,", "Darlington,841, - ,abc,")
    with pytest.raises(ValueError) as error:
        read_tribunal(path)
    message = str(error.value)
    assert path.name in message
    assert "row 7" in message
    assert "2014 Total Appealable Decisions1" in message
    assert "'abc'" in message


def test_non_consecutive_years_raise(tmp_path: Path) -> None:
    path = _write_copy(tmp_path, ",2019,,,2020,", ",2019,,,2021,")
    with pytest.raises(ValueError, match=r"tribunal_copy\.csv: row 4, column .*2020"):
        read_tribunal(path)


def test_missing_header_raises(tmp_path: Path) -> None:
    path = _write_copy(tmp_path, "Local Authority,LA code,", "Area,Code,")
    with pytest.raises(ValueError, match="tribunal_copy.csv"):
        read_tribunal(path)
