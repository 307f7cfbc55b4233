"""Landing window → Parquet lake: plan batches, convert each batch, finalize the window.

Guarantees (each one tested):
- a window's input is the set of objects whose landing time is in [start, end), so a task is a pure function of
  its data interval and a late object is picked up by the window in which it lands;
- per batch, records_in == rows_out + quarantined; a whole object that cannot be opened counts as one
  quarantined unit and stays untouched in the raw store;
- output names derive from (window, batch, partition), writes are atomic and the batch manifest is written
  last, so a retry or a re-run overwrites instead of duplicating, and files a re-run no longer produces are
  removed.
"""

from __future__ import annotations

import gzip
import io
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from mamori.config import Settings, load_settings
from mamori.lake import ObjectInfo, Store, window_tag
from mamori.sources import get_source
from mamori.sources.base import ObjectResult, Partition, Source, gc_paused

log = logging.getLogger(__name__)

MANIFESTS = "_manifests"


class ReconciliationError(RuntimeError):
    """records in != rows out + quarantined: something was lost, and the run must not pretend otherwise."""


def _stores(s: Settings) -> tuple[Store, Store]:
    return Store(s.raw_url, s.raw_conn_id), Store(s.lake_url, s.lake_conn_id)


def _manifest_dir(source: str, start: datetime) -> str:
    return f"{MANIFESTS}/{source}/window={window_tag(start)}"


def list_landed(
    src: Source, raw: Store, start: datetime, end: datetime
) -> tuple[list[ObjectInfo], list[str]]:
    """Objects that landed in [start, end) under the source's prefixes, and keys there it does not claim."""
    seen: dict[str, ObjectInfo] = {}
    for pattern in src.list_prefixes(start, end):
        for prefix in raw.glob_prefixes(pattern):
            for obj in raw.find(prefix):
                if start <= obj.landed < end:
                    seen[obj.key] = obj
    claimed = [o for k, o in sorted(seen.items()) if src.classify(k) is not None]
    unclaimed = [k for k in sorted(seen) if src.classify(k) is None]
    return claimed, unclaimed


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
    objects, unclaimed = list_landed(src, raw, start, end)
    if unclaimed:
        log.warning(
            "%d object(s) under %s prefixes match no known layout: %s", len(unclaimed), source, unclaimed[:20]
        )
    batches: list[dict[str, Any]] = []
    current: list[str] = []
    size = 0
    for obj in objects:
        if current and (len(current) >= s.batch_max_objects or size + obj.size > s.batch_max_bytes):
            batches.append({"keys": current})
            current, size = [], 0
        current.append(obj.key)
        size += obj.size
    if current:
        batches.append({"keys": current})
    for i, b in enumerate(batches):
        b.update(source=source, window_start=start.isoformat(), window_end=end.isoformat(), index=i)
    plan = {
        "source": source,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "batches": len(batches),
        "objects": len(objects),
        "unclaimed": unclaimed,
    }
    lake.write_atomic(
        f"{_manifest_dir(source, start)}/_plan.json", orjson.dumps(plan, option=orjson.OPT_INDENT_2)
    )
    log.info("%s window %s: %d objects in %d batches", source, window_tag(start), len(objects), len(batches))
    return batches


def convert_batch(batch: dict[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """Parse a batch's objects and write its partitions, quarantine and manifest (manifest last)."""
    with gc_paused():
        return _convert_batch(batch, settings or load_settings())


def _convert_batch(batch: dict[str, Any], s: Settings) -> dict[str, Any]:
    src = get_source(batch["source"])
    raw, lake = _stores(s)
    start = datetime.fromisoformat(batch["window_start"])
    idx = int(batch["index"])
    stem = f"{window_tag(start)}-b{idx:04d}"

    by_part: dict[Partition, list[dict[str, Any]]] = defaultdict(list)
    quarantine: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    for key in batch["keys"]:
        raw_key = src.classify(key)
        if raw_key is None:  # plan only hands over claimed keys; a changed classifier must not lose data
            raise ValueError(f"{key} is not a {src.name} key")
        if raw_key.kind != "events":  # digests & co. are routed away by key alone: no need to read them
            result = ObjectResult(key=key, skipped_reason=f"{raw_key.kind} file (not event records)")
        else:
            result = src.parse_object(raw_key, raw.read_bytes(key))
        for part, row in result.rows:
            by_part[part].append(row)
        quarantine += [q.as_dict() for q in result.quarantined]
        objects.append(
            {
                "key": key,
                "records_in": result.records_in,
                "rows_out": len(result.rows),
                "quarantined": len(result.quarantined),
                "skipped": result.skipped_reason,
            }
        )

    files: list[str] = []
    for part in sorted(by_part, key=lambda p: p.relpath()):
        rows = sorted(by_part[part], key=lambda r: r["event_time"])  # stable: ties keep input order
        key = f"curated/{src.table}/{part.relpath()}/{stem}.parquet"
        lake.write_atomic(key, _parquet_bytes(pa.Table.from_pylist(rows, schema=src.schema)))
        files.append(key)
    if quarantine:
        key = f"quarantine/{src.name}/dt={start:%Y-%m-%d}/{stem}.jsonl.gz"
        body = b"".join(orjson.dumps(q) + b"\n" for q in quarantine)
        lake.write_atomic(key, gzip.compress(body, mtime=0))
        files.append(key)

    records_in = sum(o["records_in"] for o in objects)
    rows_out = sum(o["rows_out"] for o in objects)
    manifest = {
        "source": src.name,
        "window_start": batch["window_start"],
        "window_end": batch["window_end"],
        "batch": idx,
        "objects": objects,
        "records_in": records_in,
        "rows_out": rows_out,
        "quarantined": len(quarantine),
        "skipped_objects": sum(1 for o in objects if o["skipped"]),
        "files": files,
    }
    if records_in != rows_out + len(quarantine):
        raise ReconciliationError(
            f"batch {stem}: {records_in} in != {rows_out} rows + {len(quarantine)} quarantined"
        )

    manifest_key = f"{_manifest_dir(src.name, start)}/batch-{idx:04d}.json"
    _remove_stale(lake, manifest_key, keep=set(files))
    lake.write_atomic(manifest_key, orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return {k: v for k, v in manifest.items() if k not in ("objects", "files")} | {"files": len(files)}


def finalize_window(
    source: str, start: datetime, end: datetime, settings: Settings | None = None
) -> dict[str, Any]:
    """Sum the batch manifests into the window summary and mark the window complete for detection."""
    s = settings or load_settings()
    _, lake = _stores(s)
    mdir = _manifest_dir(source, start)
    plan = orjson.loads(lake.read_bytes(f"{mdir}/_plan.json"))
    n_batches, unclaimed = plan["batches"], plan["unclaimed"]
    totals = {
        "objects": 0,
        "records_in": 0,
        "rows_out": 0,
        "quarantined": 0,
        "skipped_objects": 0,
        "files": 0,
    }
    seen = 0
    for obj in lake.find(mdir):
        name = obj.key.rsplit("/", 1)[-1]
        if not name.startswith("batch-"):
            continue
        if int(name[6:10]) >= n_batches:  # left by an earlier run that had more batches
            _remove_stale(lake, obj.key, keep=set())
            lake.delete(obj.key)
            continue
        m = orjson.loads(lake.read_bytes(obj.key))
        seen += 1
        totals["objects"] += len(m["objects"])
        totals["files"] += len(m["files"])
        for k in ("records_in", "rows_out", "quarantined", "skipped_objects"):
            totals[k] += m[k]
    if seen != n_batches:
        raise ReconciliationError(
            f"{source} {window_tag(start)}: {seen} batch manifests for {n_batches} batches"
        )
    if totals["records_in"] != totals["rows_out"] + totals["quarantined"]:
        raise ReconciliationError(f"{source} {window_tag(start)}: {totals}")
    summary = {
        "source": source,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "batches": n_batches,
        "unclaimed": unclaimed,
        **totals,
    }
    lake.write_atomic(f"{mdir}/_SUCCESS.json", orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    log.info("%s window %s complete: %s", source, window_tag(start), totals)
    return summary


def window_complete(source: str, start: datetime, settings: Settings | None = None) -> bool:
    """True once the ingest window starting at `start` has been finalized (the detect DAG waits on this)."""
    s = settings or load_settings()
    return Store(s.lake_url, s.lake_conn_id).exists(f"{_manifest_dir(source, start)}/_SUCCESS.json")


def window_summaries(source: str, settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every finalized window of a source, oldest first (demo summary, status)."""
    s = settings or load_settings()
    lake = Store(s.lake_url, s.lake_conn_id)
    return [
        orjson.loads(lake.read_bytes(o.key))
        for o in lake.find(f"{MANIFESTS}/{source}")
        if o.key.endswith("/_SUCCESS.json")
    ]


def _remove_stale(lake: Store, manifest_key: str, keep: set[str]) -> None:
    """Delete files an earlier run of this batch wrote that this run did not (e.g. a partition that vanished)."""
    if not lake.exists(manifest_key):
        return
    old = orjson.loads(lake.read_bytes(manifest_key))
    for key in old.get("files", []):
        if key not in keep:
            lake.delete(key)


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    # zstd: ~0.8x the gzip size of the raw JSON; deterministic bytes for identical input (re-runs compare equal).
    pq.write_table(table, buf, compression="zstd", row_group_size=128 * 1024)
    return buf.getvalue()
