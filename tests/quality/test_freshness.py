"""Freshness: a silenced account/region and a volume drop raise health alerts (with the tamper alert in the
silence's context) and resolve when data returns; the cadence judgement itself is tested on plain series."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from quality_helpers import ACCT, HOUR, T0, alerts_of, ct_record, hour, land_ct, ledger, run_window

from mamori.health import freshness
from mamori.health.freshness import assess_stream
from mamori.health.settings import HealthSettings, StreamRule

REPO = Path(__file__).resolve().parents[2]
HS = HealthSettings(min_history_windows=3, volume_min_median=20)


def series(counts, records=None):
    records = records or [n * 40 for n in counts]
    return [(T0 + i * HOUR, n, r) for i, (n, r) in enumerate(zip(counts, records, strict=True))]


def test_cadence_is_learned_per_stream():
    assert assess_stream("alb", "1/r", series([1, 1, 1, 1, 1]), HS, HOUR).state == "ok"
    silent = assess_stream("alb", "1/r", series([1, 1, 1, 1, 0]), HS, HOUR)
    assert (
        silent.state == "silent" and silent.onset == (T0 + 4 * HOUR).isoformat() and silent.allowed_gap == 0
    )
    # A stream that usually skips up to two windows may skip two; the third empty window is silence.
    gappy = [1, 0, 0, 1, 1, 0, 1, 1, 0, 0]
    assert assess_stream("alb", "1/r", series(gappy), HS, HOUR).state == "ok"
    s = assess_stream("alb", "1/r", series([*gappy, 0]), HS, HOUR)
    assert s.state == "silent" and s.empty_run == 3 and s.allowed_gap == 2
    assert s.onset == (T0 + 8 * HOUR).isoformat()  # the first window of the silence: a stable alert anchor
    # Too little history, or a source that delivers only now and then (event-driven): not judged.
    assert assess_stream("alb", "1/r", series([0, 0, 1, 1, 0]), HS, HOUR).state == "learning"
    assert (
        assess_stream("alb", "1/r", series([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0]), HS, HOUR).state
        == "irregular"
    )
    # Declared cadence wins over the learned one.
    declared = HS.model_copy(update={"streams": [StreamRule(source="alb", max_silence_windows=3)]})
    assert assess_stream("alb", "1/r", series([1, 1, 1, 1, 0, 0]), declared, HOUR).state == "ok"
    ignored = HS.model_copy(update={"streams": [StreamRule(source="alb", region="r", expect="none")]})
    assert assess_stream("alb", "1/r", series([1, 1, 1, 1, 0, 0]), ignored, HOUR).state == "ignored"


def test_volume_drop_is_judged_against_the_median():
    low = assess_stream("alb", "1/r", series([1] * 6, [100, 120, 90, 110, 100, 15]), HS, HOUR)
    assert low.state == "low" and low.median_records == 100 and low.onset == (T0 + 5 * HOUR).isoformat()
    # A night-time dip (40% of the median) is not a drop; neither is a stream too small to judge.
    assert assess_stream("alb", "1/r", series([1] * 6, [100, 120, 90, 110, 100, 40]), HS, HOUR).state == "ok"
    assert assess_stream("alb", "1/r", series([1] * 6, [10, 12, 9, 11, 10, 1]), HS, HOUR).state == "ok"


def stop_logging_records(account: str, t):
    case = REPO / "tests/detections/cloudtrail_trail_stopped_or_changed/positive/stop_logging_cli.json"
    recs = json.loads(case.read_text())["Records"]
    out = []
    for r in recs:
        text = json.dumps(r).replace("123456789012", account)
        out.append(
            json.loads(text) | {"eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "awsRegion": "us-east-1"}
        )
    return out


def deliver(settings, w, streams, n=30):
    for region, count in streams.items():
        recs = [ct_record(w + timedelta(seconds=i), account=ACCT, region=region) for i in range(count or n)]
        land_ct(settings, recs, w + timedelta(minutes=20), region=region, tag=f"{w:%H}{region}")


def test_silent_region_and_volume_drop_alert_then_resolve(settings, only_sources, no_gx, monkeypatch):
    from mamori import detect

    only_sources("cloudtrail")
    monkeypatch.setattr(freshness, "load_health_settings", lambda _dir: HS)
    regions = {"us-east-1": 30, "eu-west-1": 30}
    for h in range(4):
        deliver(settings, hour(h), regions)
        run_window(settings, "cloudtrail", hour(h))
    # Hour 4: someone stops the trail (the detection fires), then eu-west-1 goes quiet from hour 5 on.
    deliver(settings, hour(4), regions)
    land_ct(
        settings,
        stop_logging_records(ACCT, hour(4) + timedelta(minutes=30)),
        hour(4) + timedelta(minutes=40),
        tag="stop",
    )
    run_window(settings, "cloudtrail", hour(4))
    detect.run_chunk(["cloudtrail_trail_stopped_or_changed"], hour(5), hour(6), settings)
    (tamper,) = alerts_of(settings, "cloudtrail_trail_stopped_or_changed")

    deliver(settings, hour(5), {"us-east-1": 30})
    run_window(settings, "cloudtrail", hour(5))
    r = freshness.run(hour(5), hour(6), settings)
    assert r["streams"] == {"ok": 1, "silent": 1}
    (silence,) = alerts_of(settings, "mamori_health_silence")
    assert silence.dedup_values == {"source": "cloudtrail", "account_id": ACCT, "region": "eu-west-1"}
    assert silence.severity == "high" and silence.status == "open" and silence.hit_count == 1
    context = silence.samples[0]
    assert context["onset"] == hour(5).isoformat() and context["allowed_gap"] == 0
    assert [t["alert_key"] for t in context["tamper_alerts"]] == [tamper.key]
    assert context["tamper_alerts"][0]["related_to_this_source"] is True

    # The normal alert path delivers it: dispatch writes the ticket (local output without connections).
    assert detect.dispatch(settings)["failed"] == 0
    tickets = Path(settings.outbox_url.removeprefix("file://")) / "tickets"
    (ticket,) = [p for p in tickets.rglob("*.md") if silence.key in p.read_text()]
    text = ticket.read_text()
    assert (
        "mamori_health_silence" in text and tamper.key in text
    )  # the tamper alert, inside the inert samples

    # Still silent an hour later: the same alert (same key), one more hit; us-east-1 now drops to 3 records.
    deliver(settings, hour(6), {"us-east-1": 3})
    run_window(settings, "cloudtrail", hour(6))
    r = freshness.run(hour(6), hour(7), settings)
    assert r["streams"] == {"low": 1, "silent": 1}
    (silence2,) = alerts_of(settings, "mamori_health_silence")
    assert silence2.key == silence.key and silence2.hit_count == 2
    (drop,) = alerts_of(settings, "mamori_health_volume_drop")
    assert drop.dedup_values["region"] == "us-east-1" and drop.samples[0]["median_records"] == 30.0

    # Re-running a health window changes nothing.
    before = ledger(settings).dump()
    freshness.run(hour(6), hour(7), settings)
    assert ledger(settings).dump() == before

    # Data returns in both regions: both alerts resolve, no new ones.
    deliver(settings, hour(7), regions)
    run_window(settings, "cloudtrail", hour(7))
    r = freshness.run(hour(7), hour(8), settings)
    assert r["streams"] == {"ok": 2} and sorted(r["resolved"]) == sorted([silence.key, drop.key])
    statuses = {
        a.detection_id: a.status
        for a in ledger(settings).alerts()
        if a.detection_id.startswith("mamori_health")
    }
    assert statuses == {"mamori_health_silence": "resolved", "mamori_health_volume_drop": "resolved"}


def test_an_unfinalized_window_is_unknown_not_silent(settings, only_sources, no_gx, monkeypatch):
    only_sources("cloudtrail")
    monkeypatch.setattr(freshness, "load_health_settings", lambda _dir: HS)
    for h in range(4):
        deliver(settings, hour(h), {"us-east-1": 30})
        run_window(settings, "cloudtrail", hour(h))
    r = freshness.run(hour(4), hour(5), settings)  # hour 4 was never ingested: the pipeline is late
    assert r["streams"] == {"unknown": 1} and r["alerts"] == []


@pytest.mark.parametrize("lookback", [48])
def test_the_repo_settings_load(settings, lookback):
    from mamori.health.settings import load_health_settings

    hs = load_health_settings(settings.sql_dir)
    assert hs.lookback_hours == lookback and hs.rule_for("cloudtrail_insights", "1", "r").expect == "none"
