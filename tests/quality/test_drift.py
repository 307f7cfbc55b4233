"""Schema drift: a new field, a new eventVersion, a new VPC Flow header order, a column gone all-null and a
high parse-failure rate each raise a `mamori_schema_drift` alert that names what changed."""

from __future__ import annotations

from datetime import timedelta

from quality_helpers import V2, alerts_of, ct_record, hour, land_ct, land_vpc, ledger, run_window, vpc_line

from mamori.health import drift
from mamori.health.settings import DriftSettings, HealthSettings, Known

HS = HealthSettings(
    drift=DriftSettings(
        min_history_windows=3,
        parse_failure_min_records=10,
        all_null_min_rows=10,
        known=Known(event_versions=["1.08", "1.09"], vpc_headers=[V2]),
    )
)
# The generator's v5 example: same fields as v2 plus more, in another order.
V5 = (
    "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id interface-id "
    "action log-status"
)


def changes_of(settings):
    return {
        (a.dedup_values["change"], a.dedup_values["name"]): a
        for a in alerts_of(settings, "mamori_schema_drift")
    }


def ct_window(settings, h, n=20, **extra):
    land_ct(
        settings,
        [ct_record(hour(h) + timedelta(seconds=i), **extra) for i in range(n)],
        hour(h) + timedelta(minutes=9),
        tag=f"w{h}",
    )
    return run_window(settings, "cloudtrail", hour(h))


def test_new_cloudtrail_field_and_event_version(settings, only_sources, no_gx, monkeypatch):
    only_sources("cloudtrail")
    monkeypatch.setattr(drift, "load_health_settings", lambda _dir: HS)
    for h in range(3):
        ct_window(settings, h)
        drift.run(hour(h), hour(h + 1), settings)
    assert changes_of(settings) == {}

    s = ct_window(settings, 3, eventVersion="1.12", sessionTags={"team": "red"})
    assert s["rows_out"] == 20  # the rows still convert; the field is what the table cannot hold
    r = drift.run(hour(3), hour(4), settings)
    assert sorted(r["changes"]["cloudtrail"]) == ["new_event_version:1.12", "new_field:sessionTags"]
    found = changes_of(settings)
    field = found[("new_field", "sessionTags")]
    assert field.severity == "medium" and field.dedup_values["source"] == "cloudtrail"
    assert "20 of 20 sampled records carry 'sessionTags'" in field.samples[0]["detail"]
    assert found[("new_event_version", "1.12")].hit_count == 20

    # Next window: both are now part of the baseline, so nothing new is reported.
    ct_window(settings, 4, eventVersion="1.12", sessionTags={"team": "red"})
    assert drift.run(hour(4), hour(5), settings)["changes"]["cloudtrail"] == []


def test_new_vpc_flow_header_order(settings, only_sources, no_gx, monkeypatch):
    only_sources("vpcflow")
    monkeypatch.setattr(drift, "load_health_settings", lambda _dir: HS)
    for h in range(3):
        land_vpc(settings, [vpc_line(hour(h))], hour(h) + timedelta(minutes=10), tag=f"w{h}")
        run_window(settings, "vpcflow", hour(h))
        drift.run(hour(h), hour(h + 1), settings)
    assert changes_of(settings) == {}

    t = int(hour(3).timestamp())
    v5_line = (
        f"2 10.0.1.15 203.0.113.9 443 49152 6 {t} {t + 60} IPv4 10 840 123456789012 eni-0a1b2c3d ACCEPT OK"
    )
    land_vpc(settings, [v5_line], hour(3) + timedelta(minutes=10), header=V5, tag="v5")
    s = run_window(settings, "vpcflow", hour(3))
    assert s["rows_out"] == 1 and s["quarantined"] == 0  # the header drives the parse: the row is right
    drift.run(hour(3), hour(4), settings)
    (alert,) = changes_of(settings).values()
    assert alert.dedup_values["change"] == "new_vpc_header" and alert.dedup_values["name"] == V5
    assert alert.samples[0]["known_headers"] == [V2]


def test_column_gone_all_null_and_parse_failure_rate(settings, only_sources, no_gx, monkeypatch):
    only_sources("cloudtrail")
    monkeypatch.setattr(drift, "load_health_settings", lambda _dir: HS)
    for h in range(3):
        ct_window(settings, h)
    # userAgent vanishes from every record; and a quarter of the records are not records at all.
    recs = [ct_record(hour(3) + timedelta(seconds=i)) for i in range(15)]
    for r in recs:
        del r["userAgent"]
    land_ct(settings, [*recs, "junk", "junk", 7, None, "junk"], hour(3) + timedelta(minutes=9), tag="w3")
    s = run_window(settings, "cloudtrail", hour(3))
    assert s["quarantined"] == 5
    r = drift.run(hour(3), hour(4), settings)
    assert sorted(r["changes"]["cloudtrail"]) == [
        "column_all_null:useragent",
        "parse_failure_rate:quarantined/records_in",
    ]
    found = changes_of(settings)
    assert (
        "was filled in 100% of the baseline" in found[("column_all_null", "useragent")].samples[0]["detail"]
    )
    rate = found[("parse_failure_rate", "quarantined/records_in")].samples[0]["detail"]
    assert "5 of 20 records quarantined (25.0% > 1.0%)" in rate and "record is str" in rate

    before = ledger(settings).dump()
    drift.run(hour(3), hour(4), settings)  # re-run: same contribution, no second alert
    assert ledger(settings).dump() == before


def test_a_big_delivery_is_sampled_from_its_first_piece_not_loaded_whole(monkeypatch):
    """Loading a 256 MB delivery whole to look at its field names cost 6.8 GiB (bench memory section);
    past the parser's streaming threshold the observer reads only the first piece the parser would."""
    import gzip
    import json

    from quality_helpers import ct_record, hour

    from mamori.quality.observe import BatchObserver
    from mamori.sources import cloudtrail, get_source

    monkeypatch.setattr(cloudtrail, "STREAM_MIN_BYTES", 1024)
    monkeypatch.setattr(cloudtrail, "_PIECE", 4096)
    w = hour(3)
    records = [ct_record(w, f"Call{i}") | ({"brandNewField": i} if i < 5 else {}) for i in range(2000)]
    data = gzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode())
    assert len(data) > 1024
    src = get_source("cloudtrail")
    key = (
        "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/"
        "123456789012_CloudTrail_us-east-1_20261101T0310Z_a.json.gz"
    )
    obs = BatchObserver("cloudtrail", src.schema, 1)
    obs.feed(0, src.classify(key), data)
    out = obs.finish()
    assert out["fields"] == {"brandNewField": 5}
    assert 5 <= out["sampled_records"] < 2000  # the first piece only

    garbage = gzip.compress(b"".join(b"not a CloudTrail delivery %d " % i for i in range(2000)))
    assert len(garbage) > 1024
    other = BatchObserver("cloudtrail", src.schema, 1)
    other.feed(
        0, src.classify(key), garbage
    )  # not streamable: nothing sampled, no error (parser quarantines)
    assert other.finish()["sampled_records"] == 0
