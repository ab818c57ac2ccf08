"""Downloadable tables: every table an area report or the programme overview shows, built from
the page's ``results.json`` (the one source of its numbers), as one ODS workbook and a zip of
CSV files, written beside the page (``tables.ods``, ``tables-csv.zip``).

Layout, as the GOV.UK / Analysis Function guidance on releasing statistics in spreadsheets asks:
a cover sheet (what the tables are, where they come from, the list of tables), a notes sheet
(one note per row), then one table per sheet: its title in cell A1, one line saying what the
sheet holds and which notes apply, then the table with one header row; no merged cells, no
blank rows or columns inside a table, no colour-only meaning.  Units are a column of their own.

Disclosure control is the HTML's: ``results.json`` already leaves out every value the plan's
small-number rule withholds, and each is written here as ``c`` (the symbol of DfE open data:
"confidential"); ``x`` = not available, ``z`` = not applicable.  Numbers keep their full
precision (the pages round them).  CSV files hold the same tables without the title rows.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

SUPPRESSED, NOT_AVAILABLE, NOT_APPLICABLE = "c", "x", "z"
SYMBOL_NOTES = {
    SUPPRESSED: "c = confidential: withheld to protect small numbers (the plan's disclosure "
    "rule), as in DfE open data.",
    NOT_AVAILABLE: "x = not available: the source has no value for this cell.",
    NOT_APPLICABLE: "z = not applicable: the measure does not apply to this cell.",
}
ODS_NAME, CSV_ZIP_NAME = "tables.ods", "tables-csv.zip"
HEADER_ROWS = 3  # rows above each table's header row: title, description, source


@dataclass
class Table:
    """One table of a page: its sheet name, title, the frame and the numbers of its notes."""

    sheet: str
    title: str
    frame: pd.DataFrame
    notes: list[int] = field(default_factory=list)


@dataclass
class Workbook:
    """A page's tables with their cover and notes."""

    title: str
    cover: list[tuple[str, str]]  # (label, text) rows of the cover sheet
    notes: list[str]  # note 1, note 2, ...
    tables: list[Table]


def _value(x, withheld: bool = False):
    """A cell: the number, or ``c`` when withheld, else ``x`` when there is none."""
    if x is None or (isinstance(x, float) and pd.isna(x)):
        return SUPPRESSED if withheld else NOT_AVAILABLE
    return x


def _interval(r: dict, withheld: bool = False) -> dict:
    return {
        "Estimate": _value(r.get("estimate"), withheld),
        "Lower limit": _value(r.get("ci_low"), withheld),
        "Upper limit": _value(r.get("ci_high"), withheld),
        "p-value": _value(r.get("p_value"), withheld),
    }


# ---- the area report ------------------------------------------------------------------------
def _estimates(res: dict) -> pd.DataFrame:
    rows = []
    for o in res["outcomes"]:
        withheld = "headline" in o["disclosure"]["estimates_withheld"]
        pooled = o.get("pooled") or {}
        rows.append(
            {
                "Outcome": o["label"],
                "Outcome code": o["outcome"],
                "Role": o["role"],
                "Method": o["method"],
                **_interval(o, withheld),
                "Confidence level": o["confidence_level"],
                "p-value (Romano-Wolf, over this area's outcomes)": _value(
                    o.get("p_value_romano_wolf"), withheld
                ),
                "Unit": o["unit"],
                "Comparison areas": o["n_comparison_units"],
                "Minimum important difference": o["minimum_important_difference"],
                "Pooled estimate (borrowing strength from the other pilots)": _value(
                    pooled.get("shrunk") if pooled else None
                ),
                "Pooled lower limit": _value(pooled.get("ci_low") if pooled else None),
                "Pooled upper limit": _value(pooled.get("ci_high") if pooled else None),
                "Strength of evidence": (o.get("evidence") or {}).get("label", NOT_AVAILABLE),
            }
        )
    return pd.DataFrame(rows)


def _robustness(res: dict) -> pd.DataFrame:
    rows = []
    for o in res["outcomes"]:
        base = {"Outcome": o["label"], "Outcome code": o["outcome"]}
        withheld = o["disclosure"]["estimates_withheld"]
        rows.append({**base, "Method": o["method"], "Inference": o["inference"], **_interval(o)})
        for r in o["robustness"]:
            rows.append(
                {**base, "Method": r["method"], "Inference": r["inference"], **_interval(r)}
            )
        for key, why in withheld.items():
            rows.append(
                {**base, "Method": key, "Inference": f"withheld: {why}", **_interval({}, True)}
            )
        for i in res.get("its", []):
            if i["outcome"] == o["outcome"]:
                design = (
                    "controlled (area minus comparison)"
                    if i["design"] == "controlled"
                    else ("area alone")
                )
                rows.append(
                    {
                        **base,
                        "Method": f"{i['method']}, {design}, level change",
                        "Inference": i["conventions"].get("standard_errors", ""),
                        **_interval(i),
                    }
                )
        for r in rows:
            r.setdefault("Unit", o["unit"])
    return pd.DataFrame(rows)


def _chart_data(res: dict) -> pd.DataFrame:
    rows = []
    pre = {str(p) for p in res["periods"]["pre"]}
    post = {str(p) for p in res["periods"]["post"]}
    for o in res["outcomes"]:
        diag = o["diagnostics"]
        area, comp = diag.get("treated_series", {}), diag.get("comparison_series", {})
        hidden = set(o["disclosure"]["suppressed_periods"])
        counts = o.get("counts", {})
        num, den = counts.get("numerator", "numerator"), counts.get("denominator", "denominator")
        for period in sorted(set(area) | set(comp) | hidden, key=str):
            c = counts.get("by_period", {}).get(period, {})
            shown = {
                f"Area: {num}": "area_numerator",
                f"Area: {den}": "area_denominator",
                f"Comparison areas: {num}": "comparison_numerator",
                f"Comparison areas: {den}": "comparison_denominator",
            }
            rows.append(
                {
                    "Outcome": o["label"],
                    "Outcome code": o["outcome"],
                    "Period": period,
                    "Period role": "before"
                    if period in pre
                    else "after"
                    if period in post
                    else (NOT_APPLICABLE),
                    "Area rate": _value(area.get(period), period in hidden),
                    "Comparison areas rate": _value(comp.get(period)),
                    "Unit": "per cent (0-100)",
                    **{
                        column: _value(c.get(key), key in c.get("withheld", ()))
                        for column, key in shown.items()
                    },
                }
            )
    return pd.DataFrame(rows)


def _sensitivity(res: dict) -> pd.DataFrame:
    rows = []
    for o in res["outcomes"]:
        for r in o.get("pre_period_sensitivity") or []:
            withheld = str(r.get("error", "")).startswith("withheld")
            pre = [str(p) for p in r.get("pre", [])]
            rows.append(
                {
                    "Outcome": o["label"],
                    "Outcome code": o["outcome"],
                    "Pre-period": f"{pre[0]} to {pre[-1]}" if len(pre) > 1 else "".join(pre),
                    "Used for the headline": "yes" if r.get("used") else "no",
                    **_interval(r, withheld),
                    "Comparison areas": _value(r.get("n_comparison_units")),
                    "Unit": o["unit"],
                    "Why": r.get("why", ""),
                }
            )
    return pd.DataFrame(rows)


def _data_quality(res: dict) -> pd.DataFrame:
    rows = []
    for o in res["outcomes"]:
        base = {"Outcome": o["label"], "Outcome code": o["outcome"]}
        missing = o.get("missing_data", {})
        for period in missing.get("area_periods_left_out", []):
            rows.append(
                {**base, "Who": "this area", "LA code": res["area"]["la_code"],
                 "Periods missing": str(period), "What was done": "period left out"}
            )  # fmt: skip
        for code, item in missing.get("comparison_units_left_out", {}).items():
            rows.append(
                {**base, "Who": "comparison area", "LA code": code,
                 "Periods missing": ", ".join(map(str, item["periods_missing"])),
                 "What was done": item["what_was_done"]}
            )  # fmt: skip
        for period, why in o["disclosure"]["why"].items():
            rows.append(
                {**base, "Who": "this area", "LA code": res["area"]["la_code"],
                 "Periods missing": str(period),
                 "What was done": f"value withheld (c): {why} suppression"}
            )  # fmt: skip
    columns = ["Outcome", "Outcome code", "Who", "LA code", "Periods missing", "What was done"]
    return pd.DataFrame(rows, columns=columns)


def area_workbook(res: dict) -> Workbook:
    """The tables of one area's report, from its ``results.json``."""
    area = res["area"]
    title = f"{area['name']}: SEND Change Programme evidence report, tables"
    level = round(100 * res["outcomes"][0]["confidence_level"]) if res["outcomes"] else 95
    notes = [
        SYMBOL_NOTES[SUPPRESSED],
        SYMBOL_NOTES[NOT_AVAILABLE],
        SYMBOL_NOTES[NOT_APPLICABLE],
        f"Intervals are {level}% confidence intervals; for one pilot area they come from "
        "placebo-in-space tests (METHODOLOGY.md section 2), so no standard error is given.",
        "Effects are in percentage points of the outcome's rate (0-100 scale); for the tribunal "
        "rate a point is one appeal per 100 appealable decisions.",
        "Numbers are given to full precision; the report rounds them.",
    ]
    tables = [
        Table("Estimates", "Table 1: Estimated effect of the programme, by outcome",
              _estimates(res), [1, 2, 4, 5]),
        Table("Robustness", "Table 2: The same effect by other methods", _robustness(res),
              [1, 2, 4, 5]),
        Table("Chart_data", "Table 3: The area's rate and the comparison areas' rate, by "
              "period (the data behind the charts)", _chart_data(res), [1, 2, 3]),
        Table("Pre_period", "Table 4: The effect with other pre-periods (sensitivity)",
              _sensitivity(res), [1, 2, 4, 5]),
        Table("Data_quality", "Table 5: Missing or withheld data and what was done about it",
              _data_quality(res), [1]),
    ]  # fmt: skip
    made = res.get("generated_with", {})
    cover = [
        ("Title", title),
        ("About these tables", "Every table the HTML report shows, with the same numbers "
         "(from results.json) and the same disclosure control."),
        ("Area", f"{area['name']} (LA code {area['la_code']}, {area['gss_code']}), "
         f"{area['partnership']} partnership, programme start {area['start_date']}"),
        ("Evaluation plan", f"{res['plan']} ({res.get('plan_file', '')})"),
        ("Source", "DfE EHC plan statistics and the MoJ/DfE SEND Tribunal appeal-rate table "
         "(Open Government Licence v3.0); see data/public/SOURCES.md"),
        ("Produced", f"{made.get('run_date', '')} with send-evaluation {made.get('version', '')}"),
        ("Notes", "The Notes worksheet explains the symbols c, x and z."),
    ]  # fmt: skip
    return Workbook(title, cover, notes, tables)


# ---- the programme overview -------------------------------------------------------------------
def _programme(res: dict) -> pd.DataFrame:
    rows = []
    for outcome, item in res.get("programme", {}).items():
        verdict = item.get("verdict") or {}
        for r in [item["headline"], *item.get("robustness", [])]:
            head = r is item["headline"] and verdict
            rows.append(
                {
                    "Outcome code": outcome,
                    "Verdict": verdict["line"] if head else NOT_APPLICABLE,
                    "Grade": verdict["grade"] if head else NOT_APPLICABLE,
                    "Method": r["method"],
                    "Inference": r["inference"],
                    **_interval(r),
                    "Confidence level": r["confidence_level"],
                    "Standard error": _value(r.get("se")),
                    "Treated": r["n_treated"],
                    "Comparison units": r["n_comparison_units"],
                }
            )
    for outcome, why in res.get("programme_not_estimable", {}).items():
        rows.append({"Outcome code": outcome, "Method": f"not estimable: {why}",
                     **_interval({})})  # fmt: skip
    return pd.DataFrame(rows)


def _records(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    return frame.astype(object).where(frame.notna(), NOT_AVAILABLE) if len(frame) else frame


def overview_workbook(res: dict) -> Workbook:
    """The tables of the programme overview, from ``reports/overview/results.json``."""
    title = f"{res['plan']}: programme overview, tables"
    notes = [
        SYMBOL_NOTES[SUPPRESSED],
        SYMBOL_NOTES[NOT_AVAILABLE],
        SYMBOL_NOTES[NOT_APPLICABLE],
        "Verdict and grade: on each outcome's headline row (METHODOLOGY.md 2b).",
        "Programme estimates: the plan's headline (placebo programmes, randomisation "
        "inference) and the other estimators, each naming its inference (METHODOLOGY.md 2b).",
        "p-values adjusted within each area over its outcomes (Romano-Wolf) and across areas "
        "for each outcome (Benjamini-Hochberg q-value), METHODOLOGY.md 2e.",
        "Minimum detectable effects at 80% power (METHODOLOGY.md section 9).",
    ]
    tables = [
        Table("Programme", "Table 1: Programme effect by outcome and method", _programme(res),
              [2, 3]),
        Table("Partnerships", "Table 2: Effect by partnership", _records(res.get(
            "partnerships", [])), [1, 2]),
        Table("Areas", "Table 3: Each area's p-value, adjusted for multiple outcomes and areas",
              _records(res.get("multiplicity", [])), [2, 4]),
    ]  # fmt: skip
    if res.get("power"):
        tables.append(
            Table("Power", "Table 4: Minimum detectable effect by design and post-period",
                  _records(res["power"].get("table", [])), [2, 5])
        )  # fmt: skip
    cover = [
        ("Title", title),
        ("About these tables", "Every table the programme overview shows, with the same "
         "numbers (from results.json)."),
        ("Evaluation plan", str(res["plan"])),
        ("Areas missing", ", ".join(res.get("areas_missing", [])) or "none"),
        ("Notes", "The Notes worksheet explains the symbols and methods."),
    ]  # fmt: skip
    return Workbook(title, cover, notes, tables)


# ---- writing ------------------------------------------------------------------------------------
def _contents(book: Workbook) -> list[tuple[str, str]]:
    return [(t.sheet, t.title) for t in book.tables]


def write_ods(book: Workbook, path: Path) -> None:
    """The workbook as ODS: Cover, Notes, then one sheet per table (title rows, then the
    table from row ``HEADER_ROWS + 1``)."""
    cover = pd.DataFrame(
        book.cover + [("Contents", "")] + [(f"Worksheet {s}", t) for s, t in _contents(book)],
        columns=["Cover sheet", ""],
    )
    notes = pd.DataFrame(
        {"Note number": [f"note {i}" for i in range(1, len(book.notes) + 1)],
         "Note text": book.notes}
    )  # fmt: skip
    with pd.ExcelWriter(path, engine="odf") as writer:
        cover.to_excel(writer, sheet_name="Cover", index=False)
        notes.to_excel(writer, sheet_name="Notes", index=False)
        for t in book.tables:
            refs = ", ".join(f"[note {n}]" for n in t.notes)
            frame = t.frame if len(t.frame.columns) else pd.DataFrame({"Rows": []})
            if not len(frame):
                frame = pd.DataFrame([[NOT_APPLICABLE] * len(frame.columns)], columns=frame.columns)
            # one block per sheet (title rows, header row, values), so nothing is merged or
            # offset; numbers stay numbers
            rows = [
                [t.title],
                [f"This worksheet contains one table. Notes: {refs}."],
                ["Source: results.json of the same page."],
                list(frame.columns),
                *frame.astype(object).to_numpy().tolist(),
            ]
            width = max(len(r) for r in rows)
            block = pd.DataFrame([r + [None] * (width - len(r)) for r in rows])
            block.to_excel(writer, sheet_name=t.sheet, index=False, header=False)


def write_csv_zip(book: Workbook, path: Path) -> None:
    """One CSV per table, plus ``notes.csv`` (the cover and the notes), in one zip."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for t in book.tables:
            z.writestr(f"{t.sheet.lower()}.csv", t.frame.to_csv(index=False, lineterminator="\n"))
        info = io.StringIO()
        pd.DataFrame(
            book.cover
            + [(f"note {i}", n) for i, n in enumerate(book.notes, 1)]
            + [(f"{s.lower()}.csv", t) for s, t in _contents(book)],
            columns=["item", "text"],
        ).to_csv(info, index=False, lineterminator="\n")
        z.writestr("notes.csv", info.getvalue())


def write_tables(book: Workbook, out_dir: Path | str) -> dict[str, Path]:
    """Write ``tables.ods`` and ``tables-csv.zip`` into ``out_dir`` (each through a temporary
    file, so a page never links a half-written file).  Returns the paths."""
    out_dir = Path(out_dir)
    paths = {"ods": out_dir / ODS_NAME, "csv_zip": out_dir / CSV_ZIP_NAME}
    for writer, path in ((write_ods, paths["ods"]), (write_csv_zip, paths["csv_zip"])):
        tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
        writer(book, tmp)
        os.replace(tmp, path)
    return paths


def read_table(path: Path | str, sheet: str) -> pd.DataFrame:
    """One table back from a written ODS (for checks): the rows under its title rows."""
    return pd.read_excel(path, sheet_name=sheet, engine="odf", skiprows=HEADER_ROWS)
