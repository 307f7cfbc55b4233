"""Every quarantine raises an alert (docs/data-quality.md §1, "Every quarantine alerts"): rows a data-quality
check quarantines add hits to the `mamori_dq_<source>` alert of that check, and records (or whole objects) the
parser quarantines add hits to the alert of their reason class, `quarantine:<class>`: one per window and class,
counted, with references to the quarantine file and line instead of the attacker's text.
"""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest
from quality_helpers import alerts_of, ct_record, hour, land, land_ct, ledger, run_window
from quarantine_cases import CASES, LANDED, LONG, WINDOW

from mamori.health import drift


def test_parser_and_check_quarantines_both_alert(settings, only_sources):
    only_sources("cloudtrail")
    w = hour(4)
    no_name = ct_record(w + timedelta(minutes=2), "Nameless")
    del no_name["eventName"]  # the parser refuses a record without its identity
    future = ct_record(
        w + 2 * timedelta(hours=1), "RunInstances"
    )  # past the window + skew: a check refuses it
    good = [ct_record(w + timedelta(minutes=i)) for i in range(3)]
    land_ct(settings, [*good, "junk", no_name, future], w + timedelta(minutes=5))

    summary = run_window(settings, "cloudtrail", w)
    assert summary["records_in"] == 6 and summary["rows_out"] == 3 and summary["quarantined"] == 3
    assert summary["dq"]["quarantined_rows"] == 1  # one of the three came from a check; two from the parser

    lake = Path(settings.lake_url.removeprefix("file://"))
    (qfile,) = (lake / "quarantine" / "cloudtrail").rglob("*.jsonl.gz")
    reasons = sorted(
        json.loads(x)["reason"].split(":")[0] for x in gzip.decompress(qfile.read_bytes()).splitlines()
    )
    assert len(reasons) == 3 and reasons.count("dq") == 1  # all three kept, each with its reason

    # One alert for the check, one per class of the parser's two.
    dq = {a.dedup_values["check"]: a for a in alerts_of(settings, "mamori_dq_cloudtrail")}
    assert set(dq) == {
        "event_time:not_after_window_plus_skew",
        "quarantine:record_not_an_object",
        "quarantine:missing_identity",
    }
    assert all(a.hit_count == 1 and a.dedup_values["source"] == "cloudtrail" for a in dq.values())

    # The drift check's parse-failure rate is a separate, rate-based alarm: 2 of 6 records is below its
    # 100-record floor, so no drift alert on top of the quarantine alerts.
    drift.run(w, w + timedelta(hours=1), settings)
    assert [
        a for a in alerts_of(settings, "mamori_schema_drift") if "parse_failure" in a.dedup_values["change"]
    ] == []


def _lake(settings) -> Path:
    return Path(settings.lake_url.removeprefix("file://"))


def _quarantine_alerts(settings, source: str) -> dict[str, object]:
    return {
        a.dedup_values["check"].removeprefix("quarantine:"): a
        for a in alerts_of(settings, f"mamori_dq_{source}")
        if a.dedup_values["check"].startswith("quarantine:")
    }


@pytest.mark.parametrize("source", sorted(CASES))
def test_every_parser_quarantine_class_raises_its_alert(source, settings, only_sources, no_gx):
    """One object per reason class of the source, all in one window: one alert per class, with the count and
    references (quarantine file and line) that lead to the quarantined record, and none of its text unbounded."""
    only_sources(source)
    for _, key, body in CASES[source]:
        land(settings, key, body, LANDED)
    summary = run_window(settings, source, WINDOW)
    assert summary["objects"] == len(CASES[source]) and not summary["unclaimed"]
    assert summary["records_in"] == summary["rows_out"] + summary["quarantined"]

    expected: dict[str, int] = {}
    for cls, _, _ in CASES[source]:
        expected[cls] = expected.get(cls, 0) + 1
    found = _quarantine_alerts(settings, source)
    assert {c: a.hit_count for c, a in found.items()} == expected
    assert summary["quarantined"] == sum(expected.values())

    for cls, alert in found.items():
        assert alert.status == "open" and alert.dedup_values == {
            "source": source,
            "check": f"quarantine:{cls}",
        }
        text = json.dumps(alert.samples)
        assert LONG[:200] not in text and len(text) < 8000, "attacker text must stay bounded in the alert"
        for sample in alert.samples:
            assert sample["check"] == f"quarantine:{cls}" and sample["quarantined"] >= 1
            entries = gzip.decompress((_lake(settings) / sample["quarantine_file"]).read_bytes()).splitlines()
            for ex in sample["examples"]:
                entry = json.loads(entries[ex["line"] - 1])  # the reference leads to the quarantined unit
                assert (entry["object"], entry["index"]) == (ex["object"], ex["index"])
                assert entry["reason"].startswith(ex["reason"].removesuffix("…"))


def test_rerunning_a_window_keeps_one_alert_per_class_with_the_same_hits(settings, only_sources, no_gx):
    only_sources("cloudtrail")
    cases = dict((cls, (key, body)) for cls, key, body in CASES["cloudtrail"])
    for cls in ("record_not_json", "missing_identity"):
        key, body = cases[cls]
        land(settings, key, body, LANDED)
        land(settings, key.replace("_0000", "_1111"), body, LANDED)  # a second object of the same class
    run_window(settings, "cloudtrail", WINDOW)
    found = _quarantine_alerts(settings, "cloudtrail")
    assert {c: a.hit_count for c, a in found.items()} == {"record_not_json": 2, "missing_identity": 2}

    before = ledger(settings).dump()
    run_window(settings, "cloudtrail", WINDOW)
    assert ledger(settings).dump() == before


REFUSED_BY_THE_JSON_PARSER = {
    "deeper-than-1024": b'"requestParameters":' + b"[" * 1100 + b"]" * 1100,
    "raw-nul": b'"userAgent":"aws-cli\x00/2"',
    "invalid-utf8": b'"userAgent":"aws-cli\xff\xfe/2"',
}


@pytest.mark.parametrize(
    "field", list(REFUSED_BY_THE_JSON_PARSER.values()), ids=list(REFUSED_BY_THE_JSON_PARSER)
)
def test_one_record_the_json_parser_refuses_costs_only_itself(field, settings, only_sources, no_gx):
    """Three records, the middle one unreadable to the JSON parser: two rows in the lake, one quarantined record
    with its reason and alert, records_in 3 (not one unreadable object hiding the two good records)."""
    only_sources("cloudtrail")
    w = hour(4)
    first, last = ct_record(w + timedelta(minutes=1), "First"), ct_record(w + timedelta(minutes=3), "Last")
    bad = json.dumps(ct_record(w + timedelta(minutes=2), "Bad")).encode()[:-1] + b"," + field + b"}"
    body = (
        b'{"Records":[' + json.dumps(first).encode() + b"," + bad + b"," + json.dumps(last).encode() + b"]}"
    )
    key = land_ct(settings, [], w + timedelta(minutes=5))
    land(settings, key, gzip.compress(body, mtime=0), w + timedelta(minutes=5))

    summary = run_window(settings, "cloudtrail", w)
    assert (summary["records_in"], summary["rows_out"], summary["quarantined"]) == (3, 2, 1)
    (qfile,) = (_lake(settings) / "quarantine" / "cloudtrail").rglob("*.jsonl.gz")
    (entry,) = [json.loads(x) for x in gzip.decompress(qfile.read_bytes()).splitlines()]
    assert (entry["object"], entry["index"]) == (key, 1)
    assert entry["reason"].startswith("record is not valid JSON") and '"Bad"' in entry["raw"]
    (alert,) = _quarantine_alerts(settings, "cloudtrail").values()
    assert alert.dedup_values["check"] == "quarantine:record_not_json" and alert.hit_count == 1


def test_the_cases_cover_every_source_and_every_declared_quarantine_class():
    """The alert test above is parametrised over the cases: a source (or a class) without a case would be a
    quarantine nobody checked alerts. Every registered source, every class its spec declares."""
    from mamori.sources import SPECS

    assert sorted(CASES) == sorted(SPECS)
    for name, spec in SPECS.items():
        assert {cls for cls, _, _ in CASES[name]} == {c.id for c in spec.quarantine_classes}, name


def test_each_window_adds_its_own_counted_contribution_to_the_days_alert_of_the_class(
    settings, only_sources, no_gx
):
    """Per window and class one counted contribution with its sample references; the ticket is per class and
    day (dedup period 1 day, as for the checks), so a second window adds hits instead of opening another."""
    only_sources("cloudtrail")
    key, body = dict((cls, (k, b)) for cls, k, b in CASES["cloudtrail"])["record_not_an_object"]
    land(settings, key, body, LANDED)
    later = key.replace("20261101T0405Z", "20261101T0505Z").replace("_0000", "_5555")
    land(settings, later, body, LANDED + timedelta(hours=1))
    run_window(settings, "cloudtrail", WINDOW)
    run_window(settings, "cloudtrail", WINDOW + timedelta(hours=1))

    (alert,) = _quarantine_alerts(settings, "cloudtrail").values()
    assert alert.hit_count == 2
    assert sorted(s["window"] for s in alert.samples) == ["20261101T0400Z", "20261101T0500Z"]
    assert sorted(ex["object"] for s in alert.samples for ex in s["examples"]) == sorted([key, later])

    run_window(settings, "cloudtrail", WINDOW + timedelta(hours=1))  # a re-run replaces only its own window's
    (again,) = _quarantine_alerts(settings, "cloudtrail").values()
    assert (again.key, again.hit_count) == (alert.key, 2)
