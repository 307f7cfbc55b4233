"""Detection and dispatch tasks: each function is the whole body of one Airflow task.

A source's detection window is the run's data interval shifted back by the source's delivery lag
(`mamori.sources.delivery_lag`), because CloudTrail and friends deliver minutes after the event: with one 60-minute
lag the run at 11:00 looks at events of [09:00, 10:00) once the ingest window that received their late deliveries
has been finalized. The windows of the lookback overlap before it are evaluated again (`source_windows`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from mamori import windows
from mamori.alerts import triage
from mamori.alerts.alert import IncidentTicket, IncidentView
from mamori.alerts.enrichment import (
    Enrichment,
    load_enrichments,
    related_alerts,
    run_enrichments,
    run_lookups,
)
from mamori.alerts.incidents import Incident, closed_ids, incidents_of, record_incidents
from mamori.alerts.incidents import merges as incident_merges
from mamori.alerts.ledger import Alert, Delivery, Ledger
from mamori.alerts.lookups import configured_lookups
from mamori.alerts.outputs import (
    OUTPUTS,
    Output,
    delivery_rank,
    make_output,
    resolve_outputs,
    ticket_link,
    write_index,
)
from mamori.alerts.outputs.base import Capabilities, OutputDown, TicketState, TriageChange
from mamori.alerts.routing import Routing, load_routing
from mamori.alerts.triage import VERDICTS
from mamori.config import Settings, load_settings
from mamori.detections import combined
from mamori.detections.dedup import group_hits
from mamori.detections.loader import (
    BrokenDetection,
    Detection,
    DetectionError,
    get_detection,
    load_catalog_tolerant,
)
from mamori.detections.render import window_predicate
from mamori.detections.runner import DetectionOutputError, checked_hits, run_detection
from mamori.detections.suppressions import Suppression, load_suppressions
from mamori.detections.suppressions import apply as apply_suppressions
from mamori.engines import Engine, SharedScans, get_engine, is_query_fault
from mamori.ingest import window_complete
from mamori.quality.alerts import DELIVERY_FAILING, RULE_ERROR, candidate, health_detection, record
from mamori.sources import SOURCES, delivery_lag
from mamori.sources.base import PARTITION_KEYS

log = logging.getLogger(__name__)
# A delivery failing this many times in a row raises a `mamori_delivery_failing` health alert and turns the
# dispatch run red; it keeps being retried (with backoff) until it succeeds or an operator cancels it.
DELIVERY_ALERT_AFTER = 3
# The dispatcher names no output: it orders, links, re-sends and syncs by the outputs' declared capabilities
# (mamori.alerts.outputs.base.Capabilities); tests/contracts/test_output_contracts.py keeps it that way.


def detection_window(
    start: datetime, end: datetime, settings: Settings | None = None
) -> tuple[datetime, datetime]:
    """The event-time window of the detect run whose data interval is [start, end) (mamori.windows)."""
    s = settings or load_settings()
    w = windows.detection_window(start, end, s.detect_lag)
    return w.start, w.end


def source_windows(
    source: str, start: datetime, end: datetime, settings: Settings | None = None
) -> list[windows.Window]:
    """The event-time windows the detect run [start, end) evaluates for a source, oldest first: its own (last),
    trailing by the source's first lag (0 by default: evaluated as soon as its landing window is ingested), and
    before it the windows up to the source's delivery lag plus the lookback overlap, re-read."""
    s = settings or load_settings()
    return windows.detection_windows(
        start, end, delivery_lag(source, s), s.detect_overlap, s.detect_first_lag
    )


def evaluated_windows(
    start: datetime, end: datetime, settings: Settings | None = None
) -> list[windows.Window]:
    """Every event-time window the detect run [start, end) records contributions for, over all sources,
    oldest first: what its incidents are grouped over."""
    s = settings or load_settings()
    spans = {w for src in SOURCES for w in source_windows(src, start, end, s)}
    return sorted(spans, key=lambda w: (w.start, w.end))


def enabled_detections(settings: Settings | None = None) -> list[str]:
    """Ids of detections that run (deprecated ones do not); the detect DAG maps over these."""
    s = settings or load_settings()
    return [d.id for d in load_catalog_tolerant(s.sql_dir, include_deprecated=False)[0]]


def sources_ready(end: datetime, settings: Settings | None = None, start: datetime | None = None) -> bool:
    """True when every source with enabled detections has finalized the ingest windows that cover the detect
    run's data interval [start, end) (`start` defaults to one detect interval before `end`): at the ingest
    cadence, so a detect run at another cadence waits for windows that exist."""
    s = settings or load_settings()
    detections, _ = load_catalog_tolerant(
        s.sql_dir, include_deprecated=False
    )  # broken ones are reported later
    return _sources_ready(detections, end, s, start)


def _sources_ready(
    detections: list[Detection], end: datetime, s: Settings, start: datetime | None = None
) -> bool:
    sources = sorted({d.header.log_source for d in detections})
    needed = windows.ingest_windows_needed(
        end - s.detect_interval if start is None else start, end, s.ingest_interval
    )
    waiting = [src for src in sources if not all(window_complete(src, t, s) for t in needed)]
    if waiting:
        log.info("waiting for ingest windows ending by %s of: %s", end.isoformat(), waiting)
    return not waiting


def ready_chunks(
    end: datetime, settings: Settings | None = None, start: datetime | None = None
) -> list[list[str]] | None:
    """The detect run's rule chunks (`detection_chunks`) once its ingest windows are finalized
    (`sources_ready`), else None: the body of detect's sensor, which hands the chunks to run_detections itself.

    One catalog load for both answers, and no task of its own for the chunks: under `mamori up` on a loaded
    machine the separate `list_detections` task cost 9 s (a task process, its DAG parse and the scheduler's
    loop around it) between the sensor's success and the first rule chunk.
    """
    s = settings or load_settings()
    detections, broken = load_catalog_tolerant(s.sql_dir, include_deprecated=False)
    if not _sources_ready(detections, end, s, start):
        return None
    return _chunks(detections, broken, s.detect_chunk_size)


def warm_catalog(settings: Settings | None = None) -> float:
    """Load the detection catalog once in a process that forks task processes (the plugin's listener, in a
    LocalExecutor's scheduler); returns the seconds spent.

    The loader memoises its costly steps (YAML headers, sqlglot) on their content, and a fork inherits those
    caches: every sensor poke, rule chunk and `record` then loads the catalog in tenths of a second instead of
    parsing 100+ rules afresh (4 s on an idle core; 18 s per poke under `mamori up` at a load average of ~18,
    with the sensor poking every 10 s). Content-keyed, so a rule edited later is still checked afresh.
    """
    t0 = time.perf_counter()
    s = settings or load_settings()
    load_catalog_tolerant(s.sql_dir, include_deprecated=False)
    return time.perf_counter() - t0


CHUNK = 10  # detections per mapped task by default (`MAMORI_DETECT_CHUNK_SIZE`); one engine per chunk


def detection_chunks(settings: Settings | None = None, only: set[str] | None = None) -> list[list[str]]:
    """Enabled detections grouped by log source in chunks of `MAMORI_DETECT_CHUNK_SIZE` (default CHUNK), the
    largest first: what the detect DAG maps over.

    One task per rule would be ~70 task instances per hour, each opening its own engine over the lake;
    chunks keep the parallelism and the per-rule results (in the task's XCom and log) at a tenth of that.
    A file that does not load gets a chunk of its own: its run reports it as a rule error (`run_chunk`)
    and every other rule runs as usual.
    """
    s = settings or load_settings()
    detections, broken = load_catalog_tolerant(s.sql_dir, include_deprecated=False)
    return _chunks(detections, broken, s.detect_chunk_size, only)


def _chunks(
    detections: list[Detection], broken: list[BrokenDetection], size: int, only: set[str] | None = None
) -> list[list[str]]:
    by_source: dict[str, list[str]] = {}
    for d in detections:
        if only is None or d.id in only:
            by_source.setdefault(d.header.log_source, []).append(d.id)
    chunks = [ids[i : i + size] for _, ids in sorted(by_source.items()) for i in range(0, len(ids), size)]
    # Largest first (stable: by source otherwise): mapped tasks start in index order, so with fewer workers than
    # chunks the longest ones start first and the small ones fill in beside them, instead of a big chunk
    # starting last and alone (measured under `mamori up`: CloudTrail's last chunk waited behind a small one).
    chunks.sort(key=len, reverse=True)
    return chunks + [[b.id] for b in broken if only is None or b.id in only]


def pages(run_type: Any, conf: Mapping[str, Any] | None = None) -> bool:
    """Whether a detect run's new alerts may page: not in a backfill run (replayed history is ticketed, nobody
    is woken for it: as `mamori backfill` in-process), unless its conf says {"page": true} (`--page`)."""
    if getattr(run_type, "value", run_type) == "backfill":
        return bool((conf or {}).get("page"))
    return True


def run_chunk(
    ids: list[str],
    start: datetime,
    end: datetime,
    settings: Settings | None = None,
    page: bool = True,
    share_scans: bool = True,
    combine: bool | None = None,
) -> list[dict[str, Any]]:
    """Run a chunk of detections for the run's window; engine, ledger and suppressions opened once.

    `page=False` (backfills) records alerts and tickets them but keeps new alerts off paging outputs.
    A rule that cannot be loaded, or whose query fails because of its own SQL, does not stop the others: its
    result carries an `error` (file, line, reason) that `summarize_window` turns into a `mamori_rule_error`
    alert. Engine or service failures still raise, so Airflow retries the chunk (re-runs are idempotent).

    Rules whose source has no data in the window's hour partitions are not queried (`evaluate`); their
    result says `skipped` and their window contribution is recorded as empty, exactly what a query would
    have produced. `share_scans=False` gives every rule its own scan (the bench's baseline); `combine` as in
    `evaluate` (None: combined statements on engines without shared scans).
    """
    s = settings or load_settings()
    results: dict[str, dict[str, Any]] = {}
    loaded: list[Detection] = []
    for i in ids:
        try:
            loaded.append(get_detection(s.sql_dir, i))
        except DetectionError as exc:
            results[i] = _rule_error(i, exc, start, end, s)
    # Each rule reads only its own source's table (tests/detections/test_scan_contract.py): the engine opens
    # just those, not every table of the lake.
    engine = get_engine(s, tables={SOURCES[d.header.log_source].table for d in loaded})
    try:
        ctx = _RunContext(
            engine, Ledger(s.ledger_url), load_suppressions(s.sql_dir), load_routing(s.sql_dir), page
        )
        # Each source's rules evaluate the source's windows (own + lookback overlap), oldest first; a window
        # re-read replaces the contribution the run that owned it recorded, so its alerts count once.
        by_window: dict[windows.Window, list[Detection]] = {}
        own: dict[str, windows.Window] = {}
        for d in loaded:
            spans = source_windows(d.header.log_source, start, end, s)
            own[d.id] = spans[-1]
            for w in spans:
                by_window.setdefault(w, []).append(d)
        reread: dict[str, list[str]] = {}
        for w, dets in sorted(by_window.items(), key=lambda p: (p[0].start, p[0].end)):
            present = sources_with_data({d.header.log_source for d in dets}, w.start, w.end, s)
            for run in evaluate(dets, engine, w.start, w.end, present, share_scans, combine):
                det_id = run.detection.id
                if run.error is not None:
                    if w == own[det_id] or det_id not in results:
                        results[det_id] = _rule_error(det_id, run.error, start, end, s)
                    continue
                result = _record(run, w.start, w.end, ctx)
                if w != own[det_id]:
                    reread.setdefault(det_id, []).extend(result["alerts"])
                elif det_id not in results:  # a rule error of a re-read window is the run's result
                    results[det_id] = result
        for det_id, keys in reread.items():
            results[det_id]["alerts"] = sorted({*results[det_id]["alerts"], *keys})
        return [results[i] for i in ids]
    finally:
        engine.close()


@dataclasses.dataclass(frozen=True)
class RuleRun:
    """One rule's outcome in one window, before suppressions and the ledger: its hits, or why it has none."""

    detection: Detection
    hits: list[dict[str, Any]]
    scan: str  # "own": its own query; "shared": over its source's shared scan; "combined": in its source's
    # combined statement (`evaluate`); "skipped": no query
    error: Exception | None = None  # its own SQL failed (a query fault or a bad SELECT list)


SKIPPED = "no data in the window's hour partitions of its source"


def sources_with_data(sources: set[str], wstart: datetime, wend: datetime, s: Settings) -> set[str]:
    """The sources whose table holds a data file in an hour partition the window touches (lake listing)."""
    from mamori.lake import Store
    from mamori.lake.presence import has_data

    store = Store(s.lake_url, s.lake_conn_id)
    return {src for src in sources if has_data(store, SOURCES[src].table, wstart, wend)}


def evaluate(
    dets: list[Detection],
    engine: Engine,
    wstart: datetime,
    wend: datetime,
    present: set[str],
    share_scans: bool = True,
    combine: bool | None = None,
) -> Iterator[RuleRun]:
    """Every rule's hits for the window, source by source, with as few scans of the lake as it takes.

    - Skip: a hit must lie in the window (`runner.run_detection` rejects any other), and every rule reads
      only its own source's table, each read bounded by a window macro whose partition filter keeps only the
      hour partitions its range touches (tests/detections/test_scan_contract.py). The step a hit comes from
      is filtered by `{{ window() }}`, which keeps only rows in the window's own hour partitions, so with no
      data file there a rule cannot hit, whatever its `before=` or `lookback` reach: no query is sent.
    - Share (engines with `SharedScans`, DuckDB): the rows every non-first-seen rule of a source can read,
      the window plus the longest `window(before=...)` among them, are read from the lake once and the
      rules run over them unchanged. First-seen rules read their `lookback()` baseline days back and keep
      their own query over the whole table.
    - Combine (engines without `SharedScans`, Athena; `combine=True` forces it, `False` turns it off): the
      same rules of a source run as one statement, each rule a WITH query over the window's rows and their
      rows a UNION ALL (`mamori.detections.combined`), so Athena bills its 10 MB minimum once per source and
      window instead of once per rule. Statements are split below Athena's query-size limit; a rule whose
      output names are not explicit keeps its own query. If a combined statement fails on a rule's SQL, that
      source's rules run one by one in that window, so only the broken rule errors.

    Engine failures propagate (the task is retried); a rule's own SQL failing is its RuleRun's `error`.
    """
    by_source: dict[str, list[Detection]] = {}
    for d in dets:
        by_source.setdefault(d.header.log_source, []).append(d)
    for source, group in by_source.items():
        if source not in present:
            log.info(
                "%s: %s [%s, %s): %d rule(s) skipped without a query: %s",
                source, SKIPPED, wstart.isoformat(), wend.isoformat(), len(group), [d.id for d in group],
            )  # fmt: skip
            for d in group:
                yield RuleRun(d, [], "skipped")
            continue
        shareable = [d for d in group if d.reach is not None]
        # one rule gains nothing from a shared scan (it would read the same rows twice) or a combined query
        combines = share_scans and len(shareable) > 1
        combines = combines and (not isinstance(engine, SharedScans) if combine is None else combine)
        sharer = engine if share_scans and isinstance(engine, SharedScans) and len(shareable) > 1 else None
        if combines:
            sharer = None
        elif sharer is None:
            shareable = []
        for d in group:
            if d not in shareable:
                yield _query(d, engine, wstart, wend, "own")
        if sharer is not None:
            reach = max(d.reach or timedelta(0) for d in shareable)
            table = SOURCES[source].table
            columns = _columns(shareable, SOURCES[source].schema.names, wstart, wend)
            with sharer.shared_scan(table, window_predicate(wstart - reach, wend), columns) as rows:
                log.info(
                    "%s: one scan of [%s, %s) (%d rows) shared by %d rule(s)",
                    table, (wstart - reach).isoformat(), wend.isoformat(), rows, len(shareable),
                )  # fmt: skip
                for d in shareable:
                    yield _query(d, engine, wstart, wend, "shared")
        elif shareable:
            yield from _combined(source, shareable, engine, wstart, wend)


COMBINED_QUERY_BYTES = combined.SAFE_QUERY_BYTES  # a combined statement's size limit (tests lower it)


def _combined(
    source: str, dets: list[Detection], engine: Engine, wstart: datetime, wend: datetime
) -> Iterator[RuleRun]:
    """The rules' runs from as few combined statements as fit (`evaluate`'s combine step)."""
    table = SOURCES[source].table
    parts: list[combined.RulePart] = []
    for i, d in enumerate(dets):
        try:
            p = combined.part(d, table, i, wstart, wend)
        except Exception:  # its own query reports the same failure as a per-rule run would
            p = None
        if p is None:
            yield _query(d, engine, wstart, wend, "own")
        else:
            parts.append(p)
    if not parts:
        return
    reach = max(p.detection.reach or timedelta(0) for p in parts)
    schema = SOURCES[source].schema.names
    statements, alone = combined.statements(parts, table, wstart, wend, reach, COMBINED_QUERY_BYTES, schema)
    for p in alone:
        yield _query(p.detection, engine, wstart, wend, "own")
    for c in statements:
        try:
            by_rule = combined.decode(c, engine.query(c.sql).to_pylist())
        except Exception as exc:
            if not isinstance(exc, combined.CombinedDecodeError) and not is_query_fault(exc):
                raise
            log.warning(
                "%s: the combined query of %d rule(s) over [%s, %s) failed (%s): running them one by one",
                table, len(c.detections), wstart.isoformat(), wend.isoformat(), " ".join(str(exc).split())[:300],
            )  # fmt: skip
            for d in c.detections:
                yield _query(d, engine, wstart, wend, "own")
            continue
        log.info(
            "%s: one combined query of [%s, %s) for %d rule(s)",
            table, (wstart - reach).isoformat(), wend.isoformat(), len(c.detections),
        )  # fmt: skip
        for d in c.detections:
            try:
                hits = checked_hits(d, list(c.columns[d.id]), by_rule[d.id], wstart, wend)
            except DetectionOutputError as exc:
                yield RuleRun(d, [], "combined", exc)
                continue
            yield RuleRun(d, hits, "combined")


def _columns(dets: list[Detection], schema: list[str], wstart: datetime, wend: datetime) -> list[str] | None:
    """The table's columns any of the rules names (all of them, None, when one reads `*` of the table),
    with the partition columns the window macros filter on; the shared scan holds only these."""
    names: set[str] = set()
    for d in dets:
        read = d.names_read(wstart, wend)
        if read is None:
            return None
        names |= read
    return [c for c in schema if c in names] + list(PARTITION_KEYS)


def _query(det: Detection, engine: Engine, wstart: datetime, wend: datetime, scan: str) -> RuleRun:
    try:
        return RuleRun(det, run_detection(det, engine, wstart, wend), scan)
    except Exception as exc:
        if not isinstance(exc, DetectionOutputError) and not is_query_fault(exc):
            raise
        return RuleRun(det, [], scan, exc)


def _rule_error(
    detection_id: str, exc: Exception, start: datetime, end: datetime, s: Settings
) -> dict[str, Any]:
    """The result of a rule that failed on its own: who, where and why, in one line each."""
    wstart, _ = detection_window(start, end, s)
    matches = sorted((s.sql_dir / "detections").glob(f"*/{detection_id}.sql"))
    path = str(matches[0]) if matches else f"sql/detections/*/{detection_id}.sql"
    # DetectionError's line, or the file line run_detection found for a failing query (not the SQL's own LINE)
    line = getattr(exc, "line", None) if isinstance(getattr(exc, "line", None), int) else None
    reason = " ".join(str(exc).removeprefix(f"{path}: ").split())[:500]
    log.error("%s: rule error, skipped for this window (%s:%s): %s", detection_id, path, line or "?", reason)
    return {
        "detection": detection_id,
        "window_start": wstart.isoformat(),
        "hits": 0,
        "alerts": [],
        "suppressed": {},
        "expired_suppressions": [],
        "error": {"kind": type(exc).__name__, "file": path, "line": line, "reason": reason},
    }


def run_for_window(
    detection_id: str, start: datetime, end: datetime, settings: Settings | None = None
) -> dict[str, Any]:
    """Run one detection for the run's window and record its hits in the ledger (replacing a re-run's)."""
    return run_chunk([detection_id], start, end, settings)[0]


@dataclasses.dataclass(frozen=True)
class _RunContext:
    engine: Engine
    ledger: Ledger
    suppressions: list[Suppression]
    routing: Routing
    page: bool = True


def _record(run: RuleRun, wstart: datetime, wend: datetime, ctx: _RunContext) -> dict[str, Any]:
    """Suppressions, then the window's contribution to the ledger (replacing a re-run's; also when empty)."""
    det = run.detection
    applied = apply_suppressions(det.id, run.hits, ctx.suppressions, wend)
    hits = applied.kept
    ctx.ledger.record_suppressed(det.id, wstart, wend, applied.hidden)
    fired = ctx.ledger.record_window(
        det, wstart, wend, group_hits(det, hits), page=ctx.page, routing=ctx.routing
    )
    log.info("%s [%s, %s): %d hits, %d alert(s) at threshold", det.id, wstart, wend, len(hits), len(fired))
    result = {
        "detection": det.id,
        "window_start": wstart.isoformat(),
        "hits": len(hits),
        "alerts": fired,
        "suppressed": dict(applied.hidden),
        "expired_suppressions": applied.expired,
    }
    if run.scan == "skipped":
        result["skipped"] = SKIPPED
    return result


def summarize_window(
    chunks: list[list[dict[str, Any]]],
    start: datetime | None = None,
    end: datetime | None = None,
    settings: Settings | None = None,
    run_type: Any = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What one detect run found (the task's XCom and log line; the ledger holds the alerts themselves).

    Given the run's data interval, it also records the window's rule errors as `mamori_rule_error` alerts:
    one call for the whole window, because the ledger replaces a window's contribution per (pseudo-)rule.
    Then it groups the window's alerts into incidents, once every rule's alerts are in (`alerts.incidents`),
    and notes when the window's result was recorded (`now`, the wall clock; `run_type` "scheduled" or not),
    which the detect deadline judges (`mamori.health.deadline`).
    """
    results = [r for chunk in chunks for r in chunk]
    errors = [r for r in results if r.get("error")]
    summary: dict[str, Any] = {
        "detections": len(results),
        "hits": sum(r["hits"] for r in results),
        "alerts": sorted({k for r in results for k in r["alerts"]}),
        "rule_errors": [
            f"{r['detection']}: {r['error']['file']}:{r['error']['line'] or '?'}" for r in errors
        ],
        "skipped": sorted(r["detection"] for r in results if r.get("skipped")),
    }
    if start is not None and end is not None:
        summary["alerts"] = sorted([*summary["alerts"], *record_rule_errors(errors, start, end, settings)])
        summary["incidents"] = record_run_incidents(start, end, settings)
        record_evaluated(start, end, settings, run_type, now)
    log.info(
        "detect window: %d detections (%d skipped: no data), %d hits, %d alerts, %d rule error(s)",
        summary["detections"],
        len(summary["skipped"]),
        summary["hits"],
        len(summary["alerts"]),
        len(errors),
    )
    return summary


def record_run_incidents(start: datetime, end: datetime, settings: Settings | None = None) -> dict[str, int]:
    """Group into incidents the alerts every window of the detect run [start, end) recorded (`evaluated_windows`:
    each source's own window and its lookback overlap); the counts added up over the windows."""
    total: dict[str, int] = {}
    for w in evaluated_windows(start, end, settings):
        for k, n in record_incidents(w.start, w.end, settings).items():
            total[k] = total.get(k, 0) + n
    return total


def record_evaluated(
    start: datetime,
    end: datetime,
    settings: Settings | None = None,
    run_type: Any = None,
    now: datetime | None = None,
) -> None:
    """Note in the ledger that the detection window of the run [start, end) has its result recorded now (the
    first time is kept), and whether a scheduled run did it: what `mamori_detect_deadline` is judged by."""
    s = settings or load_settings()
    wstart, wend = detection_window(windows.utc(start), windows.utc(end), s)  # Airflow hands pendulum times
    scheduled = str(getattr(run_type, "value", run_type) or "") == "scheduled"
    Ledger(s.ledger_url).record_evaluation(wstart, wend, now or datetime.now(UTC), scheduled)


def record_rule_errors(
    errors: list[dict[str, Any]], start: datetime, end: datetime, settings: Settings | None = None
) -> list[str]:
    """Replace the window's `mamori_rule_error` contribution (also with none, so a fixed rule withdraws it)."""

    s = settings or load_settings()
    wstart, wend = detection_window(start, end, s)
    det = health_detection(s.sql_dir, RULE_ERROR)
    cands = [
        candidate(
            det,
            {"detection": r["detection"], "reason": r["error"]["kind"]},
            wstart,
            1,
            wstart,
            wend - windows.TICK,
            [{"detection": r["detection"], "window_start": r["window_start"], **r["error"]}],
        )
        for r in errors
    ]
    return record(RULE_ERROR, wstart, wend, cands, s)


def check_rule_errors(summary: dict[str, Any]) -> None:
    """The detect run's last task: red, naming only the broken rules, after everything else was recorded."""
    if summary.get("rule_errors"):
        raise RuntimeError(
            f"{len(summary['rule_errors'])} detection(s) failed in this window and were skipped "
            f"(mamori_rule_error alerts raised): {'; '.join(summary['rule_errors'])}"
        )


class _Enricher:
    """Runs an alert's enrichment queries once (first dispatch), stores them, and reuses them afterwards."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings, self.ledger = settings, ledger
        self.engine: Engine | None = None
        self.enrichments: dict[str, Enrichment] | None = None
        self.done: dict[str, Alert] = {}
        self._history: list[Alert] | None = None

    def enriched(self, alert: Alert, det: Detection | None) -> Alert:
        if alert.enrichment is not None:
            return alert
        if alert.key not in self.done:
            if self.enrichments is None:
                self.enrichments = load_enrichments(self.settings.sql_dir)
            if self.engine is None:
                self.engine = get_engine(self.settings)
            results = run_enrichments(alert, det, self.engine, self.enrichments)
            results += related_alerts(alert, self.history())
            results += run_lookups(alert, configured_lookups(self.settings))
            self.ledger.set_enrichment(alert.key, results)
            self.done[alert.key] = dataclasses.replace(alert, enrichment=results)
        return dataclasses.replace(self.done[alert.key], hit_count=alert.hit_count, last_seen=alert.last_seen)

    def history(self) -> list[Alert]:
        if self._history is None:
            self._history = self.ledger.alerts()
        return self._history

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


def dispatch(settings: Settings | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Deliver every (alert, output) pair that has work: first delivery, a retry, or a recurrence update.

    The outbox pattern: the ledger says what is due, each output is idempotent per alert key (it finds its own
    earlier issue/incident before creating one), so any number of runs, retries and backfills converge on one
    ticket per alert. Ticket outputs go first so pages can link to the ticket. A failed delivery is retried
    after a growing backoff for as long as it takes (`now` is the wall clock, injectable for tests); past
    DELIVERY_ALERT_AFTER failures it raises a health alert and the run fails until the output recovers.

    Several dispatchers may run at once (the DAG's run, `mamori backfill --dispatch`, a zombie task try):
    each delivery is sent only after this run claimed it in the ledger (`Ledger.claim`, a lease), so exactly
    one process sends it. A delivery held by another live dispatcher is left to it, and so are that alert's
    later outputs in this run: the holder sends them in order after the ticket, so pages keep their link.
    """
    s = settings or load_settings()
    now = now or datetime.now(UTC)
    ledger = Ledger(s.ledger_url)
    owner = lease_owner()
    configured: dict[str, bool] = {}  # one connection lookup per output per run
    # Per incident (sql/routing.yaml `deliver_per`): an incident's members are delivered one after another,
    # the oldest first, so the first opens its ticket and the others comment on it. Each member goes where
    # any member goes: an incident pages once one of its rules pages, and a member that raises its severity
    # reaches the page to raise it there (a medium alert joining a high incident).
    per_incident = load_routing(s.sql_dir).per_incident
    open_alerts = ledger.alerts(status="open")
    incidents = incidents_of(ledger, [a.key for a in open_alerts]) if per_incident else {}
    for alert in open_alerts:
        inc = incidents.get(alert.key)
        routes = [*alert.routes, *(r for m in inc.members for r in m.routes)] if inc else alert.routes
        for output in resolve_outputs(routes, s, configured):
            ledger.ensure_delivery(alert.key, output)
    outputs: dict[str, Output] = {}
    detections: dict[str, Detection | None] = {}

    def rule(detection_id: str) -> Detection | None:
        if detection_id not in detections:
            detections[detection_id] = _detection_or_none(s, detection_id)
        return detections[detection_id]

    enricher = _Enricher(s, ledger)
    delivered = failed = in_flight = 0
    due = ledger.due(now)
    if per_incident:
        incidents.update(incidents_of(ledger, {d.alert.key for d in due} - set(incidents)))

    def group(key: str) -> str:
        return incidents[key].incident_id if key in incidents else key

    def order(d: Delivery) -> tuple[str, str, str, str, tuple[int, str]]:
        inc = incidents.get(d.alert.key)
        first, gid = (inc.first_seen, inc.incident_id) if inc else (d.alert.first_seen, d.alert.key)
        return first, gid, d.alert.first_seen, d.alert.key, delivery_rank(d.output)

    due = sorted(due, key=order)
    elsewhere: set[str] = set()  # alerts (or incidents) another dispatcher is delivering right now
    linked: set[str] = set()  # alerts whose ticket (one that is a link) this run delivered
    # Outputs that failed one delivery through all its own retries (OutputDown) in this run: down or
    # throttling. Their other due deliveries are recorded failed without a request (same count and backoff
    # as a real try), so an outage costs one delivery's retry sleeps per run, not one per due alert.
    down: dict[str, str] = {}
    try:
        for d in due:
            if group(d.alert.key) in elsewhere:
                continue
            claim = ledger.claim(d.alert.key, d.output, owner, s.delivery_lease, now)
            if claim.delivery is None:
                if claim.held_by:
                    log.info("%s to %s: in flight in %s, left to it", d.alert.key, d.output, claim.held_by)
                    elsewhere.add(group(d.alert.key))
                    in_flight += 1
                continue  # otherwise nothing left to do: another dispatcher delivered it meanwhile
            if d.output in down:
                ledger.mark_failed(d.alert.key, d.output, down[d.output], now, owner)
                failed += 1
                continue
            det = rule(d.alert.detection_id)
            inc = incidents.get(d.alert.key)
            outcome = _deliver(ledger, outputs, enricher, s, claim.delivery, det, now, owner, inc, rule)
            if outcome == "elsewhere":
                elsewhere.add(group(d.alert.key))
                in_flight += 1
                continue
            if outcome == "down":
                down[d.output] = f"not tried: {d.output} kept failing earlier in this dispatch run"
                outcome = "failed"
            delivered += outcome == "delivered"
            failed += outcome == "failed"
            if (
                outcome == "delivered"
                and (caps := _capabilities(d.output)) is not None
                and caps.ticket_is_link
            ):
                linked.add(d.alert.key)
        # Pages sent during a ticket outage, due again now that their ticket exists: add the link this run.
        for d in ledger.due(now):
            if _relinks(d.output) and d.alert.key in linked and d.previous_ref and d.output not in down:
                claim = ledger.claim(d.alert.key, d.output, owner, s.delivery_lease, now)
                if claim.delivery is None:
                    continue
                det = detections.get(d.alert.detection_id)
                inc = incidents.get(d.alert.key)
                outcome = _deliver(ledger, outputs, enricher, s, claim.delivery, det, now, owner, inc, rule)
                delivered += outcome == "delivered"
                failed += outcome in ("failed", "down")
        if per_incident:
            failed += _fold_merged(ledger, outputs, s, owner, configured)
            failed += _resolve_closed(ledger, outputs, s, owner, configured)
        failed += sync_triage(ledger, outputs, s, owner, configured)
    finally:
        enricher.close()
    failing = ledger.failing()
    health = record_delivery_health(failing, now, s)
    index = write_index(s, ledger.alerts())
    summary = {
        "delivered": delivered,
        "failed": failed,
        "in_flight_elsewhere": in_flight,
        "failing": len(failing),
        "failing_outputs": sorted({f["output"] for f in failing if f["failures"] >= DELIVERY_ALERT_AFTER}),
        "health_alerts": health,
        "open_alerts": len(ledger.alerts("open")),
        "index": index,
    }
    log.info("dispatch: %s", summary)
    if failed or summary["failing_outputs"]:
        raise RuntimeError(
            f"{failed} deliveries failed this run, {len(failing)} failing in all "
            f"(outputs failing past {DELIVERY_ALERT_AFTER} attempts: {summary['failing_outputs'] or 'none'}); "
            "they stay due in the ledger and are retried with backoff until they succeed or are cancelled"
        )
    return summary


def record_delivery_health(failing: list[dict[str, Any]], now: datetime, s: Settings) -> list[str]:
    """One `mamori_delivery_failing` alert per output failing past the threshold, for the current day.

    Recorded every dispatch run (also with none, so a recovered output withdraws the day's contribution).
    Samples carry no error text: an output's error may quote its URL, and a webhook URL is its secret.
    """

    day = windows.day_floor(now)
    det = health_detection(s.sql_dir, DELIVERY_FAILING)
    by_output: dict[str, list[dict[str, Any]]] = {}
    for f in failing:
        if f["failures"] >= DELIVERY_ALERT_AFTER and f["detection_id"] != DELIVERY_FAILING:
            by_output.setdefault(f["output"], []).append(f)
    cands = [
        candidate(
            det,
            {"output": output},
            day,
            len(rows),
            datetime.fromisoformat(rows[0]["failing_since"]),
            now,
            [
                {
                    "output": output,
                    "alert_key": r["alert_key"],
                    "detection": r["detection_id"],
                    "failures": r["failures"],
                    "failing_since": r["failing_since"],
                    "next_attempt_at": r["next_attempt_at"],
                }
                for r in rows
            ],
        )
        for output, rows in sorted(by_output.items())
    ]
    return record(DELIVERY_FAILING, day, day + windows.DAY, cands, s)


def _detection_or_none(s: Settings, detection_id: str) -> Detection | None:
    for lookup in (get_detection, health_detection):  # data-quality / health alerts: header-only definitions
        try:
            return lookup(s.sql_dir, detection_id)
        except DetectionError:
            continue
    return None  # a deleted rule must not strand its open alerts


def lease_owner() -> str:
    """Who holds a delivery lease: host, this dispatch run, process id (shown to operators as is)."""
    return f"{socket.gethostname()[:120]}:{uuid.uuid4().hex[:8]}:{os.getpid()}"


def _deliver(
    ledger: Ledger,
    outputs: dict[str, Output],
    enricher: _Enricher,
    s: Settings,
    d: Delivery,
    det: Detection | None,
    now: datetime,
    owner: str,
    incident: Incident | None = None,
    rule: Callable[[str], Detection | None] | None = None,
) -> Literal["delivered", "failed", "down", "elsewhere"]:
    """One claimed (alert, output) delivery; the outcome is recorded in the ledger either way, which ends
    the lease ("down": failed through all the output's own retries, see OutputDown). If the dispatcher is
    stopped first (an exception that is not the output's failure, e.g. the task being terminated), the lease
    is handed back so the next run need not wait for it to expire; a SIGKILL cannot do that, and then the
    lease expires.

    An alert of an `incident`, to an output that delivers per incident, is sent as a member of it
    (`Output.deliver_member`) under the incident's own lease: one dispatcher at a time writes to an
    incident's ticket, so two of its alerts sent at once cannot open two issues. When another dispatcher
    holds that lease, the alert's claim is handed back ("elsewhere"): the holder delivers the incident."""
    out = outputs.get(d.output) or outputs.setdefault(d.output, make_output(d.output, s))
    grouped = incident is not None and out.capabilities.per_incident and out.groups(det)
    iid = incident.incident_id if incident is not None and grouped else None
    ticket = IncidentTicket()
    if iid is not None:
        held = ledger.claim_incident(iid, d.output, owner, s.delivery_lease)
        if not held.won:
            log.info("incident %s to %s: in flight in %s, left to it", iid, d.output, held.held_by)
            _release_quietly(ledger, d.alert.key, d.output, owner)
            return "elsewhere"
        ticket = held.ticket
    try:
        alert = enricher.enriched(d.alert, det)
        # Pages and messages link to the ticket, which was delivered first; tickets are not given one.
        links = out.capabilities.links_to_ticket
        link = ticket_link(ledger.refs(d.alert.key)) if links else None
        try:
            if iid is not None and incident is not None:
                view = _incident_view(incident, rule or (lambda _: None))
                ref, ticket = out.deliver_member(alert, det, view, ticket, d.previous_ref, ticket_url=link)
            elif links:
                ref = out.deliver(alert, det, d.previous_ref, ticket_url=link)
            else:
                ref = out.deliver(alert, det, d.previous_ref)
        except Exception as exc:  # one bad output must not block the others; recorded, retried
            n = ledger.mark_failed(d.alert.key, d.output, f"{type(exc).__name__}: {exc}", now, owner)
            if iid is not None:
                _release_quietly(ledger, iid, d.output, owner)
            log.warning(
                "delivery of %s to %s failed (%d in a row): %s", d.alert.key, d.output, n, type(exc).__name__
            )
            return "down" if isinstance(exc, OutputDown) else "failed"
        if iid is not None:
            ledger.record_incident(iid, d.output, ticket, owner)
        ledger.mark_delivered(d.alert.key, d.output, ref, d.alert.hit_count, owner)
    except BaseException:
        _release_quietly(ledger, d.alert.key, d.output, owner)
        if iid is not None:
            _release_quietly(ledger, iid, d.output, owner)
        raise
    if out.capabilities.ticket_is_link and d.previous_ref is None:
        # The ticket exists only now: a page sent while the ticket output was down lacks its link.
        for other in OUTPUTS:
            if _relinks(other):
                ledger.mark_stale(d.alert.key, other)
    return "delivered"


def _incident_view(inc: Incident, rule: Callable[[str], Detection | None]) -> IncidentView:
    """The incident as outputs see it, with the definitions of its members' rules (runbooks, tactics)."""
    return IncidentView(
        incident_id=inc.incident_id,
        severity=inc.severity,
        severity_reason=inc.severity_reason,
        tactics=list(inc.tactics),
        entities=list(inc.entities),
        first_seen=inc.first_seen,
        last_seen=inc.last_seen,
        members=list(inc.members),
        rules={a.detection_id: rule(a.detection_id) for a in inc.members},
    )


def _fold_merged(
    ledger: Ledger, outputs: dict[str, Output], s: Settings, owner: str, configured: dict[str, bool]
) -> int:
    """Incidents merged into another (a bridging alert connected them) whose own ticket/page exists: each
    output folds it into its survivor's (GitHub: a comment on each, the merged issue closed; PagerDuty: the
    merged page resolved), after the merged incident's alerts are re-pointed to the survivor's ticket, so
    the lifecycle sync never reads a closed ticket for an open attack. Waits until the survivor has its own
    delivery (its members are due). Returns the folds that failed (retried next run)."""
    merged_into = {m["merged_id"]: m["into_id"] for m in incident_merges(ledger)}
    if not merged_into:
        return 0

    def survivor(iid: str) -> str:
        seen = {iid}
        while iid in merged_into and merged_into[iid] not in seen:
            iid = merged_into[iid]
            seen.add(iid)
        return iid

    failures = 0
    for name in sorted(OUTPUTS, key=delivery_rank):
        if not OUTPUTS[name].capabilities.per_incident:
            continue
        rows = ledger.incident_tickets(name)
        for loser in sorted(set(merged_into) & set(rows)):
            state, merged = rows[loser]
            winner = survivor(loser)
            into = rows.get(winner, ("", IncidentTicket()))[1]
            if state == "merged" or not merged.ref or not into.ref:
                continue
            if name not in configured:
                configured[name] = OUTPUTS[name].configured(s)
            if not configured[name] or not ledger.claim_incident(loser, name, owner, s.delivery_lease).won:
                continue
            out = outputs.get(name) or outputs.setdefault(name, make_output(name, s))
            try:
                ledger.repoint(name, merged.ref, into.ref)
                out.fold(loser, merged, winner, into)
                ledger.mark_folded(loser, name, owner)
            except Exception as exc:
                _release_quietly(ledger, loser, name, owner)
                log.warning("folding incident %s into %s on %s failed: %s", loser, winner, name, exc)
                failures += 1
    return failures


def _capabilities(name: str) -> Capabilities | None:
    """A registered output's capabilities; None for a delivery row whose output is no longer registered."""
    cls = OUTPUTS.get(name)
    return cls.capabilities if cls is not None else None


def _relinks(name: str) -> bool:
    """Outputs re-sent once the ticket exists: they link to it and a re-send updates what they sent."""
    caps = _capabilities(name)
    return caps is not None and caps.links_to_ticket and caps.updates_in_place


def _resolve_closed(
    ledger: Ledger, outputs: dict[str, Output], s: Settings, owner: str, configured: dict[str, bool]
) -> int:
    """Incidents closed in triage (`mamori incidents close`): their pages are resolved, and every output that
    notifies per incident forgets the severity it notified at, so an alert that re-opens the incident pages
    and posts again. Once per close (an incident whose notification is already cleared is skipped). Returns
    the resolves that failed (retried next run)."""
    failures = 0
    for name in sorted(OUTPUTS, key=delivery_rank):
        if not OUTPUTS[name].capabilities.per_incident:
            continue
        rows = {iid: t for iid, (state, t) in ledger.incident_tickets(name).items() if t.notified and t.ref}
        for iid in sorted(closed_ids(ledger, rows)):
            if name not in configured:
                configured[name] = OUTPUTS[name].configured(s)
            if not configured[name] or not ledger.claim_incident(iid, name, owner, s.delivery_lease).won:
                continue
            out = outputs.get(name) or outputs.setdefault(name, make_output(name, s))
            ticket = rows[iid]
            try:
                if out.capabilities.resolves and ticket.ref:
                    out.resolve(ticket.ref)
                ledger.record_incident(iid, name, IncidentTicket(ticket.ref, None), owner)
            except Exception as exc:
                _release_quietly(ledger, iid, name, owner)
                log.warning("resolving closed incident %s on %s failed: %s", iid, name, exc)
                failures += 1
    return failures


def sync_triage(
    ledger: Ledger, outputs: dict[str, Output], s: Settings, owner: str, configured: dict[str, bool]
) -> int:
    """Closes and reopens done in mamori (`mamori incidents close|reopen`, the view) shown on the incident's
    ticket by every output that mirrors triage (GitHub: verdict label, a comment, closed / reopened), once
    per action: the incident's delivery row remembers the last action its ticket shows (`synced_action`).
    Only the latest close/reopen is mirrored (a close then a reopen before one dispatch leaves the issue
    open, with the reopen's comment). Under the incident's lease, like its deliveries, so two dispatchers
    never write it at once. Returns the mirrors that failed (retried next run)."""
    failures = 0
    for name in sorted(OUTPUTS, key=delivery_rank):
        caps = OUTPUTS[name].capabilities
        if caps.acknowledges and caps.per_incident:
            failures += _acknowledge_pages(ledger, outputs, s, owner, configured, name)
        if not caps.mirrors_triage:
            continue
        pending = ledger.triage_unsynced(name)
        if not pending:
            continue
        if name not in configured:
            configured[name] = OUTPUTS[name].configured(s)
        if not configured[name]:
            continue
        out = outputs.get(name) or outputs.setdefault(name, make_output(name, s))
        for p in pending:
            if not ledger.claim_incident(p.incident_id, name, owner, s.delivery_lease).won:
                continue
            a = p.action
            # No comment for what the ticket says already: a verdict read from it (`github:<login>`), or
            # mamori's own reopen on new activity (the new member's comment is on the ticket).
            said = a["actor"] == triage.MAMORI or a["actor"].startswith(f"{name}:")
            change = TriageChange(
                int(a["action_id"]), a["action"], a["verdict"], a["note"], a["actor"], a["at"], not said
            )
            try:
                out.mirror_triage(p.ref, p.incident_id, change)
                ledger.mark_triage_synced(p.incident_id, name, change.action_id, owner)
            except Exception as exc:  # retried next run; the lease handed back so it need not expire first
                _release_quietly(ledger, p.incident_id, name, owner)
                log.warning(
                    "mirroring the %s of incident %s on %s failed: %s", a["action"], p.incident_id, name, exc
                )
                failures += 1
            except BaseException:  # the dispatcher is stopped: hand the lease back, as _deliver does
                _release_quietly(ledger, p.incident_id, name, owner)
                raise
    return failures


def _acknowledge_pages(
    ledger: Ledger,
    outputs: dict[str, Output],
    s: Settings,
    owner: str,
    configured: dict[str, bool],
    name: str,
) -> int:
    """Incidents acknowledged in mamori: their page on `name` is acknowledged (escalation stops), once per
    acknowledgement. A close or reopen after it is only noted as seen: closes resolve the page
    (`_resolve_closed`), and a person's reopen does not page again (someone is on it)."""
    pending = ledger.triage_unsynced(name, ("acknowledge", "close", "reopen"))
    if not pending:
        return 0
    if name not in configured:
        configured[name] = OUTPUTS[name].configured(s)
    if not configured[name]:
        return 0
    out = outputs.get(name) or outputs.setdefault(name, make_output(name, s))
    failures = 0
    for p in pending:
        if not ledger.claim_incident(p.incident_id, name, owner, s.delivery_lease).won:
            continue
        try:
            if p.action["action"] == "acknowledge":
                out.acknowledge(p.ref)
            ledger.mark_triage_synced(p.incident_id, name, int(p.action["action_id"]), owner)
        except Exception as exc:
            _release_quietly(ledger, p.incident_id, name, owner)
            log.warning("acknowledging incident %s on %s failed: %s", p.incident_id, name, exc)
            failures += 1
        except BaseException:  # the dispatcher is stopped: hand the lease back, as _deliver does
            _release_quietly(ledger, p.incident_id, name, owner)
            raise
    return failures


def _release_quietly(ledger: Ledger, key: str, output: str, owner: str) -> None:
    try:
        ledger.release(key, output, owner)
    except Exception as exc:  # the ledger itself is the problem: the lease will expire on its own
        log.warning("could not release the lease on %s to %s: %s", key, output, type(exc).__name__)


# A closed ticket's label that becomes its alert's resolution: the triage verdicts (one vocabulary for
# alerts.resolution, whether the ticket or `mamori incidents close` closed the alert; `verdict:<v>` or the bare
# `<v>` on the ticket), or a duplicate.
RESOLUTION_LABELS = (*VERDICTS, "duplicate")


def ticket_resolution(labels: tuple[str, ...]) -> str:
    """What a closed ticket's labels say about its alerts: its one verdict, else `duplicate`, else `closed`
    (no verdict, or two that contradict each other)."""
    verdicts = triage.label_verdicts(labels)
    if len(verdicts) == 1:
        return next(iter(verdicts))
    return "duplicate" if "duplicate" in {lb.strip().lower() for lb in labels} else "closed"


def sync_alerts(settings: Settings | None = None) -> dict[str, Any]:
    """Ticket closed ⇒ alert resolved: resolve its pages, record the resolution in the ledger; an incident's
    ticket closed with one verdict label ⇒ the incident closed with that verdict, by `<output>:<login>`.

    This task reconciles state with the ticket system, so unlike the window tasks it reads "now" from it;
    it is idempotent (a resolved page resolves again harmlessly; resolved alerts are not checked again).
    Tickets are read from every configured output that can report their state, pages resolved on every
    output that can resolve them (capabilities, not names). Pages are resolved before the ledger so a crash in
    between is retried by the next run.

    An incident whose ticket does not show its latest triage yet (a reopen in mamori not mirrored because
    GitHub was down) is left alone: the ticket's closed state is older than mamori's, and reading it would
    undo the reopen. The verdict read from a ticket counts as shown there (`synced_action`), so the next
    dispatch does not comment it back.
    """
    s = settings or load_settings()
    ledger = Ledger(s.ledger_url)
    trackers = [n for n in sorted(OUTPUTS, key=delivery_rank) if OUTPUTS[n].capabilities.syncs_state]
    trackers = [n for n in trackers if OUTPUTS[n].configured(s)]
    if not trackers:
        return {
            "checked": 0,
            "resolved": 0,
            "verdicts": 0,
            "reason": "no ticket output that syncs state: tickets are local files",
        }
    outputs: dict[str, Output] = {}

    def output(name: str) -> Output:
        return outputs.get(name) or outputs.setdefault(name, make_output(name, s))

    # An incident's alerts share one ticket and one page: each is read and resolved once per run.
    states: dict[tuple[str, str], TicketState] = {}
    resolved_pages: set[tuple[str, str]] = set()

    def state(name: str, ref: str) -> TicketState:
        if (name, ref) not in states:
            states[(name, ref)] = output(name).ticket_state(ref)
        return states[(name, ref)]

    # (output, ticket) → the live incident it is the ticket of; tickets whose incident's triage waits to
    # be mirrored on them.
    incident_of: dict[tuple[str, str], str] = {}
    lagging: set[tuple[str, str]] = set()
    for name in trackers:
        if not OUTPUTS[name].capabilities.per_incident:
            continue
        for iid, (row_state, ticket) in ledger.incident_tickets(name).items():
            if ticket.ref and row_state != "merged":
                incident_of[(name, ticket.ref)] = iid
        lagging |= {(name, p.ref) for p in ledger.triage_unsynced(name)}
    checked = resolved = verdicts = 0
    closed_here: set[str] = set()
    for alert in ledger.alerts(status="open"):
        refs = ledger.refs(alert.key)
        tickets = [(n, refs[n]) for n in trackers if n in refs]
        if not tickets or any(t in lagging for t in tickets):
            continue
        checked += 1
        closed_ticket = next(((n, ref) for n, ref in tickets if state(n, ref).closed), None)
        if closed_ticket is None:
            continue
        closed = state(*closed_ticket)
        for name in sorted(refs, key=delivery_rank):
            caps = _capabilities(name)
            if caps is not None and caps.resolves and (name, refs[name]) not in resolved_pages:
                output(name).resolve(refs[name])  # the page's dedup key: the alert's or its incident's
                resolved_pages.add((name, refs[name]))
        resolution = ticket_resolution(closed.labels)
        judged = incident_of.get(closed_ticket)
        if judged is not None and judged not in closed_here and resolution in VERDICTS:
            verdicts += _verdict_from_ticket(ledger, closed_ticket[0], judged, resolution, closed)
            closed_here.add(judged)
        ledger.resolve(alert.key, resolution)
        resolved += 1
    summary = {"checked": checked, "resolved": resolved, "verdicts": verdicts}
    log.info("sync_alerts: %s", summary)
    return summary


def _verdict_from_ticket(ledger: Ledger, output: str, iid: str, verdict: str, closed: TicketState) -> int:
    """The incident's ticket was closed with `verdict`: record it as the incident's, by `<output>:<login>`
    (the ledger's record says who judged it, wherever they did), and as shown on that ticket. 1 when a
    close was recorded."""
    actor = f"{output}:{closed.closed_by or 'unknown'}"
    try:
        out = triage.close(ledger, iid, verdict, actor, note=f"closed on {output} with its verdict label")
    except triage.TriageError as exc:  # e.g. merged meanwhile: the alerts are still resolved
        log.warning("incident %s: verdict from %s not recorded: %s", iid, output, exc)
        return 0
    if out.recorded is None or out.recorded.action_id is None:
        return 0
    ledger.mark_triage_synced(iid, output, out.recorded.action_id, None)
    return 1
