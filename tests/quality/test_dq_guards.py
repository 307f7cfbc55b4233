"""Data-quality outcomes through ingest itself (convert_batch / finalize_window with Great Expectations), not
only the validator's verdict (test_dq_validate.py), plus the health check's count of rows in written files.

- a segment whose table lost a row emitted into it fails `row_count:manifest`, the one `fail` check: the batch
  task raises and nothing is written;
- a table that does not match the declared schema is quarantined whole: nothing reaches the lake's tables, every
  row is in the quarantine file, the counts still add up and the window finalizes with the alert;
- a lake file holding fewer rows than its manifest records is a reconciliation gap naming the file.

The count guards that need no GX are in tests/unit/test_ingest_guards.py.
"""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from quality_helpers import HOUR, alerts_of, ct_record, hour, land_ct, land_vpc, run_window, vpc_line

from mamori import ingest
from mamori.health import reconcile
from mamori.lake import Store, convert

W = hour(10)
MDIR = "_manifests/{source}/window=20261101T1000Z"


def lake_keys(settings) -> set[str]:
    root = Path(settings.lake_url.removeprefix("file://"))
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_a_segment_that_lost_a_row_fails_the_batch_task(settings, monkeypatch):
    """The rows handed to validation are fewer than the rows emitted into the segment (a lossy concat or
    sort, simulated where BatchTables assembles the segment): GX's row_count:manifest fails and ingest stops
    the batch before any file is written."""
    land_ct(settings, [ct_record(W + timedelta(minutes=m)) for m in range(3)], W + timedelta(minutes=5))
    real = convert.BatchTables._segment

    def lossy(self):
        seg = real(self)
        if seg:
            part, table, origin = seg[0]
            seg[0] = (part, table.slice(1), origin[1:])
        return seg

    monkeypatch.setattr(convert.BatchTables, "_segment", lossy)
    (batch,) = ingest.plan_window("cloudtrail", W, W + HOUR, settings)
    with pytest.raises(
        ingest.ReconciliationError,
        match=r"data-quality check\(s\) \['row_count:manifest'\] failed: rows were lost",
    ):
        ingest.convert_batch(batch, settings)

    mdir = MDIR.format(source="cloudtrail")
    gap = json.loads(Store(settings.lake_url).read_bytes(f"{mdir}/_gap-b0000.json"))
    assert gap["problems"] == ["row_count:manifest"]
    assert lake_keys(settings) == {f"{mdir}/_plan.json", f"{mdir}/_gap-b0000.json"}  # no file, no manifest
    with pytest.raises(ingest.ReconciliationError, match=r"missing: \[0\]"):
        ingest.finalize_window("cloudtrail", W, W + HOUR, settings)
    assert not ingest.window_complete("cloudtrail", W, settings)


def test_a_batch_not_matching_the_schema_is_quarantined_whole_by_ingest(settings, monkeypatch):
    """The parser's tables carry srcport as text instead of int32: the batch's rows go to quarantine with the
    failed schema check as reason, none to the lake's tables, and the window reconciles and alerts."""
    land_vpc(
        settings, [vpc_line(W), vpc_line(W + timedelta(minutes=1)), vpc_line(W)], W + timedelta(minutes=10)
    )
    real = convert.columnar_parser

    def retyping(src, emit):
        def emit_text_ports(part, table, origin):
            i = table.schema.get_field_index("srcport")
            emit(part, table.set_column(i, "srcport", pc.cast(table.column(i), pa.string())), origin)

        return real(src, emit_text_ports)

    monkeypatch.setattr(convert, "columnar_parser", retyping)
    summary = run_window(settings, "vpcflow", W)

    assert (summary["records_in"], summary["rows_out"], summary["quarantined"]) == (3, 0, 3)
    assert summary["dq"]["failed"] == {
        "schema:types": {
            "action": "quarantine_batch",
            "batches": 1,
            "unexpected": 1,
        }  # one (column, type) pair
    }
    keys = lake_keys(settings)
    assert not any(k.startswith("curated/") for k in keys)
    (qkey,) = [k for k in keys if k.startswith("quarantine/")]
    entries = [json.loads(x) for x in gzip.decompress(Store(settings.lake_url).read_bytes(qkey)).splitlines()]
    assert len(entries) == 3 and all(e["reason"].startswith("dq:schema:types") for e in entries)
    assert ingest.window_complete("vpcflow", W, settings)
    (alert,) = alerts_of(settings, "mamori_dq_vpcflow")
    assert alert.dedup_values["check"] == "schema:types"


@pytest.mark.parametrize("kind", ["curated", "quarantine"])
def test_a_lake_file_holding_fewer_rows_than_its_manifest_is_a_gap(settings, no_gx, kind):
    """A written file overwritten with fewer rows (not deleted: tests/quality/test_reconcile.py has that)."""
    land_ct(
        settings,
        [ct_record(W), ct_record(W + timedelta(minutes=1)), "junk", "more junk"],
        W + timedelta(minutes=5),
    )
    run_window(settings, "cloudtrail", W)
    assert reconcile.check_window("cloudtrail", W, settings)["state"] == "ok"

    store = Store(settings.lake_url)
    (key,) = [k for k in lake_keys(settings) if k.startswith(f"{kind}/")]
    path = Path(settings.lake_url.removeprefix("file://")) / key
    if kind == "curated":
        pq.write_table(pq.read_table(path).slice(1), path)
    else:
        store.write_atomic(
            key, gzip.compress(b"\n".join(gzip.decompress(store.read_bytes(key)).splitlines()[1:]))
        )

    r = reconcile.check_window("cloudtrail", W, settings)
    assert r["state"] == "gap"
    (problem,) = r["problems"]
    assert problem["problem"] == "lake_rows_missing"
    assert problem["files"] == [{"file": key, "manifest_rows": 2, "rows_found": 1}]
