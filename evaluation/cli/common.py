"""What the sub-commands share: exit codes, the default plan, the options several commands take
(each defined once here), reading the analyst's CSV and printing one JSON object.

Only the standard library is imported at module level, so ``python -m evaluation --help`` stays
fast; numpy and pandas are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK = 0
EXIT_USAGE, EXIT_PLAN, EXIT_DATA, EXIT_RENDER = 2, 3, 4, 5
DEFAULT_PLAN = "plans/change_programme_2023.yaml"
PLAN_SEED_HELP = "random seed, an integer (default: the plan's seed)"
JSON_HELP = "print one JSON object instead of the text summary"


def add_plan_option(parser: argparse.ArgumentParser) -> None:
    """``--plan PLAN`` (default: the change programme plan)."""
    parser.add_argument(
        "--plan", default=DEFAULT_PLAN, help="evaluation plan YAML file (default: %(default)s)"
    )


def add_plan_seed_option(
    parser: argparse.ArgumentParser, help_text: str | None = PLAN_SEED_HELP
) -> None:
    """``--seed N`` of a plan-driven command; None means the plan's own seed."""
    parser.add_argument("--seed", type=int, default=None, help=help_text)


def add_quarantine_dir_option(parser: argparse.ArgumentParser) -> None:
    """``--quarantine-dir DIR``, where rows that fail their contract are written."""
    parser.add_argument(
        "--quarantine-dir",
        default="reports/validation/quarantine",
        help="folder where quarantined rows are written with their reasons (default: %(default)s)",
    )


def add_alpha_option(parser: argparse.ArgumentParser) -> None:
    """``--alpha A``, the two-sided level of the intervals."""
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="two-sided significance level, between 0 and 1: intervals are 100(1 - alpha)%% "
        "(default: %(default)s, 95%% intervals)",
    )


def add_json_option(parser: argparse.ArgumentParser, help_text: str = JSON_HELP) -> None:
    """``--json``: print JSON instead of the text summary."""
    parser.add_argument("--json", action="store_true", help=help_text)


def error(message: str, code: int) -> int:
    """Print ``error: message`` on stderr (one line, no traceback) and return the exit code."""
    print(f"error: {message}", file=sys.stderr)
    return code


def read_data_csv(path: str):
    """The analyst's CSV as a DataFrame, or None after saying on stderr why it cannot be read
    (the caller then exits with ``EXIT_DATA``)."""
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {path}: {' '.join(str(exc).split())}", file=sys.stderr)
        return None


def _json_default(o):
    import numpy as np

    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.bool_):
        return bool(o)
    raise TypeError(type(o))


def print_json(payload: dict) -> None:
    """Print ``payload`` as indented JSON (numpy scalars as numbers; NaN is refused)."""
    import json

    print(json.dumps(payload, indent=2, default=_json_default, allow_nan=False))
