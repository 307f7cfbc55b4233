"""What the view's tests share: `airflow api-server` as a real process over a given mamori home, and a home
seeded by mamori's own stages (generated CloudTrail ingested, detected and grouped into incidents), so the
pages show real incidents, search real lake files and draw real charts.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_API_SERVER = (
    '"$MAMORI_AIRFLOW_BIN" db migrate > db-migrate.log 2>&1 && exec "$MAMORI_AIRFLOW_BIN" api-server'
)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/v2/monitor/health", timeout=10) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.HTTPError):  # not listening yet
        return False


@contextlib.contextmanager
def api_server(
    airflow_home: Path, mamori_home: Path, users: str, extra: Mapping[str, str] | None = None
) -> Iterator[str]:
    """`airflow api-server` (after `db migrate`, SQLite in `airflow_home`) with this repo's plugins folder,
    SimpleAuthManager with login and the given users (`name:ROLE,...`); its URL. Stopped by process group."""
    from mamori.dev import local

    airflow_home.mkdir(parents=True, exist_ok=True)
    port = local.free_port()
    env_extra = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": users,
        "AIRFLOW__API__WORKERS": "1",
        "MAMORI_INGEST_INTERVAL_MINUTES": "60",  # the suite's hourly windows (tests/conftest.py)
        **(extra or {}),
    }
    env = local.local_env(airflow_home, mamori_home, port, env_extra, inherit=False)
    env["MAMORI_AIRFLOW_BIN"] = str(Path(sys.executable).with_name("airflow"))
    log = (airflow_home / "api-server.log").open("wb")
    proc = subprocess.Popen(  # a constant script; paths come in through the environment
        ["/bin/sh", "-c", _API_SERVER],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=str(airflow_home),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while not _healthy(url):
            assert proc.poll() is None, (airflow_home / "api-server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "api-server not healthy in 240 s"
            time.sleep(1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def passwords(airflow_home: Path) -> dict[str, str]:
    """The generated passwords of the SimpleAuthManager's users."""
    data: dict[str, str] = json.loads(
        (airflow_home / "simple_auth_manager_passwords.json.generated").read_text()
    )
    return data


# -- a seeded home -------------------------------------------------------------------------------------------
START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 6  # the generator's minimum
DETECT_HOURS = range(1, HOURS + 1)  # every detect run of the six hours: the attack story's incidents
# A delivery of our own among the generated ones: one event whose error code and user agent carry markup and
# a Markdown link, from an address nothing else uses, so a search for it finds exactly this row.
MARKUP_IP = "203.0.113.66"
MARKUP = "<img src=x onerror=alert(3)>[pwn](https://evil.example/)"
MARKUP_TIME = START + timedelta(hours=2, minutes=31)


@dataclass(frozen=True)
class Seeded:
    home: Path
    sql_dir: Path


def _markup_delivery() -> tuple[str, bytes]:
    record = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAMARKUP0000000001",
            "arn": "arn:aws:iam::111111111111:user/markup",
            "accountId": "111111111111",
            "userName": "markup",
        },
        "eventTime": MARKUP_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "awsRegion": "us-east-1",
        "sourceIPAddress": MARKUP_IP,
        "userAgent": MARKUP,
        "errorCode": MARKUP,
        "requestID": "req-markup",
        "eventID": "00000000-0000-0000-0000-000000000066",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "111111111111",
        "eventCategory": "Management",
    }
    key = (
        "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/01/"
        "111111111111_CloudTrail_us-east-1_20261101T0235Z_markup0000000000.json.gz"
    )
    return key, gzip.compress(json.dumps({"Records": [record]}).encode())


def seed_home(base: Path) -> Seeded:
    """Six hours of generated CloudTrail plus the markup delivery, ingested window by window and detected
    over DETECT_HOURS by mamori's stage functions (what the DAG tasks call), with the CloudTrail rules only
    (as tests/e2e/test_scheduler.py; detect waits for every source with enabled rules). Sets MAMORI_HOME and
    MAMORI_SQL_DIR in this process's environment: the caller restores them."""
    sql_dir = base / "sql"
    shutil.copytree(REPO / "sql", sql_dir)
    for d in (sql_dir / "detections").iterdir():
        if d.is_dir() and d.name != "cloudtrail":
            shutil.rmtree(d)
    home = base / "mamori"
    os.environ["MAMORI_HOME"] = str(home)
    os.environ["MAMORI_SQL_DIR"] = str(sql_dir)
    for var in (
        "MAMORI_RAW_URL",
        "MAMORI_LAKE_URL",
        "MAMORI_LEDGER_URL",
        "MAMORI_OUTBOX_URL",
        "MAMORI_ENGINE",
    ):
        os.environ.pop(var, None)

    from mamori import detect, ingest
    from mamori.config import load_settings
    from mamori.dev.generate import write_samples
    from mamori.lake import Store

    write_samples(START, HOURS, seed=7, sources=["cloudtrail"])
    s = load_settings()
    raw = Store(s.raw_url, s.raw_conn_id)
    key, data = _markup_delivery()
    raw.write_atomic(key, data)
    raw.set_landed(key, MARKUP_TIME + timedelta(minutes=4))
    for h in range(HOURS + 1):
        ws, we = START + timedelta(hours=h), START + timedelta(hours=h + 1)
        for batch in ingest.plan_window("cloudtrail", ws, we):
            ingest.convert_batch(batch)
        ingest.finalize_window("cloudtrail", ws, we)
    for h in DETECT_HOURS:
        ws, we = START + timedelta(hours=h), START + timedelta(hours=h + 1)
        results = [detect.run_chunk(ids, ws, we) for ids in detect.detection_chunks()]
        detect.summarize_window(results, ws, we)
    return Seeded(home, sql_dir)
