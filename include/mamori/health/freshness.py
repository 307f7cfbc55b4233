"""Freshness: is every log stream (source x account x region) still delivering at its usual cadence and volume?

The cadence is learned from the window summaries (ingest's finalize counts event objects and records per
account/region of the keys), or declared in sql/health/streams.yaml. For each stream, over the lookback:

- *learning*: fewer than `min_history_windows` windows with deliveries since it first appeared: not judged.
- *irregular*: it delivered in less than `min_presence` of its windows (e.g. event-driven sources): not judged.
- *silent*: the current run of empty windows is longer than the longest gap it had before (or the declared
  `max_silence_windows`): a `mamori_health_silence` alert, anchored at the silence's first empty window, so
  every later evaluation of the same silence updates the same alert (hits = silent windows so far).
- *low*: it delivered, but fewer records than `volume_drop_ratio` x its median window: a
  `mamori_health_volume_drop` alert, anchored the same way.

When deliveries (or volume) return, the stream's open alerts are resolved ("recovered"). A silence alert lists
tamper alerts of the same account (trail stopped or deleted, flow logs deleted) from the ledger, because
silence right after one of those is an incident, not an outage.

Unfinalized windows are unknown, not empty: a stalled pipeline does not read as a silent source.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mamori.alerts.ledger import Ledger
from mamori.config import Settings, load_settings
from mamori.detections.dedup import Candidate
from mamori.health.history import summaries
from mamori.health.settings import HealthSettings, load_health_settings
from mamori.lake.manifests import StreamCount
from mamori.quality import alerts
from mamori.sources import SOURCES, SPECS
from mamori.windows import TICK, recent_starts

log = logging.getLogger(__name__)


# Detections whose alerts mean "someone turned logging off" → the sources they silence (each source's spec
# declares its tamper_detections); mentioned in the silence alert of the account.
def _tamper_detections() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for spec in SPECS.values():
        for det in spec.tamper_detections:
            out[det] = (*out.get(det, ()), spec.name)
    return out


TAMPER_DETECTIONS = _tamper_detections()
TAMPER_LOOKBACK = timedelta(hours=24)


@dataclass
class StreamHealth:
    """One stream's state for one window (the health task's XCom, the demo's and CLI's table)."""

    source: str
    account: str
    region: str
    state: str  # ok | silent | low | learning | irregular | ignored | unknown
    objects: int = 0
    records: int = 0
    median_records: float | None = None
    allowed_gap: int | None = None
    empty_run: int = 0
    presence: float | None = None
    onset: str | None = None
    tamper_alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stream(self) -> str:
        return f"{self.account}/{self.region}"


def _longest_empty_run(counts: list[int]) -> int:
    longest = run = 0
    for n in counts:
        run = run + 1 if n == 0 else 0
        longest = max(longest, run)
    return longest


def assess_stream(
    source: str,
    stream: str,
    series: list[tuple[datetime, int, int]],
    hs: HealthSettings,
    interval: timedelta,
) -> StreamHealth:
    """The state of one stream from its finalized windows (start, objects, records), oldest first, the last
    being the window under evaluation. Pure: the tests drive it with hand-made series."""
    account, region = stream.split("/", 1)
    cur = series[-1]
    h = StreamHealth(source, account, region, "ok", objects=cur[1], records=cur[2])
    rule = hs.rule_for(source, account, region)
    if rule is not None and rule.expect == "none":
        h.state = "ignored"
        return h
    first = next((i for i, (_, n, _) in enumerate(series) if n > 0), None)
    if first is None:
        h.state = "unknown"  # no delivery in the lookback: only an open alert can say it was ever there
        return h
    counts = [n for _, n, _ in series]
    empty_run = 0
    for n in reversed(counts):
        if n:
            break
        empty_run += 1
    h.empty_run = empty_run
    baseline = counts[first : len(counts) - empty_run]
    present = sum(1 for n in baseline if n)
    h.presence = round(present / len(baseline), 3) if baseline else None
    if present < hs.min_history_windows:
        h.state = "learning"
        return h
    if h.presence is not None and h.presence < hs.min_presence:
        h.state = "irregular"
        return h
    h.allowed_gap = (
        rule.max_silence_windows
        if rule is not None and rule.max_silence_windows is not None
        else _longest_empty_run(baseline)
    )
    if empty_run > h.allowed_gap:
        h.state = "silent"
        h.onset = series[len(series) - empty_run][0].isoformat()
        return h
    if cur[1] == 0:
        return h  # an empty window within the usual gap
    previous = [r for (_, n, r) in series[first:-1] if n]
    if len(previous) < hs.min_history_windows:
        return h
    median = statistics.median(previous)
    h.median_records = float(median)
    if median < hs.volume_min_median:
        return h
    floor = hs.volume_drop_ratio * median
    if cur[2] < floor:
        run = 0
        for _, n, r in reversed(series):
            if not n or r >= floor:
                break
            run += 1
        h.state = "low"
        h.onset = series[len(series) - run][0].isoformat()
    return h


def evaluate(start: datetime, end: datetime, settings: Settings | None = None) -> list[StreamHealth]:
    """Every stream's state for the ingest window [start, end), from the lookback's window summaries."""
    s = settings or load_settings()
    hs = load_health_settings(s.sql_dir)
    interval = s.ingest_interval
    n = max(2, int(timedelta(hours=hs.lookback_hours) / interval))
    starts = recent_starts(end, interval, n)
    out: list[StreamHealth] = []
    for source in SOURCES:
        docs = summaries(source, starts, s)
        if docs[starts[-1]] is None:
            out.append(StreamHealth(source, "*", "*", "unknown"))
            continue
        finalized = [(st, d) for st, d in docs.items() if d is not None]
        streams = sorted({k for _, d in finalized for k in d.streams})
        for stream in streams:
            series = []
            for st, d in finalized:
                v = d.streams.get(stream) or StreamCount()
                series.append((st, v.objects, v.records))
            out.append(assess_stream(source, stream, series, hs, interval))
    return out


def _tamper_alerts(
    ledger_alerts: list[Any], h: StreamHealth, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    found = []
    for a in ledger_alerts:
        if (
            a.detection_id not in TAMPER_DETECTIONS
            or a.dedup_values.get("account_id", h.account) != h.account
        ):
            continue
        if not since.isoformat() <= a.first_seen < until.isoformat():
            continue
        found.append(
            {
                "detection": a.detection_id,
                "alert_key": a.key,
                "title": a.title,
                "first_seen": a.first_seen,
                "status": a.status,
                "related_to_this_source": h.source in TAMPER_DETECTIONS[a.detection_id],
            }
        )
    return sorted(found, key=lambda x: (not x["related_to_this_source"], x["first_seen"]))


def run(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, Any]:
    """The health DAG's freshness task: evaluate, record silence/volume alerts for the window, resolve
    recovered streams. Re-running the window replaces its contribution (same alert keys)."""
    s = settings or load_settings()

    states = evaluate(start, end, s)
    ledger = Ledger(s.ledger_url)
    all_alerts = ledger.alerts()
    silence_det = alerts.health_detection(s.sql_dir, alerts.SILENCE)
    drop_det = alerts.health_detection(s.sql_dir, alerts.VOLUME_DROP)
    seen = {(h.source, h.account, h.region) for h in states}
    # Streams silent for longer than the lookback are no longer in any summary: their open alerts keep them.
    for a in all_alerts:
        v = a.dedup_values
        key = (v.get("source"), v.get("account_id"), v.get("region"))
        if a.detection_id == alerts.SILENCE and a.status == "open" and key not in seen:
            if any(h.source == key[0] and h.state == "unknown" for h in states):
                continue  # that source's window is not finalized: nothing can be said
            states.append(
                StreamHealth(
                    str(key[0]), str(key[1]), str(key[2]), "silent", onset=a.first_seen, empty_run=-1
                )
            )
    open_alerts = [
        a for a in all_alerts if a.status == "open" and a.detection_id in (alerts.SILENCE, alerts.VOLUME_DROP)
    ]
    silent: list[Candidate] = []
    low: list[Candidate] = []
    resolved: list[str] = []
    for h in states:
        values = {"source": h.source, "account_id": h.account, "region": h.region}
        if h.state in ("silent", "low") and h.onset:
            onset = datetime.fromisoformat(h.onset)
            h.tamper_alerts = _tamper_alerts(all_alerts, h, onset - TAMPER_LOOKBACK, end)
            det = silence_det if h.state == "silent" else drop_det
            sample = {k: v for k, v in asdict(h).items() if v is not None} | {"window_end": end.isoformat()}
            c = alerts.candidate(det, values, onset, 1, onset, end - TICK, [sample])
            (silent if h.state == "silent" else low).append(c)
        if h.objects > 0 and h.state in ("ok", "low", "learning", "irregular"):
            # Data is back: close this stream's open silence alerts, and its volume alerts unless still low.
            closing = {alerts.SILENCE} | ({alerts.VOLUME_DROP} if h.state != "low" else set())
            for a in open_alerts:
                v = a.dedup_values
                if a.detection_id in closing and (v.get("source"), v.get("account_id"), v.get("region")) == (
                    h.source,
                    h.account,
                    h.region,
                ):
                    ledger.resolve(a.key, f"recovered: deliveries in window {start.isoformat()}")
                    resolved.append(a.key)
    fired = alerts.record(alerts.SILENCE, start, end, silent, s)
    fired += alerts.record(alerts.VOLUME_DROP, start, end, low, s)
    counts: dict[str, int] = {}
    for h in states:
        counts[h.state] = counts.get(h.state, 0) + 1
    for h in states:
        if h.state in ("silent", "low"):
            log.warning(
                "freshness %s %s: %s since %s (%d empty windows, usual longest gap %s, %d records vs median %s); "
                "tamper alerts: %s",
                h.source,
                h.stream,
                h.state,
                h.onset,
                h.empty_run,
                h.allowed_gap,
                h.records,
                h.median_records,
                [t["detection"] for t in h.tamper_alerts] or "none",
            )
    log.info("freshness [%s, %s): %s", start, end, counts)
    return {"streams": counts, "alerts": sorted(set(fired)), "resolved": sorted(set(resolved))}
