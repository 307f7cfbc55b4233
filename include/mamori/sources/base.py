"""The contract every log source implements.

A source owns three things and nothing else: which landed keys are its own, how one raw object becomes rows
(or quarantine entries), and the Arrow schema of its table. Everything generic (listing, batching, partitioned
atomic writes, manifests) lives in :mod:`mamori.ingest`, so adding a source never touches the pipeline.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

import numpy as np
import pyarrow as pa

# Columns every table carries on top of its native columns, so one query can pivot on an IP or a principal
# across sources. `region` and `account` are hive partition keys (not stored in the files), as are dt/hour.
# event_time is a UTC instant stored without a zone: Athena's `timestamp` is zone-less, and comparing it with the
# window macro's TIMESTAMP literals must mean the same thing on Athena and DuckDB (TIMESTAMPTZ would not).
COMMON_FIELDS: list[pa.Field] = [
    pa.field("event_time", pa.timestamp("us"), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("account_id", pa.string()),
    pa.field("related_ips", pa.list_(pa.string())),
    pa.field("related_users", pa.list_(pa.string())),
    pa.field("related_arns", pa.list_(pa.string())),
    pa.field("related_accounts", pa.list_(pa.string())),
]

PARTITION_KEYS: tuple[str, ...] = ("account", "region", "dt", "hour")

# A region segment of a key, in every AWS partition: aws (us-east-1, ap-southeast-7), aws-cn (cn-north-1),
# aws-us-gov (us-gov-west-1), aws-iso* (us-iso-east-1, us-isob-east-1, eu-isoe-west-1, us-isof-south-1) and
# aws-eusc (eusc-de-east-1). Explicit ASCII classes, never \d: the account and region of a key become hive
# partition values, and Athena's projection only enumerates ASCII ones, so a `us-east-١` folder would be data
# DuckDB reads and Athena never does. Key patterns are also compiled with re.ASCII. A segment of another shape
# under a source's prefix stays unclaimed, which raises a data-quality alert (new region, or tampering).
REGION = r"[a-z]{2,4}(?:-[a-z]+){1,3}-[0-9]{1,2}"
ACCOUNT = r"[0-9]{12}"

# The earliest event time any source can plausibly carry: every AWS log mamori reads appeared after it
# (CloudTrail 2013, VPC Flow Logs 2015, ALB 2016). A record claiming an earlier time is corrupt or forged, and
# written to the lake it would sit under `dt=1970-01-01`, outside the range Athena's projection reads.
PLAUSIBLE_SINCE = datetime(2010, 1, 1, tzinfo=UTC)


def aws_partition(region: str) -> str:
    """The ARN partition of a region (arn:<partition>:...), from its name as AWS's partitions define it."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("eusc-"):
        return "aws-eusc"
    for prefix, partition in (
        ("us-isob-", "aws-iso-b"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
    ):
        if region.startswith(prefix):
            return partition
    return "aws-iso" if region.startswith("us-iso-") else "aws"


@dataclass(frozen=True)
class Partition:
    """Where a row lands in the lake: the hive partition values, all strings as Athena projects them."""

    account: str
    region: str
    dt: str
    hour: str

    def relpath(self) -> str:
        return f"account={self.account}/region={self.region}/dt={self.dt}/hour={self.hour}"

    @classmethod
    def for_event(cls, account: str, region: str, event_time: datetime) -> Partition:
        t = event_time  # f-strings: strftime twice per row was a visible share of conversion time
        return cls(account, region, f"{t.year:04d}-{t.month:02d}-{t.day:02d}", f"{t.hour:02d}")


@dataclass
class Quarantined:
    """One unit that could not become a row: a record, or a whole object when it cannot even be opened."""

    key: str
    reason: str
    index: int | None = None  # position of the record in the object; None = the whole object
    raw: str | None = None  # the record as text, so it can be replayed after a parser fix

    def as_dict(self) -> dict[str, Any]:
        return {"object": self.key, "index": self.index, "reason": self.reason, "raw": self.raw}


@dataclass
class ObjectResult:
    """What parsing one raw object produced. records_in == len(rows) + len(quarantined) by construction."""

    key: str
    rows: list[tuple[Partition, dict[str, Any]]] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    skipped_reason: str | None = None  # object is not event data (e.g. a digest): no records, not an error

    @property
    def rows_out(self) -> int:
        return len(self.rows)

    @property
    def records_in(self) -> int:
        return len(self.rows) + len(self.quarantined)


# Where a columnar parser hands its output: one call per (partition, Arrow table of SCHEMA rows in input
# order, and per row the `origin` number parse() was given for the object the row came from: ingest's
# data-quality step traces a bad row back to its object). A callback rather than a return value, so an
# object larger than memory can be converted in pieces.
Emit = Callable[[Partition, pa.Table, np.ndarray[Any, Any]], None]


@dataclass
class ColumnarResult:
    """What a columnar parse of one raw object produced, the tables themselves having gone to an Emit.

    The counterpart of ObjectResult for columnar parsers (ColumnarParser.parse): the same counts and quarantine, so the
    manifest reconciles exactly (records_in == rows_out + quarantined), without one dict per row.
    """

    key: str
    rows_out: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
    skipped_reason: str | None = None
    # The object's raw records exactly as one decode of the whole object gave them (None when the parser
    # streamed it, split it record by record, or keeps no such list): drift observation samples these instead
    # of decompressing and parsing the object a second time. Never modified by the parser.
    records: list[Any] | None = None

    @property
    def records_in(self) -> int:
        return self.rows_out + len(self.quarantined)


# Objects from this size on are handed to a parser that streams them (spec `capabilities.streams_large_objects`) as a
# LargeObject instead of bytes: holding a 256 MB delivery costs 256 MB for the whole parse, on top of the rest.
LARGE_OBJECT_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class LargeObject:
    """A raw object read as a stream, once per pass, instead of held as bytes (see LARGE_OBJECT_BYTES)."""

    key: str
    size: int
    open: Callable[[], BinaryIO]

    def head(self, n: int) -> bytes:
        with self.open() as f:
            return f.read(n)

    def read_all(self) -> bytes:
        """The bytes after all (a parser that cannot stream this object: its fallback path)."""
        with self.open() as f:
            return f.read()


@dataclass(frozen=True)
class RawKey:
    """Facts a source reads from a landed key's path alone."""

    key: str
    account: str
    region: str
    kind: str  # e.g. "events", "digest", "insight"


class Source(Protocol):
    """A log source's parser: the `parser` of its SourceSpec (mamori.sources.spec), in sources/<name>/__init__.py."""

    name: str
    table: str
    schema: pa.Schema

    def classify(self, key: str) -> RawKey | None:
        """Return what the key is if this source owns it, else None."""
        ...

    def list_prefixes(self, start: datetime, end: datetime) -> Iterable[str]:
        """Key prefix globs (relative to the raw root) under which objects landed in [start, end) can be."""
        ...

    def parse_object(self, raw: RawKey, data: bytes) -> ObjectResult:
        """Turn one raw object's bytes into partitioned rows and quarantine entries."""
        ...


class ColumnarParser(Protocol):
    """Parses the objects of one batch into Arrow tables handed to an Emit (see mamori.lake.convert).

    parse() returns each object's counts and quarantine at once; the tables may be emitted later, batched
    across objects (Arrow's per-call cost would dominate a 40-record delivery file), but always in input
    order and all of them by flush(). The emitted rows equal what parse_object returns for the same objects,
    per partition and in the same order (tests/sources/test_columnar.py).
    """

    def parse(self, raw: RawKey, data: bytes, origin: int = 0) -> ColumnarResult: ...

    def flush(self) -> None: ...


class ColumnarSource(Source, Protocol):
    """A source with a columnar parser (optional: others are bridged from their rows by RowsAsColumns)."""

    def columnar(self, emit: Emit) -> ColumnarParser: ...


FLUSH_ROWS = 8 * 1024  # rows a columnar parser gathers before it builds and emits Arrow tables


class RowBuffer:
    """Row dicts waiting to become tables: one from_pylist per partition per ~FLUSH_ROWS rows, not per object
    (its fixed cost would dominate an S3 access log object of three lines)."""

    def __init__(self, schema: pa.Schema, emit: Emit, limit: int = FLUSH_ROWS) -> None:
        self.schema, self.emit, self.limit = schema, emit, limit
        self.rows: list[tuple[Partition, dict[str, Any]]] = []
        self.origins: list[int] = []

    def add(self, rows: list[tuple[Partition, dict[str, Any]]], origin: int) -> None:
        self.rows += rows
        self.origins += [origin] * len(rows)
        if len(self.rows) >= self.limit:
            self.flush()

    def flush(self) -> None:
        rows, origins, self.rows, self.origins = self.rows, self.origins, [], []
        emit_rows(rows, self.schema, self.emit, origins)


class RowsAsColumns:
    """The ColumnarParser of a source that only has parse_object: its rows, batched into tables."""

    def __init__(self, src: Source, emit: Emit) -> None:
        self.src = src
        self.buffer = RowBuffer(src.schema, emit)

    def parse(self, raw: RawKey, data: bytes, origin: int = 0) -> ColumnarResult:
        obj = self.src.parse_object(raw, data)
        self.buffer.add(obj.rows, origin)
        return ColumnarResult(obj.key, len(obj.rows), obj.quarantined, obj.skipped_reason)

    def flush(self) -> None:
        self.buffer.flush()


def split_rows(
    table: pa.Table, part: np.ndarray[Any, Any], origin: np.ndarray[Any, Any]
) -> list[tuple[int, pa.Table, np.ndarray[Any, Any]]]:
    """Split a table (and its origin numbers) by a per-row partition number: (number, rows in input order,
    their origins), in first-seen order. One stable sort and slices, not one filter per partition."""
    first = part[0]
    if (part == first).all():
        return [(int(first), table, origin)]
    if (np.diff(part) >= 0).all():  # already grouped (time-ordered logs): slices, no copy
        ordered, keys = table, part
    else:
        order = np.argsort(part, kind="stable")
        ordered, keys, origin = table.take(pa.array(order)), part[order], origin[order]
    numbers, starts, counts = np.unique(keys, return_index=True, return_counts=True)
    pieces = {
        int(p): (ordered.slice(int(s), int(c)), origin[int(s) : int(s) + int(c)])
        for p, s, c in zip(numbers, starts, counts, strict=True)
    }
    return [(p, *pieces[p]) for p in dict.fromkeys(part.tolist())]


def emit_rows(
    rows: list[tuple[Partition, dict[str, Any]]], schema: pa.Schema, emit: Emit, origins: list[int]
) -> None:
    """Hand row dicts to an Emit as one table per partition (rows keep their order within a partition).

    The bridge for objects a columnar parser leaves to the row path (hostile or unusual input), so both
    paths produce the same tables by construction.
    """
    if not rows:
        return
    first = rows[0][0]
    if all(p == first for p, _ in rows):  # one partition (the usual case): no regrouping
        emit(first, pa.Table.from_pylist([r for _, r in rows], schema=schema), np.asarray(origins, np.int64))
        return
    groups: dict[Partition, tuple[list[dict[str, Any]], list[int]]] = {}
    for (p, r), o in zip(rows, origins, strict=True):
        g = groups.setdefault(p, ([], []))
        g[0].append(r)
        g[1].append(o)
    for p, (rs, os_) in groups.items():
        emit(p, pa.Table.from_pylist(rs, schema=schema), np.asarray(os_, np.int64))


def is_ip(value: object) -> bool:
    """True for an IPv4/IPv6 literal; CloudTrail puts service names and 'AWS Internal' in IP fields."""
    if not isinstance(value, str) or not value or len(value) > 45:
        return False
    return _is_ip_text(value)


@functools.lru_cache(maxsize=65536)
def _is_ip_text(value: str) -> bool:
    # Logs repeat the same addresses constantly; ipaddress parsing is the slow part, so remember answers.
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def unique(values: Iterable[object]) -> list[str]:
    """Non-empty string values in first-seen order, without repeats (entity arrays stay small and stable)."""
    seen: dict[str, None] = {}
    for v in values:
        if isinstance(v, str) and v and v not in seen:
            seen[v] = None
    return list(seen)


def batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch's rows are built; restore the caller's setting.

    A batch holds up to millions of small row dicts (with lists), none in a reference cycle: the collector
    rescanning them took 45-60% of parse time in the S3 access, CloudWatch and VPC Flow profiles, and
    reference counting frees them anyway. Paused once per batch by ingest, for every source.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
