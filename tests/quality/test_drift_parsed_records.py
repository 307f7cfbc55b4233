"""Drift observation samples the records the parser already decoded (ColumnarResult.records) instead of
decompressing and parsing each sampled object again: the observations must be exactly those of the old path,
which decoded the raw bytes itself (`DriftHints.sample_records`), for every kind of object a batch can hold."""

from __future__ import annotations

import dataclasses
import gzip
import json
from typing import Any

from quality_helpers import ct_record, hour

from mamori.lake import convert
from mamori.quality.observe import BatchObserver
from mamori.sources import cloudtrail, get_source

SRC = get_source("cloudtrail")


def _key(i: int) -> str:
    return (
        "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/"
        f"123456789012_CloudTrail_us-east-1_20261101T0310Z_{i:03d}.json.gz"
    )


def _gz(doc: Any) -> bytes:
    return gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), mtime=0)


def _objects() -> list[bytes]:
    w = hour(3)
    plain = [ct_record(w, f"Call{i}") for i in range(30)]
    new_top = [ct_record(w, f"New{i}") | ({"sessionTags": {"a": 1}} if i % 3 else {}) for i in range(30)]
    new_nested = [ct_record(w, "Nested")]
    new_nested[0]["userIdentity"] = new_nested[0]["userIdentity"] | {"credentialScope": "x"}
    spelled = [{k.upper() if k == "eventName" else k: v for k, v in ct_record(w, "Upper").items()}]
    spelled[0]["UserIdentity"] = spelled[0].pop("userIdentity") | {"BrandNew": 1}
    mixed = [*plain[:3], "not a record", 7, *new_top[:4]]
    # A raw NUL inside a string: orjson refuses the whole document, the parser splits it record by record
    # (so it hands over no decoded list), and the old path found no records in it at all.
    split = (
        b'{"Records":['
        + json.dumps(ct_record(w, "Ok") | {"splitOnly": 1}).encode()
        + b',{"eventName":"bad\x00"}]}'
    )
    return [
        _gz({"Records": plain}),
        _gz({"Records": new_top}),
        _gz({"records": new_nested}),  # the key's spelling varies: both paths find it case-insensitively
        _gz({"Records": spelled}),
        _gz({"Records": mixed}),
        gzip.compress(split, mtime=0),
        _gz({"Records": "not a list"}),
        _gz({"digest": True}),  # no Records: skipped by the parser, nothing sampled
        b"\x1f\x8b not gzip at all",
        json.dumps({"Records": new_top[:5]}).encode(),  # not compressed
    ]


def _observe(objects: list[bytes], from_parser: bool) -> tuple[dict[str, Any], int]:
    """One batch's observations, with the parser's decoded records handed over (now) or not (before); and
    how many times the observer decoded an object itself."""
    obs = BatchObserver("cloudtrail", SRC.schema, len(objects))
    decodes = 0
    real = obs.drift.sample_records
    assert real is not None

    def counting(data: Any) -> Any:
        nonlocal decodes
        decodes += 1
        return real(data)

    obs.drift = dataclasses.replace(obs.drift, sample_records=counting)
    out = convert.BatchTables(SRC)
    for i, data in enumerate(objects):
        raw = SRC.classify(_key(i))
        result = out.parse(raw, data, origin=i)
        obs.feed(i, raw, data, parsed=result.records if from_parser else None)
    for _, table in out.tables():
        obs.observe([table])
    return obs.finish(), decodes


def test_drift_sampled_from_parsed_records_sees_exactly_what_decoding_the_objects_saw():
    objects = _objects()
    now, decodes_now = _observe(objects, from_parser=True)
    before, decodes_before = _observe(objects, from_parser=False)
    assert now == before
    assert now["fields"] == {
        "sessionTags": 25,  # 20 of 30 in one object, 2 in the mixed one (non-dicts skipped), 3 uncompressed
        "userIdentity.credentialScope": 1,
        "userIdentity.BrandNew": 1,  # named as the spec spells the nested field
    }
    assert decodes_before == len(objects)
    # only where the parser kept no decoded list: the split object, the unreadable one and the non-list,
    # the digest (no Records)
    assert decodes_now == 4


def test_a_streamed_delivery_hands_over_no_records_and_is_still_sampled_from_its_first_piece(monkeypatch):
    monkeypatch.setattr(cloudtrail, "STREAM_MIN_BYTES", 1024)
    monkeypatch.setattr(cloudtrail, "_PIECE", 4096)
    records = [ct_record(hour(3), f"Call{i}") | ({"brandNewField": i} if i < 5 else {}) for i in range(2000)]
    data = _gz({"Records": records})
    out = convert.BatchTables(SRC)
    result = out.parse(SRC.classify(_key(0)), data)
    assert result.rows_out == 2000 and result.records is None
    obs = BatchObserver("cloudtrail", SRC.schema, 1)
    obs.feed(0, SRC.classify(_key(0)), data, parsed=result.records)
    seen = obs.finish()
    assert seen["fields"] == {"brandNewField": 5}
    assert 5 <= seen["sampled_records"] < 2000  # the first piece, as before
