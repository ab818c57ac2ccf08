"""``python -m evaluation pool``: partial pooling of many noisy estimates (one per area, say) with
the robust empirical Bayes confidence intervals of Armstrong, Kolesar & Plagborg-Moller (2022)
(:func:`evaluation.models.ebci.robust_ebci`, a port of R ``ebci`` 1.0.0), on the analyst's own
CSV (one row per estimate), printed as a text summary or as one JSON object
(:func:`pool_payload`).

The input is checked here, where the data row numbers are known, so that every refusal names
the file, the column and the rows; warnings of the numerical code are collected and reported in
the output (``warnings``) instead of reaching the terminal.
"""

from __future__ import annotations

import argparse

from evaluation.cli.common import (
    EXIT_DATA,
    EXIT_USAGE,
    add_alpha_option,
    add_json_option,
    error,
    print_json,
    read_data_csv,
)

# as evaluation.models.ebci.FS_CORRECTIONS, repeated so that --help does not import numpy
FS_CORRECTIONS = ("PMT", "FPLIB", "none")
MIN_ROWS = 3
ROWS_NAMED = 5  # at most this many data row numbers in a message


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pool", help="partial pooling of noisy estimates with robust empirical Bayes intervals"
    )
    p.add_argument("--data", required=True, help="CSV file, one row per estimate")
    p.add_argument("--estimate", required=True, help="column of the estimates")
    p.add_argument(
        "--se", required=True, help="column of their standard errors, > 0, in the estimates' units"
    )
    p.add_argument(
        "--covariate",
        action="append",
        default=[],
        help="shrink toward a weighted regression on this column; repeat for several "
        "(default: toward the weighted mean)",
    )
    p.add_argument(
        "--weights",
        help="weights column of the regression and moments, e.g. 1/se^2 (default: equal weights)",
    )
    add_alpha_option(p)
    p.add_argument(
        "--kappa", help="kurtosis bound: a number >= 1, or inf for none (default: estimated)"
    )
    p.add_argument(
        "--fs-correction",
        default="PMT",
        choices=FS_CORRECTIONS,
        help="finite-sample correction of the moments (default: %(default)s, as R ebci)",
    )
    add_json_option(p)
    p.set_defaults(run=run)


class PoolUsageError(Exception):
    """Options or data the command cannot use (exit ``EXIT_USAGE``)."""


def parse_kappa(text: str | None) -> float | None:
    """``--kappa`` as a number >= 1 (``inf`` for no bound), or None to estimate it."""
    if text is None:
        return None
    try:
        kappa = float(text)
    except ValueError:
        raise PoolUsageError(f"--kappa must be a number >= 1 or inf, not {text!r}") from None
    if not kappa >= 1:
        raise PoolUsageError(f"--kappa must be at least 1 (or inf), got {text}")
    return kappa


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise PoolUsageError(f"--alpha must be in (0, 1), got {alpha:g}")


def _rows_text(mask) -> str:
    """The 1-based data row numbers where ``mask`` is true (at most ``ROWS_NAMED`` of them)."""
    import numpy as np

    rows = (np.flatnonzero(mask) + 1).tolist()
    text = ", ".join(map(str, rows[:ROWS_NAMED]))
    more = len(rows) - ROWS_NAMED
    return f"data row{'s' if len(rows) > 1 else ''} {text}" + (
        f" and {more} more" if more > 0 else ""
    )


def numeric_column(data, column: str, path: str):
    """``data[column]`` as floats, refusing missing, non-numeric and infinite values."""
    import numpy as np
    import pandas as pd

    raw = data[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise PoolUsageError(
            f"{path}: column {column!r} has {int(missing.sum())} missing value(s), "
            f"{_rows_text(missing)}"
        )
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        shown = ", ".join(repr(str(v)) for v in raw[bad].iloc[:ROWS_NAMED])
        raise PoolUsageError(
            f"{path}: column {column!r} has non-numeric value(s) {shown}, {_rows_text(bad)}"
        )
    values = values.to_numpy(dtype=float)
    infinite = ~np.isfinite(values)
    if infinite.any():
        raise PoolUsageError(
            f"{path}: column {column!r} has infinite value(s), {_rows_text(infinite)}"
        )
    return values


def pool_inputs(args: argparse.Namespace, data) -> dict:
    """The arguments of ``robust_ebci`` taken from the file's columns, after checking them."""
    import pandas as pd

    path = args.data
    used = [args.estimate, args.se, *args.covariate] + ([args.weights] if args.weights else [])
    missing = list(dict.fromkeys(c for c in used if c not in data.columns))
    if missing:
        raise PoolUsageError(
            f"{path}: column(s) {missing} not found (columns: {', '.join(map(str, data.columns))})"
        )
    others = [("--se", args.se), ("--weights", args.weights)]
    for option, col in others + [("--covariate", c) for c in args.covariate]:
        if col is not None and col == args.estimate:  # pooling estimates on themselves
            raise PoolUsageError(
                f"{path}: {option} names column {col!r}, the estimates (--estimate): it must "
                "be a different column"
            )
    if len(data) < MIN_ROWS:
        raise PoolUsageError(f"{path}: need at least {MIN_ROWS} data rows, got {len(data)}")
    rows = pd.RangeIndex(1, len(data) + 1, name="row")
    estimate = numeric_column(data, args.estimate, path)
    se = numeric_column(data, args.se, path)
    if (se <= 0).any():
        raise PoolUsageError(
            f"{path}: column {args.se!r} (--se) must be positive; zero or negative in "
            f"{_rows_text(se <= 0)}"
        )
    weights = None
    if args.weights:
        weights = numeric_column(data, args.weights, path)
        if (weights < 0).any():
            raise PoolUsageError(
                f"{path}: column {args.weights!r} (--weights) must not be negative; negative in "
                f"{_rows_text(weights < 0)}"
            )
        if not weights.sum() > 0:
            raise PoolUsageError(f"{path}: column {args.weights!r} (--weights) sums to 0")
        weights = pd.Series(weights, index=rows)
    covariates = None
    if args.covariate:
        columns = dict.fromkeys(args.covariate)
        covariates = pd.DataFrame({c: numeric_column(data, c, path) for c in columns}, index=rows)
    return {
        "estimate": pd.Series(estimate, index=rows),
        "se": pd.Series(se, index=rows),
        "covariates": covariates,
        "weights": weights,
    }


def pool_payload(res, kappa_given: float | None, warnings_seen: list[str]) -> dict:
    """The JSON object printed by ``python -m evaluation pool --json``: ``res.to_dict()`` with
    each row's 1-based data row number (``row``), the ``kappa`` asked for (``kappa_given``: null
    when estimated, ``"inf"`` for no bound) and the numerical ``warnings`` met."""
    import math

    out = res.to_dict()
    out["rows"] = [{"row": i, **row} for i, row in enumerate(out["rows"], start=1)]
    if kappa_given is not None and math.isinf(kappa_given):
        out["kappa_given"] = "inf"
    else:
        out["kappa_given"] = kappa_given
    out["warnings"] = warnings_seen
    return out


def fit(args: argparse.Namespace, kappa: float | None):
    """Read the file and fit: the result, or an exit code after printing why not."""
    from evaluation.models.ebci import EbciInputError, robust_ebci

    data = read_data_csv(args.data)
    if data is None:
        return EXIT_DATA
    inputs = pool_inputs(args, data)
    try:
        return robust_ebci(
            **inputs, alpha=args.alpha, kappa=kappa, fs_correction=args.fs_correction
        )
    except EbciInputError as exc:
        raise PoolUsageError(f"{args.data}: {exc}") from exc
    except RuntimeError as exc:  # the critical-value search failed its own check
        raise PoolUsageError(
            f"{args.data}: the robust critical value could not be computed ({exc}); try --kappa inf"
        ) from exc
    except ArithmeticError as exc:  # e.g. 1e300 estimates with 1e-300 standard errors
        raise PoolUsageError(
            f"{args.data}: the moments of the estimates overflow double precision "
            f"({type(exc).__name__}: {exc}); rescale --estimate and --se (e.g. to thousands)"
        ) from exc


def run(args: argparse.Namespace) -> int:
    import warnings

    try:
        check_alpha(args.alpha)
        kappa = parse_kappa(args.kappa)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = fit(args, kappa)
    except PoolUsageError as exc:
        return error(str(exc), EXIT_USAGE)
    if isinstance(res, int):
        return res
    seen = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    if args.json:
        print_json(pool_payload(res, kappa, seen))
    else:
        print(res.summary())
        if seen:
            print("Numerical warnings:")
            print("\n".join(f"  - {w}" for w in seen))
    return 0
