"""A convert task SIGKILLed mid-batch leaves nothing of its batch visible, and the window's re-run lands it once.

A real kill, not an exception: convert_batch runs in a child process (tests/unit/convert_child.py) on a slowed
disk, and the test sends SIGKILL once the batch has written a Parquet file and is in the middle of the next.
Then every kind of reader is asked what it sees: the DuckDB engine's view (detections, enrichment, first-seen
baselines), `mamori search`, and a plain listing of `curated/`, which is what Athena reads (every object under
a table's location, with no manifest to consult).
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mamori import ingest
from mamori.cli import main
from mamori.engines.duckdb import DuckDBEngine
from mamori.lake import Store
from mamori.quality.validate import BatchQuality

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)
END = T0 + timedelta(hours=1)
ACCOUNTS = ("111111111111", "222222222222", "333333333333", "444444444444")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1", "sa-east-1")
PER_OBJECT = 300  # records per delivery, over 3 event hours: 24 objects -> 72 partition files in one batch
ROWS = len(ACCOUNTS) * len(REGIONS) * PER_OBJECT
IP = "203.0.113.10"
CHILD = Path(__file__).with_name("convert_child.py")


def _record(account: str, region: str, n: int) -> dict[str, Any]:
    t = T0 - timedelta(hours=2) + timedelta(seconds=n * 3 * 3600 // PER_OBJECT)
    return {
        "eventVersion": "1.08",
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "eventType": "AwsApiCall",
        "awsRegion": region,
        "sourceIPAddress": IP,
        "eventID": f"{account}-{region}-{n:06d}",
        "recipientAccountId": account,
        "userIdentity": {"type": "IAMUser", "userName": "dana", "accountId": account},
    }


@pytest.fixture
def big_window(settings, monkeypatch):
    """One batch of 24 deliveries (4 accounts x 6 regions), all landed in the window [10:00, 11:00).

    Great Expectations is replaced by a passing verdict here and in the child (as in test_ingest_guards.py):
    validation is not under test, and importing it costs seconds per process."""
    monkeypatch.setattr(ingest, "validate_table", lambda source, *args, **kwargs: BatchQuality(source))
    raw = Store(settings.raw_url)
    landed = T0 + timedelta(minutes=50)
    for account in ACCOUNTS:
        for region in REGIONS:
            key = (
                f"AWSLogs/{account}/CloudTrail/{region}/{landed:%Y/%m/%d}/"
                f"{account}_CloudTrail_{region}_{landed:%Y%m%dT%H%MZ}_{region.replace('-', ''):0>16}.json.gz"
            )
            records = [_record(account, region, n) for n in range(PER_OBJECT)]
            raw.write_atomic(key, gzip.compress(json.dumps({"Records": records}).encode(), mtime=0))
            raw.set_landed(key, landed)
    return settings


def lake_files(settings) -> list[str]:
    root = Path(settings.lake_url.removeprefix("file://"))
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def kill_when(
    settings,
    batch: dict[str, Any],
    tmp_path: Path,
    ready: Callable[[list[str]], bool],
    mode: str,
    delay: float,
) -> None:
    """Convert `batch` in a child process slowed down as `mode` says (tests/unit/convert_child.py) and SIGKILL
    it as soon as `ready(the lake's file keys)` holds."""
    spec = tmp_path / "batch.json"
    spec.write_text(json.dumps(batch))
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(spec), str(delay), mode],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, "the batch finished before it could be killed"
            assert time.monotonic() < deadline, "the moment to kill never came"
            if ready(lake_files(settings)):
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def kill_mid_write(settings, batch: dict[str, Any], tmp_path: Path) -> None:
    """SIGKILL the batch's convert once one Parquet file is complete and the next write is on disk but not
    done (wherever the code writes them): a file under its temporary name, or the batch's manifest staged and
    waiting for the disk with its files (a local lake stages its records with them)."""

    def ready(files: list[str]) -> bool:
        pending = any(
            f.endswith(".tmp") or (f.startswith("_staging/") and f.endswith("batch-0000.json")) for f in files
        )
        return pending and any(f.endswith(".parquet") for f in files)

    kill_when(settings, batch, tmp_path, ready, "disk", 0.5)


def duckdb_rows(settings) -> tuple[int, int]:
    """(rows, distinct event ids) of the cloudtrail view every detection and enrichment reads."""
    engine = DuckDBEngine(settings)
    try:
        sql = "SELECT count(*) AS n, count(DISTINCT eventid) AS ids FROM cloudtrail"
        row = engine.query(sql).to_pylist()[0]
    finally:
        engine.close()
    return int(row["n"]), int(row["ids"])


def searched(capsys) -> list[dict[str, Any]]:
    start, end = T0 - timedelta(hours=3), END
    args = ["search", "--ip", IP, "--from", start.isoformat(), "--to", end.isoformat(), "--format", "jsonl"]
    assert main([*args, "--limit", "0"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_batch_killed_mid_write_shows_no_row_and_its_rerun_lands_every_row_once(
    big_window, tmp_path, capsys
):
    s = big_window
    (batch,) = ingest.plan_window("cloudtrail", T0, END, s)
    kill_mid_write(s, batch, tmp_path)

    # Nothing of the killed batch is visible to any reader: Athena (every object under curated/), the DuckDB
    # view (detections, enrichment, first-seen baselines) and `mamori search`.
    visible = {
        "curated/": [f for f in lake_files(s) if f.startswith("curated/")],
        "duckdb (rows, ids)": duckdb_rows(s),
        "search rows": len(searched(capsys)),
    }
    assert visible == {"curated/": [], "duckdb (rows, ids)": (0, 0), "search rows": 0}
    with pytest.raises(ingest.ReconciliationError, match=r"missing: \[0\]"):
        ingest.finalize_window("cloudtrail", T0, END, s)
    leftovers = [f for f in lake_files(s) if f.endswith(".tmp") or f.startswith("_staging/")]
    assert leftovers, "the kill should have left a temporary behind for the re-run to clean"

    # The window's re-run lands every row exactly once and removes what the killed attempt left.
    for b in ingest.plan_window("cloudtrail", T0, END, s):
        ingest.convert_batch(b, s)
    summary = ingest.finalize_window("cloudtrail", T0, END, s)
    assert (summary["records_in"], summary["rows_out"], summary["quarantined"]) == (ROWS, ROWS, 0)
    assert duckdb_rows(s) == (ROWS, ROWS)
    assert len(searched(capsys)) == ROWS
    files = lake_files(s)
    assert [f for f in files if f.endswith(".tmp") or f.startswith("_staging/")] == []
    assert len([f for f in files if f.startswith("curated/")]) == len(ACCOUNTS) * len(REGIONS) * 3


def test_a_batch_killed_while_publishing_blocks_its_window_until_a_rerun_cleans_up(big_window, tmp_path):
    """The one stretch in which part of a batch is visible: between the moves of the publish step. A kill there
    must not let the window be finalized, and the re-run must remove every file the killed attempt published,
    including ones the re-run no longer produces (here: a smaller batch size moves accounts 3 and 4 into a
    second batch, so the killed attempt's `-b0000` files of account 3 would otherwise be rows counted twice)."""
    s = big_window
    (batch,) = ingest.plan_window("cloudtrail", T0, END, s)

    def published_account_3(files: list[str]) -> bool:
        return any(f.startswith(f"curated/cloudtrail/account={ACCOUNTS[2]}/") for f in files)

    kill_when(s, batch, tmp_path, published_account_3, "publish", 0.05)
    published = [f for f in lake_files(s) if f.startswith("curated/")]
    assert 0 < len(published) < len(ACCOUNTS) * len(REGIONS) * 3
    with pytest.raises(ingest.ReconciliationError, match=r"\[0\] were stopped while publishing"):
        ingest.finalize_window("cloudtrail", T0, END, s)
    assert not ingest.window_complete("cloudtrail", T0, s)

    smaller = replace(s, batch_max_objects=len(REGIONS) * 2)
    batches = ingest.plan_window("cloudtrail", T0, END, smaller)
    assert len(batches) == 2
    for b in batches:
        ingest.convert_batch(b, smaller)
    summary = ingest.finalize_window("cloudtrail", T0, END, smaller)
    assert (summary["records_in"], summary["rows_out"]) == (ROWS, ROWS)
    assert duckdb_rows(s) == (ROWS, ROWS)
    files = lake_files(s)
    assert not [f for f in files if f.endswith(".tmp") or f.startswith("_staging/") or "_publishing-" in f]
    curated = [f for f in files if f.startswith("curated/")]
    assert len(curated) == len(ACCOUNTS) * len(REGIONS) * 3
    assert all(
        ("-b0000" in f) == (f"account={ACCOUNTS[2]}" not in f and f"account={ACCOUNTS[3]}" not in f)
        for f in curated
    )


def test_temporaries_of_writes_killed_before_staging_existed_are_removed_by_the_windows_next_run(big_window):
    """Temporaries an earlier writer left beside the batch's own keys (a curated file, the manifest, the
    quarantine file: what a kill left before batches were staged), named as Store.write_atomic names them."""
    s = big_window
    for b in ingest.plan_window("cloudtrail", T0, END, s):
        ingest.convert_batch(b, s)
    ingest.finalize_window("cloudtrail", T0, END, s)
    root = Path(s.lake_url.removeprefix("file://"))
    published = next(f for f in lake_files(s) if f.startswith("curated/"))
    stem = "20261101T1000Z-b0000"
    left = [
        str(Path(published).with_name(f".{Path(published).name}.0123abcd.tmp")),
        "_manifests/cloudtrail/window=20261101T1000Z/.batch-0000.json.4567cdef.tmp",
        f"quarantine/cloudtrail/dt=2026-11-01/.{stem}.jsonl.gz.89ab0123.tmp",
    ]
    for key in left:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(b"half a file")
    for b in ingest.plan_window("cloudtrail", T0, END, s):
        ingest.convert_batch(b, s)
    ingest.finalize_window("cloudtrail", T0, END, s)
    assert [f for f in lake_files(s) if f.endswith(".tmp")] == []
