"""Batch conversion into Arrow tables and Parquet files with bounded memory.

ingest's convert step used to hold one dict per row for a whole batch and build each partition's table with
`pa.Table.from_pylist`: the dicts cost more time than parsing and several times the batch's size in memory.
Here sources with a columnar parser (their spec's `capabilities.columnar`) emit Arrow tables directly and
the others are bridged from their rows in ~8k-row tables; a batch keeps only Arrow tables, and when those
exceed a memory budget they are spilled to local disk as sorted runs and merged when the batch's files are
written. Output equals the row path's: per partition, the batch's rows in input order, stably sorted by
event_time (tests/sources/test_columnar.py); only a spilled partition's row groups are smaller.

Typical use (ingest's _convert_batch)::

    out = BatchTables(src, validate=check_segment)       # check_segment: data quality, may drop rows
    for i, key in enumerate(keys):
        result = out.parse(raw_key, raw.read_bytes(key), origin=i)   # this object's counts and quarantine
    for part, f in out.parquet_files():                     # validates what is held, then one file per partition
        lake.write_atomic(layout.curated_file(src.table, part.relpath(), stem), f.body)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import io
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mamori.sources import get_spec
from mamori.sources.base import (
    ColumnarParser,
    ColumnarResult,
    Emit,
    LargeObject,
    Partition,
    RawKey,
    RowsAsColumns,
    Source,
)

# The lake's file format: one place for the writer options (zstd: ~0.8x the gzip size of the raw JSON), and
# the codec of a source's light columns (SourceSpec.light_columns; see `compression`).
COMPRESSION = "zstd"
LIGHT_COMPRESSION = "snappy"
TINY_FILE_ROWS = 16  # a file of fewer rows has the light codec on every column (`for_rows`)
ROW_GROUP_ROWS = 128 * 1024
# No serialized Arrow schema in the footer: a copy of the file's own Parquet schema, base64 in key-value metadata,
# ~5 KB for CloudTrail (12 % of a ~200-row batch file) and ~0.1 ms to build per file. Readers lose nothing:
# DuckDB and Athena never read it, and pyarrow reads the same schema from the Parquet schema alone (every type
# and name, a list's `element` included; tests/unit/test_compact.py compacts files of both kinds together).
STORE_SCHEMA = False
# Arrow bytes a batch may hold before it spills sorted runs to disk. With the parse of one object and the
# interpreter (~150 MB with pyarrow loaded) this keeps a convert task well under 1 GiB whatever the batch size.
MEMORY_BUDGET = 128 * 1024 * 1024
_RUN_ROW_GROUP = 16 * 1024  # spilled runs are read back in slices this size while merging
# Row groups of a partition merged from spilled runs: smaller than ROW_GROUP_ROWS, since a row group is built
# in memory (twice: gathered, then put in order). Only the physical grouping differs; rows and order do not.
MERGED_ROW_GROUP_ROWS = 32 * 1024


def release_memory() -> None:
    """Give freed memory back to the system now, not at exit.

    Arrow's pool keeps freed pages, and glibc keeps freed heap (Python's large bytes objects: Parquet output,
    decompressed pieces) once its adaptive mmap threshold has grown. A convert task of one 256 MB object
    climbed ~300 MB during its merges without this (bench memory section).
    """
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def use_system_allocator() -> None:
    """Arrow allocations from glibc malloc (with the mmap threshold set below) instead of mimalloc.

    mimalloc keeps freed pages for reuse: a convert task of one 256 MB object peaked at 1,058 MiB with it and
    857 MiB with this (bench memory section), with Arrow's live bytes the same. Called by the convert task,
    which is its own process; a no-op where glibc is not the C library.
    """
    libc = _libc()
    if libc is not None:
        # Buffers from 1 MB on (Parquet output, decompressed input) straight from mmap, so freeing one returns
        # it at once. glibc's default threshold adapts upward to the largest buffer freed, after which such
        # buffers come from the heap and stay there: the merges of a 256 MB object climbed ~250 MB that way.
        libc.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)
        pa.set_memory_pool(pa.system_memory_pool())


@functools.cache
def _libc() -> Any:
    """glibc, or None where it is not the C library. Looked up on first use, not at import: find_library runs
    `ldconfig -p` in a subprocess, and DAG files import this module (tests/dags: no I/O at parse time)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "malloc_trim"):  # glibc only (not musl, not macOS)
        return None
    return libc  # tuned only by use_system_allocator: importing this module (a DAG file does) changes nothing


def columnar_parser(src: Source, emit: Emit) -> ColumnarParser:
    """The source's columnar parser (its spec's capability), or its row parser bridged to tables (same output,
    row-path speed)."""
    columnar = get_spec(src.name).columnar_source
    if columnar is not None:
        return columnar.columnar(emit)
    return RowsAsColumns(src, emit)


def parse_tables(
    src: Source, raw: RawKey, data: bytes
) -> tuple[ColumnarResult, list[tuple[Partition, pa.Table]]]:
    """One object through the columnar parser: its result and emitted tables, in emission order (tests)."""
    out: list[tuple[Partition, pa.Table]] = []
    parser = columnar_parser(src, lambda p, t, o: out.append((p, t)))
    result = parser.parse(raw, data)
    parser.flush()
    return result, out


@dataclass(frozen=True)
class LakeFile:
    """One Parquet file's bytes and the rows its writer put in them (the count its footer records)."""

    body: bytes
    rows: int


def compression(schema: pa.Schema, light: Sequence[str] = ()) -> str | dict[str, str]:
    """The codec of each Parquet column of a source's files: zstd, but snappy on its light columns and every
    column under a light struct (SourceSpec.light_columns); one name for a source without light columns.

    Why: Arrow sets up a zstd context for every page it compresses (a column's dictionary page and data page
    each), ~10 µs each, whatever the page's size: for a ~200-row file of CloudTrail's 63 leaf columns that was
    about a third of its encoding, and the light columns' pages (a dictionary of a few values and its
    indices, or a column of nulls) came out no smaller for it. Per-column codecs are plain Parquet: Athena,
    DuckDB and pyarrow read them (tests/sources/test_columnar.py, tests/unit/test_compact.py)."""
    if not light:
        return COMPRESSION
    return _codecs(schema, tuple(light))


@functools.lru_cache(maxsize=32)
def _codecs(schema: pa.Schema, light: tuple[str, ...]) -> dict[str, str]:
    """Built once per schema (read only by the writer)."""
    return {
        path: LIGHT_COMPRESSION if any(path == c or path.startswith(c + ".") for c in light) else COMPRESSION
        for path in leaf_paths(schema)
    }


@functools.lru_cache(maxsize=32)
def leaf_paths(schema: pa.Schema) -> tuple[str, ...]:
    """The Parquet column paths of an Arrow schema, as pyarrow's writer names them (a list's items
    `x.list.element`, a map's `x.key_value.key` and `.value`; tests compare them with a written footer).
    Walked here rather than read from an empty file's footer: writing one imports pandas (~1 s)."""
    return tuple(p for f in schema for p in _paths(f.name, f.type))


def _paths(name: str, typ: pa.DataType) -> Iterator[str]:
    if pa.types.is_struct(typ):
        for i in range(typ.num_fields):
            yield from _paths(f"{name}.{typ.field(i).name}", typ.field(i).type)
    elif pa.types.is_map(typ):
        yield from _paths(f"{name}.key_value.key", typ.key_type)
        yield from _paths(f"{name}.key_value.value", typ.item_type)
    elif pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        yield from _paths(f"{name}.list.element", typ.value_type)
    else:
        yield name


def writer_options(
    schema: pa.Schema, filtered: Sequence[str] | None, light: Sequence[str] = ()
) -> dict[str, Any]:
    """Parquet writer options for a source's batch files: the codecs (`compression`), and dictionaries and
    statistics only on the columns its readers filter on (SourceSpec.filtered_columns; statistics on
    event_time too), or everywhere (None)."""
    codecs = {"compression": compression(schema, light), "store_schema": STORE_SCHEMA}
    if filtered is None:
        return codecs
    return {**codecs, "use_dictionary": list(filtered), "write_statistics": [*filtered, "event_time"]}


def write_parquet(table: pa.Table, options: dict[str, Any] | None = None) -> LakeFile:
    """The lake's file bytes, deterministic for identical input (a re-run writes the same file), with the row
    count the writer recorded in them: ingest's guard compares it with the manifest's rows_out, without
    parsing the footer back (a ~70-column schema's footer costs about a millisecond per file to read).

    Written to Arrow's own buffer, not an io.BytesIO: the writer then appends each page natively instead of
    calling back into Python for it (~75 pages in a CloudTrail file: ~0.1 ms per file; same bytes).

    `options`: the source's `writer_options`, built once for a batch's files by BatchTables (building them
    hashes the schema to find its codecs, ~0.1 ms per file for CloudTrail's 63 columns); None for zstd on
    every column, dictionaries and statistics everywhere. Either way `for_rows` adapts them to the file."""
    opts = options if options is not None else writer_options(table.schema, None)
    sink = pa.BufferOutputStream()
    written: list[Any] = []
    pq.write_table(
        table,
        sink,
        row_group_size=ROW_GROUP_ROWS,
        metadata_collector=written,
        **for_rows(opts, table.num_rows),
    )
    return LakeFile(sink.getvalue().to_pybytes(), int(written[0].num_rows))


def for_rows(options: dict[str, Any], rows: int) -> dict[str, Any]:
    """Writer options for a file of `rows` rows: as given, but the light codec on every column of a file of
    fewer than TINY_FILE_ROWS rows (held or merged from spilled runs alike).

    Why: zstd's fixed cost per page (a context set up per page, ~10 µs) buys nothing on pages of a few values:
    a batch's stragglers and its rare regions' events make such files (13 of 48 in the bench's 1,000-event
    batches, 6 rows each). Measured there: encoding 9.3 → 8.6 ms per batch, bytes +0.1 %. Compaction rewrites
    a settled partition's files with the usual codecs (`compression`)."""
    if rows >= TINY_FILE_ROWS:
        return options
    return {**options, "compression": LIGHT_COMPRESSION}


def parquet_bytes(table: pa.Table) -> bytes:
    """The lake's file bytes alone (benchmarks, tests)."""
    return write_parquet(table).body


def sort_by_event_time(table: pa.Table) -> pa.Table:
    """Stable: rows with the same event_time keep their input order (Arrow's sort_indices is stable)."""
    return _in_time_order(table)[0]


def _in_time_order(table: pa.Table) -> tuple[pa.Table, np.ndarray[Any, Any] | None]:
    """The table stably sorted by event_time (one chunk per column, as `take` leaves it), and the order taken;
    None when the rows already were in order, so the caller keeps its origins as they are.

    A delivery's records mostly come in time order and a batch's objects in key (delivery) order, so a
    partition is often sorted already: checked on the time column alone, that spares the gather over every
    column (nested ones included) that `take` does. The result is the same table either way.
    """
    times = table.column("event_time")
    if times.null_count == 0:
        t = times.to_numpy()
        if bool(np.all(t[1:] >= t[:-1])):
            return table.combine_chunks(), None
    order = pc.sort_indices(table, sort_keys=[("event_time", "ascending")])
    return table.take(order), order.to_numpy()


@dataclass
class _Run:
    path: str
    rows: int


@dataclass
class _Part:
    chunks: list[pa.Table] = field(default_factory=list)
    origins: list[np.ndarray[Any, Any]] = field(default_factory=list)
    nbytes: int = 0
    runs: list[_Run] = field(default_factory=list)


# What a batch holds in memory at one time (the whole batch, unless it spilled): per partition, its rows sorted
# by event_time and each row's origin. A Validate hook sees every segment before it is spilled or written and
# returns the tables to keep, in the same order, with rows only removed (ingest's data-quality quarantine).
Segment = list[tuple[Partition, pa.Table, np.ndarray[Any, Any]]]
Validate = Callable[[Segment], list[pa.Table]]


class BatchTables:
    """Collects a batch's emitted tables per partition; writes each partition's Parquet file at the end.

    Memory is bounded by `budget` (Arrow bytes held) plus one output file's compressed bytes: past the budget,
    every partition's buffered rows are validated, sorted and written to a local temporary Parquet run, and a
    partition with runs is produced by a k-way merge (sort keys only in memory, rows streamed slice by slice).
    Every row is validated exactly once, in the segment it was held in, with its origin still known.
    """

    def __init__(
        self,
        src: Source,
        budget: int = MEMORY_BUDGET,
        spill_dir: str | None = None,
        validate: Validate | None = None,
    ) -> None:
        self.schema = src.schema
        self.parser = columnar_parser(src, self.add)
        self._streams = get_spec(src.name).capabilities.streams_large_objects
        spec = get_spec(src.name)
        self._options = writer_options(self.schema, spec.filtered_columns, spec.light_columns)  # once a batch
        self.budget = budget
        self.validate = validate
        self._spill_parent = spill_dir
        self._tmp: str | None = None
        self._parts: dict[Partition, _Part] = {}
        self._held = 0
        self.spills = 0
        # rows received from the parser, counted apart from the tables: ingest reconciles it with the
        # parser's own per-object counts, and it is the row count each segment's validation must see
        self.emitted = 0
        self._segment_rows = 0

    @property
    def streams_large_objects(self) -> bool:
        """Whether `parse` can take a LargeObject without reading it whole (CloudTrail's parser can)."""
        return self._streams

    def flush(self) -> None:
        """Have the parser emit every row it still holds, so `emitted` is final before any file is written."""
        self.parser.flush()

    def parse(self, raw: RawKey, data: bytes | LargeObject, origin: int = 0) -> ColumnarResult:
        """Parse one object of the batch; its tables arrive here (possibly later, by parquet_files at most).

        `origin` (e.g. the object's position in the batch) is kept per row: see tables_with_origin.
        """
        if isinstance(data, LargeObject) and not self.streams_large_objects:
            data = data.read_all()
        return self.parser.parse(raw, data, origin)  # type: ignore[arg-type]  # a LargeObject only if it streams

    def add(self, part: Partition, table: pa.Table, origin: np.ndarray[Any, Any]) -> None:
        """The Emit for `parse`: keep a table of rows for `part` (in arrival order)."""
        if table.num_rows == 0:
            return
        if len(origin) != table.num_rows:
            raise ValueError(f"{len(origin)} origins for {table.num_rows} rows")
        p = self._parts.get(part)
        if p is None:
            p = self._parts[part] = _Part()
        size = table.nbytes
        p.chunks.append(table)
        p.origins.append(origin)
        p.nbytes += size
        self._held += size
        self.emitted += table.num_rows
        self._segment_rows += table.num_rows
        if self._held > self.budget:
            self._spill()

    @property
    def rows(self) -> int:
        return sum(
            sum(t.num_rows for t in p.chunks) + sum(r.rows for r in p.runs) for p in self._parts.values()
        )

    @property
    def segment_rows(self) -> int:
        """Rows emitted into the segment being validated (what its table must hold)."""
        return self._segment_rows

    def partitions(self) -> list[Partition]:
        return sorted(self._parts, key=lambda p: p.relpath())

    def parquet_files(self) -> Iterator[tuple[Partition, LakeFile]]:
        """(partition, Parquet file) in relpath order, rows stably sorted by event_time.

        The rows still held are validated first (one last segment); a partition left with no rows is not
        written. Temporary runs are removed at the end.
        """
        self.parser.flush()
        try:
            final = self._checked(self._segment())
            for part in self.partitions():
                p = self._parts.pop(part)
                table = final.get(part)
                final.pop(part, None)  # each partition's tail is dropped once it is written
                if not p.runs:
                    if table is not None and table.num_rows:
                        yield part, write_parquet(table, options=self._options)
                    continue
                if table is not None and table.num_rows:  # the tail after the last spill: one more run
                    p.runs.append(self._write_run(table))
                del table
                yield part, self._merge(p.runs)
        finally:
            self.close()

    def tables(self) -> Iterator[tuple[Partition, pa.Table]]:
        """(partition, sorted table) for a batch that stayed within the budget (tests, small batches)."""
        for part, table, _ in self.tables_with_origin():
            yield part, table

    def tables_with_origin(self) -> Iterator[tuple[Partition, pa.Table, np.ndarray[Any, Any]]]:
        """(partition, sorted table, each row's origin) for a batch that stayed within the budget (unvalidated)."""
        self.parser.flush()
        if self.spills:
            raise RuntimeError("batch spilled to disk: use parquet_files()")
        for part in self.partitions():
            p = self._parts[part]
            table, order = _in_time_order(_concat(p.chunks, self.schema))
            origin = np.concatenate(p.origins) if p.origins else np.zeros(0, np.int64)
            yield part, table, origin if order is None else origin[order]

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- segments and spilling -------------------------------------------------------------------------------

    def _segment(self) -> Segment:
        """Take every partition's held rows out of memory's buffers, sorted, with their origins."""
        seg: Segment = []
        for part in self.partitions():
            p = self._parts[part]
            if not p.chunks:
                continue
            table, order = _in_time_order(_concat(p.chunks, self.schema))
            origin = np.concatenate(p.origins)
            seg.append((part, table, origin if order is None else origin[order]))
            p.chunks, p.origins, p.nbytes = [], [], 0
        self._held = 0
        return seg

    def _checked(self, seg: Segment) -> dict[Partition, pa.Table]:
        if self.validate is None or not seg:
            kept = [t for _, t, _ in seg]
        else:
            kept = self.validate(seg)
            if len(kept) != len(seg) or any(
                k.num_rows > t.num_rows for k, (_, t, _) in zip(kept, seg, strict=True)
            ):
                raise ValueError("validate must return one table per partition, with rows only removed")
        self._segment_rows = 0
        return {part: table for (part, _, _), table in zip(seg, kept, strict=True)}

    def _spill(self) -> None:
        for part, table in self._checked(self._segment()).items():
            if table.num_rows:
                self._parts[part].runs.append(self._write_run(table))
        self.spills += 1
        release_memory()

    def _write_run(self, table: pa.Table) -> _Run:
        """One sorted run on local disk (the table is already sorted by event_time)."""
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="mamori-spill-", dir=self._spill_parent)
            # removed even if the caller stops iterating parquet_files() (an exception while writing)
            weakref.finalize(self, shutil.rmtree, self._tmp, True)
        path = os.path.join(self._tmp, f"run-{len(os.listdir(self._tmp)):06d}.parquet")
        # lz4: runs live for one task; writing speed matters more than their size
        pq.write_table(table, path, compression="lz4", row_group_size=_RUN_ROW_GROUP)
        return _Run(path, table.num_rows)

    def _merge(self, runs: list[_Run]) -> LakeFile:
        """Merge sorted runs into one file. Ties keep run order then position, i.e. input order (stable)."""
        keys = pa.chunked_array(
            [pq.read_table(r.path, columns=["event_time"]).column(0).combine_chunks() for r in runs]
        )
        order = (
            pc.sort_indices(pa.table({"t": keys}), sort_keys=[("t", "ascending")]).to_numpy().astype(np.int64)
        )
        starts = np.cumsum([0] + [r.rows for r in runs])
        run_of = np.searchsorted(starts, order, side="right") - 1
        readers = [_RunReader(r.path) for r in runs]
        consumed = np.zeros(len(runs), dtype=np.int64)  # rows of each run already written
        buf = io.BytesIO()
        with pq.ParquetWriter(buf, self.schema, **for_rows(self._options, len(order))) as writer:
            for lo in range(0, len(order), MERGED_ROW_GROUP_ROWS):
                sel, owner = order[lo : lo + MERGED_ROW_GROUP_ROWS], run_of[lo : lo + MERGED_ROW_GROUP_ROWS]
                counts = np.bincount(owner, minlength=len(runs))
                offsets = np.zeros(len(runs), dtype=np.int64)
                pieces, total = [], 0
                for i, n in enumerate(counts):
                    offsets[i] = total
                    if n:  # a run's rows in one stretch of the merged order are its next n rows
                        pieces.append(readers[i].take(int(n)))
                        total += int(n)
                local = sel - starts[owner] - consumed[owner] + offsets[owner]
                consumed += counts
                table = _concat(pieces, self.schema).take(pa.array(local))
                writer.write_table(table, row_group_size=MERGED_ROW_GROUP_ROWS)
                del table, pieces
        release_memory()
        return LakeFile(buf.getvalue(), int(writer.writer.metadata.num_rows))


class _RunReader:
    """Sequential reader of one sorted run, a row group at a time."""

    def __init__(self, path: str) -> None:
        self.file = pq.ParquetFile(path)
        self.group = 0
        self.pending: pa.Table | None = None  # rows read but not handed out yet

    def take(self, n: int) -> pa.Table:
        parts = []
        while n:
            if self.pending is None or self.pending.num_rows == 0:
                self.pending = self.file.read_row_group(self.group)
                self.group += 1
            got = self.pending.slice(0, n)
            self.pending = self.pending.slice(got.num_rows)
            parts.append(got)
            n -= got.num_rows
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


@dataclass
class BatchResult:
    """Per-object outcomes of a batch plus its tables (what tables_for_batch returns)."""

    objects: list[ColumnarResult]
    tables: BatchTables

    @property
    def records_in(self) -> int:
        return sum(o.records_in for o in self.objects)

    @property
    def rows_out(self) -> int:
        return sum(o.rows_out for o in self.objects)


def tables_for_batch(
    src: Source, objects: Iterable[tuple[RawKey, bytes]], budget: int = MEMORY_BUDGET
) -> BatchResult:
    """Parse every object of a batch (bytes may be produced lazily by the iterable) into one BatchTables."""
    out = BatchTables(src, budget=budget)
    results = [out.parse(raw, data) for raw, data in objects]
    return BatchResult(results, out)
