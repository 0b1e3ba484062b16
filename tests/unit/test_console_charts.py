"""The console's SVG charts: data labels are escaped, and each value is drawn."""

from __future__ import annotations

from app.console.charts import Interval, Series, Share, interval_chart, line_chart, share_chart

XSS = "<script>alert(1)</script>"


def test_interval_chart_draws_each_mean_and_escapes_labels() -> None:
    svg = interval_chart("Means", [Interval(XSS, 0.5, 0.4, 0.6), Interval("b", 0.7, 0.6, 0.8)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<circle") == 2 and svg.count("<line") >= 2
    assert 'role="img"' in svg and "0.5 (0.4 to 0.6)" in svg


def test_interval_chart_without_data_says_so() -> None:
    assert "No feedback yet" in interval_chart("Means", [Interval("a", None, None, None)])


def test_share_chart_shows_configured_and_observed() -> None:
    svg = share_chart("Shares", [Share("a", 0.5, 0.25), Share("b", 0.5, None)])
    assert "a configured 50%, observed 25%" in svg and "b configured 50%" in svg
    assert svg.count("<rect") == 3  # two configured outlines, one observed bar


def test_line_chart_draws_points_even_for_one_bucket() -> None:
    svg = line_chart(
        "Over time",
        [Series("a", [("2026-11-27T03:00", 0.5)]), Series(XSS, [("2026-11-27T03:00", 0.7)])],
    )
    assert svg.count("<circle") == 2 and "&lt;script&gt;" in svg and "<script>" not in svg
