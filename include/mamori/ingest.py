"""Landing window → Parquet lake: plan batches, convert each batch, finalize the window.

Guarantees, each with the tests that fail when it is broken:
- a window's input is the set of objects whose landing time is in [start, end), so a task is a pure function of
  its data interval and a late object is picked up by the window in which it lands
  (tests/unit/test_ingest.py::test_window_reads_objects_landed_in_it_and_loses_nothing). Objects are listed
  under the key dates around the window; those landing under older key dates (an archive copied in) are
  warned about and counted by the next day's first window (`out_of_range`), and read once `mamori backfill
  --by key-date` recorded them for their landing window (`_imports.json`; tests/alerts/test_key_date_import.py);
- nothing is lost. A whole object that cannot be opened counts as one quarantined unit and stays untouched in the
  raw store. Each count guard below raises ReconciliationError and leaves a `_gap-*.json` record for the health
  DAG, never a manifest or `_SUCCESS.json` claiming success; tests/unit/test_ingest_guards.py injects each fault:
  - the rows the parsers emit are the rows they counted, checked before anything is written
    (test_a_parser_emitting_other_rows_than_it_counted_fails_the_batch);
  - per batch, records_in == rows_out + quarantined, validation's quarantine included
    (test_a_row_validation_rejects_but_does_not_quarantine_fails_the_batch);
  - the batch's Parquet files hold the rows_out its manifest records, so neither validation nor the writer can
    drop a row unseen (test_rows_missing_from_the_written_files_fail_the_batch);
  - a `fail` data-quality check (row_count:manifest: validation saw every row emitted) stops the batch before
    anything is written (test_a_failed_fail_check_stops_the_batch_before_anything_is_written; with GX:
    tests/quality/test_dq_guards.py::test_a_segment_that_lost_a_row_fails_the_batch_task);
  - finalize: every planned batch has a manifest (test_a_batch_without_a_manifest_fails_the_window) from its
    last attempt (test_a_batch_whose_latest_attempt_failed_is_not_trusted_to_its_old_manifest), the window's
    sums add up, and a failure removes an earlier run's `_SUCCESS.json`
    (test_a_manifest_that_does_not_add_up_fails_the_window_and_unmarks_it).
  Broken contracts raise ValueError: a table emitted without one origin per row, validation adding rows
  (convert.BatchTables), a planned key its source no longer claims (same file:
  test_a_parser_emitting_rows_without_their_origins_fails_the_batch, test_validation_adding_rows_fails_the_batch,
  test_a_planned_key_the_source_no_longer_claims_fails_the_batch). A parser's records_in is its rows_out +
  quarantined by construction (ColumnarResult): a record a parser drops from both counts is invisible to these
  guards and is the parser tests' business (tests/sources);
- output names derive from (window, batch, partition), writes are atomic and the batch manifest is written
  last, so a retry or a re-run overwrites instead of duplicating, and files a re-run no longer produces are
  removed (tests/unit/test_ingest.py: test_rerunning_a_window_leaves_an_identical_lake,
  test_files_a_rerun_no_longer_produces_are_removed, test_a_crash_mid_write_leaves_no_partial_file);
- a batch becomes visible whole (docs/adr/0004-batches-publish-whole.md): its files are staged under
  `_staging/` and moved to their keys only once every guard passed, so a task killed or failing before that
  shows no row of the batch to any reader (DuckDB views, search, Athena), and its next attempt clears what it
  left, temporaries included (tests/unit/test_ingest_kill.py, a real SIGKILL; a failed guard:
  test_rows_missing_from_the_written_files_fail_the_batch). A kill between the publish's moves is the one
  stretch that exposes part of a batch: its `_publishing` record makes finalize refuse the window until the
  re-run has replaced or removed every file it lists
  (test_a_batch_killed_while_publishing_blocks_its_window_until_a_rerun_cleans_up);
- every batch is validated (mamori.quality) before anything is written: rows a check rejects are quarantined
  with the check as reason and still counted, and the window's data-quality alerts are recorded by finalize
  (tests/quality/test_dq_validate.py, tests/quality/test_dq_guards.py).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from mamori.config import Settings, load_settings
from mamori.lake import ObjectInfo, StagedWrites, Store, compact, convert, layout
from mamori.lake.manifests import (
    BatchDq,
    BatchManifest,
    DqBatchResult,
    FailedTally,
    GapRecord,
    ObjectCount,
    PublishingRecord,
    QuarantineClass,
    StreamCount,
    WindowDq,
    WindowImports,
    WindowPlan,
    WindowSummary,
    listed_files,
)
from mamori.quality.observe import BatchObserver
from mamori.quality.quarantine import summarize as quarantine_classes
from mamori.quality.validate import BatchQuality, merge_quality, validate_table, warm_up
from mamori.sources import SOURCES, detection_trail, get_source
from mamori.sources.base import LARGE_OBJECT_BYTES, ColumnarResult, LargeObject, Source, gc_paused
from mamori.windows import Window, event_window, floor, is_aligned, late_horizon, window_tag

log = logging.getLogger(__name__)


class ReconciliationError(RuntimeError):
    """records in != rows out + quarantined: something was lost, and the run must not pretend otherwise."""


def _stores(s: Settings) -> tuple[Store, Store]:
    return Store(s.raw_url, s.raw_conn_id), Store(s.lake_url, s.lake_conn_id)


def _landed_under(
    raw: Store, patterns: Iterable[str], start: datetime, end: datetime
) -> dict[str, ObjectInfo]:
    seen: dict[str, ObjectInfo] = {}
    for pattern in patterns:
        for prefix in raw.glob_prefixes(pattern):
            for obj in raw.find(prefix):
                if start <= obj.landed < end:
                    seen[obj.key] = obj
    return seen


def list_landed(
    src: Source, raw: Store, start: datetime, end: datetime, imported: Sequence[str] = ()
) -> tuple[list[ObjectInfo], list[str]]:
    """Objects that landed in [start, end) under the source's prefixes, and keys there it does not claim.

    The prefixes are those of the key dates around the window (the source's `list_prefixes`: the window's days
    and the one before). `imported` are keys `mamori backfill --by key-date` recorded for this window
    (WindowImports): objects that landed in it under older key dates, read with the others.
    """
    seen = _landed_under(raw, src.list_prefixes(start, end), start, end)
    for key in imported:
        for obj in raw.find(key):
            if obj.key == key and start <= obj.landed < end:
                seen[key] = obj
    claimed = [o for k, o in sorted(seen.items()) if src.classify(k) is not None]
    unclaimed = [k for k in sorted(seen) if src.classify(k) is None]
    return claimed, unclaimed


def imported_keys(lake: Store, source: str, start: datetime) -> list[str]:
    """The keys `mamori backfill --by key-date` assigned to this window (none for almost every window)."""
    key = layout.imports_key(source, start)
    return WindowImports.from_json(lake.read_bytes(key)).keys if lake.exists(key) else []


def dated_prefixes(src: Source, first: date, last: date) -> list[str]:
    """The source's listing patterns for the key dates first..last only (empty when last < first). Patterns
    without a date in them (layouts listed whole, filtered by landing time alone) are left out: every window
    already reads what lands under them."""
    if last < first:
        return []
    a = datetime.combine(first + timedelta(days=1), time(), UTC)
    b = datetime.combine(last, time(), UTC)  # list_prefixes(a, b) lists the days (a - 1 day) .. b
    undated = set(src.list_prefixes(a, a)) & set(
        src.list_prefixes(a + timedelta(days=10), a + timedelta(days=10))
    )
    return [p for p in dict.fromkeys(src.list_prefixes(a, b)) if p not in undated]


def listed_by_window(src: Source, key: str, start: datetime, end: datetime) -> bool:
    """Whether the landing window [start, end) lists `key`'s prefix (then it reads the key if it landed in it)."""
    return any(_glob_re(p).match(key) for p in src.list_prefixes(start, end))


def _glob_re(pattern: str) -> re.Pattern[str]:
    """A listing pattern as a prefix regex: `*` within one path segment (as Store.glob_prefixes expands it) and
    `[...]` a character class (sources list account ids as `[0-9]` twelve times); everything else literal."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        close = pattern.find("]", i + 1) if c == "[" else -1
        if c == "*":
            out.append("[^/]*")
        elif close > i + 1:
            out.append("[" + pattern[i + 1 : close].replace("\\", "\\\\") + "]")
            i = close
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def out_of_range(
    src: Source, raw: Store, lake: Store, start: datetime, end: datetime, days: int, interval: timedelta
) -> list[str]:
    """Keys no landing window reads: objects that landed in the last day (and this window) under key dates up
    to `days` older than their landing window lists, and that no key-date import recorded. That is an archive
    copied or replicated into the raw bucket (forensic import, `aws s3 sync`, re-delivery).

    Checked by the first window of each UTC day only: the listing covers `days` of key dates for every stream
    (on S3, a LIST request per stream and day), too much to repeat every window; empty for the others.
    """
    if days <= 0 or not is_aligned(start, timedelta(days=1)):
        return []
    since = start - timedelta(days=1)
    patterns = dated_prefixes(src, (since - timedelta(days=days)).date(), start.date())
    recorded: dict[datetime, set[str]] = {}
    out = []
    for key, obj in sorted(_landed_under(raw, patterns, since, end).items()):
        if src.classify(key) is None:
            continue
        w = floor(obj.landed, interval)
        if listed_by_window(src, key, w, w + interval):
            continue
        if w not in recorded:
            recorded[w] = set(imported_keys(lake, src.name, w))
        if key not in recorded[w]:
            out.append(key)
    return out


def plan_window(
    source: str, start: datetime, end: datetime, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Split the window's landed objects into batches (deterministic: sorted keys, fixed limits).

    The plan is also written to the lake (`_plan.json`): finalize reads the batch count and the unclaimed keys
    from there, so XCom only carries what task mapping needs.
    """
    s = settings or load_settings()
    src = get_source(source)
    raw, lake = _stores(s)
    imported = imported_keys(lake, source, start)
    objects, unclaimed = list_landed(src, raw, start, end, imported)
    if unclaimed:
        log.warning(
            "%d object(s) under %s prefixes match no known layout: %s", len(unclaimed), source, unclaimed[:20]
        )
    older = out_of_range(src, raw, lake, start, end, s.archive_check_days, s.ingest_interval)
    if older:
        log.warning(
            "%d %s object(s) landed since %s under key dates older than their landing window reads (an archive "
            "copied in?); no window ingests them: import them with `mamori backfill --by key-date --from "
            "<first key date> --to <day after the last>` (checked by each day's first window, "
            "MAMORI_ARCHIVE_CHECK_DAYS days back): %s",
            len(older),
            source,
            (start - timedelta(days=1)).isoformat(),
            older[:20],
        )
    # Imported objects (an archive's) go in batches of their own after the others: their rows are old on
    # purpose, so those batches skip the "older than late" data-quality flag (validate_table).
    imports = set(imported)
    batches = _batches([o for o in objects if o.key not in imports], s)
    batches += [b | {"imported": True} for b in _batches([o for o in objects if o.key in imports], s)]
    for i, b in enumerate(batches):
        b.update(source=source, window_start=start.isoformat(), window_end=end.isoformat(), index=i)
    plan = WindowPlan(
        source=source,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        batches=len(batches),
        objects=len(objects),
        unclaimed=unclaimed,
        batch_keys=[b["keys"] for b in batches],
        out_of_range=older,
    )
    lake.write_atomic(layout.plan_key(source, start), plan.to_json())
    log.info("%s window %s: %d objects in %d batches", source, window_tag(start), len(objects), len(batches))
    return batches


def _batches(objects: list[ObjectInfo], s: Settings) -> list[dict[str, Any]]:
    batches: list[dict[str, Any]] = []
    current: list[ObjectInfo] = []
    size = 0
    for obj in objects:
        if current and (len(current) >= s.batch_max_objects or size + obj.size > s.batch_max_bytes):
            batches.append({"keys": [o.key for o in current], "sizes": [o.size for o in current]})
            current, size = [], 0
        current.append(obj)
        size += obj.size
    if current:
        batches.append({"keys": [o.key for o in current], "sizes": [o.size for o in current]})
    return batches


def warm_worker() -> float:
    """Load what every convert task would otherwise load for itself, in a process that forks task processes.

    Airflow's LocalExecutor worker forks one process per task, and a fork inherits its parent's imports. A
    convert task that starts cold spends ~3 s importing and setting up Great Expectations before its first
    check, more than the checks of a ~1,000-event batch take (bench section `gx_task_cost`); warmed once in the
    scheduler before it forks its workers (the plugin's listener), every task starts with GX's context, the
    metric implementations and each source's schema verdict in place. Returns the seconds spent.
    """
    return warm_up(SOURCES)


def convert_batch(batch: dict[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """Parse a batch's objects and write its partitions, quarantine and manifest (manifest last).

    The files are staged outside `curated/` and published together once every guard passed, so no reader
    sees part of a batch while it is written, nor any of a batch that failed (docs/adr/0004).
    """
    convert.use_system_allocator()
    s = settings or load_settings()
    stores = _stores(s)  # once per batch: each Store resolves its URL into a filesystem (~0.1 ms)
    try:
        # The staged writes' threads are joined on the way out, before the staging prefix is deleted.
        with gc_paused(), stores[1].staged_writes() as writes:
            return _convert_batch(batch, s, stores, writes)
    finally:
        # Empty after a publish; after a failed guard it holds files nobody will publish. (A killed task runs
        # no finally: its batch's next attempt clears the prefix first.)
        stores[1].delete_prefix(
            layout.staging_dir(
                batch["source"], datetime.fromisoformat(batch["window_start"]), int(batch["index"])
            )
        )


def _convert_batch(
    batch: dict[str, Any], s: Settings, stores: tuple[Store, Store], writes: StagedWrites
) -> dict[str, Any]:
    src = get_source(batch["source"])
    raw, lake = stores
    start = datetime.fromisoformat(batch["window_start"])
    end = datetime.fromisoformat(batch["window_end"])
    idx = int(batch["index"])
    stem = layout.batch_stem(start, idx)
    manifest_key = layout.batch_manifest_key(src.name, start, idx)
    publishing_key = layout.publishing_key(src.name, start, idx)
    quarantine_key = layout.quarantine_file(src.name, start, idx)
    dq_key = layout.dq_batch_key(src.name, start, idx)
    gap_key = layout.batch_gap_key(src.name, start, idx)
    # What a killed attempt of this batch left: its staged files (with their temporaries), and temporaries of
    # keys only this batch writes. Files it published are the publish step's business (`_publishing` record).
    staging = layout.staging_dir(src.name, start, idx)
    lake.delete_prefix(staging)
    for key in (manifest_key, publishing_key, quarantine_key, dq_key):
        lake.remove_temps(key)
    lake.remove_temps(gap_key)

    quarantine: list[dict[str, Any]] = []
    objects: list[ObjectCount] = []
    observer = BatchObserver(src.name, src.schema, len(batch["keys"]))
    verdicts: list[BatchQuality] = []
    dropped: Counter[int] = Counter()  # rows validation rejected, per object (origin)

    def check_segment(seg: convert.Segment) -> list[pa.Table]:
        """Data quality on the rows as the lake would receive them, before anything is written or spilled.

        A segment is the whole batch unless the batch outgrew the converter's memory budget; each row is in
        exactly one segment, with its origin (the object's position) so a rejected row is counted against
        the object it came from.
        """
        tables = [t for _, t, _ in seg]
        origins = np.concatenate([o for _, _, o in seg])
        combined = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        dq = validate_table(
            src.name, combined, src.schema, start, end, out.segment_rows, imported=bool(batch.get("imported"))
        )
        verdicts.append(dq)
        if dq.failed_fatal:
            _write_gap(lake, gap_key, stem, dq.failed_fatal, objects)
            raise ReconciliationError(
                f"batch {stem}: data-quality check(s) {dq.failed_fatal} failed: rows were lost"
            )
        drop = set(range(combined.num_rows)) if dq.quarantine_batch else set(dq.quarantine_rows)
        if drop:
            tables = _quarantine_rows(tables, origins, drop, dq, batch["keys"], dropped, quarantine)
        observer.observe(tables)
        return tables

    out = convert.BatchTables(src, budget=s.convert_budget_bytes, validate=check_segment)
    sizes: list[int] | None = batch.get("sizes")  # from the plan; a plan written before sizes has none
    for oi, key in enumerate(batch["keys"]):
        raw_key = src.classify(key)
        if raw_key is None:  # plan only hands over claimed keys; a changed classifier must not lose data
            raise ValueError(f"{key} is not a {src.name} key")
        if raw_key.kind != "events":  # digests & co. are routed away by key alone: no need to read them
            result = ColumnarResult(key=key, skipped_reason=f"{raw_key.kind} file (not event records)")
        else:
            data = _read(raw, key, sizes[oi] if sizes else None, out.streams_large_objects)
            result = out.parse(raw_key, data, origin=oi)
            observer.feed(oi, raw_key, data, parsed=result.records)
            result.records = None  # the batch holds tables, not the parsed records
            del data
        objects.append(
            ObjectCount(
                key=key,
                records_in=result.records_in,
                rows_out=result.rows_out,
                quarantined=len(result.quarantined),
                skipped=result.skipped_reason,
            )
        )
        quarantine += [q.as_dict() for q in result.quarantined]

    # Guard: the rows the parsers emitted are the rows they counted, before anything is written (tested: see
    # the module docstring, as for every guard below).
    out.flush()
    parsed = sum(o.rows_out for o in objects)
    if out.emitted != parsed:
        _write_gap(lake, gap_key, stem, ["parser rows != rows emitted"], objects)
        raise ReconciliationError(f"batch {stem}: parsers counted {parsed} rows but emitted {out.emitted}")

    files: list[str] = []
    file_rows: dict[str, int] = {}
    digests: dict[str, str] = {}  # sha256 of each curated file's bytes: how compaction recognises a file
    # validates the rows still held (the whole batch unless it spilled), then stages partition by partition
    for part, f in out.parquet_files():
        key = layout.curated_file(src.table, part.relpath(), stem)
        # written and fsynced in the background while the next partition's file is built (StagedWrites)
        writes.write(layout.staged(staging, key), f.body)
        files.append(key)
        file_rows[key] = f.rows  # what its writer recorded in the footer
        digests[key] = hashlib.sha256(f.body).hexdigest()
        del f  # before the next partition's file is built (a merged one can be tens of MB)
    written = sum(file_rows.values())
    for oi, n in sorted(dropped.items()):  # validation's verdicts, against the objects the rows came from
        objects[oi].rows_out -= n
        objects[oi].quarantined += n
        objects[oi].dq_quarantined = n
    dq = merge_quality(src.name, verdicts)
    _log_quality(stem, dq)

    # Guards, before the quarantine file is staged and anything is published (a failed batch publishes
    # nothing): records in == rows out + quarantined, and the Parquet files hold the rows the manifest counts.
    records_in = sum(o.records_in for o in objects)
    rows_out = sum(o.rows_out for o in objects)
    if records_in != rows_out + len(quarantine):
        _write_gap(lake, gap_key, stem, ["records_in != rows_out + quarantined"], objects)
        raise ReconciliationError(
            f"batch {stem}: {records_in} in != {rows_out} rows + {len(quarantine)} quarantined"
        )
    if written != rows_out:
        _write_gap(lake, gap_key, stem, ["rows_out != rows in the batch's Parquet files"], objects)
        raise ReconciliationError(f"batch {stem}: {rows_out} rows out but its Parquet files hold {written}")

    # Per reason class: count, file/line references (each class is alerted).
    parser_quarantine: dict[str, QuarantineClass] = {}
    if quarantine:
        body = b"".join(orjson.dumps(q, default=str) + b"\n" for q in quarantine)
        writes.write(layout.staged(staging, quarantine_key), gzip.compress(body, mtime=0))
        files.append(quarantine_key)
        file_rows[quarantine_key] = len(quarantine)
        parser_quarantine = {
            cls: QuarantineClass.from_dict(agg)
            for cls, agg in quarantine_classes(src.name, quarantine, quarantine_key).items()
        }

    manifest = BatchManifest(
        source=src.name,
        window_start=batch["window_start"],
        window_end=batch["window_end"],
        batch=idx,
        objects=objects,
        records_in=records_in,
        rows_out=rows_out,
        quarantined=len(quarantine),
        skipped_objects=sum(1 for o in objects if o.skipped),
        files=files,
        file_rows=file_rows,
        spills=out.spills,
        dq=BatchDq.from_dict(dq.summary()),
        observed=observer.finish() | {"quarantine_reasons": _reasons(quarantine)},
        parser_quarantine=parser_quarantine,
    )

    # The batch's three records: what it publishes (placed first), its full GX results (deterministic: no run
    # ids or timestamps) and its manifest (placed last), each placed atomically at its turn; the files and
    # (locally) the records are on disk before anything is published (StagedWrites.records returns then).
    previous = _listed_files(lake, manifest_key) | _listed_files(lake, publishing_key)
    records = writes.records(
        {
            publishing_key: PublishingRecord(files=files, replaces=sorted(previous - set(files))).to_json(),
            dq_key: DqBatchResult(src.name, batch["window_start"], idx, dq.checks).to_json(),
            manifest_key: manifest.to_json(),
        },
        lambda key: layout.staged(staging, key),
    )
    records.place(publishing_key)
    # The data-quality result moves with the files (one wait for the disk): it only describes the batch, and
    # until the manifest is placed the `_publishing` record keeps the window from being finalized.
    _publish(lake, staging, files, digests, previous, records.placing(dq_key))
    lake.delete(gap_key)  # an earlier failed attempt's record, now reconciled
    records.place(manifest_key)
    # The manifest now vouches for what was published; the staging prefix holds at most the staged copies of
    # files compaction had already absorbed (convert_batch's `finally` finds nothing left to delete).
    lake.delete_together([publishing_key], [staging])
    return {
        "source": manifest.source,
        "window_start": manifest.window_start,
        "window_end": manifest.window_end,
        "batch": idx,
        "records_in": records_in,
        "rows_out": rows_out,
        "quarantined": manifest.quarantined,
        "skipped_objects": manifest.skipped_objects,
        "spills": manifest.spills,
        "files": len(files),
        "dq_passed": manifest.dq.passed,
        "dq_failed": [f.id for f in manifest.dq.failed],
    }


def _publish(
    lake: Store,
    staging: str,
    files: list[str],
    digests: dict[str, str],
    previous: set[str],
    with_files: list[tuple[str, str]],
) -> None:
    """Move a reconciled batch's staged files to their keys (with `with_files`, other moves of the batch that
    may happen in the same step) and remove what its earlier attempts left.

    The caller placed a record of what is being published (and what it replaces: `previous`, the files its
    manifest and `_publishing` record listed before) first: a task killed between two moves leaves it,
    finalize refuses the window while it is there, and the batch's re-run deletes whatever it lists that the
    re-run does not produce. The moves themselves are renames locally and concurrent server-side copies on S3:
    the only stretch in which a reader can see part of a batch (docs/adr/0004).
    """
    moves = []
    for key in files:
        if key in digests and compact.absorbed(lake, key, digest=digests[key]):
            continue  # a compacted file already holds exactly these rows (the staged copy is cleared later)
        lake.remove_temps(key)  # left by a writer killed mid-write before staging existed
        moves.append((layout.staged(staging, key), key))
    lake.move(moves + with_files)  # concurrently, locally: one wait for the disk (Store.move)
    for key in sorted(previous - set(files)):  # an earlier attempt's file this one does not produce
        compact.release(lake, key)  # its rows may have been absorbed into a compacted file
        lake.delete(key)


def _read(raw: Store, key: str, size: int | None, streams: bool) -> bytes | LargeObject:
    """The object's bytes, or a stream of them when it is large and the parser streams (bounded memory)."""
    if streams and size is not None and size >= LARGE_OBJECT_BYTES:
        return LargeObject(key, size, lambda: raw.open_read(key))
    return raw.read_bytes(key)


def _quarantine_rows(
    tables: list[pa.Table],
    origins: np.ndarray[Any, Any],
    drop: set[int],
    dq: BatchQuality,
    keys: list[str],
    dropped: Counter[int],
    quarantine: list[dict[str, Any]],
) -> list[pa.Table]:
    """Move the rows validation rejected from the tables to the quarantine list, counting them per object.

    The quarantined entry carries the converted row as JSON (the raw record is in the raw object, which is
    never modified) and the check that rejected it, so it can be reviewed and replayed.
    """
    out: list[pa.Table] = []
    offset = 0
    for table in tables:
        n = table.num_rows
        local = sorted(i - offset for i in drop if offset <= i < offset + n)
        if local:
            rejected = table.take(pa.array(local, pa.int64())).to_pylist()
            for i, row in zip(local, rejected, strict=True):
                pos = offset + i
                oi = int(origins[pos])
                dropped[oi] += 1
                reason = dq.quarantine_batch or dq.quarantine_rows[pos]
                text = orjson.dumps(row, default=str).decode()
                quarantine.append({"object": keys[oi], "index": None, "reason": reason, "raw": text})
            keep = np.ones(n, dtype=bool)
            keep[local] = False
            table = table.filter(pa.array(keep))
        out.append(table)
        offset += n
    return out


def _reasons(quarantine: list[dict[str, Any]]) -> dict[str, int]:
    """Quarantine reasons by kind (text before the first ':' or quote, bounded): the drift check's input."""
    counts: dict[str, int] = defaultdict(int)
    for q in quarantine:
        reason = str(q.get("reason") or "")
        kind = reason.split(":", 1)[0].split("'", 1)[0].split('"', 1)[0].strip()[:80]
        if reason.startswith("dq:"):
            kind = "dq:" + reason[3:].split(":", 1)[0][:80]
        counts[kind] += 1
    return dict(sorted(counts.items()))


def _log_quality(stem: str, dq: BatchQuality) -> None:
    """The Airflow task log's summary of the batch's validation (the full result is in the lake)."""
    if not dq.checks:
        log.info("DQ %s %s: no rows to validate", dq.source, stem)
        return
    s = dq.summary()
    log.info(
        "DQ %s %s: %d/%d expectations passed in %.2fs%s",
        dq.source,
        stem,
        s["passed"],
        s["evaluated"],
        dq.seconds,
        "" if dq.success else f"; quarantined rows: {len(dq.quarantine_rows)}, batch: {dq.quarantine_batch}",
    )
    for c in s["failed"]:
        log.warning(
            "DQ %s %s FAILED %s (%s): %s of %s unexpected, e.g. %s",
            dq.source,
            stem,
            c["id"],
            c["action"],
            c["unexpected_count"],
            c["element_count"],
            [str(x)[:80] for x in c["examples"][:3]],
        )


def _write_gap(
    lake: Store, key: str, what: str, problems: list[str], objects: list[ObjectCount] | list[dict[str, Any]]
) -> None:
    """Leave a record of a reconciliation gap beside the manifests before raising, for the health DAG's alert."""
    listed = [o.to_dict() if isinstance(o, ObjectCount) else o for o in objects]
    lake.write_atomic(key, GapRecord(where=what, problems=problems, objects=listed).to_json())


def finalize_window(
    source: str, start: datetime, end: datetime, settings: Settings | None = None
) -> dict[str, Any]:
    """Sum the batch manifests into the window summary and mark the window complete for detection.

    The summary also carries what the health checks read instead of every batch manifest: deliveries per
    stream (account/region), the window's data-quality tally, drift observations, and the event-time hours
    this window wrote that detection has already evaluated (late data, re-evaluated by the health DAG).
    The window's data-quality alerts are recorded here, once per window (a re-run replaces them), including
    one naming the plan's unclaimed keys: objects under the source's prefixes that no key pattern recognises.
    Returns the summary without its per-stream and drift parts (the DAG's XCom).
    """
    s = settings or load_settings()
    _, lake = _stores(s)
    src = get_source(source)
    mdir = layout.manifest_dir(source, start)
    plan = WindowPlan.from_json(lake.read_bytes(layout.plan_key(source, start)))
    n_batches, unclaimed = plan.batches, plan.unclaimed
    summary = WindowSummary(
        source=source,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        batches=n_batches,
        unclaimed=unclaimed,
        out_of_range=len(plan.out_of_range),
    )
    manifests: list[BatchManifest] = []
    failed: list[int] = []  # batches whose last attempt left a gap record
    unpublished: list[int] = []  # batches whose last attempt was killed while publishing its files
    temps: list[str] = []  # left by writers killed mid-write (local lakes only)
    for obj in lake.find(mdir):
        name = layout.parse_manifest_name(layout.key_name(obj.key))
        if name.kind == "gap" and name.batch is not None and name.batch < n_batches:
            failed.append(name.batch)
            continue
        if name.kind == "publishing" and name.batch is not None:
            if name.batch < n_batches:
                unpublished.append(name.batch)
            else:  # a batch an earlier run had, killed mid-publish: nothing vouches for its files
                _remove_stale(lake, obj.key, keep=set())
                lake.delete(obj.key)
            continue
        if name.kind == "temp":
            temps.append(obj.key)
            continue
        if name.kind == "dq_batch" and name.batch is not None and name.batch >= n_batches:
            lake.delete(obj.key)
            continue
        if name.kind != "batch" or name.batch is None:
            continue
        if name.batch >= n_batches:  # left by an earlier run that had more batches
            _remove_stale(lake, obj.key, keep=set())
            lake.delete(obj.key)
            continue
        m = BatchManifest.from_json(lake.read_bytes(obj.key))
        manifests.append(m)
        summary.objects += len(m.objects)
        summary.files += len(m.files)
        summary.records_in += m.records_in
        summary.rows_out += m.rows_out
        summary.quarantined += m.quarantined
        summary.skipped_objects += m.skipped_objects
    totals = summary.totals()
    # Guards: every planned batch has a manifest from its last attempt (not an earlier run's, left beside a
    # newer gap record), and the window adds up.
    problems = []
    if len(manifests) != n_batches:
        done = {m.batch for m in manifests}
        missing = [i for i in range(n_batches) if i not in done]
        problems.append(f"{len(manifests)} batch manifests for {n_batches} batches (missing: {missing})")
    if failed:
        problems.append(f"batch(es) {sorted(failed)} failed their last attempt (see their _gap-b*.json)")
    if unpublished:
        problems.append(
            f"batch(es) {sorted(unpublished)} were stopped while publishing (see their _publishing-b*.json)"
        )
    if totals["records_in"] != totals["rows_out"] + totals["quarantined"]:
        problems.append(f"records_in != rows_out + quarantined: {totals}")
    if problems:
        involved: list[dict[str, Any]] = [
            o.to_dict() for m in manifests for o in m.objects if not o.balanced()
        ]
        done = {m.batch for m in manifests} - set(failed) - set(unpublished)
        involved += [
            {"key": k, "missing_batch": i}
            for i, ks in enumerate(plan.batch_keys)
            if i not in done
            for k in ks
        ]
        _write_gap(
            lake, layout.window_gap_key(source, start), f"{source} {window_tag(start)}", problems, involved
        )
        lake.delete(layout.success_key(source, start))  # an earlier run's: the window no longer reconciles
        raise ReconciliationError(f"{source} {window_tag(start)}: " + "; ".join(problems))
    lake.delete(layout.window_gap_key(source, start))  # an earlier failed attempt's record, now reconciled
    # Every batch published: what killed attempts left is garbage now (staging of batches a re-run no longer
    # has; temporaries of writes that never completed).
    lake.delete_prefix(layout.staging_dir(source, start))
    for key in temps:
        lake.delete(key)
    manifests.sort(key=lambda m: m.batch)
    summary.streams = _streams(src, manifests)
    summary.dq = _dq_tally(manifests)
    summary.observed = _merge_observed(manifests)
    # the source's (first lag, re-read span): the next detect run evaluates its events from first + span before
    # its data interval, so rows before that are late (mamori.windows.late_horizon)
    summary.late_hours = _late_hours(manifests, late_horizon(start, *detection_trail(source, s)))
    if lake.exists(layout.imports_key(source, start)):
        # Hours an import's backfill detects itself (without paging) are not late data for the health DAG
        # to re-run (with paging): keys are dated by delivery, so a day before the range counts too.
        ranges = WindowImports.from_json(lake.read_bytes(layout.imports_key(source, start))).key_dates
        summary.late_hours = [
            h
            for h in summary.late_hours
            if not any(
                datetime.fromisoformat(a) - timedelta(days=1)
                <= datetime.fromisoformat(h)
                < datetime.fromisoformat(b)
                for a, b in ranges
            )
        ]
    # Deferred for DAG-parse time: the ingest DAG files import this module, and the health alert path loads
    # the detection loader (sqlglot, pydantic); only finalize needs it.
    from mamori.quality.alerts import record_dq

    summary.dq.alerts = record_dq(source, start, end, manifests, s, unclaimed=unclaimed)
    lake.write_atomic(layout.success_key(source, start), summary.to_json())
    log.info("%s window %s complete: %s", source, window_tag(start), totals)
    dq = summary.dq
    log.info(
        "DQ %s window %s: %d/%d batches passed; %d/%d expectations passed; failed: %s; late hours: %s",
        source,
        window_tag(start),
        dq.passed_batches,
        dq.batches,
        dq.passed,
        dq.evaluated,
        sorted(dq.failed) or "none",
        summary.late_hours or "none",
    )
    return summary.result()


def _streams(src: Source, manifests: list[BatchManifest]) -> dict[str, StreamCount]:
    """Event deliveries per account/region (the freshness check's history), from the keys' own layout."""
    out: dict[str, StreamCount] = {}
    for m in manifests:
        for o in m.objects:
            rk = src.classify(o.key)
            if o.skipped or rk is None:
                continue
            st = out.setdefault(f"{rk.account}/{rk.region}", StreamCount())
            st.objects += 1
            st.records += o.records_in
    return dict(sorted(out.items()))


def _dq_tally(manifests: list[BatchManifest]) -> WindowDq:
    failed: dict[str, FailedTally] = {}
    tally = WindowDq()
    parser: Counter[str] = Counter()  # units the parsers quarantined, per reason class (each one is alerted)
    for m in manifests:
        for cls, agg in m.parser_quarantine.items():
            parser[cls] += agg.count
        dq = m.dq
        if not dq.evaluated:
            continue
        tally.batches += 1
        tally.passed_batches += bool(dq.success)
        tally.evaluated += dq.evaluated
        tally.passed += dq.passed
        tally.quarantined_rows += sum(o.dq_quarantined or 0 for o in m.objects)
        for f in dq.failed:
            agg_f = failed.setdefault(f.id, FailedTally(f.action))
            agg_f.batches += 1
            agg_f.unexpected += f.unexpected_count or 0
    tally.failed = dict(sorted(failed.items()))
    tally.parser_quarantined = dict(sorted(parser.items()))
    return tally


def _merge_observed(manifests: list[BatchManifest]) -> dict[str, Any]:
    """Add up the batches' drift observations (counters add; everything stays sorted for stable bytes)."""
    out: dict[str, Any] = {}
    for m in manifests:
        for k, v in m.observed.items():
            if isinstance(v, dict):
                acc = out.setdefault(k, {})
                for name, n in v.items():
                    acc[name] = acc.get(name, 0) + n
            else:
                out[k] = out.get(k, 0) + v
    return {k: dict(sorted(v.items())) if isinstance(v, dict) else v for k, v in sorted(out.items())}


def _late_hours(manifests: list[BatchManifest], horizon: datetime) -> list[str]:
    """Event-time hours this window wrote rows into that start before `horizon` (the earliest detection
    window still to run after this ingest window): detection already evaluated them without these rows."""
    hours = set()
    for m in manifests:
        for key in m.files:
            if not layout.is_curated(key):
                continue
            h = layout.partition_hour(key)
            if h < horizon:
                hours.add(h.isoformat())
    return sorted(hours)


def window_complete(source: str, start: datetime, settings: Settings | None = None) -> bool:
    """True once the ingest window starting at `start` has been finalized (the detect DAG waits on this)."""
    s = settings or load_settings()
    return Store(s.lake_url, s.lake_conn_id).exists(layout.success_key(source, start))


def run_window(
    source: str,
    data_start: datetime | None,
    data_end: datetime | None,
    run_after: datetime,
    settings: Settings | None = None,
    scheduled_busy: Callable[[Window], bool] = lambda _w: False,
) -> Window | None:
    """The landing window an ingest run's `plan` works on, or None when the run has nothing to do.

    A scheduled, manual or backfill run has a data interval: that is its window, always (a re-run re-reads it,
    finalized or not). An event-triggered run (S3 notification, issue 19) has none: it takes
    `mamori.windows.event_window` of its `run_after`, the most recent closed window, and leaves it alone when it
    is already finalized or when `scheduled_busy(window)` says the window's scheduled run is queued or running
    (the usual case: that run is created when the window closes, and a busy bucket's first notification of the
    next period comes seconds later; ingesting the window twice at once would be harmless, the same files, but
    double the work). A notification's body (bucket, key) is never read: keys are attacker-influenced, and the
    window's own listing decides what it ingests, exactly as for the scheduled run.
    """
    if data_start is not None and data_end is not None and data_end > data_start:
        return Window(data_start, data_end)
    s = settings or load_settings()
    w = event_window(run_after, s.ingest_interval)
    return None if window_complete(source, w.start, s) or scheduled_busy(w) else w


def event_run_window(run_after: datetime, settings: Settings | None = None) -> Window:
    """The window of an event-triggered run whose `plan` went ahead (its `finalize` does not decide again: the
    scheduled run may have finalized the window meanwhile, and finalizing it again is a re-run)."""
    return event_window(run_after, (settings or load_settings()).ingest_interval)


def window_summaries(source: str, settings: Settings | None = None) -> list[WindowSummary]:
    """Every finalized window of a source, oldest first (demo summary, status)."""
    s = settings or load_settings()
    lake = Store(s.lake_url, s.lake_conn_id)
    return [
        WindowSummary.from_json(lake.read_bytes(o.key))
        for o in lake.find(layout.source_manifests(source))
        if layout.parse_manifest_name(layout.key_name(o.key)).kind == "success"
    ]


def _listed_files(lake: Store, record_key: str) -> set[str]:
    """The lake files a batch manifest or `_publishing` record accounts for (none when it does not exist)."""
    try:
        return listed_files(lake.read_bytes(record_key))
    except FileNotFoundError:
        return set()


def _remove_stale(lake: Store, record_key: str, keep: set[str]) -> None:
    """Delete the files a batch's manifest or `_publishing` record lists that are not in `keep` (a batch
    an earlier run had and this one does not)."""
    for key in sorted(_listed_files(lake, record_key) - keep):
        compact.release(lake, key)  # its rows may have been absorbed into a compacted file
        lake.delete(key)
