"""Compaction of settled partitions (mamori.lake.compact): rows kept exactly, idempotent, crash-safe at every step,
and re-running an ingest window after compaction changes nothing (or swaps exactly the rows it changed).

The lake comes from the real ingest: two landing windows whose rows share the hour-00 partition."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quality"))
import quality_helpers
from quality_helpers import ct_record, hour, land_ct, run_window

from mamori.lake import Store, compact, convert
from mamori.sources.cloudtrail import SCHEMA
from mamori.sources.cloudtrail.spec import SPEC

LIGHT = SPEC.light_columns

no_gx = quality_helpers.no_gx  # GX is tested elsewhere; it costs seconds per test here

PART = "curated/cloudtrail/account=123456789012/region=us-east-1/dt=2026-11-01"
H00, H01 = f"{PART}/hour=00", f"{PART}/hour=01"
W0, W1 = "20261101T0000Z-b0000", "20261101T0100Z-b0000"
BEFORE = hour(2)  # both windows and both hours have ended


def lake_dir(settings) -> Path:
    return Path(settings.lake_url.removeprefix("file://"))


def lake_digest(
    settings, prefixes=("curated/", "_compaction/", "_manifests/", "quarantine/")
) -> dict[str, str]:
    root = lake_dir(settings)
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and str(p.relative_to(root)).startswith(prefixes)
    }


def data_files(settings, prefix: str = "curated/cloudtrail") -> list[str]:
    root = lake_dir(settings)
    return sorted(
        str(p.relative_to(root)) for p in (root / prefix).rglob("*.parquet") if not p.name.startswith(".")
    )


def rows(settings, prefix: str = "curated/cloudtrail") -> Counter:
    """Every row a reader of the lake sees (duplicates counted), as canonical JSON."""
    root = lake_dir(settings)
    out: Counter = Counter()
    for key in data_files(settings, prefix):
        for r in pq.read_table(root / key).to_pylist():
            out[orjson.dumps(r, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)] += 1
    return out


def event_ids(settings, prefix: str = "curated/cloudtrail") -> list[str]:
    return sorted(json.loads(r)["eventid"] for r, n in rows(settings, prefix).items() for _ in range(n))


def record(settings, part: str = H00) -> dict:
    return json.loads(
        (lake_dir(settings) / compact.record_key("cloudtrail", part.split("/", 2)[2])).read_text()
    )


@pytest.fixture
def calls(monkeypatch):
    """Every write and delete the lake Store makes from now on (key by key). Ingest publishes a staged file by
    moving it to its key: that is the key's write."""
    seen: list[tuple[str, str]] = []
    write, delete, move = Store.write_atomic, Store.delete, Store.move

    def spy_write(self, key, data):
        seen.append(("write", key))
        return write(self, key, data)

    def spy_move(self, pairs):
        seen.extend(("write", dst) for _, dst in pairs)
        return move(self, pairs)

    def spy_delete(self, key):
        seen.append(("delete", key))
        return delete(self, key)

    monkeypatch.setattr(Store, "write_atomic", spy_write)
    monkeypatch.setattr(Store, "delete", spy_delete)
    monkeypatch.setattr(Store, "move", spy_move)
    return seen


class Crash(Exception):
    pass


@pytest.fixture
def lake(settings, no_gx):
    """W0 (landed 00:20): two events of hour 00. W1 (landed 01:10 and 01:30): three late events of hour 00 and
    one of hour 01. So hour 00 holds one file per window, hour 01 one file."""
    land_ct(
        settings,
        [ct_record(hour(0) + timedelta(minutes=m)) for m in (5, 10)],
        hour(0) + timedelta(minutes=20),
        tag="a",
    )
    land_ct(
        settings,
        [ct_record(hour(0) + timedelta(minutes=m), "RunInstances") for m in (50, 55, 65)],
        hour(1) + timedelta(minutes=10),
        tag="b",
    )
    land_ct(
        settings,
        [ct_record(hour(0) + timedelta(minutes=40), "StopInstances")],
        hour(1) + timedelta(minutes=30),
        tag="c",
    )
    run_window(settings, "cloudtrail", hour(0))
    run_window(settings, "cloudtrail", hour(1))
    assert data_files(settings) == [f"{H00}/{W0}.parquet", f"{H00}/{W1}.parquet", f"{H01}/{W1}.parquet"]
    return settings


def copy_lake(settings, tmp_path, name: str):
    """An independent copy of the lake (a same-input reference for byte comparisons)."""
    dest = tmp_path / name / "lake"
    shutil.copytree(lake_dir(settings), dest)
    return dataclasses.replace(settings, lake_url=dest.resolve().as_uri())


def test_compaction_keeps_every_row_and_records_each_file(lake):
    before_rows = rows(lake)
    originals = {stem: (lake_dir(lake) / H00 / f"{stem}.parquet").read_bytes() for stem in (W0, W1)}
    summary = compact.compact_partitions("cloudtrail", BEFORE, lake)
    assert summary["compacted"] == 1 and summary["files_absorbed"] == 2 and summary["problems"] == {}
    files = data_files(lake)
    assert files[1] == f"{H01}/{W1}.parquet"  # one file already: nothing to merge
    assert files[0].startswith(f"{H00}/compact-") and len(files) == 2
    assert rows(lake) == before_rows and sum(before_rows.values()) == 6

    rec = record(lake)
    assert rec["file"] == files[0].rsplit("/", 1)[1] and rec["rows"] == 5
    compacted = pq.read_table(lake_dir(lake) / files[0])
    for stem, body in originals.items():
        entry = rec["absorbed"][stem]
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()
        original = pq.read_table(io.BytesIO(body))
        assert entry["rows"] == original.num_rows
        # the file's rows are one range of the compacted file, in the order ingest wrote them
        assert compacted.slice(entry["offset"], entry["rows"]).to_pylist() == original.to_pylist()
    assert not any(p.startswith("curated/") for p in lake_digest(lake, ("_compaction/",)))


def codecs(path) -> dict[str, str]:
    """Each Parquet column's codec, from the file's first row group."""
    meta = pq.read_metadata(path)
    return {
        meta.schema.column(c).path: meta.row_group(0).column(c).compression for c in range(meta.num_columns)
    }


def test_compacted_files_have_the_per_column_codecs_whatever_they_absorb(lake):
    """Compaction writes each column with the source's codec (snappy on its light columns, zstd elsewhere:
    mamori.lake.convert.compression), as ingest writes a file of more than a handful of rows, whatever the
    codecs of the files it absorbs: here ingest files of a few rows, snappy on every column (convert.for_rows).
    It reads them back whole."""
    ingest_file = codecs(lake_dir(lake) / H00 / f"{W0}.parquet")
    assert set(ingest_file.values()) == {"SNAPPY"}  # 2 rows: a tiny file
    before_rows = rows(lake)
    compact.compact_partitions("cloudtrail", BEFORE, lake)
    compacted = data_files(lake)[0]
    assert compacted.startswith(f"{H00}/compact-")
    got = codecs(lake_dir(lake) / compacted)
    assert got["readonly"] == got["addendum.reason"] == "SNAPPY"
    assert got["eventname"] == got["requestparameters"] == "ZSTD"
    assert got == {path: codec.upper() for path, codec in convert.compression(SCHEMA, LIGHT).items()}
    assert rows(lake) == before_rows


@pytest.mark.parametrize("older", [W0, W1])
def test_files_with_and_without_a_stored_arrow_schema_compact_together(lake, older):
    """Ingest files carry no serialized Arrow schema (convert.STORE_SCHEMA); a lake's files written before
    that do. pyarrow reads both kinds with the same schema, so a partition holding both is compacted (not
    skipped as "schemas differ"), every row kept, list columns included."""
    path = lake_dir(lake) / H00 / f"{older}.parquet"
    assert b"ARROW:schema" not in (pq.read_metadata(path).metadata or {})
    new_schema = pq.read_schema(path).remove_metadata()
    # the file as the previous release wrote it: same rows and codecs, the Arrow schema in its footer
    pq.write_table(
        pq.read_table(path), path, compression=convert.compression(SCHEMA, LIGHT), store_schema=True
    )
    assert b"ARROW:schema" in pq.read_metadata(path).metadata
    assert str(pq.read_schema(path).remove_metadata()) == str(new_schema)  # field names of list items too
    before_rows = rows(lake)
    assert any(json.loads(r)["related_ips"] for r in before_rows)  # the list columns hold values
    summary = compact.compact_partitions("cloudtrail", BEFORE, lake)
    assert summary["compacted"] == 1 and summary["files_absorbed"] == 2 and summary["problems"] == {}
    assert data_files(lake)[0].startswith(f"{H00}/compact-")
    assert rows(lake) == before_rows


def test_a_second_run_changes_nothing(lake, calls):
    compact.compact_partitions("cloudtrail", BEFORE, lake)
    first = lake_digest(lake)
    calls.clear()
    summary = compact.compact_partitions("cloudtrail", BEFORE, lake)
    assert calls == [] and lake_digest(lake) == first
    assert summary["compacted"] == 0 and summary["files_after"] == 2


def test_unsettled_windows_wait_and_the_result_does_not_depend_on_the_history(lake, tmp_path, calls):
    """At 01:00 hour 00 has ended but W1 (ending 02:00) has not: its file is left alone. Absorbing W0 first and
    W1 a day later gives the same bytes as absorbing both at once."""
    once = copy_lake(lake, tmp_path, "once")
    compact.compact_partitions("cloudtrail", BEFORE, once)

    calls.clear()
    assert compact.compact_partitions("cloudtrail", hour(1), lake)["compacted"] == 0  # one settled file only
    assert calls == []
    compact.compact_partitions("cloudtrail", hour(1), lake, min_files=1)
    assert f"{H00}/{W1}.parquet" in data_files(lake) and set(record(lake)["absorbed"]) == {W0}
    first = record(lake)["file"]
    compact.compact_partitions("cloudtrail", BEFORE, lake)
    assert lake_digest(lake, ("curated/",)) == lake_digest(once, ("curated/",))
    assert record(lake) == record(once) | {"replaces": first}  # the file it superseded


@pytest.mark.parametrize(
    "method, nth, state",
    [
        ("write_atomic", 1, "compacted file written, no record"),
        ("delete", 1, "record written, nothing deleted"),
        ("delete", 2, "record written, one original deleted"),
    ],
)
def test_a_crash_at_any_step_is_cleaned_up_by_the_next_run(lake, tmp_path, monkeypatch, method, nth, state):
    clean = copy_lake(lake, tmp_path, "clean")
    compact.compact_partitions("cloudtrail", BEFORE, clean)
    want_rows = rows(lake)
    originals = {f: (lake_dir(lake) / f).read_bytes() for f in data_files(lake)}

    original = getattr(Store, method)
    seen = {"n": 0}

    def crashing(self, key, *args):
        # the nth write of a record (write_atomic: the compacted file went first) or the nth delete
        if method == "delete" or key.startswith("_compaction/"):
            seen["n"] += 1
            if seen["n"] == nth:
                raise Crash(state)
        return original(self, key, *args)

    monkeypatch.setattr(Store, method, crashing)
    with pytest.raises(Crash):
        compact.compact_partitions("cloudtrail", BEFORE, lake)
    monkeypatch.setattr(Store, method, original)

    # Whatever the crash point, no row is lost: readers see every row, some possibly twice until the next run.
    seen_rows = rows(lake)
    assert all(seen_rows[r] >= n for r, n in want_rows.items())
    if method == "write_atomic":  # the originals are untouched; the unrecorded compacted file is a duplicate
        assert all((lake_dir(lake) / f).read_bytes() == b for f, b in originals.items())
        assert not (lake_dir(lake) / "_compaction").exists()
    else:
        assert sum(seen_rows.values()) > sum(want_rows.values())

    summary = compact.compact_partitions("cloudtrail", BEFORE, lake)
    assert rows(lake) == want_rows
    assert lake_digest(lake, ("curated/", "_compaction/")) == lake_digest(clean, ("curated/", "_compaction/"))
    if method == "delete":  # recorded originals are recognized and deleted, not merged a second time
        assert summary["files_absorbed"] == 0 and summary["files_deleted"] == 3 - nth


def test_rerunning_a_window_after_compaction_changes_nothing(lake, calls):
    compact.compact_partitions("cloudtrail", BEFORE, lake)
    first = lake_digest(lake)
    calls.clear()
    for w in (0, 1):
        run_window(lake, "cloudtrail", hour(w))
    # nothing for the absorbed files: only hour 01's lone file, left alone by compaction, is rewritten as ever
    assert [c for c in calls if c[1].startswith(("curated/", "_compaction/"))] == [
        ("write", f"{H01}/{W1}.parquet")
    ]
    assert lake_digest(lake) == first  # manifests (and their late-hour and row counts) rewritten as they were
    manifest = json.loads(
        (lake_dir(lake) / "_manifests/cloudtrail/window=20261101T0100Z/batch-0000.json").read_text()
    )
    assert manifest["files"] == [f"{H00}/{W1}.parquet", f"{H01}/{W1}.parquet"]  # absorbed files still listed
    assert manifest["file_rows"][f"{H00}/{W1}.parquet"] == record(lake)["absorbed"][W1]["rows"] == 3
    calls.clear()
    compact.compact_partitions("cloudtrail", BEFORE, lake)
    assert calls == []


def test_a_rerun_that_parses_differently_swaps_exactly_its_rows(lake, tmp_path):
    """An object that lands in W1 after it ran (S3 dates a multipart upload by its start) changes W1's hour-00
    file: the re-run removes W1's absorbed rows from the compacted file and writes its new file."""
    compact.compact_partitions("cloudtrail", BEFORE, lake)
    land_ct(
        lake,
        [ct_record(hour(0) + timedelta(minutes=45), "StartInstances")],
        hour(1) + timedelta(minutes=40),
        tag="d",
    )
    run_window(lake, "cloudtrail", hour(1))
    files = data_files(lake)
    assert f"{H00}/{W1}.parquet" in files and len([f for f in files if f.startswith(H00)]) == 2
    assert set(record(lake)["absorbed"]) == {W0}
    ids = event_ids(lake)
    assert len(ids) == len(set(ids)) == 7  # every event once: 6 before, one new

    compact.compact_partitions("cloudtrail", BEFORE, lake)  # the next run absorbs the new file again
    assert len([f for f in data_files(lake) if f.startswith(H00)]) == 1
    assert event_ids(lake) == ids and set(record(lake)["absorbed"]) == {W0, W1}


def test_a_file_a_rerun_no_longer_produces_leaves_the_compacted_file_too(lake):
    compact.compact_partitions("cloudtrail", BEFORE, lake)
    w0_rows = rows(lake, H00)  # before: W0's two events and W1's three late ones
    # W1's objects change so that it has no hour-00 rows any more: its hour-00 file is stale
    raw = Store(lake.raw_url)
    for o in raw.find("AWSLogs"):
        if o.key.endswith("_000000000000000c.json.gz"):
            raw.delete(o.key)
    land_ct(
        lake,
        [ct_record(hour(1) + timedelta(minutes=5), "RunInstances")],
        hour(1) + timedelta(minutes=10),
        tag="b",
    )
    run_window(lake, "cloudtrail", hour(1))
    assert set(record(lake)["absorbed"]) == {W0}
    hour00 = [json.loads(r)["eventname"] for r in rows(lake, H00)]
    assert sorted(hour00) == ["DescribeInstances", "DescribeInstances"] and len(w0_rows) == 5
    manifest = json.loads(
        (lake_dir(lake) / "_manifests/cloudtrail/window=20261101T0100Z/batch-0000.json").read_text()
    )
    assert manifest["files"] == [f"{H01}/{W1}.parquet"]


def test_the_dag_task_compacts_what_settled_in_its_interval(lake, tmp_path):
    """compact_interval: the windows ending in the data interval shifted back by the settle period (48 h)."""
    sweep = copy_lake(lake, tmp_path, "sweep")
    compact.compact_partitions("cloudtrail", BEFORE, sweep)
    assert lake.compact_settle == timedelta(hours=48)
    end = hour(1) + timedelta(hours=48)  # only W0 settled by then: one file to take, none merged
    got = compact.compact_interval("cloudtrail", end - timedelta(days=1), end, lake)
    assert got["partitions"] == 1 and got["compacted"] == 0
    end = BEFORE + timedelta(hours=48)
    got = compact.compact_interval("cloudtrail", end - timedelta(days=1), end, lake)
    assert (
        got["partitions"] == 2
        and got["compacted"] == 1
        and got["since"] == (BEFORE - timedelta(days=1)).isoformat()
    )
    assert lake_digest(lake, ("curated/", "_compaction/")) == lake_digest(sweep, ("curated/", "_compaction/"))


def test_a_lost_record_is_rebuilt_from_the_compacted_file_and_never_costs_its_rows(lake, calls):
    """The compacted file carries its absorbed list in its footer: without a record it is adopted, not taken
    for an interrupted run's leftover. A compacted file nobody can account for is left alone and reported."""
    want = rows(lake)
    compact.compact_partitions("cloudtrail", BEFORE, lake)
    rec = record(lake)
    compacted = data_files(lake)[0]
    meta = pq.read_metadata(lake_dir(lake) / compacted).metadata[compact.META_KEY]
    assert json.loads(meta) == rec["absorbed"]
    (lake_dir(lake) / compact.record_key("cloudtrail", H00.split("/", 2)[2])).unlink()
    calls.clear()
    compact.compact_partitions("cloudtrail", BEFORE, lake)
    assert record(lake) == rec and rows(lake) == want
    assert [c[0] for c in calls] == ["write"]  # the record, nothing deleted

    stranger = lake_dir(lake) / H00 / "compact-0000000000000000.parquet"
    shutil.copy(lake_dir(lake) / H01 / f"{W1}.parquet", stranger)  # no footer list: not ours to delete
    with pytest.raises(compact.CompactionError, match="not in the record"):
        compact.compact_partitions("cloudtrail", BEFORE, lake)
    assert stranger.exists()


def test_a_lost_compacted_file_is_reported_and_rebuilt_by_rerunning_its_windows(lake):
    want = rows(lake)
    compact.compact_partitions("cloudtrail", BEFORE, lake)
    lost = data_files(lake)[0]
    (lake_dir(lake) / lost).unlink()
    with pytest.raises(compact.CompactionError, match="missing"):
        compact.compact_partitions("cloudtrail", BEFORE, lake)
    for w in (0, 1):
        run_window(lake, "cloudtrail", hour(w))
    assert rows(lake) == want and record(lake)["absorbed"] == {} and record(lake)["file"] is None
    assert compact.compact_partitions("cloudtrail", BEFORE, lake)["compacted"] == 1 and rows(lake) == want


def test_a_partition_over_the_size_cap_is_left_alone(lake, calls):
    summary = compact.compact_partitions("cloudtrail", BEFORE, lake, max_bytes=100)
    assert calls == [] and summary["compacted"] == 0
    assert list(summary["skipped"]) == [H00.split("/", 2)[2]]


def test_the_cli_sweeps_a_table(lake, capsys):
    from mamori.cli import main

    assert main(["compact", "--before", BEFORE.isoformat(), "--table", "cloudtrail"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["compacted"] == 1 and out["files_before"] == 3 and out["files_after"] == 2


def test_compaction_on_s3_gives_the_same_lake(lake, tmp_path, monkeypatch):
    """Through the fsspec/S3 Store (moto server): the same files and records as on the local lake, and the
    ingest hook recognizes absorbed bytes there too."""
    import boto3
    from moto_support import moto_process

    local = copy_lake(lake, tmp_path, "local")
    compact.compact_partitions("cloudtrail", BEFORE, local)
    with moto_process() as url:
        for k, v in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(k, v)
        conn = {"conn_type": "aws", "extra": {"endpoint_url": url, "region_name": "us-east-1"}}
        # its own connection id: Airflow caches a filesystem per id, and other tests bind "mamori_s3" to
        # their own (by now stopped) moto servers
        monkeypatch.setenv("AIRFLOW_CONN_MAMORI_S3_COMPACT_TEST", json.dumps(conn))
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="lake")
        root = lake_dir(lake)
        for key in data_files(lake):
            s3.put_object(Bucket="lake", Key=key, Body=(root / key).read_bytes())
        remote = dataclasses.replace(lake, lake_url="s3://lake", lake_conn_id="mamori_s3_compact_test")
        summary = compact.compact_partitions("cloudtrail", BEFORE, remote)
        assert summary["compacted"] == 1 and summary["files_after"] == 2

        def objects() -> dict[str, str]:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket="lake")
            return {
                o["Key"]: hashlib.sha256(
                    s3.get_object(Bucket="lake", Key=o["Key"])["Body"].read()
                ).hexdigest()
                for p in pages
                for o in p.get("Contents", [])
            }

        got = objects()
        assert got == lake_digest(local, ("curated/", "_compaction/"))
        store = Store("s3://lake", "mamori_s3_compact_test")
        w0 = (root / H00 / f"{W0}.parquet").read_bytes()
        assert compact.absorbed(store, f"{H00}/{W0}.parquet", w0) is True
        assert compact.compact_partitions("cloudtrail", BEFORE, remote)["files_deleted"] == 0
        assert objects() == got


def test_a_record_changed_by_another_writer_stops_the_deletes(lake, monkeypatch, calls):
    """The lost-update race (an ingest re-run rewriting the same partition): the record read back after writing
    it is not ours, so nothing is deleted; the duplicates are left for the retry."""
    read = Store.read_bytes
    written: set[str] = set()
    write = Store.write_atomic

    def track(self, key, data):
        written.add(key)
        return write(self, key, data)

    def other_writer(self, key):
        if key.startswith("_compaction/") and key in written:
            return b'{"someone": "else"}'
        return read(self, key)

    monkeypatch.setattr(Store, "write_atomic", track)
    monkeypatch.setattr(Store, "read_bytes", other_writer)
    with pytest.raises(compact.CompactionError, match="changed while it was rewritten"):
        compact.compact_partitions("cloudtrail", BEFORE, lake)
    assert [c for c in calls if c[0] == "delete"] == []
    assert {f"{H00}/{W0}.parquet", f"{H00}/{W1}.parquet"} <= set(data_files(lake))


def test_files_of_another_schema_are_not_merged(lake):
    import pyarrow as pa

    pq.write_table(pa.table({"x": [1]}), lake_dir(lake) / H01 / "20261101T0000Z-b0001.parquet")
    summary = compact.compact_partitions("cloudtrail", BEFORE, lake)
    assert "schemas differ" in summary["skipped"][H01.split("/", 2)[2]]
    assert summary["compacted"] == 1 and len([f for f in data_files(lake) if f.startswith(H01)]) == 2


def test_releasing_the_last_absorbed_file_empties_the_partition_record(lake):
    """A re-run that no longer produces any file of a partition whose every file was absorbed."""
    compact.compact_partitions("cloudtrail", BEFORE, lake, min_files=1)  # hour 01's lone file too
    assert set(record(lake, H01)["absorbed"]) == {W1}
    store = Store(lake.lake_url)
    assert compact.absorbed_rows(store, f"{H01}/{W1}.parquet") == 1
    assert compact.release(store, f"{H01}/{W1}.parquet") is True
    rec = record(lake, H01)
    assert rec["absorbed"] == {} and rec["file"] is None and rec["replaces"].startswith("compact-")
    assert not [f for f in data_files(lake) if f.startswith(H01)]
    assert compact.release(store, f"{H01}/{W1}.parquet") is False  # nothing left to release
    assert compact.compact_partitions("cloudtrail", BEFORE, lake)["problems"] == {}
