"""Late data: an object landing after its detection window ran is ingested by landing time, its event hour is
recorded, and the detection window is re-evaluated: the alert the first run missed opens, exactly once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from quality_helpers import ACCT, alerts_of, ct_record, hour, land_ct, ledger, run_window

from mamori import detect
from mamori.health import late

REPO = Path(__file__).resolve().parents[2]
RULE = "cloudtrail_trail_stopped_or_changed"


def stop_logging(t):
    case = REPO / "tests/detections/cloudtrail_trail_stopped_or_changed/positive/stop_logging_cli.json"
    (rec,) = json.loads(case.read_text())["Records"]
    return json.loads(json.dumps(rec).replace("123456789012", ACCT)) | {
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ")
    }


def test_late_object_re_evaluates_its_detection_window_without_duplicates(
    settings, only_sources, no_gx, monkeypatch
):
    from mamori.detections import loader

    only_sources("cloudtrail")
    real = (
        loader.load_catalog
    )  # one rule instead of the whole catalog: the re-run path is the same, 10x faster
    monkeypatch.setattr(loader, "load_catalog", lambda d, **k: [x for x in real(d, **k) if x.id == RULE])
    land_ct(
        settings, [ct_record(hour(10) + timedelta(minutes=1))], hour(10) + timedelta(minutes=5), tag="ontime"
    )
    assert run_window(settings, "cloudtrail", hour(10))["late_hours"] == []
    detect.run_chunk([RULE], hour(11), hour(12), settings)  # the detect run for events of [10:00, 11:00)
    assert alerts_of(settings, RULE) == []

    # StopLogging at 10:30 is delivered at 12:10, after that detection window ran.
    land_ct(
        settings,
        [stop_logging(hour(10) + timedelta(minutes=30))],
        hour(12) + timedelta(minutes=10),
        tag="late",
    )
    run_window(settings, "cloudtrail", hour(11))
    summary = run_window(settings, "cloudtrail", hour(12))
    assert summary["late_hours"] == [hour(10).isoformat()]  # the event went to its own hour's partition

    (w,) = late.windows_to_rerun(hour(12), hour(13), settings)
    assert w["detection_window"] == [hour(10).isoformat(), hour(11).isoformat()]
    assert w["data_interval_start"] == hour(11).isoformat() and w["sources"] == ["cloudtrail"]
    assert late.windows_to_rerun(hour(11), hour(12), settings) == []  # on-time data: nothing to re-run

    out = late.reevaluate(hour(12), hour(13), settings)
    (alert,) = alerts_of(settings, RULE)
    assert out["alerts"] == [alert.key] and alert.bucket_start == hour(10).isoformat()

    # Re-running the late-data step, or the original detect run, opens no second alert and changes nothing.
    before = ledger(settings).dump()
    late.reevaluate(hour(12), hour(13), settings)
    detect.run_chunk([RULE], hour(11), hour(12), settings)
    assert ledger(settings).dump() == before
