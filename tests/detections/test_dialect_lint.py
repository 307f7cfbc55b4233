"""Constructs that differ between Athena and DuckDB (or read the clock) are refused at load, with a reason."""

from __future__ import annotations

import pytest
import sqlglot

from mamori.detections.dialect_lint import dialect_problems


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT * FROM cloudtrail WHERE event_time > now() - INTERVAL '1' HOUR", "wall clock"),
        ("SELECT * FROM cloudtrail WHERE dt = CAST(current_date AS VARCHAR)", "wall clock"),
        ("SELECT format_datetime(event_time, 'yyyy') AS d FROM cloudtrail", "date_format"),
        ("SELECT a FROM cloudtrail CROSS JOIN UNNEST(resources) AS r (a, b, c)", "transform"),
        ("SELECT date_add('day', 1, DATE '2026-11-01') AS d FROM cloudtrail", "TIMESTAMP"),
    ],
)
def test_refused_with_a_reason(sql, reason):
    problems = dialect_problems(sqlglot.parse_one(sql, read="athena"))
    assert problems and reason in problems[0]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT date_diff('hour', a, b) AS d, approx_distinct(x) AS n FROM t",  # fixed by the dialect subclass
        "SELECT ip FROM all_events CROSS JOIN UNNEST(related_ips) AS t (ip)",  # one column is fine
        "SELECT date_add('hour', 1, event_time) AS t FROM cloudtrail",
    ],
)
def test_allowed(sql):
    assert dialect_problems(sqlglot.parse_one(sql, read="athena")) == []


def test_the_loader_refuses_a_rule_that_reads_the_clock(tmp_path):
    from pathlib import Path

    from mamori.detections.loader import DetectionError, load_detection

    repo = Path(__file__).resolve().parents[2]
    src = repo / "sql" / "detections" / "cloudtrail" / "cloudtrail_root_activity.sql"
    dst = tmp_path / "detections" / "cloudtrail" / src.name
    dst.parent.mkdir(parents=True)
    dst.write_text(src.read_text().replace("{{ window() }}", "{{ window() }} AND event_time < now()"))
    with pytest.raises(DetectionError, match="wall clock"):
        load_detection(dst)
