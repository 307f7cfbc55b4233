"""GX's start-up is paid once per process that forks task processes, not once per task: a process forked after
`mamori.ingest.warm_worker()` validates a batch without importing any GX module, building a context or
computing a schema verdict, and with no thread running at the fork (a thread holding a lock would leave the
child's copy locked forever)."""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from mamori import ingest
from mamori.quality import validate
from mamori.quality.rules import checks_for
from mamori.sources import get_source


def test_a_task_forked_after_the_warm_up_loads_nothing_of_gx_itself():
    # Threads other tests left alive (fsspec's IO loop, for one) are not the warm-up's: what must hold is that
    # the warm-up starts none, so the scheduler, which runs it before forking its workers, forks with none.
    before = set(threading.enumerate())
    ingest.warm_worker()
    assert [t.name for t in threading.enumerate() if t not in before] == []
    src = get_source("vpcflow")
    start = datetime(2026, 11, 1, 10, tzinfo=UTC)
    row = {f.name: None for f in src.schema} | {
        "event_time": start.replace(tzinfo=None),
        "source": "vpcflow",
        "account_id": "123456789012",
    }
    table = pa.Table.from_pylist([row], schema=src.schema)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the task process: report and leave without running pytest's exit handlers
        try:
            before, context, misses = (
                set(sys.modules),
                validate._GX["ctx"],
                validate._schema_checks.cache_info(),
            )
            q = validate.validate_table("vpcflow", table, src.schema, start, start + timedelta(hours=1), 1)
            new = sorted(m for m in set(sys.modules) - before if m.split(".")[0] == "great_expectations")
            same_context = validate._GX["ctx"] is context
            misses_after = validate._schema_checks.cache_info().misses
            os.write(
                write, json.dumps([new, same_context, misses_after - misses.misses, len(q.checks)]).encode()
            )
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        new, same_context, schema_misses, evaluated = json.loads(f.read())
    os.waitpid(pid, 0)
    assert new == [] and same_context and schema_misses == 0
    assert evaluated == 3 + len(checks_for("vpcflow")) + 1  # schema, rows, row count: all validated


def test_a_passing_batch_in_a_task_forked_after_the_warm_up_asks_gx_nothing():
    """The warm-up also obtained GX's verdict on a passing batch's counts (its checks, every count 0), per
    source and for an archive's batch: a forked task's passing batches reuse it instead of each paying GX's
    fixed ~5-10 ms (bench section `gx_task_cost`: most of GX's share of a small batch's task)."""
    from test_dq_result_identity import START, end, good_table

    ingest.warm_worker()
    tables = {name: good_table(name) for name in ("cloudtrail", "vpcflow")}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            asked = validate._counts_verdict.cache_info().misses
            verdicts = [
                validate.validate_table(
                    name, t, get_source(name).schema, START, end(name), t.num_rows, imported=imported
                ).success
                for name, t in tables.items()
                for imported in (False, True)
            ]
            asked = validate._counts_verdict.cache_info().misses - asked
            os.write(write, json.dumps([verdicts, asked]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        verdicts, asked = json.loads(f.read())
    os.waitpid(pid, 0)
    assert verdicts == [True] * 4 and asked == 0
