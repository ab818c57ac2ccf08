"""The command line is one argparse tree: every sub-command is listed in ``--help``, the
deprecated ``synth`` alias of ``demo-data`` still works and warns, and the defaults the CLI
repeats (to build its parser without pandas) agree with the modules they come from, and
``validate`` creates the folders it writes to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.cli import build_parser, main

from .conftest import ROOT

COMMANDS = ["areas", "report", "reports", "validate", "its", "did", "cases", "demo-data", "power"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evaluation", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_every_command_is_listed_in_help():
    proc = _cli("--help")
    assert proc.returncode == 0
    for command in COMMANDS:
        assert f"    {command} " in proc.stdout, command
    assert "synth" in proc.stdout  # the deprecated alias, shown beside demo-data


def test_help_does_not_import_the_numerical_stack():
    code = "import sys; from evaluation.cli import build_parser; build_parser(); "
    code += "print(sorted(m for m in ('numpy', 'pandas', 'scipy') if m in sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.stdout.strip() == "[]", proc.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert f"usage: python -m evaluation {command}" in capsys.readouterr().out


def test_demo_data_help():
    proc = _cli("demo-data", "--help")
    assert proc.returncode == 0
    assert "SYNTHETIC" in proc.stdout and "--scale" in proc.stdout
    assert "deprecated" not in proc.stderr


def test_synth_still_works_and_warns_that_it_is_deprecated(tmp_path, capsys):
    args = ["--out", str(tmp_path), "--scale", "0.01", "--start", "2025-06", "--burn-in", "1"]
    assert main(["synth", *args]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines()[0] == "warning: 'synth' is deprecated; use 'demo-data'"
    assert "SYNTHETIC" in out
    assert (tmp_path / "synthetic_cases.csv").exists()
    assert main(["demo-data", *args]) == 0
    assert "deprecated" not in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    for argv in [[], ["nope"], ["cases"], ["demo-data", "--scale", "x"], ["power", "--seed", "x"]]:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2, argv
    capsys.readouterr()


def test_defaults_repeated_by_the_cli_agree_with_their_modules():
    from evaluation.demo import synthetic_returns
    from evaluation.panel.cases import FREQS

    sub = build_parser()._subparsers._group_actions[0].choices
    freq = next(a for a in sub["cases"]._actions if a.dest == "freq")
    assert tuple(freq.choices) == FREQS
    demo = {a.dest: a.default for a in sub["demo-data"]._actions}
    assert demo["scale"] == synthetic_returns.DEFAULT_SCALE
    assert demo["effect_pp"] == synthetic_returns.DEFAULT_EFFECT_PP
    assert demo["plan"] == str(synthetic_returns.DEFAULT_PLAN)


@pytest.mark.parametrize(
    "name, exit_code",
    [("clean_pilot_return.csv", 0), ("p02_negative_count.csv", 1)],  # README: 0 clean, 1 errors
)
def test_validate_creates_the_report_json_and_quarantine_folders(name, exit_code, tmp_path):
    # a fresh clone has no reports/validation/ (make validate used to exit 4 there)
    out = tmp_path / "reports" / "validation"
    report, quarantine = out / "report.json", out / "quarantine"
    corpus = ROOT / "tests" / "contracts_corpus"
    args = ["--report-json", str(report), "--quarantine-dir", str(quarantine)]
    proc = _cli("validate", str(corpus / name), *args)
    assert proc.returncode == exit_code, proc.stderr
    files = json.loads(report.read_text())["files"]
    assert [Path(f["path"]).name for f in files] == [name]
    assert files[0]["rows_quarantined"] == exit_code  # the one bad row, or none
    assert quarantine.is_dir() == bool(exit_code)  # written only when a row is quarantined
