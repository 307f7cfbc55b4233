"""`mamori backfill` through a running Airflow: Airflow's own backfills, so every replayed window is a DagRun
in the grid and a row in the Backfills tab.

Which Airflow: `MAMORI_AIRFLOW_URL` (+ `MAMORI_AIRFLOW_TOKEN`, a bearer token from the deployment's
`/auth/token`) for a remote one; otherwise the local instance `mamori up` started on `$AIRFLOW_HOME` (its pid
file records its URL; the local instance needs no login). With neither, `mamori backfill` runs in-process
(`mamori.backfill`).

One range semantics for both ways: `--from F --to T` selects the data intervals that *start* in [F, T) at
each DAG's cadence (end exclusive), exactly the steps of `BackfillPlan.steps`. Airflow's backfill range is
inclusive at both ends (`from_date` ≤ logical date ≤ `to_date`), so it is given F and the last interval's
start. Ingest DAGs first (one backfill each, side by side), detect once they are done (its sensor would
otherwise wait on them).

Resume: a window whose run already succeeded is not run again (reprocess "failed": missing and failed runs
only; `--restart` re-runs completed ones too), like the in-process progress file. A backfill of the same DAG
and range still active in Airflow (a `mamori backfill` that was interrupted) is attached to and followed,
not duplicated; an active backfill of another range is refused with its id (Airflow runs one per DAG).
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mamori.backfill import BackfillPlan
from mamori.config import remote_airflow
from mamori.dev import local

FINAL = ("success", "failed")

Progress = Callable[[int, int, str], None]


class BackfillRefused(RuntimeError):
    """Airflow already runs a backfill of another range for one of the DAGs (one active backfill per DAG)."""


@dataclass(frozen=True)
class Target:
    """A reachable Airflow and how it was found (for the message)."""

    api: local.Api
    where: str


def find_airflow(environ: Mapping[str, str] = os.environ) -> Target | None:
    """The Airflow to drive: MAMORI_AIRFLOW_URL, else the local instance running on AIRFLOW_HOME, else None."""
    url, token = remote_airflow(environ)
    if url:
        return Target(local.Api(url, token=token), f"{url} (MAMORI_AIRFLOW_URL)")
    home = environ.get("AIRFLOW_HOME")
    if not home or local.running(Path(home)) is None:
        return None
    found = local.instance_url(Path(home))
    if found is None:
        return None
    return Target(local.Api(found, Path(home)), f"the local instance at {found} (AIRFLOW_HOME={home})")


@dataclass(frozen=True)
class DagBackfill:
    """One DAG's share of a plan: the logical dates (= data interval starts) it runs, oldest first."""

    dag_id: str
    logical_dates: tuple[datetime, ...]

    def body(self, reprocess: str, page: bool = False) -> dict[str, Any]:
        """POST /api/v2/backfills: Airflow's range is inclusive at both ends, hence the last logical date.
        The conf tells detect's runs whether new alerts may page (`mamori.detect.pages`)."""
        return {
            "dag_run_conf": {"page": page},
            "dag_id": self.dag_id,
            "from_date": self.logical_dates[0].isoformat(),
            "to_date": self.logical_dates[-1].isoformat(),
            "reprocess_behavior": reprocess,
            "run_backwards": False,
        }


def airflow_stages(
    plan: BackfillPlan, ingest_interval: timedelta, detect_interval: timedelta
) -> list[list[DagBackfill]]:
    """The plan's steps as Airflow backfills: [ingest DAGs], then [detect]; the same windows as in-process."""
    ingest: dict[str, list[datetime]] = {}
    detect: list[datetime] = []
    for step in plan.steps(ingest_interval, detect_interval):
        kind, *rest = step.split("/")
        if kind == "ingest":
            ingest.setdefault(f"ingest_{rest[0]}", []).append(datetime.fromisoformat(rest[1]))
        else:
            detect.append(datetime.fromisoformat(rest[0]))
    stages = [[DagBackfill(dag, tuple(sorted(ts))) for dag, ts in sorted(ingest.items())]]
    stages.append([DagBackfill("detect", tuple(sorted(detect)))] if detect else [])
    return [stage for stage in stages if stage]


def _same(a: str, b: datetime) -> bool:
    return datetime.fromisoformat(a.replace("Z", "+00:00")) == b


def start_backfill(api: local.Api, b: DagBackfill, reprocess: str, page: bool = False) -> tuple[int, bool]:
    """(backfill id, resumed): attach to this DAG's active backfill of the same range, else create one."""
    q = urllib.parse.quote(b.dag_id)
    for attempt in (1, 2):
        active = [
            x for x in api.call("GET", f"/api/v2/backfills?dag_id={q}")["backfills"] if not x["completed_at"]
        ]
        for x in active:
            if _same(x["from_date"], b.logical_dates[0]) and _same(x["to_date"], b.logical_dates[-1]):
                if x.get("is_paused"):
                    api.call("PUT", f"/api/v2/backfills/{x['id']}/unpause")
                return int(x["id"]), True
        if active:
            x = active[0]
            raise BackfillRefused(
                f"{b.dag_id}: Airflow already runs backfill {x['id']} over [{x['from_date']}, {x['to_date']}] "
                "(one backfill per DAG); wait for it or cancel it in the Backfills tab "
                f"(PUT /api/v2/backfills/{x['id']}/cancel), then run this again"
            )
        status, payload, _ = api._request("POST", "/api/v2/backfills", b.body(reprocess, page))
        if status == 409 and attempt == 1:  # created meanwhile (another mamori backfill): look again
            continue
        if status >= 400:
            raise local.LocalAirflowError(f"POST /api/v2/backfills ({b.dag_id}): HTTP {status}: {payload}")
        return int(payload["id"]), False
    raise AssertionError("unreachable")


def run_states(api: local.Api, b: DagBackfill) -> dict[datetime, str]:
    """The state of each of the backfill's logical dates (its latest run, whatever type made it)."""
    q = urllib.parse.quote(b.dag_id)
    lo, hi = (urllib.parse.quote(t.isoformat()) for t in (b.logical_dates[0], b.logical_dates[-1]))
    payload = api.call(
        "GET", f"/api/v2/dags/{q}/dagRuns?logical_date_gte={lo}&logical_date_lte={hi}&limit=1000&order_by=id"
    )
    states: dict[datetime, str] = {}
    for r in payload["dag_runs"]:  # oldest first: a later run of a date (a re-run) wins
        states[datetime.fromisoformat(r["logical_date"].replace("Z", "+00:00"))] = r["state"]
    return {t: states[t] for t in b.logical_dates if t in states}


def run_through_airflow(
    target: Target,
    plan: BackfillPlan,
    ingest_interval: timedelta,
    detect_interval: timedelta,
    restart: bool = False,
    progress: Progress | None = None,
    poll: float = 2.0,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Create (or attach to) the plan's backfills stage by stage, follow them until every run is final; returns
    counts like the in-process backfill's plus the backfill ids and the failed runs."""
    api = target.api
    stages = airflow_stages(plan, ingest_interval, detect_interval)
    total = sum(len(b.logical_dates) for stage in stages for b in stage)
    reprocess = "completed" if restart else "failed"
    ids: dict[str, int] = {}
    resumed: list[str] = []
    failed: dict[str, list[str]] = {}
    done_before = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    for stage in stages:
        for b in stage:
            ids[b.dag_id], again = start_backfill(api, b, reprocess, plan.page)
            if again:
                resumed.append(b.dag_id)
        last = -1
        while True:
            states = {b.dag_id: run_states(api, b) for b in stage}
            finished = sum(1 for st in states.values() for s in st.values() if s in FINAL)
            completed = all(
                api.call("GET", f"/api/v2/backfills/{ids[b.dag_id]}")["completed_at"] for b in stage
            )
            if progress and finished != last:
                running = [d for d, st in states.items() if any(s not in FINAL for s in st.values())]
                progress(done_before + finished, total, f"airflow backfill: {', '.join(running) or 'done'}")
                last = finished
            stage_total = sum(len(b.logical_dates) for b in stage)
            if completed and finished == stage_total:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise local.LocalAirflowError(
                    f"backfills {ids} not finished after {timeout:.0f}s: {finished}/{stage_total} runs final"
                )
            time.sleep(poll)
        for dag_id, st in states.items():
            bad = [t.isoformat() for t, s in sorted(st.items()) if s == "failed"]
            if bad:
                failed[dag_id] = bad
        done_before += sum(len(b.logical_dates) for b in stage)
    return {
        "airflow": api.url,
        "steps": total,
        "backfills": ids,
        "resumed": resumed,
        "failed_runs": failed,
    }
