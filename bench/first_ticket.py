"""Start to first ticket of `mamori up` (`make up-local`), measured as docs/operations.md reports it.

    git clone . /tmp/mamori-clone && make -C /tmp/mamori-clone venv
    .venv/bin/python bench/first_ticket.py /tmp/mamori-clone

Runs the checkout's own `mamori up` with fresh homes (`<checkout>/var/demo`, `<checkout>/var/airflow`, which a
fresh clone does not have yet) on a free port, from the moment `mamori up` is started until the first Markdown
ticket appears under `$MAMORI_HOME/outbox/tickets/<detection>/`, sampling the 1-minute load average every 10 s;
then reads when each stage ran from the REST API (the detect and dispatch task instances), stops the instance
with `mamori down` and prints one summary line and the stages. `--json FILE` also writes every run and task
instance the API returned. A development tool: nothing in mamori imports it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: bench/ is not installed
from bench._instance import Instance, LoadSampler


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
    up = subprocess.run(  # noqa: S603 - the checkout's own mamori, given by the person running this
        [mamori, "up"], cwd=checkout, env=env, capture_output=True, text=True, check=False
    )
    up_s = time.time() - t0
    ticket, first = None, None
    while up.returncode == 0 and time.time() - t0 < args.limit:
        ticket = _first_ticket(mamori_home / "outbox" / "tickets")
        if ticket is not None:
            first = time.time() - t0
            break
        time.sleep(2)
    loads.stop()
    stages: list[str] = []
    if up.returncode == 0:
        from mamori.dev.local import Api, LocalAirflowError  # the REST client of `mamori up` itself

        try:
            api = Api(f"http://127.0.0.1:{port}", airflow_home)
            runs = _pages(api, "/api/v2/dags/~/dagRuns", "dag_runs")
            tis = _pages(api, "/api/v2/dags/~/dagRuns/~/taskInstances", "task_instances")
            stages = _stages(t0, tis)
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
