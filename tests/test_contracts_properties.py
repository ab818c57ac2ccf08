"""Property tests: random corruption of a clean return never crashes the reader or the
validator, and never loses a row (rows in = accepted + quarantined, and every data record of
the file is counted)."""

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.contracts import validate_file
from evaluation.io.readers import ReadError, read_table

from .conftest import ROOT

CLEAN = (ROOT / "tests" / "contracts_corpus" / "clean_pilot_return.csv").read_text()
LINES = CLEAN.splitlines()

cell_text = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    st.sampled_from(
        [
            "",
            "x",
            "z",
            "c",
            "..",
            "-",
            "-5",
            "1,234",
            "12%",
            "9.5",
            "1e3",
            "NaN",
            "2024",
            "805",
            "E06000001",
            "Hartlepool",
            "2024-02-30",
            ";",
            '"',
            "\n",
        ]
    ),
)
edit = st.tuples(st.integers(0, len(LINES) - 1), st.integers(0, 12), cell_text)


def _records(text: str) -> int:
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in r)]
    return max(len(rows) - 1, 0)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(edit, max_size=6),
    dup=st.lists(st.integers(1, len(LINES) - 1), max_size=3),
    blank=st.booleans(),
)
def test_random_corruption_never_crashes_or_loses_rows(tmp_path, edits, dup, blank):
    rows = [list(r) for r in csv.reader(io.StringIO(CLEAN))]
    for line, col, value in edits:
        row = rows[line]
        if col < len(row):
            row[col] = value
        else:
            row.append(value)
    for line in dup:
        rows.insert(line, list(rows[line]))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    text = buf.getvalue() + ("\n\n" if blank else "")
    path = tmp_path / "return.csv"
    path.write_text(text, encoding="utf-8")
    try:
        read = read_table(path)
    except ReadError:
        return  # a clear, named refusal (exit code 2), not a crash
    try:
        result = validate_file(path, "pilot_returns")
    except ReadError:
        return
    assert result.rows_in == result.rows_accepted + result.rows_quarantined
    assert result.rows_in + len(read.note_rows) == _records(text)
    for f in result.findings:
        assert f.file == "return.csv" and f.rule and f.message
