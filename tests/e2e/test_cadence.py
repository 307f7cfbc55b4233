"""The cadence is a setting: ingest + detect at 30-minute windows over generated data give the hourly run's alerts.

Two homes hold the same raw objects (same landing times). One runs the default hourly cadence, the other
`MAMORI_INGEST_INTERVAL_MINUTES=30` (detection follows). Data intervals come from the real DAGs' timetables as
parsed under each setting, and each interval runs the stage functions the DAG tasks call (plan → convert →
finalize; the detect sensor's condition; the detection chunks; record). Then, for the 30-minute home, windows
are re-run through `dag.test()` on the real DAGs. Lake partitions stay hourly: the 30-minute windows write into
the hour partitions they touch, under their own window tags.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from mamori import detect, ingest, windows
from mamori.alerts.ledger import Ledger
from mamori.config import Settings, load_settings
from mamori.dev.demo import compare_ground_truth, run_windows
from mamori.dev.generate import write_samples
from mamori.sources import SOURCES

pytestmark = pytest.mark.slow
START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 6
END = START + timedelta(hours=HOURS)
TAIL = timedelta(hours=1)  # deliveries land up to ~40 minutes after their events


def _dags() -> dict[str, Any]:
    """The DAGs as the scheduler would parse them under the current environment."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors
    return bag.dags


def _interval(dag: Any, run_after: datetime) -> tuple[datetime, datetime]:
    """The data interval Airflow gives a run of `dag` at `run_after` (what dag.test and the scheduler use)."""
    import pendulum

    di = dag.timetable.infer_manual_data_interval(run_after=pendulum.instance(run_after))
    return di.start, di.end


def _pipeline(s: Settings) -> dict[str, Any]:
    """Every ingest window, then every detect run, as the DAGs' tasks do them; returns what was run."""
    dags = _dags()
    ingest_runs = [
        _interval(dags["ingest_cloudtrail"], t)
        for t in windows.run_dates(START, END + TAIL, s.ingest_interval)
    ]
    detect_runs = [
        _interval(dags["detect"], t + s.detect_lag) for t in windows.run_dates(START, END, s.detect_interval)
    ]
    # the parsed DAGs run at the configured cadence (ingest, health and detect alike)
    assert {timedelta(seconds=(e - b).total_seconds()) for b, e in ingest_runs} == {s.ingest_interval}
    assert {timedelta(seconds=(e - b).total_seconds()) for b, e in detect_runs} == {s.detect_interval}
    assert _interval(dags["health"], END) == (END - s.ingest_interval, END)

    first_start, first_end = detect_runs[0]
    assert not detect.sources_ready(first_end, s, start=first_start)  # nothing ingested yet: the sensor waits
    for b, e in ingest_runs:
        for source in SOURCES:
            for batch in ingest.plan_window(source, b, e, s):
                ingest.convert_batch(batch, s)
            ingest.finalize_window(source, b, e, s)
    chunks = detect.detection_chunks(s)
    for b, e in detect_runs:
        assert detect.sources_ready(e, s, start=b)  # the windows it waits for exist at this cadence
        results = [detect.run_chunk(ids, b, e, s) for ids in chunks]
        summary = detect.summarize_window(results, b, e, s)
        assert summary["rule_errors"] == []
    return {"ingest": ingest_runs, "detect": detect_runs}


def _alerts(s: Settings) -> list[tuple[Any, ...]]:
    return sorted(
        (a.key, a.detection_id, a.bucket_start, a.hit_count, a.first_seen, a.last_seen, a.severity)
        for a in Ledger(s.ledger_url).alerts()
    )


def _lake_rows(s: Settings) -> dict[str, int]:
    """Rows per curated table and hour partition (the partition layout, not the file split)."""
    root = Path(s.lake_url.removeprefix("file://")) / "curated"
    out: dict[str, int] = {}
    for p in root.rglob("*.parquet"):
        part = "/".join(x for x in p.relative_to(root).parent.parts)
        out[part] = out.get(part, 0) + pq.ParquetFile(p).metadata.num_rows
    return dict(sorted(out.items()))


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _home(tmp_path: Path, name: str, raw: Path, monkeypatch: pytest.MonkeyPatch, minutes: int) -> Settings:
    home = tmp_path / name
    home.mkdir()
    shutil.copytree(raw, home / "raw", copy_function=shutil.copy2)  # keeps mtimes = landing times
    monkeypatch.setenv("MAMORI_HOME", str(home))
    monkeypatch.setenv("MAMORI_INGEST_INTERVAL_MINUTES", str(minutes))
    monkeypatch.delenv("MAMORI_DETECT_INTERVAL_MINUTES", raising=False)
    return load_settings()


def test_thirty_minute_cadence_gives_the_hourly_alerts(settings, airflow_db, tmp_path, monkeypatch):
    steps = write_samples(START, HOURS, seed=11)
    raw = Path(settings.raw_url.removeprefix("file://"))

    hourly = _home(tmp_path, "hourly", raw, monkeypatch, 60)
    runs_h = _pipeline(hourly)
    fast = _home(tmp_path, "fast", raw, monkeypatch, 30)
    assert (fast.ingest_interval, fast.detect_interval) == (timedelta(minutes=30), timedelta(minutes=30))
    runs_f = _pipeline(fast)
    assert len(runs_f["ingest"]) == 2 * len(runs_h["ingest"]) and len(runs_f["detect"]) == 2 * HOURS

    # nothing lost: records in = rows out + quarantined in every window, and the same rows per hour partition
    for s, runs in ((hourly, runs_h), (fast, runs_f)):
        for source in SOURCES:
            wins = ingest.window_summaries(source, s)
            assert len(wins) == len(runs["ingest"])
            assert sum(w.records_in for w in wins) == sum(w.rows_out + w.quarantined for w in wins)
    assert _lake_rows(fast) == _lake_rows(hourly) and sum(_lake_rows(fast).values()) > 5_000
    assert sum(w.records_in for src in SOURCES for w in ingest.window_summaries(src, fast)) == sum(
        w.records_in for src in SOURCES for w in ingest.window_summaries(src, hourly)
    )
    # a 30-minute window writes into the hour partition it touches, under its own tag (two files per hour)
    names = {
        p.name for p in Path(fast.lake_url.removeprefix("file://")).rglob("curated/cloudtrail/**/*.parquet")
    }
    tags = {windows.parse_window_tag(n.split("-b")[0]).minute for n in names}
    assert tags == {0, 30}

    # the same alerts: keys (detection, dedup values, bucket start), hit counts, first and last seen
    alerts = _alerts(fast)
    assert alerts == _alerts(hourly) and len(alerts) >= 10
    missed, noise = compare_ground_truth(steps, Ledger(fast.ledger_url).alerts())
    assert missed == [] and noise == []

    # re-running 30-minute windows through the real DAGs changes neither the lake nor the ledger
    lake_root = Path(fast.lake_url.removeprefix("file://"))
    lake_before, ledger_before = _digest(lake_root), Ledger(fast.ledger_url).dump()
    dags = _dags()
    log = tmp_path / "airflow.log"
    again = [e for _, e in runs_f["ingest"][3:5]]
    for source in SOURCES:
        assert run_windows(dags[f"ingest_{source}"], again, log) == []
    assert run_windows(dags["detect"], [e for _, e in runs_f["detect"][3:5]], log) == []
    assert _digest(lake_root) == lake_before
    assert Ledger(fast.ledger_url).dump() == ledger_before
