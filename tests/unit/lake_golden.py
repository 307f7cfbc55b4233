"""A small lake written by today's code from a fixed generator seed: the reference the layout tests hold every
later change to (key names and bytes must not move when lake keys or manifests change how they are built).

`build_lake` runs what the DAGs and the CLI run: a resumable backfill (ingest of every source over the first
windows, which also writes its progress record) and then compaction of every table, so the lake holds every kind
of key ingest, compaction and backfill write. `python tests/unit/lake_golden.py` rewrites the golden file, which
is only right when a change of the lake's bytes is intended (and said so in the commit).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 11, 1, 10, tzinfo=UTC)
HOURS = 6  # the generators' shortest story (CloudTrail's attack needs six hours)
WINDOWS = 3  # ingested: enough for late objects, several batches and compaction, in seconds
SEED = 7
BATCH_MAX_OBJECTS = 8
ACCT = "111111111111"
GOLDEN = Path(__file__).with_name("golden") / "lake_keys.json"


def _ct_record(when: datetime) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "recipientAccountId": ACCT,
        "userIdentity": {"type": "IAMUser", "userName": "dana", "accountId": ACCT},
    }


def build_lake(settings: Any) -> Path:
    """Generate, ingest (through a backfill) and compact a small lake; returns its root directory."""
    from mamori.backfill import make_plan, run_backfill
    from mamori.dev.generate import demo_sources, write_samples
    from mamori.lake import Store, compact

    # The demo's story sources (the lake whose bytes the demo promises): a source added later brings its own
    # files, which are not a change to this lake's keys or bytes.
    story = demo_sources()
    write_samples(START, HOURS, seed=SEED, sources=story)
    # A delivery holding a record no parser accepts, so the lake has a quarantine file and the manifests count it.
    raw = Store(settings.raw_url, settings.raw_conn_id)
    key = (
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/{START:%Y/%m/%d}/"
        f"{ACCT}_CloudTrail_us-east-1_{START:%Y%m%dT%H%MZ}_JUNK.json.gz"
    )
    # Beside them, records data-quality checks reject (an event after the window: quarantined) or flag (an
    # event older than the late horizon: kept), so manifests and summaries carry failed checks too.
    records = [
        {"eventName": "x"},
        "junk",
        _ct_record(START + timedelta(hours=3)),
        _ct_record(START - timedelta(days=3)),
    ]
    raw.write_atomic(key, gzip.compress(json.dumps({"Records": records}).encode(), mtime=0))
    raw.set_landed(key, START + timedelta(minutes=10))
    # Small batches, so windows have several batch manifests and partitions several files to compact.
    settings = dataclasses.replace(settings, batch_max_objects=BATCH_MAX_OBJECTS)
    end = START + timedelta(hours=WINDOWS)
    run_backfill(make_plan(START, end, sources=story, detections=[], settings=settings), settings)
    for name in story:
        compact.compact_partitions(name, end + timedelta(days=2), settings)
    return Path(settings.lake_url.removeprefix("file://"))


def digest(root: Path) -> dict[str, str]:
    """Every file of the lake (temporaries included, so a leftover shows) → sha256 of its bytes."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


if __name__ == "__main__":  # regenerate the golden file (a deliberate change of the lake's bytes only)
    import tempfile

    home = tempfile.mkdtemp(prefix="mamori-golden-")
    os.environ["MAMORI_HOME"] = home
    for var in (
        "MAMORI_RAW_URL",
        "MAMORI_LAKE_URL",
        "MAMORI_LEDGER_URL",
        "MAMORI_OUTBOX_URL",
        "MAMORI_ENGINE",
    ):
        os.environ.pop(var, None)
    # The settings tests/conftest.py gives every test (the golden is written in hour windows, the cadence that was
    # the default before the 5-minute one): run bare, the script would otherwise write a golden the test rejects.
    os.environ.update(
        MAMORI_INGEST_INTERVAL_MINUTES="60", MAMORI_DETECT_LAG_MINUTES="60", MAMORI_DETECT_OVERLAP_MINUTES="0"
    )
    from mamori.config import load_settings

    root = build_lake(load_settings())
    GOLDEN.write_text(json.dumps(digest(root), indent=1, sort_keys=True) + "\n")
    print(f"{GOLDEN}: {len(digest(root))} files", file=sys.stderr)
