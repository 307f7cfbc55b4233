"""Ingest's "nothing lost" guards, each one made to fire through convert_batch / finalize_window.

Every test injects one fault (a parser that miscounts, validation or the writer losing a row, a tampered or
stale manifest) and checks that the task raises with a message naming the gap, records it beside the
manifests (`_gap-*.json`, what the health DAG alerts on) and leaves nothing that claims success: no batch
manifest, no data-quality result, no `_SUCCESS.json`. Great Expectations is replaced by a chosen verdict (no
GX import here); the real expectations failing a batch through ingest are in tests/quality/test_dq_guards.py.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from mamori import ingest
from mamori.lake import Store, convert
from mamori.quality.validate import BatchQuality
from mamori.sources import get_source

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)
END = T0 + timedelta(hours=1)
ACCT = "123456789012"
MDIR = "_manifests/cloudtrail/window=20261101T1000Z"
STEM = "20261101T1000Z-b0000"


def record(minute: int, name: str = "DescribeInstances") -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventTime": (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "recipientAccountId": ACCT,
        "userIdentity": {"type": "IAMUser", "userName": "dana", "accountId": ACCT},
    }


def land(settings, name: str, records: list[Any], minute: int) -> str:
    landed = T0 + timedelta(minutes=minute)
    key = (
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/{landed:%Y/%m/%d}/"
        f"{ACCT}_CloudTrail_us-east-1_{landed:%Y%m%dT%H%MZ}_{name:0>16}.json.gz"
    )
    raw = Store(settings.raw_url)
    raw.write_atomic(key, gzip.compress(json.dumps({"Records": records}).encode(), mtime=0))
    raw.set_landed(key, landed)
    return key


def verdict(**decided: Any) -> Callable[..., BatchQuality]:
    """A stand-in for validate_table returning a fixed verdict (GX costs 3-4 s to import)."""
    return lambda source, *args, **kwargs: BatchQuality(source, **decided)


@pytest.fixture
def lake(settings, monkeypatch):
    """Two objects in the window: 3 good records, then 2 good records and one that is not a record.

    6 records in = 5 rows out + 1 quarantined by the parser, all in one partition.
    """
    monkeypatch.setattr(ingest, "validate_table", verdict())
    land(settings, "A", [record(1), record(2), record(3)], minute=5)
    land(settings, "B", [record(4), "junk", record(6)], minute=10)
    return settings


def keys(settings) -> set[str]:
    root = Path(settings.lake_url.removeprefix("file://"))
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def read(settings, key: str) -> Any:
    return json.loads(Store(settings.lake_url).read_bytes(key))


def curated(settings) -> set[str]:
    return {k for k in keys(settings) if k.startswith("curated/")}


def plan(settings) -> list[dict[str, Any]]:
    return ingest.plan_window("cloudtrail", T0, END, settings)


def convert_all(settings) -> None:
    for batch in plan(settings):
        ingest.convert_batch(batch, settings)


def assert_batch_claims_nothing(settings, batch: dict[str, Any], problems: list[str]) -> None:
    """The batch failed visibly: a gap record naming its objects, no manifest or DQ result, and a window that
    cannot be finalized."""
    idx = batch["index"]
    gap = read(settings, f"{MDIR}/_gap-b{idx:04d}.json")
    assert gap["problems"] == problems
    assert [o["key"] for o in gap["objects"]] == batch["keys"]
    found = keys(settings)
    assert f"{MDIR}/batch-{idx:04d}.json" not in found
    assert f"{MDIR}/dq-batch-{idx:04d}.json" not in found
    with pytest.raises(ingest.ReconciliationError, match=rf"missing: \[{idx}\]"):
        ingest.finalize_window("cloudtrail", T0, END, settings)
    assert f"{MDIR}/_SUCCESS.json" not in keys(settings)
    assert not ingest.window_complete("cloudtrail", T0, settings)


def test_the_fixture_window_reconciles(lake):
    """The baseline every fault below departs from."""
    convert_all(lake)
    s = ingest.finalize_window("cloudtrail", T0, END, lake)
    assert (s["records_in"], s["rows_out"], s["quarantined"]) == (6, 5, 1)


# -- emitted rows vs the parsers' counts (ingest._convert_batch) ------------------------------------------------


def _emit_through(monkeypatch, change: Callable[[pa.Table, np.ndarray], tuple[pa.Table, np.ndarray]]) -> None:
    """Make the source's parser hand `change(table, origin)` to the batch, once, instead of what it counted."""
    real = convert.columnar_parser
    done: list[bool] = []

    def faulty(src, emit):
        def emit_changed(part, table, origin):
            if not done:
                done.append(True)
                table, origin = change(table, origin)
            emit(part, table, origin)

        return real(src, emit_changed)

    monkeypatch.setattr(convert, "columnar_parser", faulty)


@pytest.mark.parametrize(
    ("fault", "emitted"),
    [
        ("duplicates", 6),  # a row emitted twice but counted once
        ("drops", 4),  # a row counted but never emitted
    ],
)
def test_a_parser_emitting_other_rows_than_it_counted_fails_the_batch(lake, monkeypatch, fault, emitted):
    def change(table, origin):
        if fault == "duplicates":
            return pa.concat_tables([table, table.slice(0, 1)]), np.concatenate([origin, origin[:1]])
        return table.slice(1), origin[1:]

    _emit_through(monkeypatch, change)
    (batch,) = plan(lake)
    with pytest.raises(ingest.ReconciliationError, match=f"parsers counted 5 rows but emitted {emitted}"):
        ingest.convert_batch(batch, lake)
    assert_batch_claims_nothing(lake, batch, ["parser rows != rows emitted"])
    assert curated(lake) == set()  # checked before anything is written: no duplicate reaches the lake


# -- records in == rows out + quarantined, per batch (ingest._convert_batch) ------------------------------------


def test_a_row_validation_rejects_but_does_not_quarantine_fails_the_batch(lake, monkeypatch):
    """Validation rejects a row; its quarantine entry goes missing on the way to the quarantine file."""
    monkeypatch.setattr(ingest, "validate_table", verdict(quarantine_rows={0: "dq:test: rejected"}))
    real = ingest._quarantine_rows

    def loses_entry(tables, origins, drop, dq, keys_, dropped, quarantine):
        out = real(tables, origins, drop, dq, keys_, dropped, quarantine)
        quarantine.pop()
        return out

    monkeypatch.setattr(ingest, "_quarantine_rows", loses_entry)
    (batch,) = plan(lake)
    with pytest.raises(ingest.ReconciliationError, match=f"batch {STEM}: 6 in != 4 rows \\+ 1 quarantined"):
        ingest.convert_batch(batch, lake)
    assert_batch_claims_nothing(lake, batch, ["records_in != rows_out + quarantined"])
    assert not any(k.startswith("quarantine/") for k in keys(lake))


# -- rows in the batch's Parquet files vs the manifest's rows_out (ingest._convert_batch) -----------------------


@pytest.mark.parametrize("fault", ["writer", "validation"])
def test_rows_missing_from_the_written_files_fail_the_batch(lake, monkeypatch, fault):
    """The parsers' counts add up, but fewer rows reach the Parquet files than the manifest would claim: the
    writer loses one, or validation drops one it neither reports nor quarantines."""
    if fault == "writer":
        real_write = convert.write_parquet
        monkeypatch.setattr(
            convert, "write_parquet", lambda table, *a, **k: real_write(table.slice(1), *a, **k)
        )
    else:
        monkeypatch.setattr(ingest, "validate_table", verdict(quarantine_rows={0: "dq:test: rejected"}))
        real = ingest._quarantine_rows

        def drops_another(tables, *args):
            return [t.slice(1) for t in real(tables, *args)]

        monkeypatch.setattr(ingest, "_quarantine_rows", drops_another)
    rows_out = 5 if fault == "writer" else 4
    (batch,) = plan(lake)
    with pytest.raises(
        ingest.ReconciliationError,
        match=f"batch {STEM}: {rows_out} rows out but its Parquet files hold {rows_out - 1}",
    ):
        ingest.convert_batch(batch, lake)
    assert_batch_claims_nothing(lake, batch, ["rows_out != rows in the batch's Parquet files"])
    # its files were written (staged) before the guard ran: none was published, none is left behind
    assert [k for k in keys(lake) if k.startswith(("curated/", "quarantine/", "_staging/"))] == []


# -- a data-quality check with action `fail` (ingest._convert_batch's check_segment) ----------------------------


def test_a_failed_fail_check_stops_the_batch_before_anything_is_written(lake, monkeypatch):
    """The verdict GX gives when a segment's table does not hold the rows emitted into it (row_count:manifest,
    the only `fail` check; made to happen for real in tests/quality/test_dq_guards.py)."""
    monkeypatch.setattr(ingest, "validate_table", verdict(failed_fatal=["row_count:manifest"]))
    (batch,) = plan(lake)
    with pytest.raises(
        ingest.ReconciliationError, match=r"data-quality check\(s\) \['row_count:manifest'\] failed"
    ):
        ingest.convert_batch(batch, lake)
    assert_batch_claims_nothing(lake, batch, ["row_count:manifest"])
    assert not any(k.startswith(("curated/", "quarantine/")) for k in keys(lake))


# -- convert.BatchTables' own contracts ---------------------------------------------------------------------


def test_a_parser_emitting_rows_without_their_origins_fails_the_batch(lake, monkeypatch):
    """Each row's origin is what a rejected row is counted against: a table with fewer origins than rows."""
    _emit_through(monkeypatch, lambda table, origin: (table, origin[1:]))
    (batch,) = plan(lake)
    with pytest.raises(ValueError, match="2 origins for 3 rows"):
        ingest.convert_batch(batch, lake)
    assert f"{MDIR}/batch-0000.json" not in keys(lake)
    assert curated(lake) == set()


def test_validation_adding_rows_fails_the_batch(lake, monkeypatch):
    """The validate hook may only remove rows (quarantine); one that adds a row breaks the batch's counts."""
    monkeypatch.setattr(ingest, "validate_table", verdict(quarantine_rows={0: "dq:test: rejected"}))
    real = ingest._quarantine_rows

    def adds_rows(tables, *args):
        return [pa.concat_tables([t, t, t]) for t in real(tables, *args)]

    monkeypatch.setattr(ingest, "_quarantine_rows", adds_rows)
    (batch,) = plan(lake)
    with pytest.raises(
        ValueError, match="validate must return one table per partition, with rows only removed"
    ):
        ingest.convert_batch(batch, lake)
    assert f"{MDIR}/batch-0000.json" not in keys(lake)
    assert curated(lake) == set()


def test_a_planned_key_the_source_no_longer_claims_fails_the_batch(lake, monkeypatch):
    """A classifier changed between plan and convert must not turn a planned object into nothing."""
    (batch,) = plan(lake)
    src = get_source("cloudtrail")
    real = src.classify
    lost = batch["keys"][1]
    monkeypatch.setattr(src, "classify", lambda key: None if key == lost else real(key))
    with pytest.raises(ValueError, match=f"{lost} is not a cloudtrail key"):
        ingest.convert_batch(batch, lake)
    assert f"{MDIR}/batch-0000.json" not in keys(lake)


# -- the window (ingest.finalize_window) --------------------------------------------------------------------


def test_a_batch_without_a_manifest_fails_the_window(lake):
    small = replace(lake, batch_max_objects=1)
    first, second = plan(small)
    ingest.convert_batch(first, small)  # the second batch never reports
    with pytest.raises(
        ingest.ReconciliationError, match=r"1 batch manifests for 2 batches \(missing: \[1\]\)"
    ):
        ingest.finalize_window("cloudtrail", T0, END, small)
    gap = read(small, f"{MDIR}/_gap-window.json")
    assert [o["key"] for o in gap["objects"]] == second["keys"] and gap["objects"][0]["missing_batch"] == 1
    assert f"{MDIR}/_SUCCESS.json" not in keys(small)


def test_a_manifest_that_does_not_add_up_fails_the_window_and_unmarks_it(lake):
    """A manifest tampered with after its batch reconciled (or written by something that does not check): the
    window's sums catch it, and an earlier run's _SUCCESS no longer claims the window complete."""
    convert_all(lake)
    ingest.finalize_window("cloudtrail", T0, END, lake)
    assert ingest.window_complete("cloudtrail", T0, lake)

    store = Store(lake.lake_url)
    manifest = read(lake, f"{MDIR}/batch-0000.json")
    manifest["rows_out"] -= 1
    store.write_atomic(f"{MDIR}/batch-0000.json", json.dumps(manifest).encode())
    with pytest.raises(ingest.ReconciliationError, match="records_in != rows_out \\+ quarantined"):
        ingest.finalize_window("cloudtrail", T0, END, lake)
    gap = read(lake, f"{MDIR}/_gap-window.json")
    assert gap["problems"] == [
        "records_in != rows_out + quarantined: "
        + str(
            {"objects": 2, "records_in": 6, "rows_out": 4, "quarantined": 1, "skipped_objects": 0, "files": 2}
        )
    ]
    assert f"{MDIR}/_SUCCESS.json" not in keys(lake)
    assert not ingest.window_complete("cloudtrail", T0, lake)


def test_a_batch_whose_latest_attempt_failed_is_not_trusted_to_its_old_manifest(lake, monkeypatch):
    """A re-run's batch fails (its gap record is newer than the manifest an earlier, good run left): the window
    must not be finalized from that stale manifest."""
    small = replace(lake, batch_max_objects=1)
    convert_all(small)
    ingest.finalize_window("cloudtrail", T0, END, small)

    sound_parser = convert.columnar_parser
    _emit_through(monkeypatch, lambda table, origin: (table.slice(1), origin[1:]))
    batches = plan(small)
    with pytest.raises(ingest.ReconciliationError, match="parsers counted"):
        ingest.convert_batch(batches[1], small)
    assert f"{MDIR}/batch-0001.json" in keys(small)  # the earlier run's, kept: it lists the files to clean up
    with pytest.raises(ingest.ReconciliationError, match=r"batch\(es\) \[1\] failed their last attempt"):
        ingest.finalize_window("cloudtrail", T0, END, small)
    assert f"{MDIR}/_SUCCESS.json" not in keys(small)

    monkeypatch.setattr(
        convert, "columnar_parser", sound_parser
    )  # fixed: the batch re-runs, the window completes
    ingest.convert_batch(batches[1], small)
    s = ingest.finalize_window("cloudtrail", T0, END, small)
    assert (s["records_in"], s["rows_out"], s["quarantined"]) == (6, 5, 1)
    assert not any(k.rsplit("/", 1)[-1].startswith("_gap-") for k in keys(small))
