"""Command line: ``python -m evaluation <command>``, one argparse tree.

Each command lives in its own module (``areas``, ``report`` (report and reports), ``validate``,
``its``, ``did``, ``pool``, ``cases``, ``demo_data`` (demo-data, and its deprecated alias synth),
``power``) with ``register(subparsers)``, which adds the command's parser, and a ``run(args)``
returning the exit code.  Options several commands share are defined once in
:mod:`evaluation.cli.common`.  Heavy imports happen inside the ``run`` functions, so
``python -m evaluation --help`` is fast.

Exit codes (documented in README.md):
  0  success
  1  validate: at least one row has an error (rows quarantined); cases: rows quarantined
  2  bad usage, an AREA that is not a pilot area of the plan, or (validate) a file that cannot be
     read or an unknown contract
  3  invalid evaluation plan
  4  input data could not be read
  5  the report could not be rendered
"""

from __future__ import annotations

import argparse
import sys

from evaluation.cli import areas, cases, demo_data, did, its, pool, power, report, validate
from evaluation.cli.common import EXIT_DATA, EXIT_PLAN, EXIT_RENDER, EXIT_USAGE, error

__all__ = ["EXIT_DATA", "EXIT_PLAN", "EXIT_RENDER", "EXIT_USAGE", "build_parser", "main"]

# in the order of ``--help``
COMMAND_MODULES = (areas, report, validate, its, did, pool, cases, demo_data, power)


def package_version() -> str:
    """The installed package's version (its metadata, as pip reports it), else the source
    tree's ``evaluation.__version__`` when the package is not installed."""
    from importlib import metadata

    try:
        return metadata.version("send-evaluation")
    except metadata.PackageNotFoundError:
        from evaluation import __version__

        return __version__


class _VersionAction(argparse.Action):
    """``--version``: print the version and exit; the metadata is read only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        kwargs.setdefault("help", "print the version of the toolkit and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} (send-evaluation) {package_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation", description="SEND test-and-learn evaluation toolkit"
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def run_with_exit_codes(args: argparse.Namespace) -> int:
    """Run the command, turning the errors every command can meet into the documented exit
    codes: an unknown AREA (2), an invalid plan (3), data that cannot be read (4)."""
    from evaluation.io.geography import AreaNotFoundError
    from evaluation.panel.plan import PlanError

    try:
        return args.run(args)
    except AreaNotFoundError as exc:
        return error(str(exc), EXIT_USAGE)
    except PlanError as exc:
        return error(f"invalid evaluation plan: {exc}", EXIT_PLAN)
    except (OSError, ValueError) as exc:
        return error(str(exc), EXIT_DATA)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "reports_own_errors", False):
        # cases, demo-data and power map their own errors to exit codes (as they did when
        # they had their own parsers); anything else they meet is not caught
        return int(args.run(args) or 0)
    return run_with_exit_codes(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
