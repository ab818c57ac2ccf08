"""Every option of every command has help text, and every option that may be left out says
what happens when it is (its default); ``--version`` prints the installed package's version.

The argparse tree is walked from :func:`evaluation.cli.build_parser`, so a new command or option
is checked the day it is added."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import metadata

import pytest

from evaluation.cli import build_parser

from .conftest import ROOT


def _commands(parser: argparse.ArgumentParser, path=()):
    """``(command path, parser, help of the command)`` for the parser and every sub-command,
    depth first (aliases such as ``synth`` are the same parser and are visited once)."""
    yield path, parser, None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
                yield (*path, name), sub, helps.get(name)
                yield from (c for c in _commands(sub, (*path, name)) if c[0] != (*path, name))


def _options():
    """``(command, option name, action)`` for every argument of every command except -h."""
    for path, parser, _ in _commands(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            name = "/".join(action.option_strings) or action.dest
            yield " ".join(path) or "(top level)", name, action


OPTIONS = list(_options())


def test_the_walk_finds_every_command_and_option():
    commands = {c for c, _, _ in OPTIONS}
    assert {"its", "did", "pool", "power", "cases", "demo-data", "validate"} <= commands
    assert ("its", "--outcome") in {(c, n) for c, n, _ in OPTIONS}
    assert len(OPTIONS) > 60


@pytest.mark.parametrize(("command", "option", "action"), OPTIONS, ids=lambda v: str(v)[:40])
def test_every_option_has_help_text(command, option, action):
    assert action.help and action.help is not argparse.SUPPRESS, f"{command} {option}: no help="
    assert len(action.help.split()) >= 3, f"{command} {option}: help too short: {action.help!r}"


@pytest.mark.parametrize(("command", "option", "action"), OPTIONS, ids=lambda v: str(v)[:40])
def test_every_optional_option_states_its_default(command, option, action):
    """An option that may be left out says what is used then (``default: ...``); an on/off
    flag is off by default and needs no such statement."""
    flag = action.nargs == 0  # store_true / store_false / version
    positional_required = not action.option_strings and action.nargs not in ("*", "?")
    if action.required or flag or positional_required:
        return
    assert "default" in action.help, f"{command} {option}: help does not state the default"


def test_every_command_has_a_one_line_summary():
    for path, _, help_text in _commands(build_parser()):
        if path:
            assert help_text, f"{' '.join(path)}: no help= in add_parser"


def test_help_renders_for_every_command():
    """``%(default)s`` and the other placeholders expand (a stray ``%`` would raise here)."""
    for path, parser, _ in _commands(build_parser()):
        text = parser.format_help()
        assert "%(" not in text, path


def test_defaults_are_expanded_in_help():
    sub = dict((p, parser) for p, parser, _ in _commands(build_parser()))
    assert "(default: 9999)" in sub[("did",)].format_help()
    assert "(default: ar1-reml)" in " ".join(sub[("its",)].format_help().split())


def test_version_is_the_package_metadata():
    proc = subprocess.run(
        [sys.executable, "-m", "evaluation", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(metadata.version("send-evaluation"))
    assert proc.stdout.startswith("python -m evaluation")
