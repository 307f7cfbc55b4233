"""Small batches and per-task processes: what a ~1,000-event ingest batch costs, and Great Expectations' share.

Issue 19: shorter windows make batches small, so fixed per-batch and per-task costs decide latency. Two parts,
same run, same generated CloudTrail deliveries (the generator's small organisation: 2 accounts x 2 regions):

1. `convert_batch` on batches of ~1,000 events in one warm process, next to the parse floor and a naive
   pandas converter run on the same batches (target: ≥ 2× naive pandas), now and as main was before the last
   three rounds of cuts (`_as_main_e02ec14` puts back the lake I/O of e02ec14: fsyncs only after the last
   staged file, from threads started per batch, and renames one after the other; `_as_main_2e92fdb` puts that
   back plus footer read-backs, dictionaries and statistics on every column, drift re-decoding its sample and
   the sort's gather of sorted partitions; `_as_before` puts those back too, plus what main had at 0501a62: GX
   asked about every batch's counts, one fsync per record), and
   without the GX validation (stubbed), so GX's per-batch share shows.
   Its first line, "1k-batch conversion", is the figure `make bench-quick` prints: the ratio with each side in
   a process of its own (`_alone_child.py`, what the target is judged on), then the one-interpreter one.
2. The GX share of one convert task when the task is its own process, as under the scheduler: a fresh
   interpreter per task, a task forked from a worker that has only Airflow loaded (how LocalExecutor tasks
   started before the plugin warmed GX up), and a task forked from a worker after `warm_worker()` (now). The
   task time runs from the process start or fork to the end of `convert_batch`; Airflow's own work around it
   (DAG parse, API calls, XCom) is not in it, so the share under the real scheduler is lower.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TITLE = "Small batches: fixed costs and the GX share of an ingest task"
ORDER = 41
TARGET_EVENTS = 1_000
CHILD = Path(__file__).with_name("_task_child.py")


def _batches(hours: int, home: str) -> tuple[list[dict[str, Any]], list[list[bytes]], int]:
    """Generated deliveries written to the raw store of MAMORI_HOME `home` (the caller's temporary folder),
    cut into consecutive batches of ≥ 1,000 events (whole objects, in key order); returns the batches, their
    objects' bytes and the event count."""
    import orjson

    from mamori.config import load_settings
    from mamori.lake import Store
    from mamori.sources.cloudtrail.generate import generate_cloudtrail

    objects: list[tuple[str, bytes]] = []
    generate_cloudtrail(
        lambda k, d, _t: objects.append((k, d)), datetime(2026, 11, 1, tzinfo=UTC), hours=hours, seed=5
    )
    objects = sorted((k, d) for k, d in objects if "/CloudTrail/" in k)
    settings = load_settings({"MAMORI_HOME": home})
    raw = Store(settings.raw_url)
    batches: list[dict[str, Any]] = []
    bodies: list[list[bytes]] = []
    keys: list[str] = []
    held: list[bytes] = []
    events = total = 0
    for k, d in objects:
        raw.write_atomic(k, d)
        keys.append(k)
        held.append(d)
        events += len(orjson.loads(gzip.decompress(d))["Records"])
        if events >= TARGET_EVENTS:
            batches.append(
                {
                    "source": "cloudtrail",
                    "keys": keys,
                    "index": len(batches),
                    "window_start": "2026-11-01T00:00:00+00:00",
                    "window_end": "2026-11-03T00:00:00+00:00",  # every event inside: all checks pass
                }
            )
            bodies.append(held)
            total += events
            keys, held, events = [], [], 0
    return batches, bodies, total


def naive_pandas(bodies: list[list[bytes]]) -> None:
    """The baseline: per batch, as a user converting each small batch would (`_alone_child.py` runs it too)."""
    import pandas as pd

    for objs in bodies:
        records = [r for d in objs for r in json.loads(gzip.decompress(d))["Records"]]
        pd.json_normalize(records).astype(str).to_parquet(io.BytesIO(), compression="zstd")


def convert_all(batches: list[dict[str, Any]], settings: Any) -> None:
    """Every batch through the ingest task's `convert_batch`, in order."""
    from mamori import ingest

    for b in batches:
        ingest.convert_batch(b, settings)


def _sample_as_before(self: Any, records: Any) -> None:
    """BatchObserver._sample at 0501a62: every key of every sampled record lower-cased and looked up."""
    from mamori.quality import observe

    if not isinstance(records, list):
        return
    for rec in records:
        if not isinstance(rec, dict):
            continue
        self.sampled_records += 1
        for k, v in rec.items():
            lk = k.lower()
            if lk not in self._known_top:
                self.fields[observe._bounded(k)] += 1
            elif lk == self._nested and isinstance(v, dict) and self._known_nested:
                for uk in v:
                    if uk.lower() not in self._known_nested:
                        self.fields[observe._bounded(f"{self.drift.nested_field}.{uk}")] += 1


@contextmanager
def _as_main_e02ec14() -> Iterator[None]:
    """convert_batch's lake I/O as main had it at e02ec14, before issue 19's fourth round: staged files written
    with no fsync until the batch's records were staged, then one wait syncing all of them from up to 8 threads
    started for the call; the publish's renames one after the other (the data-quality result placed after
    them); raw objects read through fsspec."""
    from concurrent.futures import ThreadPoolExecutor

    from mamori.lake import PendingRecords, StagedWrites, Store, fsync_path

    real = StagedWrites.write, StagedWrites.records, Store.move, Store.read_bytes

    def write(self: Any, key: str, data: bytes) -> None:
        self.store.stage(key, data)
        self.__dict__.setdefault("_unsynced", []).append(key)

    def records(self: Any, records: dict[str, bytes], staging: Any) -> Any:
        at = {key: staging(key) for key in records} if self.store.stages_records else {}
        for key, where in at.items():
            self.store.stage(where, records[key])
        keys = [*self.__dict__.pop("_unsynced", []), *at.values()]

        paths = [self.store.full(key) for key in keys]
        if len(paths) == 1:
            fsync_path(paths[0])
        elif paths:  # e02ec14 started a batch's threads for its one wait, and joined them after it
            with ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:
                list(pool.map(fsync_path, paths))
        return PendingRecords(self.store, records, at)

    def move(self: Any, pairs: list[tuple[str, str]]) -> None:
        for src, dst in pairs:
            full = self.full(dst)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            os.replace(self.full(src), full)

    def read_bytes(self: Any, key: str) -> bytes:
        data: bytes = self.fs.cat_file(self.full(key))
        return data

    StagedWrites.write, StagedWrites.records = write, records  # type: ignore[method-assign]
    Store.move, Store.read_bytes = move, read_bytes  # type: ignore[method-assign]
    try:
        yield
    finally:
        StagedWrites.write, StagedWrites.records, Store.move, Store.read_bytes = real  # type: ignore[method-assign]


@contextmanager
def _as_main_2e92fdb() -> Iterator[None]:
    """convert_batch with the costs issue 19's third round removed put back (main at 2e92fdb): each batch
    file's row count read back from its footer, dictionaries and statistics on every column of CloudTrail's
    batch files, every sampled object gunzipped and parsed again for drift, every partition gathered by its
    sort even when already in time order."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from mamori.lake import convert
    from mamori.quality import observe

    real = convert.write_parquet, convert._in_time_order, observe.BatchObserver.feed

    def write_parquet(
        table: Any, options: Any = None
    ) -> Any:  # zstd on every column of every file, dicts, stats everywhere, the Arrow schema stored
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, row_group_size=convert.ROW_GROUP_ROWS, compression="zstd")
        body = sink.getvalue().to_pybytes()
        return convert.LakeFile(body, pq.read_metadata(io.BytesIO(body)).num_rows)  # the read-back ingest did

    def in_time_order(table: Any) -> Any:
        order = pc.sort_indices(table, sort_keys=[("event_time", "ascending")])
        return table.take(order), order.to_numpy()

    def feed(self: Any, index: int, raw: Any, data: Any, parsed: Any = None) -> None:
        real[2](self, index, raw, data)

    convert.write_parquet, convert._in_time_order = write_parquet, in_time_order
    observe.BatchObserver.feed = feed  # type: ignore[method-assign]
    try:
        with _as_main_e02ec14():
            yield
    finally:
        convert.write_parquet, convert._in_time_order, observe.BatchObserver.feed = real  # type: ignore[method-assign]


@contextmanager
def _as_before() -> Iterator[None]:
    """convert_batch with the per-batch fixed costs this section's second round removed put back, for a
    before/after in one run (main at 0501a62): GX judges every batch's counts frame anew (no verdict reused
    per process), each of a batch's three records (`_publishing`, dq result, manifest) is written with its own
    temp + fsync + rename after the files' sync instead of staged and synced with them, and drift sampling
    lower-cases every key it sees."""
    from mamori.lake import Store
    from mamori.quality import observe, validate

    real = validate._counts_verdict, Store.stages_records, observe.BatchObserver._sample
    validate._counts_verdict = real[0].__wrapped__  # type: ignore[assignment]
    Store.stages_records = property(lambda self: False)  # type: ignore[method-assign,assignment]
    observe.BatchObserver._sample = _sample_as_before  # type: ignore[method-assign]
    try:
        with _as_main_2e92fdb():
            yield
    finally:
        validate._counts_verdict, Store.stages_records, observe.BatchObserver._sample = real  # type: ignore[method-assign]


def _conversion(hours: int, runs: int, alone: float, home: str) -> tuple[list[str], dict[str, Any]]:
    import orjson

    from mamori import ingest
    from mamori.config import load_settings
    from mamori.quality import validate
    from mamori.sources.base import gc_paused

    batches, bodies, n = _batches(hours, home)
    settings = load_settings({"MAMORI_HOME": home})
    validate._context()  # a warm process: GX's start-up is part 2's subject

    def floor() -> None:
        for objs in bodies:
            for d in objs:
                orjson.loads(gzip.decompress(d))

    def pandas_naive() -> None:
        naive_pandas(bodies)

    def mamori() -> None:
        convert_all(batches, settings)

    def before() -> None:
        with _as_before():
            mamori()

    def round3() -> None:
        with _as_main_2e92fdb():
            mamori()

    def round4() -> None:
        with _as_main_e02ec14():
            mamori()

    def without_gx() -> None:
        real = ingest.validate_table
        ingest.validate_table = lambda name, *a, **k: validate.BatchQuality(name)
        try:
            mamori()
        finally:
            ingest.validate_table = real

    gx_alone = 0.0

    def gx_only() -> None:  # the validation each batch runs, timed inside convert_batch
        nonlocal gx_alone
        real = ingest.validate_table

        def timed(*a: Any, **k: Any) -> Any:
            nonlocal gx_alone
            t = time.perf_counter()
            try:
                with gc_paused():
                    return real(*a, **k)
            finally:
                gx_alone += time.perf_counter() - t

        ingest.validate_table = timed
        try:
            mamori()
        finally:
            ingest.validate_table = real

    # Interleaved, one pass of each per repetition: load on a shared machine drifts between runs, and each
    # ratio below is of two medians measured under the same drift.
    passes = {
        "floor": floor,
        "pandas": pandas_naive,
        "before": before,
        "round3": round3,
        "round4": round4,
        "now": mamori,
        "bare": without_gx,
    }
    for fn in passes.values():
        fn()  # warm-up: lazy imports and caches must not land in a timed pass
    times: dict[str, list[float]] = {k: [] for k in passes}
    for _ in range(runs):
        for k, fn in passes.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    gx_only()
    per_batch = n / len(batches)
    t_floor, t_pandas, t_full = med["floor"], med["pandas"], med["now"]

    def row(label: str, t: float) -> str:
        return f"| {label} | {n / t:,.0f} | {t / len(batches) * 1000:.0f} | {t_floor / t:.2f}× | {t_pandas / t:.2f}× |"

    named = (
        f"**1k-batch conversion:** each side in a process of its own, `convert_batch` = {alone:.2f}× naive "
        f"pandas (target ≥ 2×: {'met' if alone >= 2 else 'not met'}); in one interpreter, passes interleaved: "
        f"{t_full / len(batches) * 1000:.0f} ms per ~{per_batch:,.0f}-event "
        f"batch = {t_pandas / t_full:.2f}× naive pandas, {t_floor / t_full:.2f}× the parse floor (main at "
        f"e02ec14: {t_pandas / med['round4']:.2f}×, at 2e92fdb: {t_pandas / med['round3']:.2f}×, at 0501a62: "
        f"{t_pandas / med['before']:.2f}×); same run, "
        f"medians of {runs} interleaved passes"
    )
    lines = [
        f"### Conversion at ~{TARGET_EVENTS:,}-event batches (one warm process)",
        "",
        named,
        "",
        f"{n:,} CloudTrail events in {len(batches)} batches of ~{per_batch:,.0f} events, one core; rates and ms "
        f"per batch are medians of {runs} passes over all batches, each pipeline's passes interleaved with the "
        "others'.",
        "",
        "| pipeline | events/s | ms per batch | vs parse floor | vs naive pandas |",
        "|---|---:|---:|---:|---:|",
        row("parse floor (gunzip + orjson)", t_floor),
        row("**`convert_batch`** (the ingest task's work, GX validation included)", t_full),
        row(
            "— main at e02ec14: staged files fsynced only after the last one, from threads started per batch; "
            "renames one after the other; raw objects read through fsspec",
            med["round4"],
        ),
        row(
            "— main at 2e92fdb: the same, and footers read back, dictionaries and statistics on every column, "
            "drift re-decoding its sample, every partition re-gathered by its sort",
            med["round3"],
        ),
        row(
            "— main at 0501a62: the same, and GX asked about every batch's counts, one fsync per record",
            med["before"],
        ),
        row("— the same with the GX validation stubbed out", med["bare"]),
        row("naive pandas per batch (`json_normalize` → zstd Parquet, no partitions, no checks)", t_pandas),
        "",
        f"GX validation inside `convert_batch`: {gx_alone / len(batches) * 1000:.0f} ms per batch, "
        f"{gx_alone / t_full:.0%} of the warm convert (the target, ≥ 2× naive pandas, is judged on the "
        "comparison below, each side in a process of its own).",
        "",
    ]
    return lines, batches[len(batches) // 2]


def _tasks(batch: dict[str, Any], home: str, quick: bool, runs: int) -> list[str]:
    path = Path(home) / "batch.json"  # beside the lake, in the home run() removes
    path.write_text(json.dumps(batch))
    repo = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ,
        MAMORI_HOME=home,
        PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    )
    for var in ("MAMORI_RAW_URL", "MAMORI_LAKE_URL", "MAMORI_LEDGER_URL", "MAMORI_OUTBOX_URL"):
        env.pop(var, None)  # the home's own stores, as the warm process used
    modes = [
        ("fresh", "a fresh interpreter per task (the proxy for a task that is its own process)", 1),
        ("fork-cold", "forked from a worker with Airflow loaded (before: every task loads GX)", runs),
        ("fork-warm", "forked from a worker after `warm_worker()` (now: the scheduler warms GX up)", runs),
    ]
    if (
        quick
    ):  # CI: one task per way, no fresh interpreter (it only repeats fork-cold's GX cost, plus imports)
        modes = [(m, label, 1) for m, label, _ in modes if m != "fresh"]
    lines = [
        f"### One convert task per process (the middle batch above: {len(batch['keys'])} delivery files)",
        "",
        "| how the task process starts | tasks | task (s) | of which GX (s) | — of which GX's import and "
        "context (s) | GX share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode, label, n in modes:
        out = subprocess.run(  # noqa: S603 - our interpreter, our script
            [sys.executable, str(CHILD), mode, str(path), str(n)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        ).stdout
        res = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        task, gx, start = (statistics.median(r[k] for r in res) for k in ("task", "gx", "gx_start"))
        lines.append(f"| {label} | {len(res)} | {task:.2f} | {gx:.2f} | {start:.2f} | {gx / task:.0%} |")
    return [
        *lines,
        "",
        "Under Airflow's LocalExecutor, each task is a fork of a long-lived worker, itself forked from the "
        "scheduler when the executor starts; the plugin's listener (`WarmTaskWorkers`) runs "
        "`mamori.ingest.warm_worker()` in the scheduler before that, so every task starts like the last row. "
        "Celery workers are not warmed yet: their tasks start like the second row.",
        "",
    ]


ALONE = Path(__file__).with_name("_alone_child.py")
ALONE_PASSES = 9


def _alone_pairs(hours: int, pairs: int) -> tuple[list[str], float]:
    """naive pandas and `convert_batch`, each in a process of its own (`_alone_child.py`: its own collector),
    one after the other, `pairs` times: the ratio of each pair, their median, and the CPU time beside it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MAMORI_"))}
    got: dict[str, list[dict[str, float]]] = {"pandas": [], "mamori": []}
    for _ in range(pairs):
        for side in got:
            out = subprocess.run(  # noqa: S603 - our interpreter, our script
                [sys.executable, str(ALONE), side, str(hours), str(ALONE_PASSES)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            got[side].append(json.loads(out.strip().splitlines()[-1]))
    pairs_got = list(zip(got["pandas"], got["mamori"], strict=True))
    wall = statistics.median(p["wall_ms"] / m["wall_ms"] for p, m in pairs_got)
    cpu = statistics.median(p["cpu_ms"] / m["cpu_ms"] for p, m in pairs_got)
    each = ", ".join(f"{p['wall_ms']:.0f} / {m['wall_ms']:.0f} ms" for p, m in pairs_got)
    lines = [
        f"**Each side in a process of its own** (the same batches; naive pandas, then `convert_batch` in a warm "
        f"process, {pairs} pair(s) one after the other, each the median of {ALONE_PASSES} passes; every process "
        f"with the interpreter's default garbage collection, as a user's script or a task runs): `convert_batch` "
        f"= **{wall:.2f}× naive pandas** in wall time (target ≥ 2×: {'met' if wall >= 2 else 'not met'}) "
        f"(median of the pairs; each pair pandas / convert per batch: {each}), {cpu:.2f}× in CPU time. The "
        "one-process "
        "table above interleaves the passes in one interpreter, where a pass can also pay the collections the "
        "garbage of the pass before it triggers: its pandas row moves between ~60 and ~100 ms per batch with "
        "the order of the passes, which is why this comparison is the one to read for the target.",
        "",
    ]
    return lines, wall


def run(quick: bool, runs: int) -> list[str]:
    # 3 pairs even in quick mode (~50 s more): on this machine one pair's ratio moves by ±0.3 between runs of
    # the same code, so the target's verdict from a single pair was a coin toss near 2x.
    alone, ratio = _alone_pairs(6, max(3, runs))  # quick mode's 1k batches either way: the target's
    with tempfile.TemporaryDirectory(prefix="mamori-bench-gx-", ignore_cleanup_errors=True) as home:
        lines, batch = _conversion(6 if quick else 24, runs, ratio, home)  # ~1 s per pass in quick mode
        return [*lines, *alone, *_tasks(batch, home, quick, runs)]
