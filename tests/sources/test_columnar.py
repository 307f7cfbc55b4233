"""The columnar path (mamori.lake.convert + each source's columnar parser) against the row path it replaces.

tests/sources/conftest.py already cross-checks every parse_object call of the parser tests; this module adds
generated data for every source with a columnar parser, proof that the check bites (convert uses each of those
parsers, and a diverging one fails it), whole batches for every source (sorting, partitions, spilling to disk),
CloudTrail's streamed objects and the inputs that steer CloudTrail's fast path away from or back onto the row
path.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mamori.lake import convert
from mamori.sources import SOURCES, SPECS, cloudtrail
from mamori.sources.base import ObjectResult, Partition, RawKey, RowsAsColumns, Source
from mamori.sources.formats.cloudwatch_logs import CloudWatchLogsSource

CROSS_CHECK = False  # conftest's parse_object wrapper: this module compares the two paths explicitly
START = datetime(2026, 11, 1, tzinfo=UTC)
Check = Callable[[Source, RawKey, bytes, ObjectResult], None]
# Sources with a columnar parser of their own; the others are bridged from their rows (RowsAsColumns), and a
# row-path-against-columnar check on them would compare the row path with itself.
COLUMNAR = sorted(name for name, spec in SPECS.items() if spec.capabilities.columnar)


@functools.cache
def _objects(module: str, hours: int) -> tuple[tuple[str, bytes], ...]:
    out: list[tuple[str, bytes]] = []
    gen = importlib.import_module(f"mamori.sources.{module}.generate")
    getattr(gen, f"generate_{module}")(lambda k, d, t: out.append((k, d)), START, hours=hours)
    return tuple(out)


def generated(name: str) -> list[tuple[RawKey, bytes]]:
    """Event objects from the source's generator, as ingest would hand them over (CloudTrail's story needs
    6 hours; Insights come a few a day)."""
    src = SOURCES[name]
    items = []
    hours = {"cloudtrail": 6, "cloudtrail_insights": 24}.get(name, 2)
    for k, d in _objects(name, hours):
        raw = src.classify(k)
        if raw is not None and raw.kind == "events":
            items.append((raw, d))
    return items


def row_path_batch(src: Source, items: list[tuple[RawKey, bytes]]) -> dict[Partition, pa.Table]:
    """What ingest's row path writes: rows grouped by partition, stably sorted by event_time."""
    groups: dict[Partition, list[dict[str, Any]]] = {}
    for raw, data in items:
        for p, row in src.parse_object(raw, data).rows:
            groups.setdefault(p, []).append(row)
    return {
        p: pa.Table.from_pylist(sorted(rows, key=lambda r: r["event_time"]), schema=src.schema)
        for p, rows in groups.items()
    }


def test_which_sources_have_a_columnar_parser() -> None:
    """The cross-check runs for exactly these; a source losing its parser would otherwise drop out unseen."""
    assert COLUMNAR == ["alb", "cloudtrail", "cloudtrail_insights", "s3access", "vpcflow"]
    # The rest are the CloudWatch Logs transport's formats (row path by design), so a new format on that
    # transport does not edit this test, while any other source without a columnar parser still fails it.
    on_transport = sorted(n for n, s in SOURCES.items() if isinstance(s, CloudWatchLogsSource))
    assert sorted(set(SOURCES) - set(COLUMNAR)) == on_transport and "cloudwatch" in on_transport


@pytest.mark.parametrize("name", COLUMNAR)
def test_convert_uses_the_sources_columnar_parser(name: str) -> None:
    src = SOURCES[name]
    parser = convert.columnar_parser(src, lambda p, t, o: None)
    assert type(parser) is type(src.columnar(lambda p, t, o: None))  # type: ignore[attr-defined]
    assert not isinstance(parser, RowsAsColumns)


@pytest.mark.parametrize("name", COLUMNAR)
def test_cross_check_fails_when_a_columnar_parser_diverges(
    name: str, columnar_matches: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One event_time a second off in the first table the columnar parser emits must fail the comparison."""
    src = SOURCES[name]
    real = type(src).columnar  # type: ignore[attr-defined]

    def diverging(self: Source, emit: Any) -> Any:
        changed: list[bool] = []

        def off_by_one_second(p: Partition, t: pa.Table, origin: Any) -> None:
            if not changed and t.num_rows:
                changed.append(True)
                i = t.schema.get_field_index("event_time")
                times = t.column(i).to_pylist()
                times[0] += timedelta(seconds=1)
                t = t.set_column(i, t.schema.field(i), pa.array(times, t.schema.field(i).type))
            emit(p, t, origin)

        return real(self, off_by_one_second)

    raw, data = generated(name)[0]
    want = src.parse_object(raw, data)
    assert want.rows, "the object must have rows to diverge on"
    columnar_matches(src, raw, data, want)  # as shipped: equal
    monkeypatch.setattr(type(src), "columnar", diverging)
    with pytest.raises(AssertionError, match=r"column event_time row 0"):
        columnar_matches(src, raw, data, want)


@pytest.mark.parametrize("name", COLUMNAR)
def test_generated_objects_match_row_path(name: str, columnar_matches: Check) -> None:
    src = SOURCES[name]
    items = generated(name)
    assert items, f"{name}: generator produced no event objects"
    for raw, data in items:
        columnar_matches(src, raw, data, src.parse_object(raw, data))


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_batch_tables_equal_sorted_row_path(name: str) -> None:
    """Batch assembly (partitions, stable sort) for every source, bridged ones included."""
    src = SOURCES[name]
    items = generated(name)
    want = row_path_batch(src, items)
    batch = convert.tables_for_batch(src, items)
    got = dict(batch.tables.tables())
    assert list(got) == sorted(want, key=lambda p: p.relpath())
    for p, table in got.items():
        assert table.equals(want[p]), p
    assert batch.rows_out == sum(t.num_rows for t in want.values())


@pytest.mark.parametrize("name", ["cloudtrail", "vpcflow", "s3access"])
def test_origin_traces_each_row_to_its_object(name: str) -> None:
    """tables_with_origin: per sorted row, the origin given with its object (ingest's data-quality step
    quarantines rows by object); equal to what the row path's bookkeeping gives."""
    src = SOURCES[name]
    items = generated(name)
    want: dict[Partition, list[tuple[Any, int]]] = {}
    for oi, (raw, data) in enumerate(items):
        for p, row in src.parse_object(raw, data).rows:
            want.setdefault(p, []).append((row["event_time"], oi * 10))
    out = convert.BatchTables(src)
    for oi, (raw, data) in enumerate(items):
        out.parse(raw, data, origin=oi * 10)
    for p, table, origin in out.tables_with_origin():
        expected = [o for _, o in sorted(want[p], key=lambda x: x[0])]  # stable, as ingest sorts
        assert origin.tolist() == expected
        assert len(origin) == table.num_rows


@pytest.mark.parametrize("name", ["cloudtrail", "vpcflow"])
def test_spilled_batch_writes_the_same_files(name: str, tmp_path: Any) -> None:
    """A budget far below the batch's size forces sorted runs on disk and a k-way merge per partition."""
    src = SOURCES[name]
    items = generated(name)
    want = row_path_batch(src, items)
    checked: list[int] = []

    def validate(seg: convert.Segment) -> list[pa.Table]:
        checked.append(sum(t.num_rows for _, t, _ in seg))
        assert checked[-1] == out.segment_rows
        return [t for _, t, _ in seg]

    out = convert.BatchTables(src, budget=64 * 1024, spill_dir=str(tmp_path), validate=validate)
    for raw, data in items:
        out.parse(raw, data)
    seen: list[Partition] = []
    for p, f in out.parquet_files():
        seen.append(p)
        assert pq.read_table(io.BytesIO(f.body), schema=src.schema).equals(want[p]), p
        # the merged file's writer reports the rows its footer holds (ingest's rows-out guard reads this)
        assert f.rows == pq.read_metadata(io.BytesIO(f.body)).num_rows == want[p].num_rows, p
    assert out.spills > 1
    assert seen == sorted(want, key=lambda p: p.relpath())
    assert sum(checked) == sum(t.num_rows for t in want.values()) == out.emitted  # each row validated once
    assert out.spills <= len(checked) <= out.spills + 1  # one per spill, plus the tail if any
    assert not list(tmp_path.iterdir())  # runs removed


def test_merge_keeps_input_order_for_equal_times(tmp_path: Any) -> None:
    """Rows with one event_time, spread over many runs, come out in arrival order (a stable sort)."""
    src = SOURCES["cloudtrail"]
    out = convert.BatchTables(src, budget=1, spill_dir=str(tmp_path))
    p = Partition("123456789012", "us-east-1", "2026-11-01", "10")
    base = {name: None for name in src.schema.names}
    for i in range(7):
        rows = [
            base | {"event_time": datetime(2026, 11, 1, 10, 0, s % 2), "source": "x", "eventid": f"{i}-{s}"}
            for s in range(3)
        ]
        out.add(p, pa.Table.from_pylist(rows, schema=src.schema), np.full(len(rows), i))
    [(_, f)] = list(out.parquet_files())
    ids = pq.read_table(io.BytesIO(f.body)).column("eventid").to_pylist()
    assert ids == [f"{i}-{s}" for i in range(7) for s in (0, 2)] + [f"{i}-1" for i in range(7)]


# -- CloudTrail: fast path, row path and streaming ------------------------------------------------------------------

KEY = (
    "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/"
    "123456789012_CloudTrail_us-east-1_20261101T1030Z_Ab12Cd34Ef56Gh78.json.gz"
)
GOOD = {
    "eventVersion": "1.08",
    "eventTime": "2026-11-01T10:00:00Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateUser",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.9",
    "userIdentity": {"type": "IAMUser", "userName": "carol", "arn": "arn:aws:iam::123456789012:user/carol"},
    "requestParameters": {"userName": "dave"},
    "readOnly": False,
    "managementEvent": True,
    "recipientAccountId": "123456789012",
}


def ct_raw() -> RawKey:
    raw = cloudtrail.SOURCE.classify(KEY)
    assert raw is not None
    return raw


def ct_check(records: list[Any], columnar_matches: Check) -> convert.ColumnarResult:
    data = gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)
    columnar_matches(cloudtrail.SOURCE, ct_raw(), data, cloudtrail.SOURCE.parse_object(ct_raw(), data))
    return convert.parse_tables(cloudtrail.SOURCE, ct_raw(), data)[0]


def with_(**changes: Any) -> dict[str, Any]:
    rec = dict(GOOD)
    for k, v in changes.items():
        if v is ...:
            rec.pop(k, None)
        else:
            rec[k] = v
    return rec


@pytest.mark.parametrize(
    "records",
    [
        pytest.param([GOOD] * 3, id="plain"),
        pytest.param(
            [with_(eventTime="2026-11-01T10:59:59Z"), with_(eventTime="2026-11-01T11:00:00Z")], id="hours"
        ),
        pytest.param([with_(eventTime="2026-11-01T12:00:00.123456+02:00"), GOOD], id="fraction-offset"),
        pytest.param([with_(eventTime="2026-02-30T10:00:00Z"), GOOD], id="feb-30"),
        pytest.param([with_(eventTime="0000-01-01T00:00:00Z")], id="year-0"),
        pytest.param([with_(eventTime="2026-11-01T10:00:61Z")], id="second-61"),
        pytest.param([with_(eventTime="1969-12-31T23:59:59Z")], id="before-epoch"),
        # the fast path parses a minute once and looks its seconds up: only AWS's exact form may take it
        pytest.param(
            [with_(eventTime=f"2026-11-01T10:07:{sec:02d}Z") for sec in (0, 5, 59, 5, 30)], id="one-minute"
        ),
        pytest.param([with_(eventTime="2026-11-01T10:00:60Z")], id="leap-second"),
        pytest.param([with_(eventTime="2026-11-01T24:00:00Z")], id="hour-24"),
        pytest.param([with_(eventTime="2026-11-01T10:60:00Z")], id="minute-60"),
        pytest.param([with_(eventTime="2026-13-01T10:00:05Z")], id="month-13"),
        pytest.param(
            [with_(eventTime="2026-11-01T10:00:\u0665\u0665Z".encode().decode("unicode_escape"))],
            id="arabic-seconds",
        ),
        pytest.param(
            [with_(eventTime="2026-11-01T10:0\u0665:05Z".encode().decode("unicode_escape"))],
            id="arabic-minute",
        ),
        pytest.param([with_(eventTime="2026-11-01T10:00: 5Z")], id="space-second"),
        pytest.param([with_(eventTime="2026-11-01T10:00:+5Z")], id="signed-second"),
        pytest.param([with_(eventTime="2026-11-01 10:00:05Z"), GOOD], id="space-separator"),
        pytest.param([with_(eventTime="2026-11-01T10:00:05z"), GOOD], id="lower-z"),
        pytest.param([with_(eventTime="2026-11-01T10:00Z:05Z")], id="z-inside"),
        pytest.param([with_(eventTime="20261101T10:00:05Z:00Z")], id="basic-date"),
        pytest.param([with_(eventName=""), GOOD], id="empty-required"),
        pytest.param([with_(eventSource=...), GOOD], id="missing-required"),
        pytest.param([with_(eventName=7), GOOD], id="number-required"),
        pytest.param([with_(eventVersion=1.08, awsRegion=True, userAgent={"a": [1, None]})], id="non-text"),
        pytest.param([with_(readOnly="false"), with_(readOnly=None), GOOD], id="mixed-bool"),
        pytest.param([with_(sourceIPAddress=False), GOOD], id="bool-ip"),
        pytest.param([with_(recipientAccountId=123456789012), with_(recipientAccountId="")], id="recipient"),
        pytest.param([{k.lower(): v for k, v in GOOD.items()}], id="lower-case-keys"),
        pytest.param([with_(EventName="Other")], id="two-spellings"),
        pytest.param([GOOD, {k.upper(): v for k, v in GOOD.items()}], id="case-varies-by-record"),
        pytest.param([with_(requestParameters={"UserName": "a", "username": "b"})], id="username-case"),
        pytest.param(
            [with_(requestParameters={"userName": 5}), with_(requestParameters="x")], id="username-odd"
        ),
        pytest.param(
            [with_(resources=[{"ARN": "arn:aws:s3:::b", "accountId": "1"}, "x", None])], id="resources"
        ),
        pytest.param([with_(resources={"arn": "arn:aws:s3:::b"})], id="resources-object"),
        pytest.param(
            [with_(userIdentity="root"), with_(userIdentity=None), with_(userIdentity=...)], id="ui-odd"
        ),
        pytest.param(
            [
                with_(
                    userIdentity={
                        "type": "AssumedRole",
                        "arn": "arn:aws:sts::1:assumed-role/r/s",
                        "sessionContext": {
                            "sessionIssuer": {"userName": "r", "arn": "arn:aws:iam::1:role/r"}
                        },
                    }
                ),
                with_(userIdentity={"TYPE": "x", "type": "y"}),
            ],
            id="ui-nested",
        ),
        pytest.param(
            [with_(insightDetails={"eventName": "X", "eventSource": "y"}, eventName=...)], id="insight"
        ),
        pytest.param(
            [with_(tlsDetails={"tlsVersion": 1.2}), with_(addendum={"reason": ["a"]})], id="structs"
        ),
        pytest.param([with_(errorCode="AccessDenied", errorMessage="no"), GOOD], id="errors"),
        pytest.param([GOOD, "not an object", 5], id="non-objects"),
        pytest.param([with_(requestParameters=json.loads("[" * 300 + "]" * 300))], id="too-deep"),
        pytest.param([with_(unknownNewField={"x": 1}, another=[1, 2])], id="unknown-keys"),
        pytest.param([], id="empty"),
    ],
)
def test_cloudtrail_fast_path_matches_row_path(records: list[Any], columnar_matches: Check) -> None:
    ct_check(records, columnar_matches)


def test_too_deep_value_is_quarantined_not_a_crash(columnar_matches: Check) -> None:
    deep = json.loads("[" * 300 + "]" * 300)
    result = ct_check([with_(requestParameters=deep), GOOD], columnar_matches)
    assert result.rows_out == 1 and result.quarantined[0].index == 0
    assert "JSON text" in result.quarantined[0].reason


def test_fast_path_is_taken_for_aws_shaped_records() -> None:
    cols = cloudtrail.CloudTrailColumns(lambda p, t: None)
    assert cols._gather([GOOD, with_(eventTime="2026-11-01T11:00:00Z")], ct_raw())
    assert not cols._gather([with_(eventName="")], ct_raw())
    assert cols.n == 2  # the rejected object left nothing behind


def test_streamed_object_matches_whole_object(
    monkeypatch: pytest.MonkeyPatch, columnar_matches: Check
) -> None:
    items = generated("cloudtrail")[:30]
    records = [r for _, d in items for r in json.loads(gzip.decompress(d))["Records"]]
    records.insert(5, "not an object")  # a piece that takes the row path, with its index in the whole object
    records.insert(50, with_(eventName=""))
    data = gzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode(), mtime=0)
    whole = cloudtrail.SOURCE.parse_object(ct_raw(), data)
    monkeypatch.setattr(cloudtrail, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(cloudtrail, "_PIECE", 4096)
    pieces = list(cloudtrail._record_pieces(data))
    assert len(pieces) > 10 and sum(map(len, pieces)) == len(records)
    columnar_matches(cloudtrail.SOURCE, ct_raw(), data, whole)
    assert [q.index for q in whole.quarantined] == [5, 50]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'{"Records":[%s,{"eventVersion":"1","x":[{"a":1},{"eventVersion":"2"}]}]}', id="nested-cut"
        ),
        pytest.param(b'{"Records":[%s],"Other":1}', id="second-key"),
        pytest.param(b'{"records":[%s]}', id="lower-case-records"),
        pytest.param(
            b'{"Records":[%s,{"eventVersion":"1","s":"},{\\"eventVersion\\""}]}', id="cut-in-string"
        ),
        pytest.param(b"[%s]", id="not-an-object"),
        pytest.param(b'{"Records":[%s', id="truncated-json"),
    ],
)
def test_stream_falls_back_when_pieces_are_not_records(
    body: bytes, monkeypatch: pytest.MonkeyPatch, columnar_matches: Check
) -> None:
    good = json.dumps(GOOD, separators=(",", ":")).encode()
    data = gzip.compress(body % b",".join([good] * 200), mtime=0)
    monkeypatch.setattr(cloudtrail, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(cloudtrail, "_PIECE", 1024)
    columnar_matches(cloudtrail.SOURCE, ct_raw(), data, cloudtrail.SOURCE.parse_object(ct_raw(), data))


def test_stream_handles_gzip_damage_like_the_row_path(
    monkeypatch: pytest.MonkeyPatch, columnar_matches: Check
) -> None:
    good = json.dumps(GOOD, separators=(",", ":")).encode()
    data = gzip.compress(b'{"Records":[' + b",".join([good] * 500) + b"]}", mtime=0)
    monkeypatch.setattr(cloudtrail, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(cloudtrail, "_PIECE", 1024)
    for damaged in (data[: len(data) // 2], data[:-4] + b"\0\0\0\0", data + b"junk", data + data):
        columnar_matches(
            cloudtrail.SOURCE, ct_raw(), damaged, cloudtrail.SOURCE.parse_object(ct_raw(), damaged)
        )


def _as_stream(data: bytes, tmp_path: Any, name: str) -> Any:
    from mamori.sources.base import LargeObject

    path = tmp_path / name
    path.write_bytes(data)
    return LargeObject(str(path), len(data), lambda: open(path, "rb"))  # the caller closes it


def test_large_object_read_as_a_stream_equals_bytes(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """ingest hands objects from LARGE_OBJECT_BYTES on as a stream opened per pass (not held: a 256 MB
    delivery cost its size again for the whole parse). Every outcome equals the in-memory object's: clean,
    multi-member, truncated, trailing junk, not records at all (the whole-object fallback reads it)."""
    monkeypatch.setattr(cloudtrail, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(cloudtrail, "_PIECE", 1024)
    monkeypatch.setattr(cloudtrail, "_FEED", 777)  # chunk edges everywhere, also inside gzip headers
    good = json.dumps(GOOD, separators=(",", ":")).encode()
    data = gzip.compress(b'{"Records":[' + b",".join([good] * 300) + b"]}", mtime=0)
    cases = {
        "clean": data,
        "two-members": data + data,
        "truncated": data[: len(data) // 2],
        "junk-after": data + b"junk",
        "not-records": gzip.compress(b"[" + b",".join([good] * 50) + b"]", mtime=0),
    }
    for name, body in cases.items():
        want, want_tables = convert.parse_tables(cloudtrail.SOURCE, ct_raw(), body)
        got, got_tables = convert.parse_tables(cloudtrail.SOURCE, ct_raw(), _as_stream(body, tmp_path, name))
        assert (got.rows_out, got.quarantined, got.skipped_reason) == (
            want.rows_out,
            want.quarantined,
            want.skipped_reason,
        ), name
        assert [(p, t.to_pylist()) for p, t in got_tables] == [(p, t.to_pylist()) for p, t in want_tables], (
            name
        )
    assert convert.parse_tables(cloudtrail.SOURCE, ct_raw(), data)[0].rows_out == 300


def test_a_batch_takes_a_stream_only_from_a_parser_that_streams(tmp_path: Any) -> None:
    """Sources without a streaming parser get the bytes (LargeObject.read_all) and the same result."""
    src = SOURCES["vpcflow"]
    (raw, data), *_ = generated("vpcflow")
    out = convert.BatchTables(src)
    assert not out.streams_large_objects
    got = out.parse(raw, _as_stream(data, tmp_path, "vpc"))
    assert got.rows_out == src.parse_object(raw, data).rows_out > 0
    assert convert.BatchTables(cloudtrail.SOURCE).streams_large_objects


def _cloudtrail_batch_files(
    budget: int, tmp_path: Any
) -> tuple[dict[Partition, pa.Table], list[tuple[Partition, convert.LakeFile]]]:
    """The generated CloudTrail batch's tables by the row path, and its files by BatchTables under `budget`
    (spilled when it is below the default: the merged files' writer is checked as well as the held one)."""
    src = SOURCES["cloudtrail"]
    items = generated("cloudtrail")
    want = row_path_batch(src, items)
    out = convert.BatchTables(src, budget=budget, spill_dir=str(tmp_path))
    for raw, data in items:
        out.parse(raw, data)
    files = list(out.parquet_files())
    assert (out.spills > 0) == (budget < convert.MEMORY_BUDGET)
    return want, files


def _codecs(meta: pq.FileMetaData, group: int) -> dict[str, str]:
    """Each Parquet column path's codec in one row group of a file."""
    return {
        meta.schema.column(c).path: meta.row_group(group).column(c).compression
        for c in range(meta.num_columns)
    }


@pytest.mark.parametrize("budget", [convert.MEMORY_BUDGET, 64 * 1024], ids=["held", "spilled"])
def test_batch_files_use_snappy_on_the_light_columns_and_every_reader_reads_them(
    budget: int, tmp_path: Any
) -> None:
    """CloudTrail's batch files compress its light columns (SourceSpec.light_columns, and every column under a
    light struct) with snappy and the others with zstd; DuckDB and pyarrow read every row back, merged (spilled)
    files included. (Athena reads per-column codecs too: the codec is a property of each column chunk in the
    Parquet format.)"""
    import duckdb

    src = SOURCES["cloudtrail"]
    light = SPECS["cloudtrail"].light_columns
    paths = convert.leaf_paths(src.schema)
    assert set(light) <= {p.rsplit(".", n)[0] for p in paths for n in range(p.count(".") + 1)}  # real columns
    want_codecs = {
        p: "SNAPPY" if any(p == c or p.startswith(c + ".") for c in light) else "ZSTD" for p in paths
    }
    assert want_codecs["addendum.originaleventid"] == want_codecs["readonly"] == "SNAPPY"
    assert want_codecs["eventname"] == want_codecs["related_arns.list.element"] == "ZSTD"
    want, files = _cloudtrail_batch_files(budget, tmp_path)
    assert any(f.rows >= convert.TINY_FILE_ROWS for _, f in files)
    for i, (part, f) in enumerate(files):
        meta = pq.read_metadata(io.BytesIO(f.body))
        assert b"ARROW:schema" not in (meta.metadata or {})  # convert.STORE_SCHEMA: no reader needs it
        tiny = f.rows < convert.TINY_FILE_ROWS  # snappy on every column (convert.for_rows)
        for g in range(meta.num_row_groups):
            assert _codecs(meta, g) == (dict.fromkeys(paths, "SNAPPY") if tiny else want_codecs), part
        path = tmp_path / f"f{i}.parquet"
        path.write_bytes(f.body)
        got = duckdb.sql(f"select * from read_parquet('{path}')").fetch_arrow_table()
        assert got.cast(src.schema).equals(want[part]), part
        assert pq.read_table(path).equals(want[part]), part


@pytest.mark.parametrize("rows", [1, convert.TINY_FILE_ROWS - 1, convert.TINY_FILE_ROWS])
def test_a_file_of_a_handful_of_rows_is_snappy_on_every_column(rows: int) -> None:
    """Below TINY_FILE_ROWS a batch file is written with the light codec on every column (zstd's per-page
    set-up buys nothing on pages of a few values); from it on, with the source's per-column codecs. The
    rows read back the same either way."""
    src = SOURCES["cloudtrail"]
    spec = SPECS["cloudtrail"]
    table = next(iter(row_path_batch(src, generated("cloudtrail")).values()))
    assert table.num_rows >= rows
    table = table.slice(0, rows)
    options = convert.writer_options(src.schema, spec.filtered_columns, spec.light_columns)
    f = convert.write_parquet(table, options=options)
    got = _codecs(pq.read_metadata(io.BytesIO(f.body)), 0)
    if rows < convert.TINY_FILE_ROWS:
        assert set(got.values()) == {"SNAPPY"}
    else:
        assert set(got.values()) == {"SNAPPY", "ZSTD"} and got["requestparameters"] == "ZSTD"
    assert f.rows == rows and pq.read_table(io.BytesIO(f.body)).equals(table)


def test_leaf_paths_are_the_parquet_writers_column_paths() -> None:
    """convert.leaf_paths walks the Arrow types (no pandas import); each source's paths equal those of a file
    pyarrow wrote, so a light column's codec reaches the column it names."""
    for name, src in SOURCES.items():
        buf = io.BytesIO()
        pq.write_table(src.schema.empty_table(), buf)
        meta = pq.read_metadata(io.BytesIO(buf.getvalue()))
        assert convert.leaf_paths(src.schema) == tuple(
            meta.schema.column(i).path for i in range(meta.num_columns)
        ), name
    nested = pa.schema(
        [
            ("m", pa.map_(pa.string(), pa.list_(pa.int64()))),
            ("s", pa.struct([("l", pa.large_list(pa.string()))])),
        ]
    )
    buf = io.BytesIO()
    pq.write_table(nested.empty_table(), buf)
    meta = pq.read_metadata(io.BytesIO(buf.getvalue()))
    assert convert.leaf_paths(nested) == tuple(meta.schema.column(i).path for i in range(meta.num_columns))


def test_a_source_without_light_columns_keeps_zstd_everywhere() -> None:
    for name, spec in SPECS.items():
        if not spec.light_columns:
            assert convert.compression(spec.schema, spec.light_columns) == "zstd", name


@pytest.mark.parametrize("budget", [convert.MEMORY_BUDGET, 64 * 1024], ids=["held", "spilled"])
def test_batch_files_index_only_the_filtered_columns_and_read_back_whole(budget: int, tmp_path: Any) -> None:
    """CloudTrail's batch files carry dictionaries and min/max statistics on the columns readers filter on
    (SourceSpec.filtered_columns, event_time's statistics too) and none elsewhere; DuckDB reads them back with
    the table's schema and every row, merged (spilled) files included."""
    import duckdb

    src = SOURCES["cloudtrail"]
    filtered = set(SPECS["cloudtrail"].filtered_columns or ())
    assert {"eventname", "eventsource", "account_id"} <= filtered
    want, files = _cloudtrail_batch_files(budget, tmp_path)
    for i, (part, f) in enumerate(files):
        meta = pq.read_metadata(io.BytesIO(f.body))
        chunks = {meta.schema.column(c).path: meta.row_group(0).column(c) for c in range(meta.num_columns)}
        for path, chunk in chunks.items():
            dictionary = chunk.dictionary_page_offset is not None
            assert dictionary == (path in filtered), path
            assert chunk.is_stats_set == (path in filtered or path == "event_time"), path
        path = tmp_path / f"f{i}.parquet"
        path.write_bytes(f.body)
        got = duckdb.sql(f"select * from read_parquet('{path}')").fetch_arrow_table()
        assert got.cast(src.schema).equals(want[part]), part
    assert sum(f.rows for _, f in files) == sum(t.num_rows for t in want.values())
