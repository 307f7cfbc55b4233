"""Event-driven ingest (issue 19) under the real thing: scheduler, dag-processor, triggerer and api-server as
processes (mamori.dev.local, as tests/e2e/test_scheduler.py starts them), the raw bucket and its SQS queue on a
moto server, the lake local. What `dag.test()` and the trigger's own `run()` (tests/dags/test_ingest_events.py)
cannot show: that the dag-processor registers the asset watcher from the parsed DAG, that the triggerer imports
and runs `mamori.triggers.LandedWatcher` from its serialized kwargs, that its event becomes an asset-triggered
run, and what that run's tasks do through the real execution API.

The cadence is 1 minute (the shortest there is) so windows close while the test waits. The outcome of every
event run is fixed by the design, not by timing:

- a probe message (a bare SQS message, any body means "look at the closed window") fires the watcher; its run
  reads the window that closed last, whose scheduled run the scheduler created when it closed (or on unpause):
  plan and finalize skip, that window is finalized by its scheduled run alone (under heavy load the scheduler
  may start the event run first, and it then ingests that empty window itself: the test accepts exactly that);
- window W: its run failed (as after its retries; the test puts a failed run in the window's logical date, so the
  scheduler creates none), a CloudTrail object lands in W, and after W closes an object of no source's prefix
  lands: the watcher fires, and the asset-triggered run of that period reads W, not finalized, no run of it busy:
  it ingests W; the lake has W's Parquet and manifest, written by that run alone.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto_support import moto_process

from mamori.dev import local
from mamori.windows import Window, event_window, floor

pytestmark = pytest.mark.slow

DAG_ID = "ingest_cloudtrail"
INTERVAL = timedelta(minutes=1)
REGION, ACCT = "us-east-1", "123456789012"
BUCKET, QUEUE = "org-logs", "mamori-landed"
LANDED_URI = "mamori://raw/landed"
LOG = "scheduler.log"  # what a failure message shows the tail of, unless another log says more
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


@dataclass
class Ctx:
    inst: local.Instance
    api: local.Api
    moto: str
    sqs: Any
    s3: Any
    queue_url: str
    timings: dict[str, float]


def _clients(url: str) -> tuple[Any, Any]:
    import boto3
    from botocore.config import Config

    # a stuck server fails the test in seconds, not botocore's retries and 60 s timeouts
    cfg = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 1})
    kw: dict[str, Any] = {"endpoint_url": url, "region_name": REGION, "config": cfg, **_creds()}
    return boto3.client("sqs", **kw), boto3.client("s3", **kw)


def _creds() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    t0 = time.monotonic()
    base = tmp_path_factory.mktemp("landed")
    # outside pytest's tmp dir, as in test_scheduler.py: the embedded PostgreSQL runs as another user as root
    airflow_home = Path(tempfile.mkdtemp(prefix="mamori-landed-"))
    with moto_process() as moto:
        sqs, s3 = _clients(moto)
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )
        sqs.purge_queue(QueueUrl=queue_url)  # S3's s3:TestEvent: no event before the test sends one
        conn = {"conn_type": "aws", "extra": {"endpoint_url": moto, "region_name": REGION}}
        extra = {
            **AWS_ENV,
            "AIRFLOW_CONN_MAMORI_RAW": json.dumps(conn),
            "MAMORI_RAW_URL": f"s3://{BUCKET}",
            "MAMORI_RAW_CONN_ID": "mamori_raw",  # the watcher's connection too (dag_defaults.landed_asset)
            "MAMORI_INGEST_SQS_URL": queue_url,
            "MAMORI_INGEST_INTERVAL_MINUTES": str(int(INTERVAL.total_seconds() // 60)),
            "MAMORI_ACCOUNTS": ACCT,
            "MAMORI_REGIONS": REGION,
        }
        inst = local.start(airflow_home, base / "mamori", local.free_port(), extra_env=extra, inherit=False)
        ctx = Ctx(inst, local.Api(inst.url, airflow_home), moto, sqs, s3, queue_url, {})
        try:
            local.wait_healthy(ctx.api, timeout=300, instance=inst)
            local.warm_execution_api(ctx.api)
            local.wait_dags(ctx.api, {DAG_ID})
            ctx.timings["start"] = time.monotonic() - t0
            yield ctx
        finally:
            local.stop(airflow_home, pgid=inst.pgid)
            if inst.proc is not None:
                inst.proc.wait(timeout=30)
            shutil.rmtree(airflow_home / local.PG_DIR, ignore_errors=True)  # the database files; logs stay
            print(f"\nlanded-watcher e2e timings (s): {ctx.timings}; logs in {airflow_home}/{local.LOG_DIR}")


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _runs(api: local.Api) -> list[dict[str, Any]]:
    return list(api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns?limit=100")["dag_runs"])


def _landed(api: local.Api) -> dict[str, Any]:
    (asset,) = api.call("GET", f"/api/v2/assets?uri_pattern={_q(LANDED_URI)}")["assets"]
    return dict(asset)


def _events(api: local.Api, asset_id: int) -> list[dict[str, Any]]:
    return list(api.call("GET", f"/api/v2/assets/events?asset_id={asset_id}&limit=100")["asset_events"])


def _until(what: str, cond: Any, timeout: float, ctx: Ctx, log: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(1)
    tail = (ctx.inst.log / log).read_text(errors="replace")[-4000:] if (ctx.inst.log / log).exists() else ""
    raise AssertionError(f"{what}: not within {timeout:.0f}s; {log}:\n{tail}")


def _finished(api: local.Api, run_id: str) -> str | None:
    state = api.run_state(DAG_ID, run_id)
    return state if state in ("success", "failed") else None


def _states(api: local.Api, run_id: str) -> dict[str, str]:
    return {t["task_id"]: t["state"] for t in api.task_states(DAG_ID, run_id) if t["map_index"] in (-1, 0)}


def _cloudtrail_object(at: datetime) -> tuple[str, bytes]:
    key = (
        f"AWSLogs/{ACCT}/CloudTrail/{REGION}/{at:%Y/%m/%d}/"
        f"{ACCT}_CloudTrail_{REGION}_{at:%Y%m%dT%H%MZ}_EVENT00000000001.json.gz"
    )
    rec = {
        "eventVersion": "1.08",
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.10",
        "recipientAccountId": ACCT,
        "userIdentity": {"type": "IAMUser", "userName": "dana", "accountId": ACCT},
    }
    return key, gzip.compress(json.dumps({"Records": [rec]}).encode())


def _now() -> datetime:
    return datetime.now(UTC)


def _sleep_until(t: datetime) -> None:
    while (left := (t - _now()).total_seconds()) > 0:
        time.sleep(min(left, 1.0))


def test_s3_notifications_become_asset_triggered_ingest_runs(airflow: Ctx) -> None:
    ctx, api = airflow, airflow.api
    t0 = time.monotonic()

    # The DAGs were parsed paused (Airflow's default at creation): no DAG scheduled on the asset is unpaused, so
    # the dag-processor registered no watcher. Unpaused, the asset counts as active, and the next parse of the
    # file registers it; a local instance parses a file again only when it changes, so ask for it, as `mamori
    # up` does (local.up).
    assert _landed(api)["watchers"] == []
    api.set_paused(DAG_ID, False)
    api.reparse(DAG_ID)
    landed = _until(
        "the asset's watcher registered from the parsed DAG",
        lambda: (a := _landed(api))["watchers"] and a,
        240,
        ctx,
        "dag-processor.log",
    )
    assert [w["name"] for w in landed["watchers"]] == ["mamori_raw_landed_sqs"]
    ctx.timings["watcher_registered"] = time.monotonic() - t0

    # The probe: the triggerer runs the watcher (importing mamori.triggers from its class path), which consumes
    # the message and updates the asset; the scheduler turns the event into an asset-triggered run.
    ctx.sqs.send_message(QueueUrl=ctx.queue_url, MessageBody='{"Service":"Amazon S3","Event":"s3:TestEvent"}')
    (probe_event,) = _until(
        "the watcher's first asset event", lambda: _events(api, landed["id"]), 180, ctx, "triggerer.log"
    )
    # a count, never the notification
    assert probe_event["extra"] == {"from_trigger": True, "payload": {"status": "success", "messages": 1}}
    assert probe_event["source_dag_id"] is None  # the triggerer's, not a task's
    ctx.timings["probe_event"] = time.monotonic() - t0

    # Window W: the current one when enough of it is left to set it up, else the next, once it has begun (a
    # manual run's logical date may not be in the future).
    if floor(_now(), INTERVAL) + INTERVAL - _now() < timedelta(seconds=20):
        _sleep_until(floor(_now(), INTERVAL) + INTERVAL)
    w_start = floor(_now(), INTERVAL)
    w = Window(w_start, w_start + INTERVAL)
    # W's run has failed: a run in W's logical date (so the scheduler creates no scheduled one), created while the
    # DAG is paused (so it never starts) and marked failed.
    api.set_paused(DAG_ID, True)
    failed_id = api.trigger(DAG_ID, w.start, w.end, run_id=f"failed__{w.start:%Y%m%dT%H%M}")
    api.call("PATCH", f"/api/v2/dags/{DAG_ID}/dagRuns/{_q(failed_id)}", {"state": "failed"})
    api.set_paused(DAG_ID, False)

    key, body = _cloudtrail_object(_now())
    ctx.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    assert w.start <= ctx.s3.head_object(Bucket=BUCKET, Key=key)["LastModified"] < w.end  # landed in W
    # W closes; an object of no source's prefix lands in the next window: its notification is the event.
    _sleep_until(w.end + timedelta(seconds=1))
    ctx.s3.put_object(Bucket=BUCKET, Key="other/unrelated.txt", Body=b"x")

    def event_run_of_w() -> dict[str, Any] | None:
        for r in _runs(api):
            if r["run_type"] == "asset_triggered" and event_window(_ts(r["run_after"]), INTERVAL) == w:
                return r
        return None

    run_w = _until("an asset-triggered run reading W", event_run_of_w, 180, ctx, LOG)
    state = _until("W's event run to finish", lambda: _finished(api, run_w["dag_run_id"]), 300, ctx, LOG)
    ctx.timings["w_ingested"] = time.monotonic() - t0
    assert state == "success", api.task_states(DAG_ID, run_w["dag_run_id"])
    assert run_w["data_interval_start"] is None and run_w["logical_date"] is None  # what the tasks were given
    assert _states(api, run_w["dag_run_id"]) == {
        "plan": "success",
        "convert": "success",
        "finalize": "success",
    }

    # Every other asset-triggered run read a window some scheduled run had: all three tasks skipped; that window
    # was ingested by its scheduled run alone (finalized, nothing in it).
    runs = _runs(api)
    evented = [r for r in runs if r["run_type"] == "asset_triggered"]
    assert len(evented) >= 2  # the probe's and W's
    others = []
    for r in evented:
        if r["dag_run_id"] == run_w["dag_run_id"]:
            continue
        assert _until("an event run", lambda r=r: _finished(api, r["dag_run_id"]), 300, ctx, LOG) == "success"
        # Designed: skipped, the window's scheduled run is queued or done. Under heavy load the scheduler can
        # hold the scheduled run behind max_active_runs and start the event run first: it then ingests the
        # window itself, which the design allows (both runs write the same files). Either outcome, exactly.
        assert _states(api, r["dag_run_id"]) in (
            {"plan": "skipped", "convert": "skipped", "finalize": "skipped"},
            {"plan": "success", "convert": "success", "finalize": "success"},
        )
        ew = event_window(_ts(r["run_after"]), INTERVAL)
        (sched,) = [x for x in _runs(api) if _ts(x["logical_date"]) == ew.start]
        assert sched["run_type"] == "scheduled"
        assert (
            _until("its scheduled run", lambda x=sched: _finished(api, x["dag_run_id"]), 300, ctx, LOG)
            == "success"
        )
        others.append(ew)
    assert w not in others

    from mamori.config import load_settings
    from mamori.ingest import window_summaries

    s = load_settings({"MAMORI_HOME": str(ctx.inst.mamori_home), "MAMORI_INGEST_INTERVAL_MINUTES": "1"})
    summaries = {x.window_start: x for x in window_summaries("cloudtrail", s)}
    got = summaries[w.start.isoformat()]
    assert (got.objects, got.records_in, got.rows_out, got.quarantined) == (1, 1, 1, 0)
    lake = Path(s.lake_url.removeprefix("file://"))
    parquet = sorted(lake.glob("curated/cloudtrail/**/*.parquet"))
    assert len(parquet) == got.files == 1, parquet
    for ew in others:
        assert summaries[ew.start.isoformat()].objects == 0
    # W's failed run never ran a task, and the scheduler created no scheduled run of W
    assert [t for t in api.task_states(DAG_ID, failed_id) if t["state"] == "success"] == []
    assert [r["run_type"] for r in _runs(api) if _ts(r["logical_date"]) == w.start] == ["manual"]

    # A later parse (every 30 s in a deployment) keeps the watcher: the same trigger, not a new one that would
    # drop the running one's long poll and its once-per-period memory.
    parsed = api.call("GET", f"/api/v2/dags/{DAG_ID}")["last_parsed_time"]
    api.reparse(DAG_ID)
    _until(
        "another parse of the ingest DAGs' file",
        lambda: api.call("GET", f"/api/v2/dags/{DAG_ID}")["last_parsed_time"] != parsed,
        180,
        ctx,
        "dag-processor.log",
    )
    assert _landed(api)["watchers"] == landed["watchers"]
    ctx.timings["test"] = time.monotonic() - t0
