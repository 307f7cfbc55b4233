"""Every parse_object call made by the tests under tests/sources is checked against the columnar path.

The parser tests hold the row path to the documented semantics with hostile inputs; wrapping parse_object
here runs the columnar parser on each of those same inputs and requires identical tables, counts and
quarantine entries, so the columnar path inherits every edge case without copying it.

Only sources with a columnar parser of their own are checked (COLUMNAR): for the others ingest bridges the
row parser's output into tables, and comparing that with the row path would compare the row path with itself.
The check also requires that convert really uses the source's columnar parser, and a divergence fails the
test even when the code under test swallowed the AssertionError.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pyarrow as pa
import pytest

from mamori.lake import convert
from mamori.sources import SPECS, cloudtrail, vpcflow
from mamori.sources.base import ObjectResult, Partition, RawKey, RowsAsColumns, Source
from mamori.sources.formats import textcols

# Sources with a columnar parser (declared in their spec's capabilities), by name.
COLUMNAR: dict[str, Source] = {n: s.parser for n, s in sorted(SPECS.items()) if s.capabilities.columnar}


def expected_tables(src: Source, obj: ObjectResult) -> dict[Partition, pa.Table]:
    groups: dict[Partition, list[dict[str, Any]]] = {}
    for p, row in obj.rows:
        groups.setdefault(p, []).append(row)
    return {p: pa.Table.from_pylist(rows, schema=src.schema) for p, rows in groups.items()}


def assert_columnar_matches(src: Source, raw: RawKey, data: bytes, obj: ObjectResult) -> None:
    """`obj` is parse_object(raw, data); the columnar parse of the same bytes must say exactly the same."""
    assert src.name in COLUMNAR, f"{src.name} has no columnar parser: there is nothing to compare"
    parser = convert.columnar_parser(src, lambda p, t, o: None)
    assert not isinstance(parser, RowsAsColumns), (
        f"{src.name}: convert bridges its rows instead of using its columnar parser, so this check would "
        "compare the row path with itself"
    )
    result, emitted = convert.parse_tables(src, raw, data)
    assert result.key == obj.key
    assert result.skipped_reason == obj.skipped_reason
    assert (result.rows_out, result.records_in) == (len(obj.rows), obj.records_in)
    assert [q.as_dict() for q in result.quarantined] == [q.as_dict() for q in obj.quarantined]
    got: dict[Partition, list[pa.Table]] = {}
    for p, t in emitted:
        assert t.schema == src.schema
        got.setdefault(p, []).append(t)
    want = expected_tables(src, obj)
    assert set(got) == set(want)
    for p, tables in got.items():
        table = pa.concat_tables(tables)
        if not table.equals(want[p]):
            for name in src.schema.names:  # name the first differing column and row for the failure message
                a, b = table.column(name).to_pylist(), want[p].column(name).to_pylist()
                if a != b:
                    i = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
                    raise AssertionError(f"{src.name} {p} column {name} row {i}: {a[i]!r} != {b[i]!r}")
            raise AssertionError(f"{src.name} {p}: tables differ")


_active = False
_diverged: list[str] = []
_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture(autouse=True)
def _cross_check_columnar(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if not getattr(request.module, "CROSS_CHECK", True):  # the module compares the paths itself
        yield
        return
    _diverged.clear()
    classes = {type(src) for src in COLUMNAR.values()}
    for cls in classes:
        original = cls.parse_object

        def checked(self: Any, raw: Any, data: bytes, _original: Any = original) -> Any:
            global _active
            obj = _original(self, raw, data)
            if not _active:  # the columnar path may call parse_object itself (row fallback)
                _active = True
                try:
                    assert_columnar_matches(self, raw, data, obj)
                    # again with the size thresholds at zero, so the tests' small hostile inputs also go
                    # through VPC Flow's CSV reader and CloudTrail's streamed pieces
                    with pytest.MonkeyPatch.context() as mp:
                        mp.setattr(vpcflow, "_CSV_MIN_BYTES", 0)
                        mp.setattr(cloudtrail, "STREAM_MIN_BYTES", 0)
                        mp.setattr(cloudtrail, "_PIECE", 512)
                        mp.setattr(textcols, "MIN_BYTES", 0)  # ALB, S3 access: vectorise every line
                        mp.setattr(textcols, "MIN_GROUP", 1)
                        assert_columnar_matches(self, raw, data, obj)
                except AssertionError as exc:
                    _diverged.append(f"{self.name} {raw.key}: {exc}")
                    raise
                finally:
                    _active = False
            return obj

        monkeypatch.setattr(cls, "parse_object", checked)
    yield
    if request.node.stash.get(_CALL_FAILED, False):
        return  # the divergence already failed the test
    assert not _diverged, (
        "columnar and row paths diverged (the error was caught by the code under test):\n"
        + ("\n".join(_diverged))
    )


@pytest.fixture
def columnar_matches() -> Callable[[Source, RawKey, bytes, ObjectResult], None]:
    """assert_columnar_matches, for tests that compare the two paths directly."""
    return assert_columnar_matches
