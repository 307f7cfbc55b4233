"""What a batch looked like, for schema-drift detection: computed beside the parsers, never inside them.

The parsers turn raw records into the fixed table and drop what they do not know, which is exactly what drift
detection needs to see. So this module looks at the same inputs on its own: the converted tables (event
versions, non-null counts per column) and the raw bytes (top-level CloudTrail keys, VPC Flow header lines).
The observations go into the batch manifest; drift.py compares a window's observations with history.

Re-parsing raw CloudTrail JSON costs about a fifth of conversion, so it runs on a sample: at most
MAX_SAMPLED_OBJECTS objects per batch, evenly spread over the batch. A field AWS adds appears in every record
of the events that carry it, so a sample sees it; a field in one hand-crafted record may be missed, which is
acceptable for drift (the record itself is still converted and detected on). VPC Flow headers are the first
line of each object and cost nothing to read, so every object is inspected.
"""

from __future__ import annotations

import io
import zlib
from collections import Counter
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mamori.sources import cloudtrail
from mamori.sources.base import LargeObject, RawKey

MAX_SAMPLED_OBJECTS = 25
MAX_NAME = 200  # observed names are log-derived: bounded before they are stored or alerted on
MAX_HEADER = 2000  # a v8 flow log header with every field is ~600 characters
_CLOUDTRAIL_LIKE = ("cloudtrail", "cloudtrail_insights")


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_NAME else text[:MAX_NAME] + "…"


class BatchObserver:
    """Collects one batch's observations while ingest reads its objects (feed) and after it built its tables."""

    def __init__(self, source: str, schema: pa.Schema, n_objects: int) -> None:
        self.source = source
        self.schema = schema
        self.stride = max(1, -(-n_objects // MAX_SAMPLED_OBJECTS))
        self.fields: Counter[str] = Counter()
        self.headers: Counter[str] = Counter()
        self.sampled_records = 0
        self.rows = 0
        self.nonnull: Counter[str] = Counter()
        self.versions: Counter[str] = Counter()
        known = {f.name for f in schema}
        self._known_top = known
        uid = schema.field("useridentity").type if "useridentity" in known else None
        self._known_uid = {uid.field(i).name for i in range(uid.num_fields)} if uid is not None else set()

    def feed(self, index: int, raw: RawKey, data: bytes | LargeObject) -> None:
        """Look at one raw events object (index = its position in the batch, for sampling)."""
        if self.source in _CLOUDTRAIL_LIKE:
            if index % self.stride == 0:
                self._cloudtrail_keys(data)
        elif self.source == "vpcflow":
            self.headers[_vpc_header(data.read_all() if isinstance(data, LargeObject) else data)] += 1

    def _cloudtrail_keys(self, data: bytes | LargeObject) -> None:
        if isinstance(data, LargeObject) or (
            len(data) > cloudtrail.STREAM_MIN_BYTES and data[:2] == b"\x1f\x8b"
        ):
            # a delivery too big to load whole (the parser streams it too): sample its first piece
            self._sample(cloudtrail.first_records(data))
            return
        try:
            text = zlib.decompress(data, wbits=47)  # gzip or zlib, auto-detected
        except zlib.error:
            text = data
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            return  # unreadable objects are quarantined by the parser and counted there
        records = (
            next((v for k, v in doc.items() if k.lower() == "records"), None)
            if isinstance(doc, dict)
            else None
        )
        self._sample(records)

    def _sample(self, records: Any) -> None:
        if not isinstance(records, list):
            return
        for rec in records:
            if not isinstance(rec, dict):
                continue
            self.sampled_records += 1
            for k, v in rec.items():
                lk = k.lower()
                if lk not in self._known_top:
                    self.fields[_bounded(k)] += 1
                elif lk == "useridentity" and isinstance(v, dict) and self._known_uid:
                    for uk in v:
                        if uk.lower() not in self._known_uid:
                            self.fields[_bounded(f"userIdentity.{uk}")] += 1

    def observe(self, tables: list[pa.Table]) -> None:
        """Count the rows going into the lake (called per validated segment, so nothing holds the batch)."""
        for t in tables:
            self.rows += t.num_rows
            for name in t.column_names:
                self.nonnull[name] += t.num_rows - t.column(name).null_count
            if "eventversion" in t.column_names:
                for item in pc.value_counts(t.column("eventversion")).to_pylist():
                    if item["values"] is not None:
                        self.versions[_bounded(item["values"])] += item["counts"]

    def finish(self) -> dict[str, Any]:
        """The batch's observations, JSON-ready and deterministic (sorted keys)."""
        rows, nonnull, versions = self.rows, self.nonnull, self.versions
        out: dict[str, Any] = {"rows": rows, "nonnull": dict(sorted(nonnull.items()))}
        if self.source in _CLOUDTRAIL_LIKE:
            out["event_versions"] = dict(sorted(versions.items()))
            out["fields"] = dict(sorted(self.fields.items()))
            out["sampled_records"] = self.sampled_records
        if self.source == "vpcflow":
            out["headers"] = dict(sorted(self.headers.items()))
        return out


NO_HEADER = "(no header line: default v2 format)"


def _vpc_header(data: bytes) -> str:
    """The layout an object declares: its header line, its Parquet columns, or the implied default."""
    if data[:4] == b"PAR1":
        try:
            return "parquet: " + " ".join(pq.read_schema(io.BytesIO(data)).names)
        except (pa.ArrowException, OSError):
            return "(unreadable Parquet)"
    head = data[:65536]
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 65536)
        except zlib.error:
            return "(unreadable gzip)"
    line = next((ln for ln in head.decode("utf-8", "replace").split("\n") if ln.strip()), "")
    tokens = line.split()
    if not tokens or not all(t[:1].isalpha() or t.startswith("${") for t in tokens):
        return NO_HEADER
    text = " ".join(tokens)
    return text if len(text) <= MAX_HEADER else text[:MAX_HEADER] + "…"
