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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

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
    def records_in(self) -> int:
        return len(self.rows) + len(self.quarantined)


@dataclass(frozen=True)
class RawKey:
    """Facts a source reads from a landed key's path alone."""

    key: str
    account: str
    region: str
    kind: str  # e.g. "events", "digest", "insight"


class Source(Protocol):
    """A log source: one module + one DDL file + samples."""

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
