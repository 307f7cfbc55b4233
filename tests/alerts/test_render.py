"""Tickets render every log-derived value inert (no mention, link, HTML, table break, bidi trick)."""

from __future__ import annotations

import re
from pathlib import Path

from mamori.alerts.ledger import Alert
from mamori.alerts.render import block, cell, ticket_markdown
from mamori.detections.loader import get_detection

REPO = Path(__file__).resolve().parents[2]
HOSTILE = [
    "@org/team",
    "[x](http://evil)",
    "<img src=x>",
    "| table | break |",
    "`code` ``x``",
    "a\u202eb",
    "line\nbreak",
    "x" * 100_000,
]


def alert(value: str) -> Alert:
    return Alert(
        key="k" * 32,
        detection_id="cloudtrail_root_activity",
        title="t",
        severity="high",
        status="open",
        log_source="cloudtrail",
        dedup_values={"account_id": "1", "actor": value},
        bucket_start="2026-11-01T10:00:00+00:00",
        bucket_end="2026-11-01T11:00:00+00:00",
        first_seen="2026-11-01T10:01:00+00:00",
        last_seen="2026-11-01T10:02:00+00:00",
        hit_count=1,
        samples=[{"actor": value, "user_agent": value}],
        routes=["local"],
    )


def outside_spans(line: str) -> str | None:
    """Text outside inline code spans, scanning like CommonMark (a span closes at the next backtick run of
    the same length); None when a span never closes, i.e. content could escape it."""
    out, i = [], 0
    runs = list(re.finditer(r"`+", line))
    j = 0
    while j < len(runs):
        opener = runs[j]
        out.append(line[i : opener.start()])
        closer = next((k for k in range(j + 1, len(runs)) if len(runs[k][0]) == len(opener[0])), None)
        if closer is None:
            return None
        i, j = runs[closer].end(), closer + 1
    out.append(line[i:])
    return "".join(out)


def code_spans_balanced(line: str) -> bool:
    return outside_spans(line) is not None


def test_cell_is_a_single_inert_code_span():
    for v in HOSTILE:
        c = cell(v)
        assert "\n" not in c
        assert "\u202e" not in c
        assert len(c) < 400
        assert "|" not in c.replace("\\|", "")  # every pipe escaped: the table row cannot split
        assert outside_spans(c) == ""  # exactly one span, nothing outside it


def test_block_fence_cannot_be_closed_by_content():
    b = block("```\n@org/team\n````")
    fence = b.split("\n", 1)[0]
    assert len(fence) >= 5 and b.endswith("\n" + fence)


def test_ticket_with_hostile_values_is_inert():
    det = get_detection(REPO / "sql", "cloudtrail_root_activity")
    for v in HOSTILE:
        md = ticket_markdown(alert(v), det)
        assert len(md) < 60_000
        assert "\u202e" not in md
        outside_code = re.sub(r"(`{3,})[^\n]*\n.*?\n\1", "", md, flags=re.S)  # drop fenced blocks
        for line in outside_code.splitlines():
            if line.startswith("|"):
                assert code_spans_balanced(line), line
                stripped = outside_spans(line)
                assert "@org" not in stripped and "<img" not in stripped and "](http" not in stripped
        assert "<!-- mamori:alert_key=" + "k" * 32 + " -->" in md
