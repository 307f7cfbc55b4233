"""Event-driven ingest in AWS mode (issue 19): the ingest DAGs' schedule and the SQS watcher's trigger.

Unset `MAMORI_INGEST_SQS_URL`: the cadence timetable alone, no asset watcher. Set: `AssetOrTimeSchedule` of the
same cadence and one asset watched by the amazon provider's `SqsSensorTrigger` on that queue, parsed without
touching the network. The trigger itself runs against a real moto server: a bucket whose s3:ObjectCreated
notifications go to the queue, an object put, and the trigger's `run()` yields the notification.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from moto_support import moto_process

REPO = Path(__file__).resolve().parents[2]
QUEUE = "https://sqs.eu-west-1.amazonaws.com/111122223333/mamori-landed"


def parse(monkeypatch, **env: str):
    from airflow.dag_processing.dagbag import DagBag

    for k in ("MAMORI_INGEST_SQS_URL", "MAMORI_RAW_URL"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return DagBag(str(REPO / "dags"))


def assets_of(timetable) -> list:
    """The assets a timetable's condition names, walked through AssetAll/AssetAny (SDK or serialized form)."""
    cond = getattr(timetable, "asset_condition", None)
    out, todo = [], [cond] if cond is not None else []
    while todo:
        c = todo.pop()
        if hasattr(c, "objects"):
            todo.extend(c.objects)
        elif hasattr(c, "watchers"):
            out.append(c)
    return out


def trigger_of(watcher) -> tuple[str, dict]:
    """(class path, kwargs) of a watcher's trigger, whether an instance or its serialized dict."""
    t = watcher.trigger
    if isinstance(t, dict):
        return t["classpath"], t["kwargs"]
    return t.serialize()


def test_schedules_with_and_without_the_queue(monkeypatch):

    plain = parse(monkeypatch)
    assert plain.import_errors == {}
    ingest_dags = {i: d for i, d in plain.dags.items() if i.startswith("ingest_")}
    assert ingest_dags
    for dag_id, dag in ingest_dags.items():
        assert type(dag.timetable).__name__ == "CronDataIntervalTimetable", dag_id
        assert assets_of(dag.timetable) == [], dag_id  # nothing watched

    # no network at parse: a connection attempt while the DAG files import is an import error
    import socket

    def no_network(*_a, **_k):
        raise AssertionError("network I/O at DAG parse")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    evented = parse(
        monkeypatch,
        MAMORI_RAW_URL="s3://org-logs",
        MAMORI_INGEST_SQS_URL=QUEUE,
        MAMORI_INGEST_INTERVAL_MINUTES="15",
    )
    monkeypatch.undo()
    assert evented.import_errors == {}
    for dag_id, dag in evented.dags.items():
        if not dag_id.startswith("ingest_"):
            # health, detect, dispatch_alerts: nothing of theirs is watched (health keeps the ingest cadence)
            assert all(not a.watchers for a in assets_of(dag.timetable)), dag_id
            continue
        tt = dag.timetable
        assert type(tt).__name__ == "AssetOrTimeSchedule", dag_id
        # the safety net is the cadence timetable, as without the queue
        assert type(tt.timetable) is type(ingest_dags[dag_id].timetable)
        assert tt.timetable.summary == "*/15 * * * *"
        (asset,) = assets_of(tt)
        assert asset.uri == "mamori://raw/landed"
        (watcher,) = asset.watchers
        classpath, kwargs = trigger_of(watcher)
        # the amazon provider's trigger, firing once per cadence period (mamori.triggers)
        assert classpath == "mamori.triggers.LandedWatcher"
        assert kwargs["interval_seconds"] == 15 * 60  # one event per cadence period at most
        # the triggerer rebuilds it from its class path and kwargs
        from mamori.triggers import LandedWatcher

        assert LandedWatcher(**kwargs).serialize() == (classpath, kwargs)
        assert kwargs["sqs_queue"] == QUEUE
        assert kwargs["delete_message_on_reception"] is True
        assert kwargs["message_filtering"] is None  # every message is consumed, none left to circulate


# Sync clients of the tests: a stuck server fails the test in seconds instead of botocore's retries and 60 s
# timeouts holding it for minutes.
FAST_FAIL = {"connect_timeout": 5, "read_timeout": 30, "retries": {"max_attempts": 1}}
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
FIVE = timedelta(minutes=5)
T = datetime(2026, 11, 1, 10, 2, tzinfo=UTC)


def queue_state(sqs, queue_url: str) -> dict[str, str]:
    return sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]


async def until(cond, seconds: float = 45) -> None:
    for _ in range(int(seconds * 10)):
        if cond():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.timeout(180)  # a hang (a stuck server, a cancelled long poll) is a failure, not a stalled suite
def test_the_watcher_fires_once_per_period_on_s3_notifications_from_moto(monkeypatch):
    """A real moto S3 bucket notifying a real moto SQS queue: the first object's notification fires the
    watcher; a second in the same cadence period is consumed (deleted) without a second event, since the event
    run would look at the same closed window; one in the next period fires again. The event carries a count,
    never the notification (its key is attacker-chosen)."""
    import boto3
    from botocore.config import Config

    from mamori import triggers
    from mamori.dag_defaults import landed_asset

    now = [T]
    monkeypatch.setattr(triggers, "_now", lambda: now[0])
    with moto_process() as url:
        for k, v in AWS_ENV.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        sqs = boto3.client("sqs", endpoint_url=url, config=Config(**FAST_FAIL))
        s3 = boto3.client("s3", endpoint_url=url, config=Config(**FAST_FAIL))
        queue_url = sqs.create_queue(QueueName="mamori-landed")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.create_bucket(Bucket="org-logs")
        s3.put_bucket_notification_configuration(
            Bucket="org-logs",
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )
        # S3 sends an s3:TestEvent when the configuration is set (moto too): out of the way for the peek below
        sqs.purge_queue(QueueUrl=queue_url)
        # what S3 sends: an ObjectCreated record naming the bucket and the (URL-encoded) key
        key = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/a.json.gz"
        s3.put_object(Bucket="org-logs", Key=key, Body=b"{}")
        (peek,) = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5, VisibilityTimeout=0)["Messages"]
        records = [r for r in json.loads(peek["Body"]).get("Records", [])]
        got = [
            (r["eventName"], r["s3"]["bucket"]["name"], unquote_plus(r["s3"]["object"]["key"]))
            for r in records
        ]
        assert got == [("ObjectCreated:Put", "org-logs", key)]

        (watcher,) = landed_asset(queue_url, None, FIVE).watchers
        events: list = []

        async def scenario() -> None:
            async def consume() -> None:
                async for e in watcher.trigger.run():
                    events.append(e)

            task = asyncio.create_task(consume())
            try:
                await until(lambda: len(events) == 1)
                assert events[0].payload == {"status": "success", "messages": 1}
                # same period: received and deleted, no second event
                await asyncio.to_thread(s3.put_object, Bucket="org-logs", Key="AWSLogs/b.json.gz", Body=b"{}")
                await until(lambda: queue_state(sqs, queue_url) == EMPTY)
                await asyncio.sleep(2)
                assert len(events) == 1
                # the next period: fires again
                now[0] = T + FIVE
                await asyncio.to_thread(s3.put_object, Bucket="org-logs", Key="AWSLogs/c.json.gz", Body=b"{}")
                await until(lambda: len(events) == 2)
                assert events[1].payload == {"status": "success", "messages": 1}
            finally:
                task.cancel()

        asyncio.run(asyncio.wait_for(scenario(), timeout=120))
        assert queue_state(sqs, queue_url) == EMPTY


EMPTY = {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("body", ['{"Service":"Amazon S3","Event":"s3:TestEvent"}', "not json at all"])
def test_the_watcher_fires_on_any_message_without_reading_it(monkeypatch, body):
    """A message that is no ObjectCreated record (S3's test event, junk) still just means "look at the closed
    window": the watcher fires and deletes it, and nothing reads the body."""
    import boto3
    from botocore.config import Config

    from mamori.dag_defaults import landed_asset

    with moto_process() as url:
        for k, v in AWS_ENV.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        sqs = boto3.client("sqs", endpoint_url=url, config=Config(**FAST_FAIL))
        queue_url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        (watcher,) = landed_asset(queue_url, None, FIVE).watchers

        async def first_event():
            return await asyncio.wait_for(anext(watcher.trigger.run()), timeout=60)

        event = asyncio.run(first_event())
        assert event.payload == {"status": "success", "messages": 1}
        assert queue_state(sqs, queue_url) == EMPTY


@pytest.mark.slow  # three dag.test() runs of one ingest DAG (~1.5 min on 2 shared cores)
def test_an_event_shaped_run_ingests_the_closed_window_once(settings, airflow_db, tmp_path):
    """A run with no data interval, as the scheduler creates for an asset event (logical date None, only
    `run_after`), through the real DAG: while the window's scheduled run is running it leaves the window alone;
    once that run has failed it ingests the window that closed last and finalizes it; the same again (a duplicate
    notification) skips both plan and finalize and leaves the lake byte-identical."""
    import gzip
    import hashlib
    from datetime import UTC, datetime, timedelta

    from airflow.dag_processing.dagbag import DagBag

    from mamori import ingest
    from mamori.dev.demo import without_deadline
    from mamori.lake import Store

    t0 = datetime(2026, 11, 1, 10, tzinfo=UTC)  # conftest pins the hourly cadence
    acct = "123456789012"
    key = (
        f"AWSLogs/{acct}/CloudTrail/us-east-1/2026/11/01/"
        f"{acct}_CloudTrail_us-east-1_20261101T1020Z_EVENT00000000001.json.gz"
    )
    rec = {
        "eventVersion": "1.08",
        "eventTime": "2026-11-01T10:19:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "recipientAccountId": acct,
        "userIdentity": {"type": "IAMUser", "userName": "dana", "accountId": acct},
    }
    raw = Store(settings.raw_url)
    raw.write_atomic(key, gzip.compress(json.dumps({"Records": [rec]}).encode()))
    raw.set_landed(key, t0 + timedelta(minutes=20))

    dag = DagBag(str(REPO / "dags")).dags["ingest_cloudtrail"]
    run_after = t0 + timedelta(hours=1, seconds=40)  # the notification came 40 s after the window closed
    lake = Path(settings.lake_url.removeprefix("file://"))

    def states(run) -> dict[str, str]:
        return {ti.task_id: str(ti.state) for ti in run.get_task_instances() if ti.map_index in (-1, 0)}

    # the window's scheduled run is on it (running): the event run leaves the window to it
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    with create_session() as session:
        session.add(
            DagRun(
                dag_id=dag.dag_id,
                run_id="scheduled__busy",
                logical_date=t0,
                data_interval=(t0, t0 + timedelta(hours=1)),
                run_after=t0 + timedelta(hours=1),
                run_type=DagRunType.SCHEDULED,
                state=DagRunState.RUNNING,
            )
        )
    with without_deadline(dag):
        busy = dag.test(run_after=run_after - timedelta(seconds=20), logical_date=None)
    assert states(busy) == {"plan": "skipped", "convert": "skipped", "finalize": "skipped"}
    assert not ingest.window_complete("cloudtrail", t0, settings)
    # ...and once that run has failed (after its retries), the next notification's run ingests the window
    with create_session() as session:
        session.query(DagRun).filter(DagRun.run_id == "scheduled__busy").update({"state": DagRunState.FAILED})

    with without_deadline(dag):
        first = dag.test(run_after=run_after, logical_date=None)
    assert first.data_interval_start is None  # what an asset-triggered run looks like to its tasks
    assert states(first) == {"plan": "success", "convert": "success", "finalize": "success"}
    assert ingest.window_complete("cloudtrail", t0, settings)
    (summary,) = [
        s for s in ingest.window_summaries("cloudtrail", settings) if s.window_start == t0.isoformat()
    ]
    assert summary.objects == 1
    digest = {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in lake.rglob("*")
        if p.is_file()
    }

    with without_deadline(dag):
        again = dag.test(run_after=run_after + timedelta(seconds=5), logical_date=None)
    assert states(again) == {"plan": "skipped", "convert": "skipped", "finalize": "skipped"}
    after = {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in lake.rglob("*")
        if p.is_file()
    }
    assert after == digest
