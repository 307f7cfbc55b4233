"""One ingest convert task per process, started the three ways a task can start (gx_task_cost runs this file).

`python _task_child.py MODE BATCH_JSON RUNS` prints one JSON line per task: the task's seconds from process start
(fresh) or fork (the others) to the end of its `convert_batch`; of those, the seconds in `validate_table` (Great
Expectations), and of these the seconds its import and context took on first use.

- fresh: a new interpreter per task that imports what the task imports and converts (the task is the process);
- fork-cold: a worker that imported Airflow's task supervisor only (as a LocalExecutor worker has) forks one
  process per task, which imports mamori.ingest (the DAG file's import) and converts: how tasks started before
  the warm-up;
- fork-warm: the same worker after `mamori.ingest.warm_worker()` (what the plugin's listener runs in the
  scheduler, whose forked workers inherit it): how tasks start now.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def _task(batch: dict[str, Any], started: float) -> dict[str, float]:
    from mamori import ingest
    from mamori.quality import validate

    spent = {"gx": 0.0, "gx_start": 0.0}
    context, check = validate._context, ingest.validate_table

    def timed(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t

        return wrapper

    # validate_table calls _context (GX's import and context on first use) inside: gx includes gx_start.
    validate._context = timed("gx_start", context)
    ingest.validate_table = timed("gx", check)
    try:
        ingest.convert_batch(batch)
    finally:
        validate._context, ingest.validate_table = context, check
    return {"task": time.perf_counter() - started, **spent}


def _forked(batch: dict[str, Any]) -> dict[str, float]:
    read, write = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, json.dumps(_task(batch, started)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not out:
        raise RuntimeError(f"task process failed (status {status})")
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    mode, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, encoding="utf-8") as f:
        batch = json.load(f)
    if mode == "fresh-task":  # the task itself, timed from the interpreter's start as the parent measured it
        print(json.dumps(_task(batch, time.perf_counter())))
        return
    if mode == "fresh":
        for _ in range(runs):
            t = time.perf_counter()
            out = subprocess.run(  # noqa: S603 - our interpreter, this file
                [sys.executable, __file__, "fresh-task", path, "1"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            res = json.loads(out.strip().splitlines()[-1])
            wall = time.perf_counter() - t  # includes the interpreter's own start
            print(json.dumps(res | {"task": wall}), flush=True)
        return
    import airflow.sdk.execution_time.supervisor  # noqa: F401 - what a LocalExecutor worker has loaded

    if mode == "fork-warm":
        from mamori import ingest

        ingest.warm_worker()
    elif mode != "fork-cold":
        raise SystemExit(f"unknown mode {mode}")
    for _ in range(runs):
        print(json.dumps(_forked(batch)), flush=True)


if __name__ == "__main__":
    main()
