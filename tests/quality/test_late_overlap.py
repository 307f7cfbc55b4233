"""Per-source delivery lag and the lookback overlap, at a 15-minute cadence with the first look at the lag.

CloudTrail's detection trails its 15-minute detect runs by its declared delivery lag (15 minutes: the first lag
set to it, MAMORI_DETECT_FIRST_LAG_MINUTES=15, so the one look the default early evaluation replaces, see
tests/quality/test_early_window.py) and each run re-reads the window before its own
(MAMORI_DETECT_OVERLAP_MINUTES, 15). Three GuardDuty detectors are deleted
at 10:05-10:08 (one per account, so three alerts):

- A is delivered on time (10:12): the run of [10:15, 10:30) evaluates CloudTrail's [10:00, 10:15) and opens it.
- B is delivered 28 minutes late (10:35), later than the lag but within lag + overlap: the next run re-reads
  [10:00, 10:15) and opens it, once, in that window's contribution (no second row, no second ticket).
- C is delivered an hour late (11:10), outside the overlap: ingest reports its hour as late data and the health
  DAG's late-data step re-runs the detect runs that evaluated it, which opens it, once.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from quality_helpers import ACCT, ACCT2, alerts_of, hour, land_ct, ledger, run_window

from mamori import detect, windows
from mamori.config import load_settings
from mamori.sources import delivery_lag

REPO = Path(__file__).resolve().parents[2]
RULE = "cloudtrail_guardduty_disabled"
ACCT3 = "333333333333"
M = timedelta(minutes=1)
Q = timedelta(minutes=15)


def delete_detector(t, account):
    case = REPO / f"tests/detections/{RULE}/positive/delete_detector.json"
    (rec,) = json.loads(case.read_text())["Records"]
    rec = json.loads(json.dumps(rec).replace("123456789012", account))
    return rec | {"eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventID": f"evt-{account}-{t:%H%M}"}


def tickets(s) -> list[str]:
    root = Path(s.outbox_url.removeprefix("file://"))
    return sorted(p.name for p in root.rglob("*.md") if p.name != "index.md")


def test_late_data_within_the_overlap_alerts_once_and_later_data_is_reported(
    settings, only_sources, no_gx, monkeypatch
):
    from mamori.detections import loader
    from mamori.health import late

    monkeypatch.delenv("MAMORI_DETECT_LAG_MINUTES")  # the shipped default: each source's declared lag
    monkeypatch.delenv("MAMORI_DETECT_OVERLAP_MINUTES")
    monkeypatch.setenv("MAMORI_INGEST_INTERVAL_MINUTES", "15")
    monkeypatch.setenv("MAMORI_DETECT_FIRST_LAG_MINUTES", "15")
    s = load_settings()
    assert (s.ingest_interval, s.detect_interval, s.detect_overlap) == (Q, Q, Q)
    assert delivery_lag("cloudtrail", s) == Q and s.source_lags
    assert detect.source_windows("cloudtrail", hour(10) + 2 * Q, hour(10) + 3 * Q, s) == [
        windows.Window(hour(10), hour(10) + Q),  # re-read
        windows.Window(hour(10) + Q, hour(10) + 2 * Q),  # its own
    ]
    only_sources("cloudtrail")
    # one rule, also in the late-data re-run: the windowing is the same for all, 10x faster
    real = loader.load_catalog_tolerant
    monkeypatch.setattr(
        late, "load_catalog_tolerant", lambda d, **k: ([x for x in real(d, **k)[0] if x.id == RULE], [])
    )

    a, b, c = (delete_detector(hour(10) + m * M, acct) for m, acct in ((5, ACCT), (7, ACCT2), (8, ACCT3)))
    land_ct(s, [a], hour(10) + 12 * M, tag="ontime")
    land_ct(s, [b], hour(10) + 35 * M, account=ACCT2, tag="late-in-overlap")
    land_ct(s, [c], hour(11) + 10 * M, account=ACCT3, tag="late-after-overlap")

    def pipeline() -> dict[str, list[str]]:
        """Every 15-minute ingest window then the detect run waiting for it, 10:00-11:30, as scheduled."""
        late_hours = {}
        for t in windows.window_starts(hour(10), hour(11) + 2 * Q, Q):
            late_hours[t.strftime("%H:%M")] = run_window(s, "cloudtrail", t, t + Q)["late_hours"]
            detect.summarize_window([detect.run_chunk([RULE], t, t + Q, s)], t, t + Q, s)
            detect.dispatch(s)
        return late_hours

    late_hours = pipeline()
    alerts = {x.dedup_values["account_id"]: x for x in alerts_of(s, RULE)}
    assert set(alerts) == {ACCT, ACCT2}  # C is not alerted yet ...
    # ... but reported: the window it landed in wrote rows into an hour already evaluated
    assert {k: v for k, v in late_hours.items() if v} == {"11:00": [hour(10).isoformat()]}
    rerun = late.windows_to_rerun(hour(11), hour(11) + Q, s)
    assert [w["data_interval_start"] for w in rerun] == [
        (hour(10) + Q).isoformat(),
        (hour(10) + 2 * Q).isoformat(),
    ]
    late.reevaluate(hour(11), hour(11) + Q, s)
    detect.dispatch(s)

    dump = ledger(s).dump()
    alerts = {x.dedup_values["account_id"]: x for x in alerts_of(s, RULE)}
    assert set(alerts) == {ACCT, ACCT2, ACCT3}
    assert all(x.hit_count == 1 for x in alerts.values())
    # one contribution per alert, in the window holding its event, whichever run recorded it
    contributions = [
        (r["alert_key"], r["window_start"]) for r in dump["alert_hits"] if r["detection_id"] == RULE
    ]
    assert sorted(contributions) == sorted((x.key, hour(10).isoformat()) for x in alerts.values())
    assert len(tickets(s)) == 3, tickets(s)

    # the whole schedule again (retries, a backfill): the ledger and the tickets stay as they are
    pipeline()
    late.reevaluate(hour(11), hour(11) + Q, s)
    detect.dispatch(s)
    assert ledger(s).dump() == dump
    assert len(tickets(s)) == 3
