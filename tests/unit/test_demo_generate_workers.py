"""The demo generates its sources in two processes (`write_samples(workers=2)`): the raw store and the ground
truth must be exactly what one process writes, landing times included, so the demo's story cannot change with
the machine's cores."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from mamori.config import load_settings
from mamori.dev.generate import demo_sources, write_samples
from mamori.lake import Store

START = datetime(2026, 11, 1, 10, tzinfo=UTC)
HOURS = 6  # the generators' shortest story (CloudTrail's attack needs six hours)


def _raw_listing(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under the raw store: content digest and landing time (mtime), temporaries included."""
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), int(p.stat().st_mtime))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _generate(home: Path, monkeypatch, workers: int) -> tuple[dict[str, tuple[str, int]], list[object]]:
    monkeypatch.setenv("MAMORI_HOME", str(home))
    for var in ("MAMORI_RAW_URL", "MAMORI_LAKE_URL", "MAMORI_LEDGER_URL", "MAMORI_OUTBOX_URL"):
        monkeypatch.delenv(var, raising=False)
    steps = write_samples(START, HOURS, seed=7, sources=demo_sources(), workers=workers)
    return _raw_listing(Path(load_settings().raw_url.removeprefix("file://"))), steps


def test_two_workers_write_the_same_objects_landing_times_and_ground_truth(tmp_path, monkeypatch):
    one_raw, one_steps = _generate(tmp_path / "one", monkeypatch, workers=1)
    two_raw, two_steps = _generate(tmp_path / "two", monkeypatch, workers=2)
    assert len(one_raw) > 500 and len(one_steps) > 10
    assert not [k for k in two_raw if os.path.basename(k).startswith(".")]  # no temporary left behind
    assert two_raw == one_raw
    assert two_steps == one_steps


def test_an_object_written_landed_appears_with_its_landing_time(tmp_path):
    store = Store(f"file://{tmp_path}")
    landed = datetime(2026, 11, 1, 10, 5, 7, tzinfo=UTC)
    store.write_landed("AWSLogs/a/b.json.gz", b"data", landed)
    store.sync(["AWSLogs/a/b.json.gz"])
    [obj] = store.find("AWSLogs")
    assert (obj.key, obj.size, obj.landed) == ("AWSLogs/a/b.json.gz", 4, landed)
    assert sorted(p.name for p in (tmp_path / "AWSLogs" / "a").iterdir()) == ["b.json.gz"]
