"""Bad input never passes silently (issue 19), part 4: property-based fuzzing of the commands
that read the analyst's files.

Random CSVs (random and duplicate headers, numbers huge and tiny, NaN/inf text, symbols,
dates, blank cells and lines, three encodings, two separators) go into ``validate``, ``cases``,
``did``, ``its`` and ``pool`` with column options drawn from the headers.  Whatever comes in:
no exception (so never a traceback), no warning (warnings are errors here), an exit code the
README documents for that command, a one-line ``error:`` message for a refusal, and for
``validate`` rows in = accepted + quarantined.  A command that succeeds prints finite
estimates, never null ones.  A small example budget runs in the normal suite
(derandomised: the same examples every run); ``make test-slow`` runs a larger random one.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.cli import main

NAMES = ["a", "b", "c", "d", "y", "t", "time_period", "old_la_code", "la_name", "case_id"]
NAMES += ["la_code", "request_received_date", "exception_20wk", "se"]
CELLS = [
    "", " ", "0", "1", "2", "3", "-1", "2.5", "1e308", "-1e308", "1e-308", "5e-324", "NaN",
    "nan", "inf", "-inf", "x", "z", "..", "805", "2024", "2024-01-15", "E06000001",
    "Hartlepool", "Local authority", "January", "é", "1,234", "12%",
]  # fmt: skip
EXIT_CODES = {  # README: what each command may exit with
    "validate": {0, 1, 2},
    "cases": {0, 1, 2},
    "did": {0, 2, 4},
    "its": {0, 2, 4},
    "pool": {0, 2, 4},
}

header = st.lists(
    st.one_of(st.sampled_from(NAMES), st.text(st.characters(codec="utf-8"), max_size=6)),
    min_size=1,
    max_size=6,
)
cell = st.one_of(
    st.sampled_from(CELLS),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=5),
)


@st.composite
def csv_files(draw):
    """(bytes of a CSV file, its header)."""
    cols = draw(header)
    n_rows = draw(st.integers(0, 14))
    rows = [[draw(cell) for _ in cols] for _ in range(n_rows)]
    sep = draw(st.sampled_from([",", ";"]))
    lines = [sep.join(cols)] + [sep.join(r) for r in rows]
    for _ in range(draw(st.integers(0, 2))):  # blank lines anywhere
        lines.insert(draw(st.integers(0, len(lines))), "")
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return text.encode(encoding, errors="replace"), cols


def _column(draw, cols):
    return draw(st.one_of(st.sampled_from(cols), st.sampled_from(NAMES)))


@st.composite
def invocations(draw):
    """(command, data bytes, argv with ``{file}`` and ``{dir}`` placeholders)."""
    data, cols = draw(csv_files())
    command = draw(st.sampled_from(sorted(EXIT_CODES)))
    col = lambda option: f"{option}={_column(draw, cols)}"  # noqa: E731 - a name may start "-"
    if command == "validate":
        argv = ["validate", "{file}", "--report-json", "{dir}/r.json"]
        argv += ["--quarantine-dir", "{dir}/q"]
    elif command == "cases":
        argv = ["cases", "{file}", "--out", "{dir}/panel.csv", "--quarantine-dir", "{dir}/q"]
    elif command == "did":
        argv = ["did", "--data", "{file}", col("--unit"), col("--time")]
        argv += [col("--outcome"), col("--first-treated"), "--json"]
        argv += draw(st.sampled_from([[], ["--method", "cs"], ["--method", "imputation"]]))
    elif command == "its":
        argv = ["its", "--data", "{file}", col("--time"), col("--outcome")]
        argv += ["--interruption", draw(st.sampled_from(["3", "4", "7", "2024", "x"])), "--json"]
        argv += draw(st.sampled_from([[], ["--method", "ols"], ["--family", "poisson"]]))
    else:
        argv = ["pool", "--data", "{file}", col("--estimate"), col("--se"), "--json"]
    return command, data, argv


@st.composite
def panels(draw):
    """A ``did`` or ``its`` call on a file that is nearly a valid panel or series: random
    values (huge, tiny, repeated), random treatment timing, a few corrupted cells."""
    command = draw(st.sampled_from(["did", "its"]))
    value = st.floats(-100, 100, allow_nan=False)
    if draw(st.integers(0, 9)) == 0:  # now and then: extreme or repeated values
        value = st.one_of(value, st.sampled_from([0.0, 1.0, 1e300, -1e300, 1e-300, 1e140]))
    if command == "did":
        n_units, n_times = draw(st.integers(1, 8)), draw(st.integers(1, 7))
        starts = [draw(st.sampled_from([0, 0, 0, 3, 4, 1, 9])) for _ in range(n_units)]
        rows = [
            [f"u{u}", str(t), repr(draw(value)), str(starts[u])]
            for u in range(n_units)
            for t in range(1, n_times + 1)
        ]
        header = ["unit", "t", "y", "start"]
        argv = ["did", "--data", "{file}", "--unit=unit", "--time=t", "--outcome=y"]
        argv += ["--first-treated=start", "--json"]
        argv += draw(
            st.sampled_from(
                [[], ["--method", "cs"], ["--method", "imputation"], ["--method", "event"]]
                + [["--inference", "wild", "--n-boot", "99"], ["--method", "sdid"]]
            )
        )
    else:
        n = draw(st.integers(2, 30))
        rows = [[str(t), repr(abs(draw(value))), str((t - 1) % 12 + 1)] for t in range(1, n + 1)]
        header = ["t", "y", "month"]
        argv = ["its", "--data", "{file}", "--time=t", "--outcome=y", "--json"]
        argv += ["--interruption", str(draw(st.integers(0, n + 1)))]
        argv += draw(
            st.sampled_from(
                [[], ["--method", "ols-hac"], ["--method", "glsar"], ["--family", "poisson"]]
                + [["--effects", "level"], ["--harmonics", "2", "--season-col", "month"]]
                + [["--family", "quasipoisson", "--washout", "2"]]
            )
        )
        if "--harmonics" in argv:
            argv += ["--season-period", "12"]
    for _ in range(draw(st.integers(0, 2))):  # corrupt a cell or two
        if rows:
            row = rows[draw(st.integers(0, len(rows) - 1))]
            row[draw(st.integers(0, len(row) - 1))] = draw(cell)
    text = "\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n"
    return command, text.encode("utf-8"), argv


def _check(command: str, data: bytes, argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.csv"
        path.write_bytes(data)
        argv = [a.replace("{file}", str(path)).replace("{dir}", tmp) for a in argv]
        out, err = io.StringIO(), io.StringIO()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning that escapes is a failure
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        err_text = err.getvalue()
        assert code in EXIT_CODES[command], (code, err_text)
        assert "Traceback" not in err_text and "Warning" not in err_text, err_text
        errors = [ln for ln in err_text.splitlines() if ln.startswith("error:")]
        if code == 2 and command in {"did", "its", "pool"}:
            assert len(errors) == 1 and out.getvalue() == "", err_text
        if command == "validate":
            for entry in json.loads((Path(tmp) / "r.json").read_text())["files"]:
                if "error" not in entry:
                    assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]
        if code == 0 and command in {"did", "its"}:
            payload = json.loads(out.getvalue())
            value = payload["estimate"] if command == "did" else payload["level_change"]["estimate"]
            assert isinstance(value, float) and math.isfinite(value), payload


FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(FAST, max_examples=1500, derandomize=False)


@FAST
@given(st.one_of(invocations(), panels()))
def test_random_files_into_every_command(case):
    _check(*case)


@pytest.mark.slow
@SLOW
@given(st.one_of(invocations(), panels()))
def test_random_files_into_every_command_many_more(case):
    _check(*case)


@pytest.mark.parametrize(
    "text",
    [
        "a,a,b\n1,2,3\n",  # duplicate header
        "\ufeffy;t\n1e308;1\n-1e308;2\ninf;3\n",  # BOM, semicolons, huge numbers
        "y,t\n\n\nNaN,1\n",  # blank lines, NaN text
    ],
)
@pytest.mark.parametrize("command", sorted(EXIT_CODES))
def test_awkward_files_into_every_command(text, command):
    cols = ["a", "b", "y", "t"]
    argv = {
        "validate": ["validate", "{file}", "--report-json", "{dir}/r.json", "--quarantine-dir"]
        + ["{dir}/q"],
        "cases": ["cases", "{file}", "--out", "{dir}/p.csv", "--quarantine-dir", "{dir}/q"],
        "did": ["did", "--data", "{file}", "--unit", cols[0], "--time", "t", "--outcome", "y"]
        + ["--first-treated", "b", "--json"],
        "its": ["its", "--data", "{file}", "--time", "t", "--outcome", "y", "--interruption", "2"]
        + ["--json"],
        "pool": ["pool", "--data", "{file}", "--estimate", "y", "--se", "t", "--json"],
    }[command]
    _check(command, text.encode("utf-8"), argv)
