"""Compaction of settled hour partitions: many small Parquet files → one, without losing or duplicating a row.

Each ingest batch writes one file per partition it has rows for (`<window>-b<batch>.parquet`), so late data and
many small batches leave dozens of files in an hour partition, and every query pays per file opened (DuckDB
opens each, Athena lists and reads each). A maintenance task merges a partition's files into one
`compact-<digest>.parquet` once the partition has *settled*: its hour ended, and the ingest windows that wrote
the files ended, at least `MAMORI_COMPACT_SETTLE_HOURS` before the task's data interval ends. Hourly detections
and the health DAG's reconciliation only read recent hours and windows, so they never race with a rewrite.

Invariants (tests/unit/test_compact.py):

- rows are preserved exactly, and compacting twice changes nothing the second time (the file's name and bytes
  are a function of the absorbed files' stems and bytes, not of the order or number of runs that got there);
- a record outside `curated/` (`_compaction/<table>/<partition>.json`; only Parquet data may live under
  `curated/`) lists each absorbed file's stem, the sha256 of its bytes, its row count and where its rows are in
  the compacted file. Writes go compacted file → record → deletes, so an interrupted run leaves either the
  untouched originals plus an unrecorded compacted file, or originals the record already vouches for; the next
  run deletes either kind of duplicate instead of merging it again. The compacted file carries the same list
  in its Parquet footer, so a compacted file is only ever deleted when its rows are known to be elsewhere, and
  a lost record is rebuilt from it;
- re-running an ingest window after compaction writes nothing when it produces the same bytes (`absorbed`),
  and swaps out the absorbed rows when it produces different ones (`absorbed`, `release`), so "re-running a
  window changes nothing" and "no duplicates" survive compaction.

Layout of the compacted file: each absorbed file's rows stay one contiguous range, in stem order (ingest window,
then batch), each range sorted by event_time as ingest wrote it; row groups are re-cut at ROW_GROUP_ROWS across
ranges. Contiguous ranges are what make removing one absorbed file's rows exact and cheap (a re-run whose parse
changed). Within an hour partition the stem order is already close to event-time order (later windows carry
the late events), and a partition under ROW_GROUP_ROWS rows is one row group either way.

Memory is bounded by streaming: inputs are read a row group at a time and written a row group at a time; what
is held is one output row group plus the compacted output's compressed bytes (Store.write_atomic takes bytes).
Partitions whose inputs exceed `max_bytes` (default MAX_PARTITION_BYTES) are left alone and reported.

Concurrency: compaction and an ingest re-run of a *settled* window must not rewrite the same partition at the
same moment (nothing in S3 offers a compare-and-swap here). Both re-read the record after writing it and
refuse to delete anything when it changed under them (CompactionError: the task fails and its retry sorts it
out), which turns the lost-update race into duplicates the next run removes; serialize backfills of settled
windows with the compact DAG all the same (docs/compaction.md).
"""

from __future__ import annotations

import hashlib
import io
import logging
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from mamori.config import Settings, load_settings
from mamori.lake import Store, layout
from mamori.lake.convert import ROW_GROUP_ROWS, STORE_SCHEMA, compression
from mamori.lake.manifests import BatchManifest
from mamori.sources import SOURCES, SPECS
from mamori.windows import HOUR

log = logging.getLogger(__name__)

PREFIX = layout.COMPACTED_PREFIX
# Compressed Parquet bytes one partition's merge may take in (the output is held in memory once, see above).
MAX_PARTITION_BYTES = 512 * 1024 * 1024
# Parquet footer key of a compacted file's own list of what it absorbed: a lost record can be rebuilt from it,
# and an unrecorded compacted file is only deleted when every row it holds is known to be elsewhere.
META_KEY = b"mamori.compaction"


class CompactionError(RuntimeError):
    """A partition could not be compacted safely (a lost compacted file, a concurrent rewrite): look at it."""


class _SchemaMismatch(Exception):
    pass


# -- keys and records ------------------------------------------------------------------------------------------


def record_key(table: str, relpath: str) -> str:
    """Where a partition's compaction record lives: beside the lake's data, never under curated/."""
    return layout.compaction_record(table, relpath)


def _split(key: str) -> tuple[str, str, str] | None:
    """(table, partition relpath, stem) of a curated data key, or None for anything else (quarantine, ...)."""
    f = layout.parse_curated_file(key)
    if f is None or f.name.startswith((PREFIX, ".")):
        return None
    return f.table, f.relpath, f.stem


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _load(lake: Store, table: str, relpath: str) -> dict[str, Any] | None:
    try:
        rec: dict[str, Any] = orjson.loads(lake.read_bytes(record_key(table, relpath)))
    except FileNotFoundError:
        return None
    return rec


def _empty(table: str, relpath: str) -> dict[str, Any]:
    return {
        "table": table,
        "partition": relpath,
        "file": None,  # the compacted file
        "rows": 0,
        "sha256": None,
        "absorbed": {},  # stem -> {sha256, rows, offset}: where each absorbed file's rows are in `file`
        "replaces": None,  # the compacted file this one superseded (deleted right after the record is written)
    }


def _embedded(lake: Store, key: str) -> dict[str, Any] | None:
    """The absorbed-files map a compacted file carries in its own footer (a copy of its record's)."""
    with lake.fs.open(lake.full(key), "rb") as fh:
        raw = (pq.read_metadata(fh).metadata or {}).get(META_KEY)
    if raw is None:
        return None
    inside: dict[str, Any] = orjson.loads(raw)
    return inside


def _dump(rec: dict[str, Any]) -> bytes:
    """Deterministic bytes (sorted keys, no timestamps): re-writing an unchanged record changes nothing."""
    return orjson.dumps(rec, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def _hour_end(relpath: str) -> datetime:
    return layout.partition_hour(relpath) + HOUR


def _window_settled(stem: str, before: datetime, interval: timedelta) -> bool:
    """An ingest file is settled once its window ended by `before`: reconciliation no longer reads it, and a
    retry of that window is no longer expected. Files not named by ingest are judged by their partition alone."""
    batch = layout.parse_batch_stem(stem)
    if batch is None:
        return True
    return batch[0] + interval <= before


def _data_names(lake: Store, table: str, relpath: str) -> dict[str, int]:
    """Parquet data files in a partition (name → size); dot files are other writers' in-flight temps."""
    out = {}
    for o in lake.find(layout.curated_partition(table, relpath)):
        name = o.key.rsplit("/", 1)[-1]
        if name.endswith(".parquet") and not name.startswith(".") and o.key.count("/") == 6:
            out[name] = o.size
    return out


# -- streaming merge --------------------------------------------------------------------------------------------


class _Rows:
    """Sequential reader of a Parquet file, one row group in memory at a time."""

    def __init__(self, pf: Any) -> None:
        self.pf = pf
        self.group = 0
        self.pending: pa.Table | None = None

    def _next(self) -> pa.Table:
        table = self.pf.read_row_group(self.group)
        self.group += 1
        return table

    def take(self, n: int) -> Iterator[pa.Table]:
        while n:
            if self.pending is None or self.pending.num_rows == 0:
                self.pending = self._next()
            got = self.pending.slice(0, n)
            self.pending = self.pending.slice(got.num_rows)
            n -= got.num_rows
            yield got

    def skip(self, n: int) -> None:
        while n:
            if self.pending is None or self.pending.num_rows == 0:
                size = self.pf.metadata.row_group(self.group).num_rows
                if size <= n:  # a whole row group to skip: not even read
                    self.group += 1
                    n -= size
                    continue
                self.pending = self._next()
            got = min(n, self.pending.num_rows)
            self.pending = self.pending.slice(got)
            n -= got


class _Out:
    """The compacted file, written a row group at a time; groups are cut every ROW_GROUP_ROWS rows across
    inputs, so the bytes depend only on the sequence of rows (history-independent, hence idempotent)."""

    def __init__(self, schema: pa.Schema, light: tuple[str, ...] = ()) -> None:
        self.schema = schema
        self.buf = io.BytesIO()
        # the source's per-column codecs (its light columns snappy), as ingest writes all but its tiny files
        self.writer = pq.ParquetWriter(
            self.buf, schema, compression=compression(schema, light), store_schema=STORE_SCHEMA
        )
        self.pending: list[pa.Table] = []
        self.held = 0
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        if not table.schema.equals(self.schema, check_metadata=False):
            raise _SchemaMismatch(f"{table.schema} != {self.schema}")
        if table.num_rows == 0:
            return
        if table.schema.metadata != self.schema.metadata:
            table = table.replace_schema_metadata(self.schema.metadata)
        self.pending.append(table)
        self.held += table.num_rows
        self.rows += table.num_rows
        while self.held >= ROW_GROUP_ROWS:
            self._flush(ROW_GROUP_ROWS)

    def _flush(self, n: int) -> None:
        table = pa.concat_tables(self.pending) if len(self.pending) > 1 else self.pending[0]
        self.writer.write_table(table.slice(0, n), row_group_size=ROW_GROUP_ROWS)
        rest = table.slice(n)
        self.pending = [rest] if rest.num_rows else []
        self.held = rest.num_rows

    def close(self, meta: bytes = b"") -> bytes:
        if self.held:
            self._flush(self.held)
        if meta:
            self.writer.add_key_value_metadata({META_KEY: meta})
        self.writer.close()
        return self.buf.getvalue()


def _digest(absorbed: dict[str, dict[str, Any]]) -> str:
    text = "\n".join(f"{stem} {e['sha256']}" for stem, e in sorted(absorbed.items()))
    return _sha(text.encode())[:16]


@dataclass
class _Outcome:
    absorbed: int = 0
    released: int = 0
    deleted: list[str] = field(default_factory=list)
    wrote: str | None = None


def _light_columns(table: str) -> tuple[str, ...]:
    """SourceSpec.light_columns of the source whose table this is (none for a table no source names)."""
    return next((spec.light_columns for spec in SPECS.values() if spec.table == table), ())


def _rewrite(
    lake: Store, table: str, relpath: str, rec: dict[str, Any], drop: set[str], add: dict[str, str]
) -> _Outcome:
    """Write the partition's new compacted file (the record's kept stems + `add`, minus `drop`), then the
    record, then delete what they replace. `add` maps stems to the original files' keys."""
    base = layout.curated_partition(table, relpath)
    old_file: str | None = rec.get("file")
    old = rec["absorbed"]
    order = sorted(set(old) | set(add))
    light = _light_columns(table)
    absorbed: dict[str, dict[str, Any]] = {}
    out: _Out | None = None
    reader: _Rows | None = None
    handle: Any = None
    try:
        if old_file:
            handle = lake.fs.open(lake.full(f"{base}/{old_file}"), "rb")
            pf = pq.ParquetFile(handle)
            if pf.metadata.num_rows != rec["rows"]:
                raise CompactionError(
                    f"{base}/{old_file} holds {pf.metadata.num_rows} rows, its record {rec['rows']}"
                )
            reader = _Rows(pf)
            out = _Out(pf.schema_arrow, light)
        for stem in order:
            start = out.rows if out is not None else 0
            if stem in old:  # the old file holds the record's stems in stem order: read it sequentially
                assert reader is not None and out is not None
                n = int(old[stem]["rows"])
                if stem in drop:
                    reader.skip(n)
                else:
                    for piece in reader.take(n):
                        out.add(piece)
                    absorbed[stem] = {"sha256": old[stem]["sha256"], "rows": n, "offset": start}
            if stem not in add:
                continue
            data = lake.read_bytes(add[stem])
            pf_new = pq.ParquetFile(io.BytesIO(data))
            if out is None:
                out = _Out(pf_new.schema_arrow, light)
            for i in range(pf_new.num_row_groups):
                out.add(pf_new.read_row_group(i))
            absorbed[stem] = {"sha256": _sha(data), "rows": pf_new.metadata.num_rows, "offset": start}
            del data, pf_new
    finally:
        if handle is not None:
            handle.close()
    new = _empty(table, relpath)
    outcome = _Outcome(absorbed=len(add), released=len(drop & set(old)))
    body = out.close(orjson.dumps(absorbed, option=orjson.OPT_SORT_KEYS)) if out is not None else b""
    if absorbed:
        assert out is not None
        name = f"{PREFIX}{_digest(absorbed)}.parquet"
        new.update(file=name, rows=out.rows, sha256=_sha(body), absorbed=absorbed)
        if name != old_file:
            lake.write_atomic(f"{base}/{name}", body)  # 1. the compacted file (duplicates rows until 3.)
            outcome.wrote = name
    if old_file != new["file"]:
        new["replaces"] = old_file
    rkey = record_key(table, relpath)
    rbody = _dump(new)
    lake.write_atomic(rkey, rbody)  # 2. the record: from here on, the originals are vouched for
    if lake.read_bytes(rkey) != rbody:
        raise CompactionError(f"{rkey} changed while it was rewritten; nothing deleted (a retry cleans up)")
    for stem in sorted(add):  # 3. what the compacted file replaces
        lake.delete(add[stem])
        outcome.deleted.append(add[stem])
    if old_file and old_file != new["file"]:
        lake.delete(f"{base}/{old_file}")
        outcome.deleted.append(f"{base}/{old_file}")
    return outcome


# -- one partition ----------------------------------------------------------------------------------------------


@dataclass
class PartitionResult:
    relpath: str
    files_before: int = 0
    files_after: int = 0
    absorbed: int = 0
    deleted: int = 0
    skipped: str | None = None
    problem: str | None = None


def compact_partition(
    lake: Store,
    table: str,
    relpath: str,
    before: datetime,
    interval: timedelta,
    min_files: int = 2,
    max_bytes: int = MAX_PARTITION_BYTES,
) -> PartitionResult:
    """Tidy one partition (duplicates an interrupted run left) and merge its settled files when that lowers
    the file count by at least min_files - 1."""
    res = PartitionResult(relpath)
    base = layout.curated_partition(table, relpath)
    names = _data_names(lake, table, relpath)
    res.files_before = len(names)
    loaded = _load(lake, table, relpath)
    rec = loaded or _empty(table, relpath)
    current: str | None = rec.get("file")
    if current and current not in names and rec["absorbed"]:
        res.problem = f"{base}/{current} named by {record_key(table, relpath)} is missing: its rows are lost"
        res.files_after = len(names)
        return res
    shas: dict[str, str] = {}

    def original_sha(name: str) -> str | None:
        if name not in names:
            return None
        if name not in shas:
            shas[name] = _sha(lake.read_bytes(f"{base}/{name}"))
        return shas[name]

    # Compacted files the record does not name: the one it replaced, or a file an interrupted run wrote before
    # its record, whose every absorbed file is still in the record or still there as an original. Anything
    # else (the record was lost) is never deleted: it is adopted when there is no record, or reported.
    unaccounted: list[tuple[str, dict[str, Any] | None]] = []
    for name in sorted(n for n in names if n.startswith(PREFIX) and n != current):
        inside = _embedded(lake, f"{base}/{name}")
        if name == rec.get("replaces") or (
            inside is not None
            and all(
                rec["absorbed"].get(stem, {}).get("sha256") == e["sha256"]
                or original_sha(f"{stem}.parquet") == e["sha256"]
                for stem, e in inside.items()
            )
        ):
            lake.delete(f"{base}/{name}")
            res.deleted += 1
            del names[name]
        else:
            unaccounted.append((name, inside))
    if unaccounted:
        name, inside = unaccounted[0]
        if loaded is not None or len(unaccounted) > 1 or inside is None:
            res.problem = (
                f"{base}: compacted file(s) {[n for n, _ in unaccounted]} not in the record; left alone"
            )
            res.files_after = len(names)
            return res
        body = lake.read_bytes(f"{base}/{name}")
        rows = sum(int(e["rows"]) for e in inside.values())
        rec = _empty(table, relpath) | {"file": name, "rows": rows, "sha256": _sha(body), "absorbed": inside}
        del body
        lake.write_atomic(record_key(table, relpath), _dump(rec))
        log.warning("%s: record rebuilt from %s (it had been lost)", base, name)
        current = name
    drop: set[str] = set()
    add: dict[str, str] = {}
    size = names.get(current, 0) if current else 0
    for name in sorted(n for n in names if not n.startswith(PREFIX)):
        stem, key = name[: -len(".parquet")], f"{base}/{name}"
        entry = rec["absorbed"].get(stem)
        if entry is not None:
            if original_sha(name) == entry["sha256"]:  # already in the compacted file
                lake.delete(key)
                res.deleted += 1
                del names[name]
                continue
            drop.add(stem)  # a newer parse of an absorbed file: its rows replace the absorbed ones
        if entry is not None or _window_settled(stem, before, interval):
            add[stem] = key
            size += names[name]
    merge = bool(drop) or (bool(add) and len(add) + (1 if current else 0) >= min_files)
    if merge and size > max_bytes:
        res.skipped = f"{size} bytes > max_bytes {max_bytes}"
        # with stale absorbed rows (drop) the partition shows them next to their new version: a problem
        res.problem = res.skipped if drop else None
        merge = False
    if merge:
        try:
            outcome = _rewrite(lake, table, relpath, rec, drop, add)
        except _SchemaMismatch as exc:
            res.skipped = f"schemas differ: {exc}"[:300]
            res.problem = res.skipped if drop else None
        except CompactionError as exc:  # reported with the other partitions' problems, after them
            res.problem = str(exc)
        else:
            res.absorbed = outcome.absorbed
            res.deleted += len(outcome.deleted)
            names = {n: s for n, s in names.items() if f"{base}/{n}" not in outcome.deleted}
            if outcome.wrote:
                names[outcome.wrote] = 0
    res.files_after = len(names)
    return res


# -- tables -----------------------------------------------------------------------------------------------------


def _resolve(table_or_source: str) -> tuple[str, str | None]:
    """(table, source name) for a source or table name; the source is needed to read its manifests."""
    if table_or_source in SOURCES:
        return SOURCES[table_or_source].table, table_or_source
    for name, src in SOURCES.items():
        if src.table == table_or_source:
            return src.table, name
    return table_or_source, None


def _all_partitions(lake: Store, table: str, before: datetime) -> list[str]:
    """Every partition of the table whose hour ended by `before`, listed one level at a time (dt= directories
    after `before` are not descended into)."""
    out = []
    for base in lake.glob_prefixes(layout.curated_streams_pattern(table)):
        for d in lake.list_dirs(base):
            if not d.startswith("dt=") or d[3:] > f"{before:%Y-%m-%d}":
                continue
            for h in lake.list_dirs(f"{base}{d}"):
                if h.startswith("hour="):
                    relpath = f"{base}{d}/{h}".split("/", 2)[2]
                    if _hour_end(relpath) <= before:
                        out.append(relpath)
    return sorted(out)


def _settled_partitions(
    lake: Store, source: str, table: str, since: datetime, before: datetime, interval: timedelta
) -> list[str]:
    """Partitions written by the ingest windows that settled in (since, before], from their batch manifests:
    a daily run then costs what a day of ingest wrote, not a listing of the whole lake's history."""
    out: set[str] = set()
    for d in lake.list_dirs(layout.source_manifests(source)):
        start = layout.parse_window_dir_name(d)
        if start is None:
            continue
        if not since < start + interval <= before:
            continue
        for o in lake.find(layout.manifest_dir(source, start)):
            if layout.parse_manifest_name(layout.key_name(o.key)).kind == "batch":
                for key in BatchManifest.from_json(lake.read_bytes(o.key)).files:
                    sp = _split(key)
                    if sp is not None and sp[0] == table:
                        out.add(sp[1])
    return sorted(p for p in out if _hour_end(p) <= before)


def compact_partitions(
    table_or_source: str,
    before: datetime,
    settings: Settings | None = None,
    min_files: int = 2,
    since: datetime | None = None,
    max_bytes: int = MAX_PARTITION_BYTES,
) -> dict[str, Any]:
    """Compact every settled partition of a table: hour ended and ingest windows ended by `before`.

    With `since`, only partitions that windows ending in (since, before] wrote to are looked at (the DAG's
    daily slice); without it, every partition of the table (the CLI's sweep, e.g. after a backfill). Problems
    (a lost compacted file, a partition too large to merge while it holds stale rows) are raised after every
    other partition was handled.
    """
    s = settings or load_settings()
    lake = Store(s.lake_url, s.lake_conn_id)
    table, source = _resolve(table_or_source)
    if since is not None and source is not None:
        parts = _settled_partitions(lake, source, table, since, before, s.ingest_interval)
    else:
        parts = _all_partitions(lake, table, before)
    results = [
        compact_partition(lake, table, p, before, s.ingest_interval, min_files, max_bytes) for p in parts
    ]
    touched = [r for r in results if r.absorbed or r.deleted]
    summary: dict[str, Any] = {
        "table": table,
        "before": before.isoformat(),
        "since": since.isoformat() if since else None,
        "partitions": len(results),
        "compacted": sum(1 for r in results if r.absorbed),
        "files_absorbed": sum(r.absorbed for r in results),
        "files_deleted": sum(r.deleted for r in results),
        "files_before": sum(r.files_before for r in results),
        "files_after": sum(r.files_after for r in results),
        "max_files_after": max((r.files_after for r in results), default=0),
        "median_files_after": statistics.median([r.files_after for r in results]) if results else 0,
        "skipped": {r.relpath: r.skipped for r in results if r.skipped},
        "problems": {r.relpath: r.problem for r in results if r.problem},
    }
    log.info(
        "compaction %s before %s: %d partitions, %d compacted (%d files absorbed), files %d → %d, touched %d",
        table,
        before.isoformat(),
        summary["partitions"],
        summary["compacted"],
        summary["files_absorbed"],
        summary["files_before"],
        summary["files_after"],
        len(touched),
    )
    for relpath, why in summary["skipped"].items():
        log.warning("compaction %s %s skipped: %s", table, relpath, why)
    if summary["problems"]:
        raise CompactionError(f"{table}: {summary['problems']}")
    return summary


def compact_interval(
    source: str, start: datetime, end: datetime, settings: Settings | None = None
) -> dict[str, Any]:
    """The compact DAG's task: the partitions whose ingest windows settled during [start, end) shifted back by
    the settle period (MAMORI_COMPACT_SETTLE_HOURS), a pure function of the data interval."""
    s = settings or load_settings()
    return compact_partitions(source, end - s.compact_settle, s, since=start - s.compact_settle)


# -- ingest's side: re-running a window after its files were absorbed ---------------------------------------------


def _absorbing(lake: Store, key: str) -> tuple[str, str, str, dict[str, Any], bool] | None:
    """(table, relpath, stem, record, compacted file exists) when the partition's record absorbed `key`."""
    sp = _split(key)
    if sp is None:
        return None
    table, relpath, stem = sp
    rec = _load(lake, table, relpath)
    if rec is None or stem not in rec["absorbed"]:
        return None
    present = bool(rec.get("file")) and lake.exists(
        f"{layout.curated_partition(table, relpath)}/{rec['file']}"
    )
    return table, relpath, stem, rec, present


def absorbed(lake: Store, key: str, body: bytes | None = None, digest: str | None = None) -> bool:
    """Called by ingest before publishing a curated file: True when the partition's compacted file already
    holds exactly these bytes' rows (skip the write: re-running a window changes nothing). When it holds an
    older parse of this file, those rows are removed from it first and False is returned (write the new file).

    The file is given by its bytes or by their sha256 (`digest`: ingest publishes staged files it no longer
    holds in memory)."""
    if digest is None:
        if body is None:
            raise TypeError("absorbed() needs the file's bytes or their digest")
        digest = _sha(body)
    found = _absorbing(lake, key)
    if found is None:
        return False
    table, relpath, stem, rec, present = found
    if not present:
        # The compacted file is gone, so the record cannot vouch for these rows: forget the stem and let ingest
        # write its file again (re-running the partition's windows restores it).
        log.error("the compacted file named by %s's record is missing; %s is written again", relpath, key)
        _forget(lake, table, relpath, rec, stem)
        return False
    if rec["absorbed"][stem]["sha256"] == digest:
        if lake.exists(key):  # left by a compaction interrupted after its record: a duplicate
            lake.delete(key)
        return True
    _rewrite(lake, table, relpath, rec, drop={stem}, add={})
    return False


def release(lake: Store, key: str) -> bool:
    """Called by ingest before deleting a file a re-run no longer produces: remove the file's rows from the
    compacted file too when they were absorbed. True when there was something to remove."""
    found = _absorbing(lake, key)
    if found is None:
        return False
    table, relpath, stem, rec, present = found
    if present:
        _rewrite(lake, table, relpath, rec, drop={stem}, add={})
    else:
        _forget(lake, table, relpath, rec, stem)
    return True


def _forget(lake: Store, table: str, relpath: str, rec: dict[str, Any], stem: str) -> None:
    """Drop a stem from a record whose compacted file is lost; once none is left, the record starts afresh."""
    rec["absorbed"].pop(stem)
    lake.write_atomic(record_key(table, relpath), _dump(rec if rec["absorbed"] else _empty(table, relpath)))


def absorbed_rows(lake: Store, key: str) -> int | None:
    """Rows of an ingest file that compaction absorbed (its manifest's file_rows), or None when it was not.

    For reconciliation of old windows: their files are gone, their rows are in the compacted file."""
    sp = _split(key)
    if sp is None:
        return None
    rec = _load(lake, sp[0], sp[1])
    if rec is None or sp[2] not in rec["absorbed"]:
        return None
    return int(rec["absorbed"][sp[2]]["rows"])
