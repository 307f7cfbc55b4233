"""The share of Great Expectations in the ingest tasks a real scheduler runs (issue 19), from Airflow's metadata.

    git clone . /tmp/mamori-gx && make -C /tmp/mamori-gx venv
    .venv/bin/python bench/gx_share.py /tmp/mamori-gx [--json F]

Starts the checkout's own `mamori up` (real scheduler, LocalExecutor, embedded PostgreSQL) with fresh homes on
a free port, waits until every ingest run of the sample it lands has ended, then takes each `convert` task
instance's duration from the REST API (the task instance's start and end in Airflow's metadata database: the
task process's whole life, start-up included) and the seconds its own log's `DQ … expectations passed in Xs`
line reports for its validation (GX's import and context included when the task pays them), and prints the
share: the sum of the validation seconds over the sum of the task durations, the median and the highest per
task. Works on any commit whose `mamori up` lands the sample and logs that line, so an older commit measures
"before" the same way. A development tool: nothing in mamori imports it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: bench/ is not installed
from bench._instance import Instance, LoadSampler
from bench.first_ticket import _pages

DQ_LINE = re.compile(r"DQ \S+ \S+: \d+/\d+ expectations passed in ([0-9.]+)s")
ENDED = {"success", "failed"}


def _seconds(ti: dict[str, Any]) -> float | None:
    """The task instance's duration from its start and end in the metadata database."""
    if not ti.get("start_date") or not ti.get("end_date"):
        return None
    start, end = (datetime.fromisoformat(ti[k].replace("Z", "+00:00")) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


def _log_file(airflow_home: Path, ti: dict[str, Any]) -> Path | None:
    """The task try's log file (Airflow's default file task handler layout)."""
    base = airflow_home / "logs" / f"dag_id={ti['dag_id']}" / f"run_id={ti['dag_run_id']}" / "task_id=convert"
    if ti.get("map_index", -1) >= 0:
        base = base / f"map_index={ti['map_index']}"
    path = base / f"attempt={ti.get('try_number') or 1}.log"
    return path if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkout", type=Path, help="a clone with its venv (make venv), never started before")
    p.add_argument("--limit", type=float, default=2400, help="give up after this many seconds (default 2400)")
    p.add_argument("--json", type=Path, help="also write every convert task's duration and GX seconds here")
    args = p.parse_args(argv)
    inst = Instance(args.checkout)
    if (why := inst.used()) is not None:
        print(why, file=sys.stderr)
        return 2
    loads = LoadSampler().start()
    t0 = time.time()
    up = subprocess.run(  # noqa: S603 - the checkout's own mamori, given by the person running this
        [inst.mamori, "up"], cwd=inst.checkout, env=inst.env, capture_output=True, text=True, check=False
    )
    rows: list[dict[str, Any]] = []
    note = ""
    if up.returncode == 0:
        from mamori.dev.local import Api  # the REST client of `mamori up` itself

        api = Api(f"http://127.0.0.1:{inst.port}", inst.airflow_home)
        while True:
            runs = [
                r
                for r in _pages(api, "/api/v2/dags/~/dagRuns", "dag_runs")
                if r["dag_id"].startswith("ingest_")
            ]
            if runs and all(r["state"] in ENDED for r in runs):
                break
            if time.time() - t0 > args.limit:
                note = f"; gave up after {args.limit:.0f} s with ingest runs still running"
                break
            time.sleep(10)
        tis = _pages(api, "/api/v2/dags/~/dagRuns/~/taskInstances", "task_instances")
        for ti in tis:
            if (
                not ti["dag_id"].startswith("ingest_")
                or ti["task_id"] != "convert"
                or ti["state"] != "success"
            ):
                continue
            took = _seconds(ti)
            log = _log_file(inst.airflow_home, ti)
            if took is None or log is None:
                continue
            gx = sum(float(m.group(1)) for m in DQ_LINE.finditer(log.read_text(errors="replace")))
            rows.append({"dag_id": ti["dag_id"], "run_id": ti["dag_run_id"], "map_index": ti.get("map_index"),
                         "task_s": took, "gx_s": gx})  # fmt: skip
    loads.stop()
    down = subprocess.run(  # noqa: S603 - as above
        [inst.mamori, "down"], cwd=inst.checkout, env=inst.env, capture_output=True, text=True, check=False
    )
    git = shutil.which("git") or "git"
    commit = subprocess.run(  # noqa: S603 - git names the commit of the checkout being measured
        [git, "-C", str(inst.checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if up.returncode != 0:
        print(f"mamori up exit {up.returncode}: {(up.stderr or up.stdout).strip()}")
        return 1
    if not rows:
        print(f"{commit}: no successful convert task with its log{note}")
        return 1
    task, gx = sum(r["task_s"] for r in rows), sum(r["gx_s"] for r in rows)
    shares = [r["gx_s"] / r["task_s"] for r in rows if r["task_s"] > 0]
    print(
        f"{commit}: {len(rows)} convert tasks under the scheduler; GX {gx:.1f} s of {task:.1f} s of task time ="
        f" {100 * gx / task:.1f} %; per task median {100 * statistics.median(shares):.1f} %, highest"
        f" {100 * max(shares):.1f} %; median task {statistics.median(r['task_s'] for r in rows):.1f} s;"
        f" load average min/mean/max {loads.summary()}; mamori down exit {down.returncode}{note}"
    )
    if args.json:
        args.json.write_text(json.dumps({"commit": commit, "load": loads.loads, "tasks": rows}, indent=1))
    return 0 if down.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
