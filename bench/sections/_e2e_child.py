"""Child process of the end-to-end section: one run, land → ticket, directly and through Airflow.

A child because Airflow reads AIRFLOW_HOME and its configuration when first imported: the parent sets a fresh
MAMORI_HOME/AIRFLOW_HOME in this process's environment, so the bench process never imports Airflow and each
run starts from an empty metadata DB. Usage: `python -m bench.sections._e2e_child <config json>`; the result
is written as JSON to the config's `out` path (stdout carries nothing but Airflow noise).

The hour: events of [H, H+1h) from the generators (every source, the attack story included), re-landed inside
the one ingest window [H+1h, H+2h) in their delivery order. That window is what the detect run for [H, H+1h)
waits for (detection window = data interval − MAMORI_DETECT_LAG_MINUTES, pinned to 60 here), so one ingest run per
source, one detect run and one dispatch run carry the hour from land to ticket on the embedded defaults.
"""

from __future__ import annotations

import functools
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

START = datetime(2026, 11, 1, tzinfo=UTC)
GEN_HOURS = 6  # the CloudTrail story needs ≥ 6 h; only one hour of it is landed
HOUR = START + timedelta(hours=1)  # the hour with story steps of four sources (CloudTrail, ALB, syslog, VPC)
DELIVERY = timedelta(minutes=15)  # objects landing up to this long after the hour still belong to it
WINDOW = HOUR + timedelta(hours=1)  # the ingest (landing) window that carries the hour

Obj = tuple[str, bytes, datetime]


def hour_objects(quick: bool, seed: int) -> tuple[dict[str, list[Obj]], list[Any]]:
    """Raw objects of HOUR per source, with landing times mapped into WINDOW, and the hour's story steps."""
    from mamori.dev.generate import get_generator
    from mamori.sources import SOURCES
    from mamori.sources.alb.generate import generate_alb
    from mamori.sources.cloudtrail.generate import generate_cloudtrail

    sizes: dict[str, Callable[..., list[Any]]] = {
        "cloudtrail": functools.partial(generate_cloudtrail, events_per_file=10 if quick else 40),
        "alb": functools.partial(generate_alb, requests_per_file=5 if quick else 25),
    }
    out: dict[str, list[Obj]] = {}
    steps: list[Any] = []
    span = timedelta(hours=1) + DELIVERY
    for name in SOURCES:
        gen = sizes.get(name) or get_generator(name)
        if gen is None:
            continue
        objs: list[Obj] = []
        steps += [
            st
            for st in gen(lambda k, d, t: objs.append((k, d, t)), START, hours=GEN_HOURS, seed=seed)  # noqa: B023
            if HOUR <= st.time < HOUR + timedelta(hours=1)
        ]
        # Order-preserving squeeze of [HOUR, HOUR + 1h + DELIVERY) into [WINDOW, WINDOW + 1h).
        out[name] = [
            (k, d, WINDOW + (t - HOUR) * (timedelta(minutes=59) / span))
            for k, d, t in objs
            if HOUR <= t < HOUR + timedelta(hours=1) + DELIVERY
        ]
    return out, sorted(steps, key=lambda st: st.time)


def land(objects: dict[str, list[Obj]], settings: Any) -> float:
    from mamori.lake import Store

    raw = Store(settings.raw_url, settings.raw_conn_id)
    os.sync()  # every object is fsynced: start both paths with no earlier writes pending on the disk
    t = time.perf_counter()
    for objs in objects.values():
        for k, d, landed in objs:
            raw.write_atomic(k, d)
            raw.set_landed(k, landed)
    return time.perf_counter() - t


def tickets(settings: Any) -> list[str]:
    """Markdown tickets in the local outbox (the embedded default's only output), as detection/key."""
    root = Path(settings.outbox_url.removeprefix("file://")) / "tickets"
    return sorted(str(p.relative_to(root)) for p in root.glob("*/*.md"))


def use_home(home: Path) -> Any:
    """Point this process (and so every Airflow task, which runs in it under dag.test()) at a fresh home."""
    from mamori.config import load_settings

    home.mkdir(parents=True)
    os.environ["MAMORI_HOME"] = str(home)
    # One 60-minute lag for every source and no re-reads: the hour's one detect run evaluates exactly HOUR,
    # as this section has always measured (per-source lags would split it over two runs' windows).
    os.environ["MAMORI_DETECT_LAG_MINUTES"] = "60"
    os.environ["MAMORI_DETECT_OVERLAP_MINUTES"] = "0"
    # One hourly ingest and detect window, as measured before the 5-minute default.
    os.environ["MAMORI_INGEST_INTERVAL_MINUTES"] = "60"
    return load_settings()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def direct(objects: dict[str, list[Obj]], home: Path) -> dict[str, Any]:
    """The pipeline functions the DAG tasks call, in DAG order, with no Airflow in between."""
    from mamori import detect, ingest

    s = use_home(home)
    t0 = time.perf_counter()
    res: dict[str, Any] = {"land": land(objects, s), "plan": {}, "convert": {}, "finalize": {}, "rows": {}}
    end = WINDOW + s.ingest_interval
    for name in objects:
        res["plan"][name], batches = timed(lambda: ingest.plan_window(name, WINDOW, end, s))  # noqa: B023
        res["convert"][name] = [timed(lambda: ingest.convert_batch(b, s))[0] for b in batches]  # noqa: B023
        res["finalize"][name], summary = timed(lambda: ingest.finalize_window(name, WINDOW, end, s))  # noqa: B023
        res["rows"][name] = {k: summary[k] for k in ("objects", "records_in", "rows_out", "quarantined")}
    # The detect run whose data interval is the ingest window: detection window = HOUR.
    res["sensor"], ready = timed(lambda: detect.sources_ready(end, s))
    if not ready:
        raise RuntimeError("ingest windows not finalized after the direct ingest")
    res["list"], chunks = timed(lambda: detect.detection_chunks(s))
    res["chunks"], results = [], []
    for ids in chunks:
        dt, r = timed(lambda: detect.run_chunk(ids, WINDOW, end, s))  # noqa: B023
        res["chunks"].append(dt)
        results.append(r)
    res["record"], summary = timed(lambda: detect.summarize_window(results))
    res["dispatch"], _ = timed(lambda: detect.dispatch(s))
    res["sync"], _ = timed(lambda: detect.sync_alerts(s))
    res["total"] = time.perf_counter() - t0
    res["alerts"], res["tickets"] = len(summary["alerts"]), tickets(s)
    return res


PUSHES: dict[str, list[float]] = {}  # "dag.task" → [XCom pushes, seconds in them], this run's tasks
FULL_GC: list[float] = []  # seconds of each full (generation 2) collection
CONN: list[float] = []  # seconds of each Airflow connection lookup (which outputs are configured)
# "function[:source]" → [calls, seconds]: the mamori call a task body makes
CALLS: dict[str, list[float]] = {}

TASK_CALLS = {
    "ingest": ("plan_window", "convert_batch", "finalize_window"),
    "detect": (
        "sources_ready",
        "detection_chunks",
        "run_chunk",
        "summarize_window",
        "dispatch",
        "sync_alerts",
    ),
}


def instrument() -> None:
    """Time every XCom push of a task (task_runner's one entry point for them) and every full collection.

    Bench-side wrapping only: behaviour is unchanged, the split says how much of a task's duration was
    spent handing its results to Airflow rather than in the mamori call."""
    from airflow.sdk.execution_time import task_runner

    push = task_runner._xcom_push

    def timed_push(ti: Any, key: str, value: Any, **kw: Any) -> None:
        t = time.perf_counter()
        try:
            push(ti, key, value, **kw)
        finally:
            acc = PUSHES.setdefault(f"{ti.dag_id}.{ti.task_id}", [0, 0.0])
            acc[0] += 1
            acc[1] += time.perf_counter() - t

    task_runner._xcom_push = timed_push

    from airflow.sdk import BaseHook

    lookup = BaseHook.get_connection.__func__  # type: ignore[attr-defined]

    def timed_lookup(cls: Any, conn_id: str) -> Any:
        t = time.perf_counter()
        try:
            return lookup(cls, conn_id)
        finally:
            CONN.append(time.perf_counter() - t)

    BaseHook.get_connection = classmethod(timed_lookup)  # type: ignore[method-assign,assignment]
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started[:] = [time.perf_counter()]
            elif started:
                FULL_GC.append(time.perf_counter() - started[0])

    gc.callbacks.append(on_gc)

    # The one mamori call each task body makes (dags/ look them up on the module at run time), so a task's
    # duration splits into that call and what Airflow does around it.
    import importlib

    for mod_name, names in TASK_CALLS.items():
        mod = importlib.import_module(f"mamori.{mod_name}")
        for name in names:
            setattr(mod, name, _timed_call(name, getattr(mod, name)))


def _timed_call(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kw: Any) -> Any:
        first = args[0] if args else None
        source = first if isinstance(first, str) else first.get("source") if isinstance(first, dict) else None
        key = f"{name}:{source}" if source else name
        t = time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            acc = CALLS.setdefault(key, [0, 0.0])
            acc[0] += 1
            acc[1] += time.perf_counter() - t

    return wrapper


def airflow(objects: dict[str, list[Obj]], home: Path, bag: Any, log_path: Path) -> dict[str, Any]:
    """The same hour through the real DAGs: dag.test() per run, timings read back from the metadata DB."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import func

    from mamori.dev.demo import _output_to, without_deadline
    from mamori.ingest import window_summaries

    s = use_home(home)
    res: dict[str, Any] = {"land": land(objects, s), "runs": []}
    logical = WINDOW + s.ingest_interval  # [WINDOW, WINDOW + 1h): the data interval of every run below
    order = [f"ingest_{name}" for name in objects] + ["detect", "dispatch_alerts"]
    for dag_id in order:
        w0 = time.time()
        with _output_to(log_path), without_deadline(bag.dags[dag_id]):
            run = bag.dags[dag_id].test(logical_date=logical)
        w1 = time.time()
        with create_session() as session:
            tis = (
                session.query(TaskInstance)
                .filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
                .all()
            )
            xcoms = dict(
                session.query(XComModel.task_id, func.count())
                .filter(XComModel.dag_id == dag_id, XComModel.run_id == run.run_id)
                .group_by(XComModel.task_id)
                .all()
            )
            rows = [
                {
                    "task": ti.task_id,
                    "map_index": ti.map_index,
                    "state": str(ti.state),
                    "start": ti.start_date.timestamp() if ti.start_date else None,
                    "end": ti.end_date.timestamp() if ti.end_date else None,
                    "duration": ti.duration,
                }
                for ti in tis
            ]
        res["runs"].append(
            {
                "dag": dag_id,
                "state": str(run.state),
                "interval": [str(run.data_interval_start), str(run.data_interval_end)],
                "wall": w1 - w0,
                "w0": w0,
                "w1": w1,
                "tis": rows,
                "xcoms": xcoms,
            }
        )
        if "success" not in str(run.state):
            raise RuntimeError(f"{dag_id} run {run.run_id} ended {run.state}; see {log_path}")
    res["pushes"] = dict(PUSHES)
    res["total"] = res["land"] + sum(r["wall"] for r in res["runs"])  # not the read-back of timings
    res["tickets"] = tickets(s)
    res["rows"] = {
        name: {
            k: sum(w.totals()[k] for w in window_summaries(name, s))
            for k in ("objects", "records_in", "rows_out")
        }
        for name in objects
    }
    return res


def cold_start(bag: Any, log_path: Path) -> dict[str, float]:
    """One dag.test() of an empty ingest window (an hour before anything landed, on the warm-up home): the
    first task a process runs under dag.test() starts the in-process execution API."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from mamori.dev.demo import _output_to, without_deadline

    dag_id = "ingest_cloudtrail_insights"
    w0 = time.perf_counter()
    with _output_to(log_path), without_deadline(bag.dags[dag_id]):
        run = bag.dags[dag_id].test(logical_date=START)
    wall = time.perf_counter() - w0
    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .filter(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run.run_id,
                TaskInstance.task_id == "plan",
            )
            .one()
        )
        return {"wall": wall, "first_task": float(ti.duration or 0.0)}


def main(cfg: dict[str, Any]) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    from mamori.cli import _embedded_env
    from mamori.dev.demo import _output_to

    work = Path(cfg["work"])
    _embedded_env()
    log_path = work / "airflow-runs.log"
    t_gen, (objects, steps) = timed(lambda: hour_objects(cfg["quick"], cfg["seed"]))
    if not any(st.detections for st in steps):
        raise RuntimeError(f"no story step with a detection in {HOUR}")
    with _output_to(log_path):
        t_db, _ = timed(db.initdb)
        parse = []
        for _ in range(3):  # what dag.test() repeats before every run (it re-syncs the DAG folder)
            dt, bag = timed(lambda: DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]))
            parse.append(dt)
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    # Warm-up on a scratch home: first imports (DuckDB, GX, pandas) and caches are paid by neither timed path,
    # nor is dag.test()'s one-time start of its in-process execution API (measured here, reported apart).
    with _output_to(log_path):
        direct(objects, work / "mamori-warmup")
        cold = cold_start(bag, log_path)
    # The process now holds Airflow, GX, DuckDB, sqlglot...: a full collection of that heap takes ~1 s on this
    # machine and would land in whichever timed task triggers it. Freeze it, as a long-lived worker would.
    gc.collect()
    gc.freeze()
    instrument()
    PUSHES.clear()
    with _output_to(log_path):
        d = direct(objects, work / "mamori-direct")
        d["full_gc"], FULL_GC[:] = list(FULL_GC), []
        d["conn"], CONN[:] = list(CONN), []
        CALLS.clear()
        a = airflow(objects, work / "mamori-airflow", bag, log_path)
        a["full_gc"], a["conn"], a["calls"] = list(FULL_GC), list(CONN), dict(CALLS)
    return {
        "generate": t_gen,
        "initdb": t_db,
        "dag_parse": statistics.median(parse),
        "cold": cold,
        "objects": {name: len(objs) for name, objs in objects.items()},
        "steps": [f"{st.time:%H:%M} {','.join(st.detections) or '-'}" for st in steps],
        "hour": HOUR.isoformat(),
        "window": WINDOW.isoformat(),
        "direct": d,
        "airflow": a,
    }


if __name__ == "__main__":
    config = orjson.loads(sys.argv[1])
    result = main(config)
    Path(config["out"]).write_bytes(orjson.dumps(result))
