"""Result writers: an aligned table for the terminal, CSV, JSON lines, Parquet.

Every cell is attacker-controlled (user agents, request URLs, ARNs): the terminal table replaces control
characters (ANSI escapes could rewrite the analyst's screen) and bidi overrides with visible escapes. CSV,
JSON and Parquet carry values unchanged: their encoders quote them. All writers consume the stream batch by
batch; only the terminal table holds rows, since it aligns columns (and search limits it to 1000 by default).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any, Literal

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

Format = Literal["table", "csv", "jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("table", "csv", "jsonl", "parquet")
MAX_CELL = 80
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def inert(text: str) -> str:
    """Terminal-safe text: control and bidi characters shown as \\uXXXX escapes."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        s = v.strftime("%Y-%m-%d %H:%M:%S") + (f".{v.microsecond // 1000:03d}" if v.microsecond else "")
    elif isinstance(v, list | dict):
        s = orjson.dumps(v, default=str).decode()
    else:
        s = str(v)
    s = inert(s)
    return s if len(s) <= MAX_CELL else s[: MAX_CELL - 1] + "…"


def _flat(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Nested columns (lists, structs, maps) as JSON text, for CSV."""
    if not any(pa.types.is_nested(f.type) for f in batch.schema):
        return batch
    cols, fields = [], []
    for f, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_nested(f.type):
            col = pa.array(
                [None if v is None else orjson.dumps(v, default=str).decode() for v in col.to_pylist()],
                pa.string(),
            )
            f = pa.field(f.name, pa.string())
        cols.append(col)
        fields.append(f)
    return pa.RecordBatch.from_arrays(cols, schema=pa.schema(fields))


def write(
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    fmt: str,
    out: IO[bytes],
) -> int:
    """Write the stream to a binary file object; returns the number of rows written."""
    if fmt == "table":
        return _table(schema, batches, out)
    rows = 0
    if fmt == "csv":
        flat_schema = _flat(pa.RecordBatch.from_pylist([], schema=schema)).schema
        with pacsv.CSVWriter(out, flat_schema) as w:
            for b in batches:
                w.write_batch(_flat(b).cast(flat_schema))
                rows += b.num_rows
        return rows
    if fmt == "jsonl":
        opts = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE
        for b in batches:
            for row in b.to_pylist():
                out.write(orjson.dumps(row, default=str, option=opts))
            rows += b.num_rows
        return rows
    if fmt == "parquet":
        with pq.ParquetWriter(out, schema, compression="zstd") as pw:
            for b in batches:
                pw.write_batch(b.cast(schema))
                rows += b.num_rows
        return rows
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def _table(schema: pa.Schema, batches: Iterable[pa.RecordBatch], out: IO[bytes]) -> int:
    names = schema.names
    rows = [[_cell(v) for v in r.values()] for b in batches for r in b.to_pylist()]
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    text = io.StringIO()
    text.write("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip() + "\n")
    text.write("  ".join("-" * w for w in widths) + "\n")
    for r in rows:
        text.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    out.write(text.getvalue().encode())
    return len(rows)
