"""End to end: one hour of every source, landed → Parquet → detections → local Markdown ticket, through the
real DAGs on the embedded default (DuckDB, SQLite ledger, local outbox), wall time split by stage.

Each run is a child process (bench/sections/_e2e_child.py) with a fresh MAMORI_HOME and AIRFLOW_HOME (SQLite
metadata DB), because Airflow fixes its configuration at import. In it, the generators' hour [01:00, 02:00)
with its attack-story steps is landed in the ingest window [02:00, 03:00), then `dag.test()` runs, for that
window, `ingest_<source>` for every source, `detect` and `dispatch_alerts` (as `make demo` does); per-task
start, end and duration come back from the metadata DB's task_instance table. The same-run baseline is the
same pipeline functions (plan_window, convert_batch, finalize_window, run_chunk, dispatch) called directly on
the same objects in another fresh home, so each row shows what Airflow adds to that stage.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

TITLE = "End to end (Airflow)"
ORDER = 60
REPO = Path(__file__).resolve().parents[2]
SEED = 7


def one_run(quick: bool, timeout: float) -> dict[str, Any]:
    """One child process in fresh homes; its JSON result."""
    with tempfile.TemporaryDirectory(prefix="mamori-e2e-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MAMORI_"))}
        env.update(
            MAMORI_HOME=str(work / "home"),
            AIRFLOW_HOME=str(work / "airflow"),
            AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            GX_ANALYTICS_ENABLED="False",
            # The hour this section measures, set before the child parses any DAG: a DAG's timetable is read
            # from the environment when its file is parsed, and at the 5-minute default the child's dag.test()
            # runs got 5-minute data intervals while its detect run waited for an hourly ingest window forever.
            MAMORI_INGEST_INTERVAL_MINUTES="60",
            MAMORI_DETECT_LAG_MINUTES="60",
            MAMORI_DETECT_OVERLAP_MINUTES="0",
        )
        cfg = {"quick": quick, "seed": SEED, "work": str(work), "out": str(work / "result.json")}
        with open(work / "child.log", "wb") as log:
            proc = subprocess.run(  # noqa: S603 - our interpreter, our module, fixed argv
                [sys.executable, "-m", "bench.sections._e2e_child", orjson.dumps(cfg).decode()],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if proc.returncode != 0:
            tail = (work / "child.log").read_text(errors="replace")[-3000:]
            runs_log = work / "airflow-runs.log"
            extra = runs_log.read_text(errors="replace")[-3000:] if runs_log.exists() else ""
            raise RuntimeError(
                f"e2e child failed ({proc.returncode}):\n{tail}\n--- Airflow log tail ---\n{extra}"
            )
        result: dict[str, Any] = orjson.loads((work / "result.json").read_bytes())
        return result


def _tis(run: dict[str, Any], task: str) -> list[float]:
    return [float(t["duration"]) for t in run["tis"] if t["task"] == task and t["duration"] is not None]


def _run(a: dict[str, Any], dag: str) -> dict[str, Any]:
    return next(r for r in a["runs"] if r["dag"] == dag)


def _overhead(run: dict[str, Any]) -> dict[str, float]:
    """dag.test() wall time minus task durations, and where the rest went (task_instance timestamps)."""
    ran = sorted((t for t in run["tis"] if t["start"] is not None), key=lambda t: t["start"])
    tasks = sum(float(t["duration"] or 0.0) for t in ran)
    before = ran[0]["start"] - run["w0"] if ran else run["wall"]
    after = run["w1"] - max(t["end"] for t in ran) if ran else 0.0
    return {
        "wall": run["wall"],
        "tasks": tasks,
        "overhead": run["wall"] - tasks,
        "before": before,
        "after": after,
        "between": run["wall"] - tasks - before - after,
    }


# direct s, Airflow task s, the mamori call in it s, Airflow's own s (task − call), XCom pushes, seconds in them
Row = tuple[float | None, ...]


def stages(r: dict[str, Any]) -> dict[str, Row]:
    """One run's seconds per stage; keys are the table's row labels."""
    d, a = r["direct"], r["airflow"]
    sources = list(d["plan"])
    ingest = [_run(a, f"ingest_{s}") for s in sources]
    det, disp = _run(a, "detect"), _run(a, "dispatch_alerts")
    pushes: dict[str, list[float]] = a["pushes"]
    calls: dict[str, list[float]] = a["calls"]

    def row(direct_s: float, airflow_s: float, call_keys: list[str], push_keys: list[str]) -> Row:
        got = [pushes.get(k, [0, 0.0]) for k in push_keys]
        call = sum(calls.get(k, [0, 0.0])[1] for k in call_keys)
        return (direct_s, airflow_s, call, airflow_s - call, sum(g[0] for g in got), sum(g[1] for g in got))

    def per_source(fn: str, task: str) -> Row:
        return row(
            sum(d[task].values()),
            sum(sum(_tis(run, task)) for run in ingest),
            [f"{fn}:{s}" for s in sources],
            [f"ingest_{s}.{task}" for s in sources],
        )

    def detect_task(direct_s: float, task: str, fn: str) -> Row:
        return row(direct_s, sum(_tis(det, task)), [fn], [f"detect.{task}"])

    blank: Row = (None,) * 6
    out: dict[str, Row] = {"land (raw objects written)": (d["land"], a["land"], None, None, None, None)}
    out["plan (Σ sources)"] = per_source("plan_window", "plan")
    for s, run in zip(sources, ingest, strict=True):
        da, dd = _tis(run, "convert"), d["convert"][s]
        conv = row(sum(dd), sum(da), [f"convert_batch:{s}"], [f"ingest_{s}.convert"])
        if not (dd or da):
            out[f"convert {s} (nothing landed: 0 tasks)"] = blank
        elif max(len(dd), len(da)) == 1:
            out[f"convert {s} (1 task)"] = conv
        else:
            out[f"convert {s}: tasks"] = (len(dd), len(da), None, None, None, None)
            out[f"convert {s}: Σ"] = conv
            out[f"convert {s}: max"] = (max(dd), max(da), None, None, None, None)
    out["finalize (Σ sources)"] = per_source("finalize_window", "finalize")
    out["detect: wait_for_ingest"] = detect_task(d["sensor"], "wait_for_ingest", "sources_ready")
    out["detect: list_detections"] = detect_task(d["list"], "list_detections", "detection_chunks")
    chunks = _tis(det, "run_detections")
    out["detect: run_detections tasks"] = (len(d["chunks"]), len(chunks), None, None, None, None)
    out["detect: run_detections Σ"] = detect_task(sum(d["chunks"]), "run_detections", "run_chunk")
    out["detect: run_detections max"] = (max(d["chunks"]), max(chunks), None, None, None, None)
    out["detect: record"] = detect_task(d["record"], "record", "summarize_window")
    out["dispatch (tickets written)"] = row(
        d["dispatch"], sum(_tis(disp, "dispatch")), ["dispatch"], ["dispatch_alerts.dispatch"]
    )
    out["dispatch: sync"] = row(d["sync"], sum(_tis(disp, "sync")), ["sync_alerts"], ["dispatch_alerts.sync"])
    over = sum(_overhead(run)["overhead"] for run in [*ingest, det, disp])
    out["Airflow overhead (Σ dag.test() wall − Σ task durations)"] = (None, over, None, over, None, None)
    total = row(d["total"], a["total"], list(calls), list(pushes))
    # Airflow's own part of the total: neither landing nor a mamori call.
    out["total land → ticket"] = (*total[:3], a["total"] - a["land"] - (total[2] or 0.0), *total[4:])
    return out


def _median(rows: list[dict[str, Any]], pick: Callable[[dict[str, Any]], float | None]) -> float | None:
    vals = [v for v in (pick(r) for r in rows) if v is not None]
    return statistics.median(vals) if vals else None


def _s(v: float | None, count: bool = False) -> str:
    if v is None:
        return ""
    return f"{v:.0f}" if count else f"{v:.3f}"


def _stage_table(results: list[dict[str, Any]]) -> list[str]:
    per_run = [stages(r) for r in results]
    lines = [
        "| stage | direct call (s) | Airflow task (s) | — the mamori call in it (s) | — Airflow's own: task − "
        "call (s) | — of which XCom pushes: n, s | Airflow / direct |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label in per_run[0]:
        count = label.endswith(" tasks")
        dv, av, cv, ov, pn, ps = (_median(per_run, lambda p: p[label][i]) for i in range(6))  # noqa: B023
        ratio = f"{av / dv:.1f}×" if dv and dv >= 0.005 and av is not None and not count else ""
        pushed = f"{pn:.0f}, {ps:.3f}" if pn and ps is not None else ""
        name = f"**{label}**" if label.startswith("total") else label
        lines.append(
            f"| {name} | {_s(dv, count)} | {_s(av, count)} | {_s(cv)} | {_s(ov)} | {pushed} | {ratio} |"
        )
    return lines


def _dag_table(results: list[dict[str, Any]]) -> list[str]:
    dags = [r["dag"] for r in results[0]["airflow"]["runs"]]
    lines = [
        "| DAG run | dag.test() wall (s) | Σ task durations (s) | overhead (s) | before first task | "
        "between tasks | after last task | task instances | XCom rows |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dag in dags:
        o = [_overhead(_run(r["airflow"], dag)) for r in results]
        m = {k: statistics.median(x[k] for x in o) for k in o[0]}
        run = _run(results[0]["airflow"], dag)
        lines.append(
            f"| {dag} | {m['wall']:.3f} | {m['tasks']:.3f} | {m['overhead']:.3f} | {m['before']:.3f} | "
            f"{m['between']:.3f} | {m['after']:.3f} | {len(run['tis'])} | {sum(run['xcoms'].values())} |"
        )
    return lines


def _events_table(r: dict[str, Any]) -> list[str]:
    d, a = r["direct"], r["airflow"]
    lines = [
        "| source | objects landed | records in | rows in the lake | quarantined | convert tasks |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s, row in d["rows"].items():
        lines.append(
            f"| {s} | {r['objects'][s]} | {row['records_in']:,} | {row['rows_out']:,} | {row['quarantined']} | "
            f"{len(_tis(_run(a, f'ingest_{s}'), 'convert'))} |"
        )
    total = sum(row["records_in"] for row in d["rows"].values())
    lines.append(f"| **all** | {sum(r['objects'].values())} | {total:,} | | | |")
    return lines


def _extra_pushes(results: list[dict[str, Any]]) -> tuple[list[str], float, float, float]:
    """Tasks that pushed more XComs than they have instances (TaskFlow inferred multiple_outputs from a
    `-> dict[...]` annotation): their names, the extra pushes, the seconds in them (median) and all pushes."""
    names: set[str] = set()
    extra, secs, total = [], [], []
    for r in results:
        a = r["airflow"]
        n_extra = s_extra = 0.0
        for key, (n, sec) in a["pushes"].items():
            dag, task = key.split(".", 1)
            tis = sum(1 for t in _run(a, dag)["tis"] if t["task"] == task and t["state"].endswith("success"))
            if n > tis:
                names.add(task)
                n_extra += n - tis
                s_extra += sec * (n - tis) / n
        extra.append(n_extra)
        secs.append(s_extra)
        total.append(sum(n for n, _ in a["pushes"].values()))
    return sorted(names), statistics.median(extra), statistics.median(secs), statistics.median(total)


def run(quick: bool, runs: int) -> list[str]:
    n = 1 if quick else max(1, runs)
    t0 = time.perf_counter()
    results = [one_run(quick, timeout=600 if quick else 1200) for _ in range(n)]
    elapsed = time.perf_counter() - t0
    first = results[0]
    d, a = first["direct"], first["airflow"]
    consistent = all(
        r["direct"]["tickets"] == r["airflow"]["tickets"]
        and all(
            r["direct"]["rows"][s]["rows_out"] == r["airflow"]["rows"][s]["rows_out"] for s in r["objects"]
        )
        for r in results
    )
    story = ", ".join(first["steps"])
    det = _run(a, "detect")
    chunk_tasks = len(_tis(det, "run_detections"))
    multi, n_extra, s_extra, n_push = _extra_pushes(results)

    def gcs(side: str) -> str:
        n = statistics.median(len(r[side]["full_gc"]) for r in results)
        t = statistics.median(sum(r[side]["full_gc"]) for r in results)
        return f"{n:.0f} ({t:.2f} s)"

    def per_task(r: dict[str, Any]) -> tuple[float, int]:
        """Seconds per task instance that are neither the mamori call nor XCom pushes, and the count."""
        a = r["airflow"]
        ran = [t for run in a["runs"] for t in run["tis"] if t["duration"] is not None]
        rest = sum(t["duration"] for t in ran) - sum(c[1] for c in a["calls"].values())
        rest -= sum(p[1] for p in a["pushes"].values())
        return rest / len(ran), len(ran)

    wrap = statistics.median(per_task(r)[0] for r in results)
    n_tis = per_task(first)[1]
    record_call = statistics.median(
        r["airflow"]["calls"].get("summarize_window", [0, 0.0])[1] for r in results
    )

    def conns(side: str) -> str:
        n = statistics.median(len(r[side]["conn"]) for r in results)
        t = statistics.median(sum(r[side]["conn"]) for r in results)
        return f"{n:.0f} lookups in {t:.3f} s"

    empty = [s for s, k in first["objects"].items() if k == 0]
    cold = statistics.median(r["cold"]["first_task"] for r in results)
    lines = [
        f"One hourly window, land → ticket, on the embedded default (DuckDB, SQLite ledger, local outbox); "
        f"{'quick mode: 1 run (CI-sized volume)' if quick else f'median of {n} runs'}, each run a child "
        "process with a fresh MAMORI_HOME and AIRFLOW_HOME (SQLite metadata DB). The generators' hour "
        f"{first['hour'][11:16]}–{int(first['hour'][11:13]) + 1:02d}:00 of every source (seed {SEED}) is "
        f"landed in the ingest window starting {first['window'][11:16]}; then `dag.test()` runs, for that window, "
        f"`ingest_<source>` ×{len(d['plan'])}, `detect` ({chunk_tasks} mapped chunk tasks) and "
        "`dispatch_alerts`. Airflow task: durations from the metadata DB's `task_instance` table; of which "
        "the mamori call the task body makes, and Airflow's XCom pushes of its result (both timed in the "
        "child by wrapping them). "
        "Direct: the same pipeline calls without Airflow (`plan_window` → `convert_batch` → "
        "`finalize_window`, `sources_ready`, `detection_chunks`, `run_chunk` per chunk, `dispatch`, "
        "`sync_alerts`) on the same objects in another fresh home, measured in the same process after a "
        'warm-up pass, so neither side pays first imports. Airflow\'s cost per stage is the "own" column '
        "(task − call): it leaves out the mamori call, whose time varies between runs with the machine's "
        "load on both paths alike.",
        "",
        f"Story steps in the hour: {story}.",
        "",
        *_events_table(first),
        "",
        f"Tickets written (local outbox Markdown): {len(a['tickets'])} through Airflow, {len(d['tickets'])} "
        f"direct (from {d['alerts']} alerts of this detect run); "
        + (
            "same tickets and lake rows on both paths in every run."
            if consistent
            else "**tickets or lake rows differ between the paths** (see the child's output)."
        ),
        "",
        *_stage_table(results),
        "",
        "Where Airflow's overhead goes, per DAG run (before first task: `dag.test()` serializes the DAG, "
        "re-syncs the DAG folder to the metadata DB and creates the run; between tasks: its scheduling loop, "
        "state and XCom commits):",
        "",
        *_dag_table(results),
        "",
        f"- Not in the table: the first task a process runs under `dag.test()` took {cold:.1f} s (a `plan` "
        "of an empty window, on a warm-up run): dag.test() starts its in-process execution API then, once "
        "per process. Parsing the DAG folder takes "
        f"{statistics.median(r['dag_parse'] for r in results):.3f} s; creating the metadata DB "
        f"(`db.initdb()`) {statistics.median(r['initdb'] for r in results):.1f} s.",
        "- `dag.test()` runs every task in this one process; under the scheduler each task instance is its "
        "own process and also pays its start-up (interpreter, DAG file, mamori imports), which this "
        "section does not measure.",
        f"- Around the call, each of the {n_tis} task instances costs ~{wrap * 1000:.0f} ms besides its XCom "
        "pushes (queued → running, rendered fields, success: each a request to the execution API and a "
        "commit to the metadata DB), which is why the small tasks (`plan`, `finalize`, `record`, `sync`) "
        "are many times their direct call.",
        f"- `record`'s call takes {record_call:.3f} s inside the task against ~0 direct: `summarize_window` "
        "iterates the mapped chunk results, which in a task is a lazy XCom sequence (one execution-API "
        "request per chunk).",
        *(
            [
                f"- {', '.join(f'`ingest_{s}`' for s in empty)}: nothing landed this hour, so `convert` maps "
                "over zero batches; `dag.test()` then finds no runnable task in that loop pass and sleeps 1 s "
                "before it schedules `finalize` (the ~1 s between tasks above; the scheduler has its own loop)."
            ]
            if empty
            else []
        ),
        *(
            [
                f"- {', '.join(f'`{t}`' for t in multi)} return `dict[str, Any]`, so TaskFlow infers "
                "`multiple_outputs=True`: besides `return_value`, every key of the returned dict is pushed as "
                f"its own XCom (an execution-API call and a metadata-DB row each): {n_extra:.0f} of the "
                f"{n_push:.0f} pushes of this window, ~{s_extra:.2f} s of task time (execution API in process "
                "here). No task in dags/ reads those keys; `@task(multiple_outputs=False)` on these tasks "
                "would drop them."
            ]
            if multi
            else []
        ),
        f"- `dispatch` asks once per output and run whether it is configured (`configured()` → "
        f"`BaseHook.get_connection`): {conns('direct')} direct, {conns('airflow')} in the task, where each is "
        "a request to the execution API (it asked once per alert and output before: 40 lookups, 0.29 s, for "
        "this window). Results annotated `-> dict` no longer become one XCom per key (`multiple_outputs` off): "
        "180 XCom writes and 0.955 s of finalize before, for the same window.",
        f"- Full garbage collections in the timed passes: direct {gcs('direct')}, Airflow {gcs('airflow')}. "
        "The heap left by imports and the warm-up (Airflow, GX, DuckDB, sqlglot) is frozen first "
        "(`gc.freeze()`, as a long-lived worker would do): unfrozen, one full collection of it takes ~1 s "
        "here and lands in whichever task triggers it.",
        f"- Section wall time: {elapsed:.0f} s for {n} run(s).",
        "",
    ]
    return lines
