"""The mamori view's search page (`mamori.status.search_page` / `render_search_html`, behind /mamori/search)
over the shared generated lake, without Airflow: it returns what `mamori search` returns for the same filters,
a page at a time, refuses what it must not run (unbounded or too long a range, too many values, a bad value)
before reading anything, and renders every value, hostile ones included, as inert text.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import sqlglot
from search_lake import HOSTILE_ARN, HOSTILE_TIME, HOSTILE_UA, HOSTILE_USER

from mamori import status
from mamori.search.events import SEARCH_SCHEMA, Filters, run_search
from mamori.search.timerange import TimeRange

ATTACKER = "198.51.100.23"
FROM, TO = "2026-10-31T21:00:00+00:00", "2026-11-01T03:00:00+00:00"
NOW = datetime(2026, 11, 1, 3, tzinfo=UTC)


def _times(rows):
    return [r["event_time"] for r in rows]


def _cli_rows(settings, filters, rng, limit):
    res = run_search(settings, filters, rng, order="desc", limit=limit)
    table = pa.Table.from_batches(list(res.batches), schema=SEARCH_SCHEMA)
    return [t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" for t in table["event_time"].to_pylist()]


def test_pages_are_the_search_modules_rows_in_order(lake_settings):
    """Page 0 and page 1 of an IP search are rows 1-100 and 101-200 of `mamori search --desc` with the
    same range and filter; the page says there is more, and links the next page with the same filters."""
    rng = TimeRange(datetime.fromisoformat(FROM), datetime.fromisoformat(TO))
    expected = _cli_rows(lake_settings, Filters(ips=(ATTACKER,)), rng, 2 * status.SEARCH_PAGE_ROWS)
    assert len(expected) == 2 * status.SEARCH_PAGE_ROWS, "the lake must hold two pages of the attacker's IP"
    query = {"from": [FROM], "to": [TO], "ip": [ATTACKER], "order": ["desc"]}
    first = status.search_page(query, NOW, lake_settings)
    assert first["error"] is None and first["ran"] and first["more"]
    assert _times(first["rows"]) == expected[: status.SEARCH_PAGE_ROWS]
    assert all(ATTACKER in r["ips"].split(",") for r in first["rows"])
    second = status.search_page({**query, "page": ["1"]}, NOW, lake_settings)
    assert _times(second["rows"]) == expected[status.SEARCH_PAGE_ROWS :]
    page_html = status.render_search_html(first)
    nxt = re.search(r"<a href='([^']+)' rel='next'>", page_html)
    assert nxt and html.unescape(nxt.group(1)).endswith("&page=1") and "ip=198.51.100.23" in nxt.group(1)
    # The copyable forms of the same search: one Athena statement, and the command line.
    (stmt,) = sqlglot.parse(first["sql"], read="athena")
    assert stmt is not None and f"'{ATTACKER}'" in first["sql"]
    assert first["command"].startswith("mamori search --from 2026-10-31T21:00:00+00:00 --to ")
    assert first["command"].endswith(f"--ip {ATTACKER} --desc")


def test_nothing_runs_until_the_form_is_submitted_then_24_hours_by_default(lake_settings):
    page = status.search_page({}, NOW, lake_settings)
    assert not page["ran"] and page["rows"] == [] and page["error"] is None
    body = status.render_search_html(page)
    assert "<form method='get' action='search'" in body and "placeholder='24h'" in body
    # Submitted without a range: the last 24 h, as `mamori search` on DuckDB.
    page = status.search_page({"ip": [ATTACKER]}, NOW, lake_settings)
    assert page["error"] is None and page["range"] == "[2026-10-31 03:00:00, 2026-11-01 03:00:00) UTC"
    assert page["rows"] and page["rows"][0]["event_time"] < "2026-11-01T03"


def test_hostile_values_match_literally_and_render_inert(lake_settings):
    """A principal and a user agent carrying SQL-injection text find exactly their one event; the row, the
    value shown back in the form (quotes, a bidi override), the SQL and the command line are escaped text."""
    start = (HOSTILE_TIME - timedelta(minutes=5)).isoformat()
    end = (HOSTILE_TIME + timedelta(minutes=5)).isoformat()
    page = status.search_page({"from": [start], "to": [end], "principal": [HOSTILE_ARN]}, NOW, lake_settings)
    assert page["error"] is None
    (row,) = page["rows"]
    assert row["event_name"] == "GetUser" and row["principal"] == HOSTILE_ARN
    body = status.render_search_html(page)
    assert HOSTILE_USER not in body and html.escape(HOSTILE_USER, quote=True) in body
    assert f"value='{html.escape(HOSTILE_ARN, quote=True)}'" in body  # the form shows the value back
    page = status.search_page(
        {"from": [start], "to": [end], "contains": [f"useragent={HOSTILE_UA}"]}, NOW, lake_settings
    )
    assert page["error"] is None and [r["principal"] for r in page["rows"]] == [HOSTILE_ARN]
    body = status.render_search_html(page)  # the user agent is echoed in the form, the SQL and the command
    assert "\u202e" not in body and body.count("\\u202eevil") >= 3


def test_render_makes_no_markup_from_a_result():
    page = status.search_page({}, NOW)
    markup = "<img src=x onerror=alert(1)> [click](https://evil.example/) <script>alert(2)</script>"
    page.update(
        ran=True,
        range="[2026-11-01 00:00:00, 2026-11-01 01:00:00) UTC",
        rows=[{"event_time": "2026-11-01T00:00:01.000Z", "source": "cloudtrail", "detail": markup}],
        stats={"files": 1, "partitions": 1, "seconds": 0.1},
    )
    body = status.render_search_html(page)
    assert "<img" not in body and "<script" not in body and "href='https://evil" not in body
    assert html.escape(markup, quote=True) in body


def test_refusals_run_nothing(lake_settings):
    def refused(query, why):
        page = status.search_page(query, NOW, lake_settings)
        assert not page["ran"] and page["rows"] == [] and why in (page["error"] or ""), page["error"]
        return page

    long = refused({"from": ["2026-10-01"], "to": [TO], "ip": [ATTACKER]}, "at most 7 days")
    assert long["sql"] and long["command"]  # still shown, to run elsewhere
    refused({"from": [FROM], "to": [TO], "ip": ["not-an-ip"]}, "not an IPv4/IPv6 address")
    refused({"from": [FROM], "to": [TO], "account": ["12345"]}, "12 digits")
    refused({"from": [FROM], "to": [TO], "contains": ["nofield"]}, "FIELD=TEXT")
    refused({"from": [FROM], "to": [TO], "source": ["nosuch"]}, "unknown source")
    refused({"from": [TO], "to": [FROM]}, "empty range")
    refused({"from": [FROM], "to": [TO], "page": [str(status.SEARCH_MAX_PAGES)]}, "page must be")
    refused({"from": [FROM], "to": [TO], "page": ["-1"]}, "page must be")
    refused(
        {"from": [FROM], "to": [TO], "ip": [f"192.0.2.{n}" for n in range(status.SEARCH_VALUES + 1)]},
        "at most",
    )


def test_an_incident_pivots_to_the_search_of_its_entities():
    """The incident page links each shared principal/IP/account to the search over the incident's time
    (an hour either side); the value is percent-encoded in the link and escaped in the text."""
    hostile = "arn:aws:iam::111111111111:user/x'><script>alert(1)</script>"
    page = {
        "id": "a" * 32,
        "state": "open",
        "status": "open",
        "verdict": None,
        "severity": "high",
        "reason": "max of members",
        "tactics": [],
        "entities": [
            {"kind": "principal", "value": hostile},
            {"kind": "ip", "value": ATTACKER},
            {"kind": "access_key", "value": "AKIAEXAMPLE"},
        ],
        "first_seen": "2026-11-01T01:00:00+00:00",
        "last_seen": "2026-11-01T02:00:00+00:00",
        "members": [],
        "actions": [],
    }
    body = status.render_incident_html(page, None)
    links = re.findall(r"<a class='pivot' href='([^']+)'>", body)
    assert len(links) == 2 and "<script>" not in body  # no filter for access keys
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(html.unescape(links[0]))
    assert parts.path == "../search"
    assert parse_qs(parts.query) == {
        "from": ["2026-11-01T00:00:00+00:00"],
        "to": ["2026-11-01T03:00:00+00:00"],
        "principal": [hostile],
    }


def test_the_page_searches_under_the_configured_byte_budget(lake_settings, monkeypatch):
    """On Athena the page is sized against the same budget as `mamori search` (MAMORI_QUERY_BUDGET_BYTES),
    not the built-in 10 GiB: an operator's lower limit holds in the view too."""
    import mamori.search.events as events

    seen = {}

    def fake_run_search(settings, filters, rng, **kw):
        seen.update(kw)
        return events.Results(SEARCH_SCHEMA, iter(()), events.RunStats())

    monkeypatch.setattr(events, "run_search", fake_run_search)
    monkeypatch.setenv("MAMORI_QUERY_BUDGET_BYTES", "5M")
    page = status.search_page({"from": [FROM], "to": [TO], "ip": [ATTACKER]}, NOW, lake_settings)
    assert page["error"] is None and seen["budget"] == 5 * 1024**2
