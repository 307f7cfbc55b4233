"""The shipped rhythm (issue 19): 5-minute ingest and detect, each window first evaluated at once (first lag 0),
then re-read by the next runs up to its source's delivery lag plus the overlap (CloudTrail: 15 + 15 minutes).

Run as the scheduler would: every 5-minute ingest window, then the detect run waiting for it. An event is alerted
by the first run after the ingest window it landed in, whether it landed before its window's first evaluation or
after it (within the lag + overlap), and once: every later re-read replaces the window's contribution.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from quality_helpers import ACCT, ACCT2, alerts_of, hour, land_ct, ledger, run_window

from mamori import detect, windows
from mamori.config import load_settings

REPO = Path(__file__).resolve().parents[2]
M = timedelta(minutes=1)
F = timedelta(minutes=5)
DISABLED = "cloudtrail_guardduty_disabled"
BRUTE = "cloudtrail_console_login_brute_force"  # threshold 5 in an aligned 15-minute bucket


def _records(rule: str, case: str) -> list[dict]:
    return json.loads((REPO / f"tests/detections/{rule}/positive/{case}.json").read_text())["Records"]


def delete_detector(t, account):
    (rec,) = _records(DISABLED, "delete_detector")
    rec = json.loads(json.dumps(rec).replace("123456789012", account))
    return rec | {"eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventID": f"evt-{account}-{t:%H%M}"}


def tickets(s) -> list[str]:
    root = Path(s.outbox_url.removeprefix("file://"))
    return sorted(p.name for p in root.rglob("*.md") if p.name != "index.md")


def shipped(monkeypatch):
    for var in (
        "MAMORI_DETECT_LAG_MINUTES",
        "MAMORI_DETECT_OVERLAP_MINUTES",
        "MAMORI_INGEST_INTERVAL_MINUTES",
    ):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert (s.ingest_interval, s.detect_interval, s.detect_first_lag, s.detect_overlap) == (
        F,
        F,
        0 * M,
        15 * M,
    )
    return s


def step(s, rule: str, t) -> list[str]:
    """The ingest window [t, t + 5 min) then the detect run of that data interval; the alert keys it touched."""
    run_window(s, "cloudtrail", t, t + F)
    chunk = detect.run_chunk([rule], t, t + F, s)
    detect.summarize_window([chunk], t, t + F, s)
    detect.dispatch(s)
    return chunk[0]["alerts"]


def test_an_event_is_alerted_by_the_first_run_after_it_lands_early_or_late_and_once(
    settings, only_sources, no_gx, monkeypatch
):
    s = shipped(monkeypatch)
    # the run of [10:30, 10:35) evaluates CloudTrail's [10:30, 10:35) first and re-reads the 30 minutes before it
    got = detect.source_windows("cloudtrail", hour(10) + 30 * M, hour(10) + 35 * M, s)
    assert [w.start for w in got] == [hour(10) + k * F for k in range(7)]
    assert got[-1] == windows.Window(hour(10) + 30 * M, hour(10) + 35 * M)  # its own, not shifted back
    only_sources("cloudtrail")

    a, b = delete_detector(hour(10) + 6 * M, ACCT), delete_detector(hour(10) + 7 * M, ACCT2)
    land_ct(s, [a], hour(10) + 8 * M, tag="ontime")  # before its window's first evaluation (the run at 10:10)
    land_ct(s, [b], hour(10) + 31 * M, account=ACCT2, tag="late")  # 24 min late: within 15 + 15

    alerted: dict[str, list[str]] = {}
    for t in windows.window_starts(hour(10), hour(10) + 45 * M, F):
        for key in step(s, DISABLED, t):
            alerted.setdefault(key, []).append(f"{t:%H:%M}")
    by_account = {x.dedup_values["account_id"]: x for x in alerts_of(s, DISABLED)}
    assert set(by_account) == {ACCT, ACCT2}
    # A: by the run of its own window's data interval [10:05, 10:10), no lag; B: by the run of [10:30, 10:35),
    # the first after the ingest window it landed in. Every run re-reading the window repeats it, not adds to it.
    assert alerted[by_account[ACCT].key][0] == "10:05"
    assert alerted[by_account[ACCT2].key][0] == "10:30"
    assert all(x.hit_count == 1 for x in by_account.values())
    contributions = [(r["alert_key"], r["window_start"]) for r in ledger(s).dump()["alert_hits"]]
    assert sorted(contributions) == sorted((x.key, (hour(10) + F).isoformat()) for x in by_account.values())
    assert len(tickets(s)) == 2, tickets(s)


def test_a_counting_rule_adds_the_late_part_to_the_early_part_once(
    settings, only_sources, no_gx, monkeypatch
):
    """Five failed sign-ins in one 15-minute bucket, two windows: three land on time (the first evaluations see
    three, under the threshold: no alert), two land late. The run after they land re-reads both windows: five,
    one alert; every later re-read replaces those windows' contributions, so it stays one alert of five hits."""
    s = shipped(monkeypatch)
    only_sources("cloudtrail")
    fails = _records(BRUTE, "five_failures_one_user")  # 10:01:11 ... 10:05:15
    assert [r["eventTime"][11:16] for r in fails] == ["10:01", "10:02", "10:03", "10:04", "10:05"]
    land_ct(s, fails[:3], hour(10) + 4 * M, tag="ontime")
    land_ct(s, fails[3:], hour(10) + 22 * M, tag="late")

    fired_by = []
    for t in windows.window_starts(hour(10), hour(10) + 45 * M, F):
        if step(s, BRUTE, t):
            fired_by.append(f"{t:%H:%M}")
        if t < hour(10) + 20 * M:
            assert alerts_of(s, BRUTE) == [], f"{t:%H:%M}: three failures are under the threshold"
    (alert,) = alerts_of(s, BRUTE)
    assert (
        fired_by[0] == "10:20"
    )  # the first run after the ingest window [10:20, 10:25) the late two landed in
    assert alert.hit_count == 5
    windows_counted = sorted(r["window_start"] for r in ledger(s).dump()["alert_hits"])
    assert windows_counted == [hour(10).isoformat(), (hour(10) + F).isoformat()]
    assert len(tickets(s)) == 1, tickets(s)
