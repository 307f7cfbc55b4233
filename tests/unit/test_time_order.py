"""convert._in_time_order: a partition already in event_time order skips the sort's gather over every column;
the table (and each row's origin) must come out exactly as the stable sort would leave it either way."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mamori.lake import convert


def _table(times: list[int | None], chunks: int = 2) -> pa.Table:
    t = pa.table(
        {
            "event_time": pa.array(
                [None if s is None else datetime(2026, 11, 1, 0, 0, s) for s in times], pa.timestamp("us")
            ),
            "eventid": [f"e{i}" for i in range(len(times))],
        }
    )
    size = -(-len(times) // chunks)
    return pa.concat_tables([t.slice(i, size) for i in range(0, len(times), size)])


def _stable(table: pa.Table) -> tuple[pa.Table, np.ndarray]:
    order = pc.sort_indices(table, sort_keys=[("event_time", "ascending")])
    return table.take(order), order.to_numpy()


def test_rows_already_in_order_come_back_as_they_are_in_one_chunk():
    table = _table([1, 1, 2, 5, 5, 9])
    assert table.column("event_time").num_chunks == 2
    out, order = convert._in_time_order(table)
    assert order is None
    assert out.equals(_stable(table)[0]) and out.column("eventid").num_chunks == 1


def test_rows_out_of_order_are_sorted_stably_with_their_order():
    table = _table([5, 1, 5, 0, 1, 9])
    out, order = convert._in_time_order(table)
    want, want_order = _stable(table)
    assert out.equals(want) and order is not None and order.tolist() == want_order.tolist()
    assert out.column("eventid").to_pylist() == ["e3", "e1", "e4", "e0", "e2", "e5"]  # ties keep input order


def test_a_null_time_is_left_to_the_sort():
    table = _table([1, None, 2])
    out, order = convert._in_time_order(table)
    assert order is not None and out.equals(_stable(table)[0])
