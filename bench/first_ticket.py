"""Start to first ticket of `mamori up` (`make up-local`), measured as docs/operations.md reports it.

    git clone . /tmp/mamori-clone && make -C /tmp/mamori-clone venv
    .venv/bin/python bench/first_ticket.py /tmp/mamori-clone

Runs the checkout's own `mamori up` with fresh homes (`<checkout>/var/demo`, `<checkout>/var/airflow`, which a
fresh clone does not have yet) on a free port, from the moment `mamori up` is started until the first Markdown
ticket appears under `$MAMORI_HOME/outbox/tickets/<detection>/`, sampling the 1-minute load average every 10 s;
then reads when each stage ran from the REST API (the detect and dispatch task instances), stops the instance
with `mamori down` and prints one summary line, the stages and the CPU seconds each component had used by the
first task and by the ticket (sampled every second from /proc). `--json FILE` also writes every run and task
instance the API returned. A development tool: nothing in mamori imports it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: bench/ is not installed
from bench._instance import CpuSampler, Instance, LoadSampler


def _pages(api: Any, path: str, key: str) -> list[dict[str, Any]]:
    """Every item of a list endpoint (the API answers at most 100 per page)."""
    out: list[dict[str, Any]] = []
    while True:
        page = api.call("GET", f"{path}?limit=100&offset={len(out)}")[key]
        out += page
        if len(page) < 100:
            return out


def _first_ticket(tickets: Path) -> Path | None:
    """The first finished ticket file (the local output writes `.<name>.tmp` first, then renames it)."""
    found = sorted(p for p in tickets.glob("*/*.md") if not p.name.startswith("."))
    return found[0] if found else None


def _stages(t0: float, tis: list[dict[str, Any]]) -> list[str]:
    """Start and end of the detect and dispatch_alerts task instances, in seconds from the start."""

    def rel(value: str | None) -> str:
        if not value:
            return "-"
        return f"{datetime.fromisoformat(value.replace('Z', '+00:00')).timestamp() - t0:.0f}"

    lines = []
    for ti in sorted(tis, key=lambda t: t.get("start_date") or "~"):
        if ti["dag_id"] in ("detect", "dispatch_alerts") and ti.get("start_date"):
            index = "" if ti.get("map_index", -1) < 0 else f"[{ti['map_index']}]"
            lines.append(
                f"  {ti['dag_id']} {ti['dag_run_id']} {ti['task_id']}{index}: "
                f"{rel(ti['start_date'])}-{rel(ti.get('end_date'))} s {ti['state']}"
            )
    return lines


_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)")


def _when(text: str) -> float | None:
    """Epoch seconds of an ISO timestamp (UTC) at the start of a log line or API value, else None."""
    m = _STAMP.match(text or "")
    return datetime.fromisoformat(f"{m[1]}T{m[2]}+00:00").timestamp() if m else None


def _log_marks(path: Path, marks: dict[str, str]) -> dict[str, float]:
    """The time of the first line of a log file containing each marker ("" = the first stamped line, "$" = the
    last one)."""
    found: dict[str, float] = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return found
    stamped = [(t, line) for line in lines if (t := _when(line)) is not None]
    for name, marker in marks.items():
        hits = stamped[-1:] if marker == "$" else [(t, line) for t, line in stamped if marker in line][:1]
        if hits:
            found[name] = hits[0][0]
    return found


def warm_parts(scheduler_log: Path) -> tuple[float, float, float] | None:
    """The plugin's scheduler warm-up in seconds: the DAG files' imports, Great Expectations, the catalog."""
    text = scheduler_log.read_text(errors="replace") if scheduler_log.exists() else ""
    m = re.search(
        r"task processes in ([\d.]+)s, Great Expectations in ([\d.]+)s, the detection catalog in ([\d.]+)s",
        text,
    )
    return (float(m[1]), float(m[2]), float(m[3])) if m else None


def timeline(
    t0: float, airflow_home: Path, runs: list[dict[str, Any]], tis: list[dict[str, Any]]
) -> list[tuple[str, float]]:
    """Where the seconds to the first ticket went: the components' start from their logs, then the first detect
    window's path from the runs and task instances the API returned (seconds from the start, sorted)."""
    logs = airflow_home / "local-logs"
    marks: dict[str, float] = {}
    marks.update(
        _log_marks(airflow_home / "postgres" / "postgres.log", {"PostgreSQL ready": "ready to accept"})
    )
    marks.update(_log_marks(logs / "db-migrate.log", {"db migrate first line": "", "db migrate done": "$"}))
    marks.update(_log_marks(logs / "api-server.log", {"api-server up": "Application startup complete"}))
    marks.update(
        _log_marks(
            logs / "scheduler.log",
            {"scheduler warm-up done": "mamori: ", "scheduler loop started": "Starting the scheduler"},
        )
    )
    if "scheduler warm-up done" in marks and (parts := warm_parts(logs / "scheduler.log")):
        marks["scheduler warm-up start"] = marks["scheduler warm-up done"] - sum(parts)
    versions = [_when(v["created_at"]) for r in runs for v in r.get("dag_versions") or []]
    if versions := [v for v in versions if v]:
        marks["first DAG serialized"] = min(versions)
    manual = [_when(r["queued_at"]) for r in runs if r.get("run_type") == "manual" and r.get("queued_at")]
    if manual := [m for m in manual if m]:
        marks["sample triggered (first)"], marks["sample triggered (last)"] = min(manual), max(manual)
    starts = [
        s for ti in tis if ti["dag_id"].startswith("ingest_") and (s := _when(ti.get("start_date") or ""))
    ]
    if starts:
        marks["first ingest task started"] = min(starts)
    detect = sorted((r for r in runs if r["dag_id"] == "detect"), key=lambda r: r["data_interval_start"])
    if detect:
        first = detect[0]
        edge = _when(first["data_interval_end"]) or 0.0
        needed = {
            (r["dag_id"], r["dag_run_id"])
            for r in runs
            if r["dag_id"].startswith("ingest_") and (_when(r["data_interval_end"]) or 0.0) <= edge
        }
        ends = [
            _when(ti.get("end_date") or "")
            for ti in tis
            if (ti["dag_id"], ti["dag_run_id"]) in needed and ti["state"] != "skipped"
        ]
        if ends and all(ends):
            marks["first detect window's ingest done"] = max(e for e in ends if e)
        mine = [ti for ti in tis if ti["dag_id"] == "detect" and ti["dag_run_id"] == first["dag_run_id"]]
        for task, label in (
            ("wait_for_ingest", "sensor"),
            ("run_detections", "chunks"),
            ("record", "record"),
        ):
            ends = [_when(ti.get("end_date") or "") for ti in mine if ti["task_id"] == task]
            if ends and all(ends):
                marks[f"first detect run: {label} done"] = max(e for e in ends if e)
    return sorted(((name, at - t0) for name, at in marks.items()), key=lambda x: x[1])


def _instance_pids(airflow_home: Path, up_pid: int) -> dict[int, str | None]:
    """The processes of the instance being measured: `mamori up` (it generates the sample while the components
    start), the embedded PostgreSQL's, and every member of the components' session (named by command line)."""
    from mamori.dev import local, local_pg, sessions

    pids: dict[int, str | None] = {up_pid: "mamori up (the sample's generation)"}
    pids.update(dict.fromkeys(local_pg.processes(airflow_home / local.PG_DIR), "PostgreSQL"))
    if (pgid := local.running(airflow_home)) is not None:
        pids.update({pid: None for pid in sessions.members(pgid) if pid not in pids})
    return pids


def cpu_lines(cpu: CpuSampler, t0: float, marks: list[tuple[str, float]]) -> list[str]:
    """CPU seconds by component when the first task started and at the first ticket: the start is paced by the
    CPU its components get on a shared machine, so what each one spends is what there is to cut."""
    at = dict(marks)
    cuts = [(name, at[name]) for name in ("first ingest task started", "first ticket") if name in at]
    if not cuts or not cpu.samples:
        return []
    columns = [cpu.at(t0 + s) for _, s in cuts]
    names = sorted({n for c in columns for n in c}, key=lambda n: -max(c.get(n, 0.0) for c in columns))
    head = "  ".join(f"{s:.0f} s ({name})" for name, s in cuts)
    lines = [f"CPU seconds by component (sampled every 1 s) at: {head}"]
    lines += [f"  {n:40s}" + "".join(f"{c.get(n, 0.0):8.1f}" for c in columns) for n in names]
    lines.append(f"  {'all':40s}" + "".join(f"{sum(c.values()):8.1f}" for c in columns))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkout", type=Path, help="a clone with its venv (make venv), never started before")
    p.add_argument("--limit", type=float, default=1800, help="give up after this many seconds (default 1800)")
    p.add_argument("--json", type=Path, help="also write the runs and task instances the API returned here")
    args = p.parse_args(argv)
    inst = Instance(args.checkout)
    if (why := inst.used()) is not None:
        print(why, file=sys.stderr)
        return 2
    checkout, env, mamori, port = inst.checkout, inst.env, inst.mamori, inst.port
    mamori_home, airflow_home = inst.mamori_home, inst.airflow_home
    loads = LoadSampler().start()
    t0 = time.time()
    # Each line of `mamori up` with the second it was printed at: the start-up steps' share of the timeline.
    proc = subprocess.Popen(  # noqa: S603 - the checkout's own mamori, given by the person running this
        [mamori, "up"], cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    cpu = CpuSampler(lambda: _instance_pids(airflow_home, proc.pid)).start()
    said: list[tuple[float, str]] = [(time.time() - t0, line.rstrip()) for line in proc.stdout or ()]
    up = subprocess.CompletedProcess(proc.args, proc.wait(), "\n".join(line for _, line in said), "")
    up_s = time.time() - t0
    ticket, first = None, None
    while up.returncode == 0 and time.time() - t0 < args.limit:
        ticket = _first_ticket(mamori_home / "outbox" / "tickets")
        if ticket is not None:
            first = time.time() - t0
            break
        time.sleep(2)
    loads.stop()
    cpu.stop()
    stages: list[str] = []
    if up.returncode == 0:
        from mamori.dev.local import Api, LocalAirflowError  # the REST client of `mamori up` itself

        try:
            api = Api(f"http://127.0.0.1:{port}", airflow_home)
            runs = _pages(api, "/api/v2/dags/~/dagRuns", "dag_runs")
            tis = _pages(api, "/api/v2/dags/~/dagRuns/~/taskInstances", "task_instances")
            stages = _stages(t0, tis)
            marks = timeline(t0, airflow_home, runs, tis)
            if first is not None:
                marks.append(("first ticket", first))
            stages += ["mamori up said:"] + [f"  {at:6.0f}  {line[:100]}" for at, line in said]
            stages += ["timeline (s from the start):"] + [f"  {at:6.0f}  {name}" for name, at in marks]
            if parts := warm_parts(airflow_home / "local-logs" / "scheduler.log"):
                imports, gx, catalog = parts
                stages.append(
                    f"  scheduler warm-up: imports {imports:.1f} s, GX {gx:.1f} s, catalog {catalog:.1f} s"
                )
            stages += cpu_lines(cpu, t0, marks)
            if args.json:
                args.json.write_text(json.dumps({"t0": t0, "runs": runs, "task_instances": tis}, default=str))
        except LocalAirflowError as exc:
            stages = [f"  (no stages: {exc})"]
    down = subprocess.run(  # noqa: S603 - as above
        [mamori, "down"], cwd=checkout, env=env, capture_output=True, text=True, check=False
    )
    load = loads.summary()
    print(
        f"mamori up exit {up.returncode} in {up_s:.0f} s; first ticket "
        + (f"after {first:.0f} s ({ticket.relative_to(mamori_home)})" if ticket and first else "none")
        + f"; load average min/mean/max {load}; mamori down exit {down.returncode}"
    )
    if up.returncode != 0:
        print((up.stderr or up.stdout).strip())
    print("\n".join(stages))
    return 0 if first is not None and down.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
