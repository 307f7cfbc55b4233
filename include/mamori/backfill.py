"""Backfill: replay what the ingest and detect DAGs do over a range of data intervals, resumably.

`mamori backfill --from F --to T` takes the same data intervals the DAGs would at the configured cadence (and
that `airflow backfill create` schedules): for each ingest interval it runs ingest for every source (landing
window = interval), and each detect interval once the ingest windows it waits for are done, the detect chunks
for that interval (events of the interval shifted back by the detection lag, as the detect
DAG does). Each step is already idempotent (same input objects, same output names, ledger rows per window), so
a second backfill changes nothing and opens no second ticket. What is added here is resumability: the steps
done are recorded in the lake after each step, so a killed backfill resumes where it stopped instead of
starting over, and a crash inside a step only repeats that step.

Which raw objects a window reads: those that *landed* (S3 LastModified) in it, under the key dates around it (its
day and the one before), from MAMORI_RAW_URL. An archive copied or replicated into the raw bucket today (a
forensic import, `aws s3 sync`, a re-delivery) landed today under last month's key dates, so no landing window
reads it (each day's first window warns about such objects: WindowPlan.out_of_range). `by="key-date"` imports
them: it lists the key dates [start, end), records each object that its landing window does not list in that window's
`_imports.json` (WindowImports), runs those landing windows, which from then on read the imported objects with
their own (a re-run of either kind changes nothing: same plan, same output names, same alert keys), and then
detects over the events of [start, end).

Alerts a backfill opens do not page by default (`page=False`): they are recorded with ticket routes only,
because finding last month's intrusion is worth a ticket, but nobody is woken for it. `--page` turns paging
on. The backfill itself delivers nothing: tickets are opened by a dispatch, `--dispatch` at its end or the
next `dispatch_alerts` run.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson

from mamori import detect, ingest, windows
from mamori.config import Settings, load_settings
from mamori.detections.loader import load_catalog_tolerant
from mamori.lake import Store, layout
from mamori.lake.manifests import BackfillProgress, WindowImports
from mamori.sources import SOURCES, get_source

SelectBy = Literal["landing", "key-date"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class BackfillPlan:
    start: datetime
    end: datetime
    sources: list[str] = field(default_factory=list)  # sources to ingest; empty = detections only
    detections: list[str] = field(default_factory=list)  # rules to run; empty = no detection steps
    page: bool = False
    by: SelectBy = "landing"  # which raw objects: those landed in the range, or those keyed by its dates

    def steps(self, ingest_interval: timedelta, detect_interval: timedelta | None = None) -> list[str]:
        """Step ids in execution order, as the schedule would run them: every source's ingest of a window,
        and each detect run after the ingest windows it waits for (`mamori.windows.run_sequence`)."""
        out: list[str] = []
        for kind, t in windows.run_sequence(
            self.start, self.end, ingest_interval, detect_interval or ingest_interval
        ):
            if kind == "ingest":
                out += [f"ingest/{src}/{t.isoformat()}" for src in self.sources]
            elif self.detections:
                out.append(f"detect/{t.isoformat()}")
        return out

    def state_key(self) -> str:
        """One state file per distinct plan: a different range or rule set is a different backfill."""
        doc = orjson.dumps(self.record(), option=orjson.OPT_SORT_KEYS)
        return layout.backfill_progress(hashlib.sha256(doc).hexdigest()[:16])

    def record(self) -> dict[str, Any]:
        """The plan as recorded (`by` only when not the default, so earlier backfills keep their state key)."""
        doc = asdict(self)
        if self.by == "landing":
            del doc["by"]
        return doc


def make_plan(
    start: datetime,
    end: datetime,
    sources: list[str] | None = None,
    detections: list[str] | None = None,
    ingest_data: bool = True,
    page: bool = False,
    settings: Settings | None = None,
    by: SelectBy = "landing",
) -> BackfillPlan:
    """Validate the request against the registry and the catalog, so a typo fails before any work."""
    s = settings or load_settings()
    if end <= start:
        raise ValueError(f"empty range [{start}, {end})")
    if by == "key-date" and not all(windows.is_aligned(t, timedelta(days=1)) for t in (start, end)):
        raise ValueError("--by key-date takes whole days (keys are dated by day): --from/--to at 00:00 UTC")
    for step in sorted({s.ingest_interval, s.detect_interval}):
        for t in (start, end):
            if not windows.is_aligned(t, step):
                raise ValueError(f"{t.isoformat()} is not aligned to the {step} data interval")
    unknown = sorted(set(sources or []) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; known: {sorted(SOURCES)}")
    loaded, broken = load_catalog_tolerant(s.sql_dir, include_deprecated=False)
    enabled = [d.id for d in loaded] + [b.id for b in broken]  # broken ones run to be reported, as in detect
    missing = sorted(set(detections or []) - set(enabled))
    if missing:
        raise ValueError(f"unknown or deprecated detection(s) {missing}")
    return BackfillPlan(
        start=start,
        end=end,
        sources=sorted(sources or SOURCES) if ingest_data else [],
        detections=sorted(detections) if detections is not None else enabled,
        page=page,
        by=by,
    )


def import_by_key_date(
    source: str, start: datetime, end: datetime, settings: Settings
) -> dict[datetime, int]:
    """Record the objects keyed by dates in [start, end) that their landing window does not list, in that
    window's `_imports.json`; returns {landing window start: objects recorded}. Idempotent (a set per window)."""
    s = settings
    src = get_source(source)
    raw, lake = Store(s.raw_url, s.raw_conn_id), Store(s.lake_url, s.lake_conn_id)
    found: dict[datetime, set[str]] = {}
    for pattern in ingest.dated_prefixes(src, start.date(), (end - timedelta(days=1)).date()):
        for prefix in raw.glob_prefixes(pattern):
            for obj in raw.find(prefix):
                if src.classify(obj.key) is None:
                    continue
                w = windows.floor(obj.landed, s.ingest_interval)
                if not ingest.listed_by_window(src, obj.key, w, w + s.ingest_interval):
                    found.setdefault(w, set()).add(obj.key)
    span = [start.isoformat(), end.isoformat()]
    for w, keys in found.items():
        key = layout.imports_key(source, w)
        record = (
            WindowImports.from_json(lake.read_bytes(key))
            if lake.exists(key)
            else WindowImports(source=source, window_start=w.isoformat())
        )
        if not keys <= set(record.keys) or span not in record.key_dates:
            record.keys = sorted(set(record.keys) | keys)
            record.key_dates = [*record.key_dates, span]
            lake.write_atomic(key, record.to_json())
    if found:
        log.info(
            "%s: %d object(s) keyed by [%s, %s) imported into %d landing window(s)",
            source,
            sum(len(k) for k in found.values()),
            start.date(),
            end.date(),
            len(found),
        )
    return {w: len(k) for w, k in sorted(found.items())}


def _key_date_steps(plan: BackfillPlan, s: Settings) -> tuple[list[str], dict[str, int]]:
    """Steps of a key-date backfill: the landing windows its imports went to, then the range's detect runs."""
    steps: list[str] = []
    imported: dict[str, int] = {}
    for source in plan.sources:
        found = import_by_key_date(source, plan.start, plan.end, s)
        imported[source] = sum(found.values())
        steps += [f"ingest/{source}/{w.isoformat()}" for w in found]
    detect_only = BackfillPlan(plan.start, plan.end, [], plan.detections, plan.page)
    return steps + detect_only.steps(s.ingest_interval, s.detect_interval), imported


def run_backfill(
    plan: BackfillPlan,
    settings: Settings | None = None,
    restart: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the plan's steps not yet done; returns counts (steps run, skipped as done, alerts fired)."""
    s = settings or load_settings()
    lake = Store(s.lake_url, s.lake_conn_id)
    key = plan.state_key()
    imported: dict[str, int] | None = None
    if plan.by == "key-date":
        steps, imported = _key_date_steps(plan, s)
    else:
        steps = plan.steps(s.ingest_interval, s.detect_interval)
    done: set[str] = set()
    if lake.exists(key) and not restart:
        done = set(BackfillProgress.from_json(lake.read_bytes(key)).done)
    chunks = detect.detection_chunks(s, only=set(plan.detections))  # the detect DAG's grouping
    ran = alerts = 0
    keys: set[str] = set()  # alerts this run opened or updated (rule errors aside)
    rule_errors: set[str] = set()
    for n, step in enumerate(steps, 1):
        if step in done:
            continue
        kind, *rest = step.split("/")
        if kind == "ingest":
            source, t = rest[0], datetime.fromisoformat(rest[1])
            for batch in ingest.plan_window(source, t, t + s.ingest_interval, s):
                ingest.convert_batch(batch, s)
            ingest.finalize_window(source, t, t + s.ingest_interval, s)
        else:
            t = datetime.fromisoformat(rest[0])
            u = t + s.detect_interval
            results = [r for chunk in chunks for r in detect.run_chunk(chunk, t, u, s, page=plan.page)]
            alerts += sum(len(r["alerts"]) for r in results)
            keys.update(k for r in results for k in r["alerts"])
            errors = [r for r in results if r.get("error")]
            alerts += len(detect.record_rule_errors(errors, t, u, s))
            # As the detect DAG's record task does: the window's alerts join incidents once all are in.
            detect.record_run_incidents(t, u, s)
            rule_errors.update(
                f"{r['detection']}: {r['error']['file']}:{r['error']['line'] or '?'}" for r in errors
            )
        done.add(step)
        # Written after every step: a kill loses at most the step in flight, which is idempotent to repeat.
        state = BackfillProgress(plan=plan.record(), done=sorted(done), steps=len(steps))
        lake.write_atomic(key, state.to_json())
        ran += 1
        if progress:
            progress(n, len(steps), step)
    summary: dict[str, Any] = {
        "steps": len(steps),
        "ran": ran,
        "already_done": len(steps) - ran,
        "alert_updates": alerts,
        "rule_errors": sorted(rule_errors),
        "alert_keys": sorted(keys),
    }
    if imported is not None:
        summary["imported_objects"] = imported
    log.info("backfill [%s, %s): %s", plan.start, plan.end, summary)
    return summary
