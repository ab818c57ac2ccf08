"""``python -m evaluation its``: interrupted time series on the analyst's own tidy CSV, printed
as a text summary or as one JSON object (:func:`its_payload`)."""

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

CI_KEYS = ["estimate", "se", "ci_low", "ci_high", "p_value"]


def register(subparsers) -> None:
    p = subparsers.add_parser("its", help="interrupted time series on your own tidy CSV")
    p.add_argument("--data", required=True, help="tidy CSV file, one row per time point")
    p.add_argument(
        "--time",
        required=True,
        help="column of the time index, numeric and equally spaced (e.g. a month number)",
    )
    p.add_argument(
        "--outcome",
        required=True,
        help="column of the outcome, in its own units (a rate, or a count for "
        "poisson/quasipoisson, successes for binomial)",
    )
    p.add_argument(
        "--interruption",
        required=True,
        help="the first time value after the interruption, in --time units",
    )
    p.add_argument(
        "--family",
        default="gaussian",
        choices=["gaussian", "poisson", "quasipoisson", "binomial"],
        help="error distribution and link: gaussian (identity), poisson/quasipoisson (log), "
        "binomial (logit) (default: %(default)s)",
    )
    p.add_argument(
        "--method",
        default="ar1-reml",
        choices=["ar1-reml", "ols-hac", "glsar", "ols"],
        help="fit of a gaussian model: ar1-reml (GLS, AR(1) errors, REML), ols-hac (Newey-West, "
        "as Stata itsa), glsar (Cochrane-Orcutt) or ols (default: %(default)s)",
    )
    p.add_argument(
        "--offset", help="exposure column; log(offset) enters the model (default: no offset)"
    )
    p.add_argument("--trials", help="trials column, binomial only (default: none)")
    p.add_argument(
        "--harmonics",
        type=int,
        default=0,
        help="number of Fourier sine/cosine pairs for seasonality; needs --season-col and "
        "--season-period (default: %(default)s, no seasonal terms)",
    )
    p.add_argument(
        "--season-col",
        help="column of the position in the seasonal cycle, e.g. month of year 1-12 "
        "(default: none)",
    )
    p.add_argument(
        "--season-period",
        type=float,
        help="length of the seasonal cycle in --season-col units, e.g. 12 for months "
        "(default: none)",
    )
    p.add_argument(
        "--hac-lags",
        type=int,
        help="Newey-West lags, in periods, for ols-hac or a GLM (default: floor(4 (T/100)^(2/9)),"
        " at least 1, for ols-hac; none for GLMs)",
    )
    p.add_argument(
        "--effects",
        default="level+slope",
        choices=["level", "level+slope"],
        help="interruption terms: a level change, or a level and a slope change "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--control-col",
        help="column of a comparison series (controlled ITS; gaussian only): the model is "
        "fitted to outcome minus control (default: none)",
    )
    p.add_argument(
        "--extra-interruption",
        action="append",
        type=float,
        default=[],
        help="another interruption, e.g. a data break, in --time units, with its own level "
        "(and slope) terms; repeat for several (default: none)",
    )
    p.add_argument(
        "--ramp",
        type=int,
        default=0,
        help="phase-in periods for the level change, which rises linearly over them "
        "(default: %(default)s, an immediate step)",
    )
    p.add_argument(
        "--washout",
        type=int,
        default=0,
        help="post-interruption periods left out of the fit (default: %(default)s)",
    )
    add_alpha_option(p)
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the bootstrap bias correction of ar1-reml, an integer (default: %(default)s)",
    )
    add_json_option(p)
    p.set_defaults(run=run)


def its_payload(res) -> dict:
    """The JSON object printed by ``python -m evaluation its --json``."""
    from evaluation.models.results import json_safe

    terms = res.terms
    out = {"outcome": res.outcome, "method": res.method, "family": res.extra["family"]}
    for name in ["level_change", "slope_change"]:
        if name in terms.index:
            row = terms.loc[name]
            item = {k: float(row[k]) for k in CI_KEYS}
            item["df"] = float(row["df"])
            if "ratio" in terms.columns:
                item.update(
                    ratio=float(row["ratio"]),
                    ratio_ci_low=float(row["ratio_ci_low"]),
                    ratio_ci_high=float(row["ratio_ci_high"]),
                )
            out[name] = item
    pre = terms.loc["pre_trend"]
    out["pre_trend"] = {k: float(pre[k]) for k in CI_KEYS}
    if "post_trend" in terms.index:
        post = terms.loc["post_trend"]
        out["post_trend"] = {k: float(post[k]) for k in ["estimate", "se", "ci_low", "ci_high"]}
    if "dispersion" in res.diagnostics:
        out["dispersion"] = res.diagnostics["dispersion"]
    out["cumulative_effect"] = res.diagnostics.get("cumulative_effect")
    out["conventions"] = res.conventions
    out["diagnostics"] = {
        k: v for k, v in res.diagnostics.items() if k not in {"dispersion", "cumulative_effect"}
    }
    return json_safe(out)


class ItsUsageError(Exception):
    """Options that do not fit the data (exit ``EXIT_USAGE``)."""


def modelled_series(args: argparse.Namespace, data):
    """``(data, outcome column)`` to fit: the outcome itself or, with ``--control-col``, the
    outcome minus the control."""
    needed = [args.time, args.outcome] + [
        c for c in [args.offset, args.trials, args.season_col, args.control_col] if c
    ]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise ItsUsageError(
            f"{args.data}: column(s) {missing} not found (columns: {', '.join(data.columns)})"
        )
    if not args.control_col:
        return data, args.outcome
    if args.family != "gaussian":
        raise ItsUsageError(
            "--control-col works on the difference series and needs --family gaussian"
        )
    return data.assign(_difference=data[args.outcome] - data[args.control_col]), "_difference"


def interruption_time(text: str) -> float:
    """``--interruption`` as a number on the time axis."""
    import pandas as pd

    interruption = pd.to_numeric(pd.Series([text]), errors="coerce").iloc[0]
    if pd.isna(interruption):
        raise ItsUsageError(f"--interruption must be a time value, not {text!r}")
    return float(interruption)


def fit_its(args: argparse.Namespace, data, outcome: str, interruption: float):
    """The ITS fit the options ask for (ValueError on a model the data cannot support)."""
    from evaluation.models.its import its

    return its(
        data,
        time=args.time,
        outcome=outcome,
        interruption=interruption,
        family=args.family,
        method=args.method,
        offset=args.offset,
        trials=args.trials,
        effects=args.effects,
        harmonics=args.harmonics,
        season_col=args.season_col,
        season_period=args.season_period,
        hac_lags=args.hac_lags,
        ramp=args.ramp,
        washout=args.washout,
        alpha=args.alpha,
        label=args.outcome,
        seed=args.seed,
        extra_interruptions=tuple(args.extra_interruption),
    )


def run(args: argparse.Namespace) -> int:
    data = read_data_csv(args.data)
    if data is None:
        return EXIT_DATA
    from evaluation.designs.checks import caught_warnings

    try:
        data, outcome = modelled_series(args, data)
        interruption = interruption_time(args.interruption)
        try:
            # a degenerate series is refused before the fit; the fit's numerical warnings go
            # into the diagnostics, never to the terminal
            check_series(args, data, outcome, interruption)
            with caught_warnings() as seen:
                res = fit_its(args, data, outcome, interruption)
        except (ValueError, ArithmeticError) as exc:
            raise ItsUsageError(f"{args.data}: {exc}") from exc
    except ItsUsageError as exc:
        return error(str(exc), EXIT_USAGE)
    if seen:
        res.diagnostics["numerical_warnings"] = seen
    payload = its_payload(res)
    if args.control_col:
        payload["controlled"] = {
            "control_col": args.control_col,
            "note": "effects are differences: outcome minus control",
        }
    if args.json:
        print_json(payload)
    else:
        print(res.summary())
        if seen:
            print("Numerical warnings:\n" + "\n".join(f"  - {w}" for w in seen))
    return 0


def check_series(args: argparse.Namespace, data, outcome: str, interruption: float) -> None:
    """Refuse a series the model the options ask for cannot be fitted to (DesignError)."""
    from evaluation.designs.checks import check_its_series

    if outcome != args.outcome:  # the difference series, named as the user would say it
        named = f"{args.outcome} - {args.control_col}"
        data, outcome = data.rename(columns={outcome: named}), named
    check_its_series(
        data,
        time=args.time,
        outcome=outcome,
        interruption=interruption,
        family=args.family,
        method=args.method,
        offset=args.offset,
        trials=args.trials,
        washout=args.washout,
        effects=args.effects,
        ramp=args.ramp,
        extra_interruptions=tuple(args.extra_interruption),
        harmonics=args.harmonics,
        season_col=args.season_col,
        season_period=args.season_period,
    )
