"""Case-level ingest: the 20-week clock on hand-made edge cases, censoring at the period end and
the cut-off, period aggregation, validation and quarantine, the CLI, and agreement with an
independent per-record implementation."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.contracts import validate_file
from evaluation.panel.cases import MEASURES, STOCKS, cases_to_panel

BASE = {
    "la_code": "805",
    "request_outcome": "assess",
    "assessment_outcome": "issued",
    "exception_20wk": "0",
}


def case(i, received, plan=None, **kw):
    """One record; dates as 'YYYY-MM-DD'.  With a plan: decided 30 days after receipt,
    assessment outcome on the plan date."""
    r = dict(BASE, case_id=f"T{i:05d}", request_received_date=received)
    recv = dt.date.fromisoformat(received)
    if plan is not None:
        r.update(
            request_outcome_date=str(recv + dt.timedelta(days=30)),
            assessment_outcome_date=plan,
            plan_issue_date=plan,
        )
    else:
        r.update(
            request_outcome="",
            assessment_outcome="",
            request_outcome_date="",
            assessment_outcome_date="",
            plan_issue_date="",
        )
    r.update(kw)
    return r


def frame(rows):
    return pd.DataFrame(rows)


def day(text, n):
    return str(dt.date.fromisoformat(text) + dt.timedelta(days=n))


def row(panel, year, ident, code="805"):
    sel = panel[
        (panel["time_period"] == year)
        & (panel["time_identifier"] == ident)
        & (panel["old_la_code"] == code)
    ]
    assert len(sel) == 1
    return sel.iloc[0]


def test_exactly_140_days_is_within_and_141_is_not(geo):
    rows = [
        case(1, "2024-01-10", day("2024-01-10", 140)),  # 2024-05-29
        case(2, "2024-01-10", day("2024-01-10", 141)),  # 2024-05-30
        case(3, "2024-01-10", day("2024-01-10", 139)),
    ]
    panel, info = cases_to_panel(frame(rows), "month", cutoff="2024-06-30", geo=geo)
    may = row(panel, 2024, "May")
    assert may["plans_issued_den"] == 3
    assert may["plans_issued_within_20_weeks"] == 2
    assert may["plans_issued_20_weeks_ex"] == 2 and may["plans_issued_den_ex"] == 3
    assert row(panel, 2024, "January")["requests_received"] == 3
    assert info.balanced() and info.rows_in == 3 and info.n_errors == 0


def test_exceptions_are_left_out_of_the_ex_columns_only(geo):
    rows = [
        case(1, "2024-01-10", "2024-04-01", exception_20wk="1"),  # within, exception
        case(2, "2024-01-10", "2024-08-01", exception_20wk="1"),  # late, exception
        case(3, "2024-01-10", "2024-04-02"),  # within
    ]
    panel, _ = cases_to_panel(frame(rows), "year", cutoff="2024-12-31", geo=geo)
    y = row(panel, 2024, "Calendar year")
    assert (y["plans_issued_den"], y["plans_issued_within_20_weeks"]) == (3, 2)
    assert (y["plans_issued_den_ex"], y["plans_issued_20_weeks_ex"]) == (1, 1)


def test_withdrawn_and_refused_requests_never_count_as_plans(geo):
    rows = [
        case(
            1,
            "2024-01-10",
            request_outcome="withdrawn",
            request_outcome_date="2024-01-20",
        ),
        case(
            2,
            "2024-01-31",
            request_outcome="not_assess",
            request_outcome_date="2024-02-20",  # decided in February, counted in January
        ),
        case(
            3,
            "2024-01-15",
            request_outcome="assess",
            request_outcome_date="2024-02-01",
            assessment_outcome="withdrawn",
            assessment_outcome_date="2024-03-01",
        ),
        case(
            4,
            "2024-01-15",
            request_outcome="assess",
            request_outcome_date="2024-02-01",
            assessment_outcome="not_issued",
            assessment_outcome_date="2024-04-01",
        ),
    ]
    panel, info = cases_to_panel(frame(rows), "month", cutoff="2024-04-30", geo=geo)
    assert panel["plans_issued_den"].sum() == 0
    jan, feb = row(panel, 2024, "January"), row(panel, 2024, "February")
    assert jan["requests_received"] == 4 and jan["requests_decided_not_to_assess"] == 1
    assert feb["requests_decided_not_to_assess"] == 0
    # closed cases leave the open stock when they close
    assert jan["open_at_period_end"] == 3  # 2 is decided in February, 3 and 4 later
    assert feb["open_at_period_end"] == 2
    assert row(panel, 2024, "March")["open_at_period_end"] == 1
    assert row(panel, 2024, "April")["open_at_period_end"] == 0
    assert info.open_at_cutoff == 0


def test_a_plan_date_on_a_withdrawn_request_is_not_counted_and_reported(geo):
    rows = [
        case(
            1,
            "2024-01-10",
            "2024-03-01",
            request_outcome="withdrawn",
            request_outcome_date="2024-01-20",
        )
    ]
    panel, info = cases_to_panel(frame(rows), "month", cutoff="2024-03-31", geo=geo)
    assert panel["plans_issued_den"].sum() == 0
    assert [f.rule for f in info.findings] == ["plan_on_refused_or_withdrawn_request"]


def test_open_cases_are_censored_and_shown_as_stocks(geo):
    rows = [
        case(1, "2024-01-10"),  # still pending at the cut-off: neither success nor failure
        case(
            2,
            "2024-01-10",
            request_outcome="assess",
            request_outcome_date="2024-02-01",
            assessment_outcome="issued",
            assessment_outcome_date="2024-05-01",
        ),  # decided to issue but no plan yet
        case(3, "2024-01-10", "2024-04-15"),
    ]
    panel, info = cases_to_panel(frame(rows), "month", cutoff="2024-06-30", geo=geo)
    assert panel["plans_issued_den"].sum() == 1
    assert panel["plans_issued_within_20_weeks"].sum() == 1
    assert row(panel, 2024, "March")["open_at_period_end"] == 3
    assert row(panel, 2024, "April")["open_at_period_end"] == 2
    # 2024-01-10 + 140 days = 2024-05-29: overdue from the end of May, not April
    assert row(panel, 2024, "April")["open_over_20_weeks_at_period_end"] == 0
    assert row(panel, 2024, "May")["open_over_20_weeks_at_period_end"] == 2
    assert (info.open_at_cutoff, info.open_over_20_weeks_at_cutoff) == (2, 2)


def test_events_after_the_cutoff_have_not_happened(geo):
    rows = [case(1, "2024-01-10", "2024-03-05")]
    panel, info = cases_to_panel(frame(rows), "month", cutoff="2024-02-29", geo=geo)
    assert list(panel["time_identifier"]) == ["January", "February"]
    assert panel["plans_issued_den"].sum() == 0
    assert info.open_at_cutoff == 1
    # a cut-off inside a month reports complete months only
    panel, _ = cases_to_panel(frame(rows), "month", cutoff="2024-03-20", geo=geo)
    assert list(panel["time_identifier"]) == ["January", "February"]
    # default cut-off: the end of the month of the latest date (the plan in March)
    panel, info = cases_to_panel(frame(rows), "month", geo=geo)
    assert info.cutoff == dt.date(2024, 3, 31)
    assert row(panel, 2024, "March")["plans_issued_den"] == 1


def test_december_request_counts_its_plan_in_the_next_year(geo):
    rows = [case(1, "2023-12-15", "2024-04-20")]  # 127 days
    panel, _ = cases_to_panel(frame(rows), "year", cutoff="2024-12-31", geo=geo)
    y23, y24 = row(panel, 2023, "Calendar year"), row(panel, 2024, "Calendar year")
    assert (y23["requests_received"], y23["plans_issued_den"]) == (1, 0)
    assert (y24["requests_received"], y24["plans_issued_den"]) == (0, 1)
    assert y24["plans_issued_within_20_weeks"] == 1
    assert y23["open_at_period_end"] == 1 and y24["open_at_period_end"] == 0


def random_cases(n=3000, seed=3):
    """Varied, contract-valid records over three LAs (independent of the generator)."""
    rng = np.random.default_rng(seed)
    rows = []
    start = dt.date(2022, 1, 1)
    for i in range(n):
        recv = start + dt.timedelta(days=int(rng.integers(0, 900)))
        r = case(i, str(recv), la_code=str(rng.choice(["805", "352", "857"])))
        r["exception_20wk"] = str(int(rng.random() < 0.1))
        kind = rng.random()
        dec = recv + dt.timedelta(days=int(rng.integers(5, 60)))
        if kind < 0.05:
            pass  # pending
        elif kind < 0.25:
            r.update(request_outcome="not_assess", request_outcome_date=str(dec))
        elif kind < 0.28:
            r.update(request_outcome="withdrawn", request_outcome_date=str(dec))
        else:
            r.update(request_outcome="assess", request_outcome_date=str(dec))
            a = dec + dt.timedelta(days=int(rng.integers(30, 200)))
            u = rng.random()
            if u < 0.8:
                r.update(assessment_outcome="issued", assessment_outcome_date=str(a))
                if rng.random() < 0.95:
                    r["plan_issue_date"] = str(a + dt.timedelta(days=int(rng.integers(0, 20))))
            elif u < 0.95:
                r.update(assessment_outcome="not_issued", assessment_outcome_date=str(a))
            elif u < 0.97:
                r.update(assessment_outcome="withdrawn", assessment_outcome_date=str(a))
        rows.append(r)
    return frame(rows)


def naive_month_counts(records, cutoff):
    """Per-record loop with datetime.date (an independent implementation)."""
    out = {}

    def d(text):
        return dt.date.fromisoformat(text) if text else None

    def after(x):
        return x is not None and x > cutoff

    for r in records.to_dict("records"):
        recv, dec, a, plan = (
            d(r["request_received_date"]),
            d(r["request_outcome_date"]),
            d(r["assessment_outcome_date"]),
            d(r["plan_issue_date"]),
        )
        dec, a, plan = (None if after(x) else x for x in (dec, a, plan))
        la = r["la_code"]

        def add(date, col, la=la):
            key = (la, date.year, date.month)
            out.setdefault(key, dict.fromkeys(MEASURES, 0))[col] += 1

        add(recv, "requests_received")
        if r["request_outcome"] == "not_assess" and dec:
            add(recv, "requests_decided_not_to_assess")
        if plan and r["request_outcome"] not in ("not_assess", "withdrawn"):
            within = (plan - recv).days <= 140
            add(plan, "plans_issued_den")
            if within:
                add(plan, "plans_issued_within_20_weeks")
            if r["exception_20wk"] == "0":
                add(plan, "plans_issued_den_ex")
                if within:
                    add(plan, "plans_issued_20_weeks_ex")
    return out


def test_counts_agree_with_an_independent_per_record_loop(geo):
    records = random_cases()
    cutoff = dt.date(2024, 3, 31)
    panel, info = cases_to_panel(records, "month", cutoff=cutoff, geo=geo)
    assert info.rows_quarantined == 0
    expected = naive_month_counts(records, cutoff)
    months = {
        m: i + 1
        for i, m in enumerate(pd.date_range("2000-01-01", periods=12, freq="MS").strftime("%B"))
    }
    got = {
        (r.old_la_code, int(r.time_period), months[r.time_identifier]): {
            c: getattr(r, c) for c in MEASURES
        }
        for r in panel.itertuples()
    }
    for key, counts in expected.items():
        if (key[1], key[2]) <= (2024, 3):
            assert got[key] == counts, key
    for key, counts in got.items():
        if key not in expected:
            assert not any(counts.values()), key

    # open at the cut-off, counted record by record: no closing event on or before it
    def closed(r):
        def by(text):
            return bool(text) and dt.date.fromisoformat(text) <= cutoff

        return (
            (r["request_outcome"] in ("not_assess", "withdrawn") and by(r["request_outcome_date"]))
            or (
                r["assessment_outcome"] in ("not_issued", "withdrawn")
                and by(r["assessment_outcome_date"])
            )
            or by(r["plan_issue_date"])
        )

    open_now = [
        r
        for r in records.to_dict("records")
        if dt.date.fromisoformat(r["request_received_date"]) <= cutoff and not closed(r)
    ]
    overdue = [
        r
        for r in open_now
        if (cutoff - dt.date.fromisoformat(r["request_received_date"])).days >= 140
    ]
    assert info.open_at_cutoff == len(open_now) > 0
    assert info.open_over_20_weeks_at_cutoff == len(overdue) > 0
    march = panel[panel["time_identifier"].eq("March") & panel["time_period"].eq(2024)]
    assert march["open_at_period_end"].sum() == len(open_now)
    assert march["open_over_20_weeks_at_period_end"].sum() == len(overdue)


def test_quarter_and_year_flows_are_sums_of_months_and_stocks_the_last_month(geo):
    records = random_cases(1500, seed=5)
    kw = dict(cutoff="2024-06-30", start="2022-01", geo=geo)
    month, _ = cases_to_panel(records, "month", **kw)
    quarter, _ = cases_to_panel(records, "quarter", **kw)
    year, _ = cases_to_panel(records, "year", **kw)  # complete years only: 2022-2023
    names = list(pd.date_range("2000-01-01", periods=12, freq="MS").strftime("%B"))
    month["m"] = month["time_identifier"].map({m: i for i, m in enumerate(names)})
    month["q"] = "Calendar year Q" + (month["m"] // 3 + 1).astype(str)
    flows = month.groupby(["old_la_code", "time_period", "q"])[MEASURES].sum()
    q = quarter.set_index(["old_la_code", "time_period", "time_identifier"])
    pd.testing.assert_frame_equal(
        q[MEASURES].sort_index(), flows.rename_axis(q.index.names).sort_index(), check_dtype=False
    )
    last = month[month["m"] % 3 == 2].set_index(["old_la_code", "time_period", "q"])[STOCKS]
    pd.testing.assert_frame_equal(
        q[STOCKS].sort_index(), last.rename_axis(q.index.names).sort_index(), check_dtype=False
    )
    m23 = month[month["time_period"] <= 2023]
    yflows = m23.groupby(["old_la_code", "time_period"])[MEASURES].sum()
    y = year.set_index(["old_la_code", "time_period"])
    pd.testing.assert_frame_equal(y[MEASURES].sort_index(), yflows.sort_index(), check_dtype=False)
    dec = m23[m23["m"] == 11].set_index(["old_la_code", "time_period"])[STOCKS]
    pd.testing.assert_frame_equal(y[STOCKS].sort_index(), dec.sort_index(), check_dtype=False)


def test_bad_rows_are_quarantined_and_rows_balance(geo, tmp_path):
    rows = [
        case(1, "2024-01-10", "2024-03-01"),
        case(2, "2024-02-10", "2024-01-01"),  # plan before the request: chronology error
        case(3, "2024-01-10", "2024-03-01", la_code="999"),  # not an LA code
    ]
    path = tmp_path / "cases.csv"
    frame(rows).to_csv(path, index=False)
    panel, info = cases_to_panel([path], "month", cutoff="2024-03-31", geo=geo)
    assert (info.rows_in, info.rows_accepted, info.rows_quarantined) == (3, 1, 2)
    assert info.balanced()
    assert panel["plans_issued_den"].sum() == 1
    assert set(panel["old_la_code"]) == {"805"}


def test_duplicate_cases_across_files_are_counted_once(geo, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    frame([case(1, "2024-01-10", "2024-03-01")]).to_csv(a, index=False)
    frame([case(1, "2024-01-10", "2024-03-01"), case(2, "2024-01-11")]).to_csv(b, index=False)
    panel, info = cases_to_panel([a, b], "month", cutoff="2024-03-31", geo=geo)
    assert panel["requests_received"].sum() == 2 and panel["plans_issued_den"].sum() == 1
    assert [f.rule for f in info.findings] == ["duplicate_case_across_files"]


def test_cli_writes_a_panel_that_validates_against_pilot_returns(geo, tmp_path, capsys):
    records = random_cases(800, seed=11)
    src = tmp_path / "cases.csv"
    records.to_csv(src, index=False)
    for freq in ["month", "quarter", "year"]:
        out = tmp_path / f"panel_{freq}.csv"
        code = main(
            [
                "cases",
                str(src),
                "--freq",
                freq,
                "--out",
                str(out),
                "--quarantine-dir",
                str(tmp_path / "q"),
            ]
        )
        assert code == 0
        result = validate_file(out, "pilot_returns", geo)
        assert result.n_errors == 0 and result.n_warnings == 0, result.findings[:3]
        assert result.rows_quarantined == 0
    written = pd.read_csv(tmp_path / "panel_month.csv", dtype={"old_la_code": str})
    assert list(written.columns[:6]) == [
        "time_period",
        "time_identifier",
        "geographic_level",
        "old_la_code",
        "new_la_code",
        "la_name",
    ]
    assert set(written["la_name"]) == {"Hartlepool", "Manchester", "Rutland"}


def test_cli_exit_codes(geo, tmp_path):
    bad = tmp_path / "bad.csv"
    frame([case(1, "2024-01-10", "2024-03-01"), case(2, "2024-02-10", "2024-01-01")]).to_csv(
        bad, index=False
    )
    out = tmp_path / "panel.csv"
    qdir = tmp_path / "q"
    assert main(["cases", str(bad), "--out", str(out), "--quarantine-dir", str(qdir)]) == 1
    assert out.exists() and (qdir / "bad.csv.quarantine.csv").exists()
    assert main(["cases", str(tmp_path / "missing.csv"), "--out", str(out)]) == 2
    assert main(["cases", str(bad), "--out", str(out), "--cutoff", "2024-13-01"]) == 2
    with pytest.raises(SystemExit):
        main(["cases", str(bad), "--out", str(out), "--freq", "week"])
