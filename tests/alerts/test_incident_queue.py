"""The incident queue's filters (issue 16), without Airflow: a ledger seeded the way detect runs fill it (three
incidents across alb, vpcflow and cloudtrail, one acknowledged, one closed as a false positive), filtered by
each filter alone and combined, with hostile values refused in one line and never echoed raw, and paged.

The queue page of the view (`mamori.status.collect(queue=...)` → `render_html`) is checked here too: the
default queue is the one the view always showed, and a filtered, escaped page keeps its filters in its links.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mamori import status
from mamori.alerts import incidents, triage
from mamori.alerts.ledger import Ledger
from mamori.alerts.queue import QueueFilters, incident_queue, parse_queue
from mamori.config import Settings
from mamori.detections.dedup import group_hits
from mamori.detections.loader import get_detection

ACCT = "111111111111"
WEB_ATTACKER = "198.51.100.23"
OTHER_IP = "203.0.113.77"
HOSTILE = "<img src=x onerror=alert(1)>\u202eevil"
T0 = datetime(2026, 11, 1, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
NOW = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)


def record(ledger: Ledger, s: Settings, det_id: str, t: datetime, hits: int = 1, **cols: Any) -> None:
    """One rule's hits (a minute apart) in the hourly window holding `t`, recorded and grouped as a detect
    run does."""
    start = t.replace(minute=0, second=0, microsecond=0)
    det = get_detection(s.sql_dir, det_id)
    rows = [{"event_time": t + timedelta(minutes=m), "account_id": ACCT, **cols} for m in range(hits)]
    ledger.record_window(det, start, start + HOUR, group_hits(det, rows))
    incidents.record_incidents(start, start + HOUR, s)


@pytest.fixture
def ledger(settings: Settings) -> Ledger:
    return Ledger(settings.ledger_url)


@pytest.fixture
def seeded(ledger: Ledger, settings: Settings) -> dict[str, str]:
    """web: alb SQL injection + vpcflow port scan from one address (critical, open), day 1;
    brute: console brute force on a hostile user name (medium, closed as false positive), day 4;
    other: alb SQL injection from another address (high, acknowledged), day 7 (days apart: beyond
    the 24 h incident horizon)."""
    record(ledger, settings, "alb_sql_injection", T0, source_ip=WEB_ATTACKER)
    record(ledger, settings, "vpcflow_port_scan", T0 + HOUR, source_ip=WEB_ATTACKER, target="10.0.1.15")
    record(ledger, settings, "cloudtrail_console_login_brute_force", T0 + 3 * DAY, hits=6, actor=HOSTILE)
    record(ledger, settings, "alb_sql_injection", T0 + 6 * DAY, source_ip=OTHER_IP)
    found = incidents.list_incidents(ledger)
    assert len(found) == 3, [(i.entities, [a.detection_id for a in i.members]) for i in found]
    rules = {i.incident_id: {a.detection_id for a in i.members} for i in found}
    ids = {
        "web": next(k for k, r in rules.items() if "vpcflow_port_scan" in r),
        "brute": next(k for k, r in rules.items() if "cloudtrail_console_login_brute_force" in r),
        "other": next(k for k, r in rules.items() if r == {"alb_sql_injection"}),
    }
    triage.close(ledger, ids["brute"], "false-positive", "alice", now=NOW)
    triage.acknowledge(ledger, ids["other"], "bob", now=NOW)
    return ids


def ids(ledger: Ledger, **query: str) -> list[str]:
    page = incident_queue(ledger, parse_queue({k: [v] for k, v in query.items()}))
    return [i.incident_id for i in page.rows]


def test_the_unfiltered_queue_is_the_views_order_open_then_acknowledged_then_closed(ledger, seeded) -> None:
    assert ids(ledger) == [seeded["web"], seeded["other"], seeded["brute"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"severity": "critical"}, ["web"]),  # high, raised a level: its alerts span 3 tactics
        ({"severity": "high"}, ["other"]),
        ({"severity": "medium"}, ["brute"]),
        ({"severity": "low"}, []),
        ({"status": "open"}, ["web"]),
        ({"status": "acknowledged"}, ["other"]),
        ({"status": "resolved"}, []),
        ({"status": "closed"}, ["brute"]),
        ({"status": "false-positive"}, ["brute"]),
        ({"status": "true-positive"}, []),
        ({"source": "vpcflow"}, ["web"]),
        ({"source": "alb"}, ["web", "other"]),
        ({"source": "cloudtrail"}, ["brute"]),
        ({"rule": "cloudtrail_console_login_brute_force"}, ["brute"]),
        ({"rule": "vpcflow_port_scan"}, ["web"]),
        ({"entity": "198.51.100"}, ["web"]),  # substring
        ({"entity": "198.51.100", "match": "exact"}, []),
        ({"entity": WEB_ATTACKER, "match": "exact"}, ["web"]),
        ({"entity": "ONERROR"}, ["brute"]),  # substring is case-insensitive
        ({"entity": HOSTILE, "match": "exact"}, []),  # not printable: refused below, so not here
        ({"from": "2026-11-03", "to": "2026-11-05"}, ["brute"]),
        ({"from": "2026-11-03"}, ["other", "brute"]),
        ({"to": "2026-11-01T02:00:00Z"}, ["web"]),
        ({"severity": "high", "source": "alb", "status": "acknowledged"}, ["other"]),
        ({"severity": "high", "entity": "203.0.113", "from": "2026-11-01"}, ["other"]),
        ({"severity": "critical", "source": "cloudtrail"}, []),
        ({"rule": "alb_sql_injection", "to": "2026-11-05"}, ["web"]),
    ],
)
def test_each_filter_alone_and_combined(ledger, seeded, query, expected) -> None:
    if "\u202e" in query.get("entity", ""):
        with pytest.raises(ValueError, match="entity must not contain"):
            parse_queue({k: [v] for k, v in query.items()})
        return
    assert ids(ledger, **query) == [seeded[n] for n in expected]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"severity": "high' OR '1'='1"}, "severity must be one of"),
        ({"status": "open; DROP TABLE incidents"}, "status must be one of"),
        ({"rule": "x' UNION SELECT 1--"}, "rule must be a rule name"),
        ({"source": "../../etc/passwd"}, "source must be a source name"),
        ({"entity": "a" * 300}, "entity must be at most"),
        ({"entity": "admin\x00\n"}, "entity must not contain"),
        ({"match": "regex"}, "match must be one of"),
        ({"from": "<script>"}, "from must be an ISO date"),
        ({"from": "2026-11-03", "to": "2026-11-02"}, "to must be after from"),
        ({"page": "-1"}, "page must be a number"),
        ({"page": "١"}, "page must be a number"),  # a non-ASCII digit
        ({"page": "100000"}, "page must be a number"),
    ],
)
def test_hostile_values_are_refused_in_one_line_naming_the_parameter_not_the_value(query, message) -> None:
    with pytest.raises(ValueError, match=message) as exc:
        parse_queue({k: [v] for k, v in query.items()})
    text = str(exc.value)
    assert "\n" not in text and all(v not in text for v in query.values())


def test_sql_looking_values_are_data_and_the_ledger_is_untouched(ledger, seeded) -> None:
    """A rule id shaped like a name but never seen matches nothing; an entity that is SQL is a substring."""
    assert ids(ledger, rule="incidents") == []
    assert ids(ledger, entity="' OR 1=1 --") == []
    assert len(incidents.list_incidents(ledger)) == 3


def test_pages_are_bounded_and_walk_the_whole_queue(ledger, seeded) -> None:
    seen = []
    for n in range(3):
        page = incident_queue(ledger, QueueFilters(page=n), page_rows=1)
        assert page.matched == 3 and len(page.rows) == 1 and page.more == (n < 2)
        seen += [i.incident_id for i in page.rows]
    assert seen == [seeded["web"], seeded["other"], seeded["brute"]]
    assert incident_queue(ledger, QueueFilters(page=3), page_rows=1).rows == []


def test_the_scan_bound_says_when_older_incidents_were_not_looked_at(ledger, seeded) -> None:
    page = incident_queue(ledger, QueueFilters(), scan=2)
    assert page.truncated and page.matched == 2
    assert not incident_queue(ledger, QueueFilters(), scan=3).truncated


def test_the_view_page_filters_escapes_and_keeps_its_filters_in_the_paging_links(
    ledger, seeded, settings
) -> None:
    default = status.collect(NOW, settings)
    assert [r["id"] for r in default["incidents"]] == [seeded["web"], seeded["other"], seeded["brute"]]
    html = status.render_html(default)
    assert "<form class='search queue' method='get' action='./'>" in html and "queue-error" not in html

    filtered = status.collect(NOW, settings, queue={"entity": ["onerror"], "status": ["false-positive"]})
    assert [r["id"] for r in filtered["incidents"]] == [seeded["brute"]]
    html = status.render_html(filtered)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<option value='false-positive' selected>" in html and "value='onerror'" in html
    assert "1 matching" in html

    hostile = status.collect(NOW, settings, queue={"severity": ["<b>x</b>"], "entity": [HOSTILE]})
    assert hostile["incidents"] == [] and hostile["queue"]["error"].startswith("severity must be one of")
    html = status.render_html(hostile)
    assert "<p class='failed' id='queue-error'>severity must be one of" in html
    assert "<b>x</b>" not in html and "<img" not in html and "\u202e" not in html


def test_paging_links_carry_the_filters_percent_encoded(ledger, seeded, settings, monkeypatch) -> None:
    from mamori.alerts import queue

    monkeypatch.setattr(queue, "QUEUE_PAGE_ROWS", 1)
    given = {"source": ["alb"], "entity": ["1"], "from": ["2026-11-01"]}
    st = status.collect(NOW, settings, queue=given)
    assert [r["id"] for r in st["incidents"]] == [seeded["web"]] and st["queue"]["prev_href"] is None
    assert st["queue"]["next_href"] == (
        "?source=alb&entity=1&match=contains&from=2026-11-01T00%3A00%3A00%2B00%3A00&page=1"
    )
    st = status.collect(NOW, settings, queue={**given, "page": ["1"]})
    assert [r["id"] for r in st["incidents"]] == [seeded["other"]] and st["queue"]["next_href"] is None
    assert (
        st["queue"]["prev_href"]
        == "?source=alb&entity=1&match=contains&from=2026-11-01T00%3A00%3A00%2B00%3A00"
    )
    html = status.render_html(st)
    assert "rel='prev'" in html and "&amp;entity=1&amp;" in html and "rel='next'" not in html
