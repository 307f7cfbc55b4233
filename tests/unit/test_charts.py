"""The view's SVG charts: well-formed markup (the page has no scripts; a broken tag would swallow the page),
bars proportional to the counts, every label escaped, and an empty period said in words."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mamori.charts import Series, stacked_bars

NS = "{http://www.w3.org/2000/svg}"


def _rects(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    return [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]


def test_bars_stack_and_scale_to_the_largest_bucket():
    svg = stacked_bars("t", ["h0", "h1", "h2"], [Series("a", [1, 0, 4]), Series("b", [1, 0, 0])], height=100)
    bars = _rects(svg)
    titles = [b.find(f"{NS}title").text for b in bars]
    assert titles == ["h0 · a: 1", "h0 · b: 1", "h2 · a: 4"]  # zero counts draw nothing
    heights = [float(b.get("height")) for b in bars]
    assert heights == [25.0, 25.0, 100.0]  # 4 is the top of the axis
    # stacked: b sits on top of a in the same column
    a0, b0 = bars[0], bars[1]
    assert a0.get("x") == b0.get("x") and float(b0.get("y")) + 25.0 == pytest.approx(float(a0.get("y")))


def test_labels_are_escaped():
    hostile = "<script>alert(1)</script>&'\""
    svg = stacked_bars(hostile, [hostile, "x"], [Series(hostile, [1, 2])])
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert root.get("aria-label") == hostile  # the parser unescapes it: the text survived, inert


def test_an_empty_period_says_so():
    for buckets, series in (([], []), (["h0"], [Series("a", [0])])):
        svg = stacked_bars("t", buckets, series)
        assert "no data in this period" in svg and not _rects(svg)


def test_series_must_match_the_buckets():
    with pytest.raises(ValueError, match="series 'a' has 1 values for 2 buckets"):
        stacked_bars("t", ["h0", "h1"], [Series("a", [1])])
