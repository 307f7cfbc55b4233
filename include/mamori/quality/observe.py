"""What a batch looked like, for schema-drift detection: computed beside the parsers, never inside them.

The parsers turn raw records into the fixed table and drop what they do not know, which is exactly what drift
detection needs to see. So this module looks at the same inputs on its own: the converted tables (event
versions, non-null counts per column) and the raw bytes, as each source's spec says (its DriftHints: top-level
CloudTrail keys, VPC Flow header lines). The observations go into the batch manifest; drift.py compares a
window's observations with history.

Re-parsing raw CloudTrail JSON cost about a fifth of conversion, so it runs on a sample: at most
MAX_SAMPLED_OBJECTS objects per batch, evenly spread over the batch. The parser hands over the records it decoded
(ColumnarResult.records), so a sampled object is decoded a second time only when the parser streamed it or split
it record by record; the sample stays the same objects either way. A field AWS adds appears in every record
of the events that carry it, so a sample sees it; a field in one hand-crafted record may be missed, which is
acceptable for drift (the record itself is still converted and detected on). VPC Flow headers are the first
line of each object and cost nothing to read, so every object is inspected.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mamori.sources import get_spec
from mamori.sources.base import LargeObject, RawKey

MAX_SAMPLED_OBJECTS = 25
MAX_NAME = 200  # observed names are log-derived: bounded before they are stored or alerted on


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_NAME else text[:MAX_NAME] + "…"


class BatchObserver:
    """Collects one batch's observations while ingest reads its objects (feed) and after it built its tables."""

    def __init__(self, source: str, schema: pa.Schema, n_objects: int) -> None:
        self.source = source
        self.schema = schema
        self.drift = get_spec(source).drift
        self.stride = max(1, -(-n_objects // MAX_SAMPLED_OBJECTS))
        self.fields: Counter[str] = Counter()
        self.headers: Counter[str] = Counter()
        self.sampled_records = 0
        self.rows = 0
        self.nonnull: Counter[str] = Counter()
        self.versions: Counter[str] = Counter()
        known = {f.name for f in schema}
        self._known_top = known
        nested = self.drift.nested_field
        self._nested = nested.lower() if nested else None
        st = schema.field(self._nested).type if self._nested in known else None
        self._known_nested = {st.field(i).name for i in range(st.num_fields)} if st is not None else set()
        self._plain: set[str] = set()  # keys seen that are known top-level columns, not the nested one
        self._nested_plain: set[str] = set()  # keys seen inside the nested field that it declares

    def feed(
        self, index: int, raw: RawKey, data: bytes | LargeObject, parsed: list[Any] | None = None
    ) -> None:
        """Look at one raw events object (index = its position in the batch, for sampling).

        `parsed`: the object's records as its parser decoded the whole object (ColumnarResult.records), the
        same list `sample_records` would decode from `data`; sampled as they are instead of decoding the object
        again (that second gunzip and JSON parse was most of this class's cost).
        """
        if self.drift.sample_records is not None:
            if index % self.stride == 0:
                self._sample(parsed if parsed is not None else self.drift.sample_records(data))
        elif self.drift.object_layout is not None:
            self.headers[
                self.drift.object_layout(data.read_all() if isinstance(data, LargeObject) else data)
            ] += 1

    def _sample(self, records: Any) -> None:
        """Count, per key spelling no column declares, the records carrying it (top level, and inside the
        nested field). Records of one source repeat the same few spellings: the union of the records' keys is
        taken in C (set.union), a spelling once found to be a known column is remembered, and only an unknown
        one costs a pass over the records to count them."""
        if not isinstance(records, list):
            return
        recs = [r for r in records if isinstance(r, dict)]
        self.sampled_records += len(recs)
        plain, nested_plain = self._plain, self._nested_plain
        for k in set().union(*recs) - plain:
            lk = k.lower()
            if lk not in self._known_top:
                self.fields[_bounded(k)] += sum(1 for r in recs if k in r)
            elif lk != self._nested:
                plain.add(k)
            elif self._known_nested:
                inner = [v for r in recs if isinstance(v := r.get(k), dict)]
                for uk in set().union(*inner) - nested_plain:
                    if uk.lower() in self._known_nested:
                        nested_plain.add(uk)
                    else:
                        self.fields[_bounded(f"{self.drift.nested_field}.{uk}")] += sum(
                            1 for d in inner if uk in d
                        )

    def observe(self, tables: list[pa.Table]) -> None:
        """Count the rows going into the lake (called per validated segment, so nothing holds the batch)."""
        for t in tables:
            self.rows += t.num_rows
            for name in t.column_names:
                self.nonnull[name] += t.num_rows - t.column(name).null_count
            version = self.drift.version_column
            if version is not None and version in t.column_names:
                for item in pc.value_counts(t.column(version)).to_pylist():
                    if item["values"] is not None:
                        self.versions[_bounded(item["values"])] += item["counts"]

    def finish(self) -> dict[str, Any]:
        """The batch's observations, JSON-ready and deterministic (sorted keys)."""
        rows, nonnull, versions = self.rows, self.nonnull, self.versions
        out: dict[str, Any] = {"rows": rows, "nonnull": dict(sorted(nonnull.items()))}
        if self.drift.sample_records is not None:
            out["event_versions"] = dict(sorted(versions.items()))
            out["fields"] = dict(sorted(self.fields.items()))
            out["sampled_records"] = self.sampled_records
        if self.drift.object_layout is not None:
            out["headers"] = dict(sorted(self.headers.items()))
        return out
