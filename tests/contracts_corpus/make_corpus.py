"""Regenerate the broken-file corpus: ``python tests/contracts_corpus/make_corpus.py``.

Each file carries exactly one defect, made from a clean base by the edit recorded in
``MANIFEST`` with the finding the validator must report (rule, line, column) and the exit code
of ``python -m evaluation validate``.  The files are committed; this script documents how they
were made and lets them be rebuilt.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from evaluation.contracts import MONTHS

HERE = Path(__file__).resolve().parent
PILOT_HEADER = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "old_la_code",
    "new_la_code",
    "la_name",
    "plans_issued_den",
    "plans_issued_within_20_weeks",
    "plans_issued_den_ex",
    "plans_issued_20_weeks_ex",
    "pc_plans_issued_20_weeks_ex",
]
CASE_HEADER = [
    "case_id",
    "la_code",
    "request_received_date",
    "request_outcome",
    "request_outcome_date",
    "assessment_outcome",
    "assessment_outcome_date",
    "plan_issue_date",
    "exception_20wk",
]


def pilot_rows() -> list[list[str]]:
    rows = []
    for code, gss, name, base in [
        ("805", "E06000001", "Hartlepool", 9),
        ("841", "E06000005", "Darlington", 12),
    ]:
        for i, month in enumerate(MONTHS):
            den = base + i % 4
            den_ex = den - 1
            within_ex = den_ex // 2 + i % 3
            within = within_ex + 1
            pct = f"{within_ex / den_ex * 100:.1f}"
            rows.append(
                [
                    "2024",
                    month,
                    "Local authority",
                    code,
                    gss,
                    name,
                    str(den),
                    str(within),
                    str(den_ex),
                    str(within_ex),
                    pct,
                ]
            )
    return rows  # line numbers: Hartlepool 2-13, Darlington 14-25


def case_rows() -> list[list[str]]:
    return [
        [
            "C0001",
            "805",
            "2024-01-08",
            "assess",
            "2024-02-12",
            "issued",
            "2024-05-01",
            "2024-05-20",
            "0",
        ],
        ["C0002", "805", "2024-01-15", "not_assess", "2024-02-20", "", "", "", "0"],
        [
            "C0003",
            "805",
            "2024-02-02",
            "assess",
            "2024-03-10",
            "issued",
            "2024-06-30",
            "2024-07-15",
            "1",
        ],
        ["C0004", "805", "2024-03-11", "withdrawn", "2024-03-20", "", "", "", "0"],
        ["C0005", "841", "2024-03-18", "assess", "2024-04-22", "not_issued", "2024-07-01", "", "0"],
        ["C0006", "841", "2024-04-01", "assess", "2024-05-06", "", "", "", "0"],
        ["C0007", "841", "2024-05-13", "", "", "", "", "", "0"],
        [
            "C0008",
            "841",
            "2024-06-03",
            "assess",
            "2024-07-08",
            "issued",
            "2024-09-30",
            "2024-10-14",
            "0",
        ],
    ]  # lines 2-9


def write(name: str, header: list[str], rows: list[list[str]], text_after: str = "") -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    (HERE / name).write_text(buf.getvalue() + text_after, encoding="utf-8")


def edit(rows, line, col, value, header):
    rows = [list(r) for r in rows]
    rows[line - 2][header.index(col)] = value
    return rows


P, C = PILOT_HEADER, CASE_HEADER
# name: (base, builder, expected rule, line, column, exit code)
MANIFEST: dict[str, tuple] = {}


def pilot(name, rows, rule, line, column, code=1, header=P, after=""):
    write(name, header, rows, after)
    MANIFEST[name] = ("pilot_returns", rule, line, column, code)


def case(name, rows, rule, line, column, code=1, header=C):
    write(name, header, rows)
    MANIFEST[name] = ("case_records", rule, line, column, code)


def build() -> None:
    base = pilot_rows()
    write("clean_pilot_return.csv", P, base)
    write("clean_cases.csv", C, case_rows())
    pilot_value_files(base)
    pilot_time_and_place_files(base)
    pilot_format_files(base)
    cases = case_rows()
    case_rule_files(cases)
    case_personal_data_files(cases)
    unreadable_files()
    write_manifest()


def pilot_value_files(base: list[list[str]]) -> None:
    """p01-p09: missing column, counts, ratios, percentages, duplicate keys."""
    # no contract fits exactly: refused (exit 2) naming the closest contract and the column
    pilot(
        "p01_missing_required_column.csv",
        [r[:5] + r[6:] for r in base],
        None,
        None,
        "la_name",
        code=2,
        header=P[:5] + P[6:],
    )
    pilot(
        "p02_negative_count.csv",
        edit(base, 4, "plans_issued_den", "-3", P),
        "non_negative",
        4,
        "plans_issued_den",
    )
    pilot(
        "p03_fractional_count.csv",
        edit(base, 5, "plans_issued_den_ex", "9.5", P),
        "integer",
        5,
        "plans_issued_den_ex",
    )
    pilot(
        "p04_text_in_count.csv",
        edit(base, 6, "plans_issued_within_20_weeks", "abc", P),
        "value_or_symbol",
        6,
        "plans_issued_within_20_weeks",
    )
    rows = edit(base, 7, "plans_issued_within_20_weeks", "40", P)
    pilot(
        "p05_numerator_exceeds_denominator.csv",
        rows,
        "numerator_le_denominator",
        7,
        "plans_issued_within_20_weeks",
    )
    pilot(
        "p06_percent_disagrees.csv",
        edit(base, 8, "pc_plans_issued_20_weeks_ex", "12.0", P),
        "percent_matches_counts",
        8,
        "pc_plans_issued_20_weeks_ex",
    )
    rows = edit(base, 9, "pc_plans_issued_20_weeks_ex", "120", P)
    rows = edit(rows, 9, "plans_issued_20_weeks_ex", "x", P)
    rows = edit(rows, 9, "plans_issued_within_20_weeks", "x", P)
    pilot("p07_percent_above_100.csv", rows, "percent_range", 9, "pc_plans_issued_20_weeks_ex")
    rows = [list(r) for r in base]
    rows[5] = list(rows[4])
    rows[5][6] = str(int(rows[5][6]) + 1)
    pilot("p08_duplicate_key_different_values.csv", rows, "duplicate_key", 7, "time_period")
    rows = [list(r) for r in base]
    rows.insert(3, list(rows[2]))
    pilot("p09_duplicate_submission.csv", rows, "duplicate_submission", 5, "time_period")


def pilot_time_and_place_files(base: list[list[str]]) -> None:
    """p10-p19: time periods and identifiers, LA names and codes, period gaps."""
    pilot(
        "p10_period_width.csv",
        edit(base, 10, "time_period", "202401", P),
        "time_period_width",
        10,
        "time_period",
    )
    pilot(
        "p11_mixed_time_families.csv",
        edit(base, 11, "time_identifier", "Calendar year Q4", P),
        "one_time_family",
        11,
        "time_identifier",
    )
    pilot(
        "p12_unknown_time_identifier.csv",
        edit(base, 12, "time_identifier", "Jan", P),
        "time_identifier_allowed",
        12,
        "time_identifier",
    )
    pilot(
        "p13_code_name_mismatch.csv",
        edit(base, 13, "old_la_code", "806", P),
        "la_code_name_pair",
        13,
        "old_la_code",
    )
    pilot(
        "p14_unknown_la_name.csv",
        edit(base, 14, "la_name", "Atlantis", P),
        "la_name_in_lookup",
        14,
        "la_name",
    )
    rows = edit(base, 15, "la_name", "Cumbria", P)
    rows = edit(rows, 15, "old_la_code", "909", P)
    rows = edit(rows, 15, "new_la_code", "E10000006", P)
    pilot("p15_retired_la.csv", rows, "retired_la_used", 15, "time_period")
    pilot(
        "p16_gss_not_this_la.csv",
        edit(base, 16, "new_la_code", "E06000002", P),
        "gss_code_in_lookup",
        16,
        "new_la_code",
    )
    rows = [r for r in base if r[3] != "841"]
    rows = [list(r) for r in rows]
    for r in rows:
        r[3], r[4], r[5] = "815", "E10000023", "North Yorkshire"
    pilot("p17_gss_drift_warning.csv", rows, "gss_code_drift", 2, "new_la_code", code=0)
    pilot(
        "p18_la_code_format.csv",
        edit(base, 18, "old_la_code", "8O5", P),
        "la_code_format",
        18,
        "old_la_code",
    )
    rows = [r for i, r in enumerate(base) if i != 2]
    pilot("p19_period_gap_warning.csv", rows, "period_gap", None, "time_period", code=0)


def pilot_format_files(base: list[list[str]]) -> None:
    """p20-p25: foreign symbols, trailing notes, row width, allowed and required values, a
    missing-value symbol as a key."""
    pilot(
        "p20_foreign_symbol.csv",
        edit(base, 20, "plans_issued_den", "..", P),
        "value_or_symbol",
        20,
        "plans_issued_den",
    )
    pilot(
        "p21_trailing_notes_warning.csv",
        base,
        "note_row",
        27,
        "(whole row)",
        code=0,
        after="\nSource: pilot return, Hartlepool and Darlington\nNotes: provisional\n",
    )
    rows = [list(r) for r in base]
    rows[20] = rows[20] + ["surplus"]
    pilot("p22_row_wider_than_header.csv", rows, "row_width", 22, "(beyond the header)")
    pilot(
        "p23_geographic_level_not_allowed.csv",
        edit(base, 23, "geographic_level", "Ward", P),
        "allowed_values",
        23,
        "geographic_level",
    )
    pilot(
        "p24_empty_required_value.csv",
        edit(base, 24, "la_name", "", P),
        "required_value",
        24,
        "la_name",
    )
    pilot(
        "p25_key_is_a_symbol.csv",
        edit(base, 25, "old_la_code", "z", P),
        "key_missing",
        25,
        "old_la_code",
    )


def case_rule_files(cases: list[list[str]]) -> None:
    """c01-c08: the case rules (chronology, outcomes and dates, keys, LA codes)."""
    case(
        "c01_chronology.csv",
        edit(cases, 2, "plan_issue_date", "2024-01-02", C),
        "chronology",
        2,
        "plan_issue_date",
    )
    case(
        "c02_bad_outcome_code.csv",
        edit(cases, 3, "request_outcome", "maybe", C),
        "allowed_values",
        3,
        "request_outcome",
    )
    case(
        "c03_outcome_without_date.csv",
        edit(cases, 4, "request_outcome_date", "", C),
        "outcome_needs_date",
        4,
        "request_outcome_date",
    )
    case(
        "c04_exception_flag.csv",
        edit(cases, 5, "exception_20wk", "2", C),
        "allowed_values",
        5,
        "exception_20wk",
    )
    case(
        "c05_bad_date.csv",
        edit(cases, 6, "request_outcome_date", "2024-13-01", C),
        "iso_date",
        6,
        "request_outcome_date",
    )
    rows = [list(r) for r in cases]
    rows[6][0] = rows[5][0]
    case("c06_duplicate_case_id.csv", rows, "duplicate_key", 8, "case_id")
    case(
        "c07_plan_without_issued_outcome.csv",
        edit(cases, 7, "plan_issue_date", "2024-09-01", C),
        "plan_needs_issued_outcome",
        7,
        "plan_issue_date",
    )
    case(
        "c08_unknown_la_code.csv",
        edit(cases, 9, "la_code", "999", C),
        "la_code_in_lookup",
        9,
        "la_code",
    )


def case_personal_data_files(cases: list[list[str]]) -> None:
    """c09-c14: files that look as if they carry personal data (refused whole)."""
    rows = [r + ["2012-03-04"] for r in cases]
    case(
        "c09_date_of_birth_column.csv",
        rows,
        "personal_data_column",
        None,
        "date_of_birth",
        header=C + ["date_of_birth"],
    )
    rows = [list(r) for r in cases]
    for i, r in enumerate(rows):
        r[0] = f"A{801234567890 + i}"
    case("c10_upn_as_case_id.csv", rows, "personal_data_value", None, "case_id")
    rows = [r + [f"parent{i}@example.org"] for i, r in enumerate(cases)]
    case(
        "c11_email_column.csv", rows, "personal_data_value", None, "contact", header=C + ["contact"]
    )
    rows = [
        r + [pc]
        for r, pc in zip(
            cases,
            [
                "TS24 8AY",
                "TS25 1AB",
                "DL1 5QT",
                "DL3 7RS",
                "TS26 9DD",
                "DL2 2EE",
                "TS24 0PP",
                "DL1 1AA",
            ],
            strict=False,
        )
    ]
    case(
        "c12_postcode_values.csv",
        rows,
        "personal_data_value",
        None,
        "home_area",
        header=C + ["home_area"],
    )
    rows = [
        r + [n]
        for r, n in zip(
            cases,
            [
                "Jane Smith",
                "Amir Khan",
                "Leah Brown",
                "Tom Price",
                "Ava Jones",
                "Noah Wood",
                "Mia Clark",
                "Ben Hall",
            ],
            strict=False,
        )
    ]
    case("c13_person_names.csv", rows, "personal_data_value", None, "who", header=C + ["who"])
    rows = [r + [f"{1000000000 + i * 7919}"] for i, r in enumerate(cases)]
    case(
        "c14_uln_column.csv",
        rows,
        "personal_data_value",
        None,
        "learner_ref",
        header=C + ["learner_ref"],
    )


def unreadable_files() -> None:
    """u01-u03: unreadable files, exit code 2, no findings."""
    (HERE / "u01_binary.csv").write_bytes(b"\x00\x01\x02PK\x03\x04" * 50)
    MANIFEST["u01_binary.csv"] = (None, None, None, None, 2)
    (HERE / "u02_empty.csv").write_text("", encoding="utf-8")
    MANIFEST["u02_empty.csv"] = (None, None, None, None, 2)
    write("u03_no_contract_fits.csv", ["colour", "size"], [["red", "3"]])
    MANIFEST["u03_no_contract_fits.csv"] = (None, None, None, None, 2)


def write_manifest() -> None:
    lines = ["| file | contract | rule | line | column | exit |", "|---|---|---|---|---|---|"]
    for name, (contract, rule, line, column, code) in MANIFEST.items():
        lines.append(f"| {name} | {contract} | {rule} | {line} | {column} | {code} |")
    (HERE / "MANIFEST.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    build()
    print(f"{len(MANIFEST)} broken files written to {HERE}")
