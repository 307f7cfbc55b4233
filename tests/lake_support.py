"""Put a parsed case table into a lake as ingest would lay it out (hour partitions, partition columns in the
path only), for tests whose detect runs read the lake itself rather than a table registered on the engine."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mamori.config import Settings
from mamori.lake import layout
from mamori.sources.base import PARTITION_KEYS, Partition


def write_to_lake(settings: Settings, table_name: str, table: pa.Table, stem: str = "case") -> list[str]:
    """One Parquet file per hour partition of `table` (which carries the partition columns); their keys."""
    root = Path(settings.lake_url.removeprefix("file://"))
    keys = []
    parts = {tuple(r[k] for k in PARTITION_KEYS) for r in table.select(list(PARTITION_KEYS)).to_pylist()}
    for values in sorted(parts):
        mask = None
        for k, v in zip(PARTITION_KEYS, values, strict=True):
            m = pa.compute.equal(table.column(k), v)
            mask = m if mask is None else pa.compute.and_(mask, m)
        rows = table.filter(mask).drop_columns(list(PARTITION_KEYS))
        key = layout.curated_file(table_name, Partition(*values).relpath(), stem)
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, path)
        keys.append(key)
    return keys


def lake_digest(settings: Settings) -> dict[str, str]:
    """Every file of a local lake by its key, with the sha256 of its bytes: what "re-running changes nothing"
    is checked against."""
    root = Path(settings.lake_url.removeprefix("file://"))
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
