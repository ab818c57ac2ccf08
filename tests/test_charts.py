"""Report charts are drawn with fixed margins (one drawing pass); nothing may be cut off."""

from __future__ import annotations

import base64
import re

from evaluation.designs.area import evaluate_area
from evaluation.report import charts, sections

from .conftest import PLAN


def svg_width_pt(html: str) -> float:
    data = re.search(r"base64,([^\"]+)\"", html).group(1)
    svg = base64.b64decode(data).decode()
    return float(re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"', svg).group(1))


def test_a_label_beyond_the_margin_falls_back_to_the_tight_box():
    fig, ax = charts.new_figure(3.0)
    ax.plot([2014, 2024], [0, 100])
    assert not charts._cut_off(fig)
    fits = charts.figure_html(fig, "alt")
    assert svg_width_pt(fits) == charts.WIDTH * 72  # fixed size: the page width

    fig, ax = charts.new_figure(3.0)
    ax.plot([2014, 2024], [0, 100])
    ax.text(
        2023.9,
        0.9,
        "a label that runs well past the right edge",
        transform=ax.get_xaxis_transform(),
    )
    assert charts._cut_off(fig)
    widened = charts.figure_html(fig, "alt")
    assert svg_width_pt(widened) > charts.WIDTH * 72  # the tight box takes the whole label


def test_long_titles_wrap_and_the_shipped_charts_fit_their_margins(monkeypatch):
    cut = []
    real = charts._cut_off
    monkeypatch.setattr(charts, "_cut_off", lambda fig: cut.append(real(fig)) or cut[-1])
    ev = evaluate_area("805", PLAN)
    ev.key = ""  # draw every chart, none from the cache (charts.chart_html)
    for i in range(len(ev.outcomes)):
        sections.outcome_section(ev, i)
    sections.its_section(ev)
    assert len(cut) >= 18 and not any(cut)
