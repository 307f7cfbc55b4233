"""Two trails writing to one bucket: the generated CloudTrail story delivered once, and again by an organization
trail (every object also under AWSLogs/o-<org>/<account>/..., landing at the same time), gives the same alerts
with the same hit counts, while the lake holds every delivered copy and the window summaries reconcile them.

Each delivery is run the way the DAGs run it (ingest windows, detect chunks) in its own MAMORI_HOME.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mamori import detect, ingest
from mamori.alerts.ledger import Ledger
from mamori.config import load_settings
from mamori.dev.generate import write_samples as generate
from mamori.engines.duckdb import DuckDBEngine
from mamori.lake import Store, layout
from mamori.lake.manifests import WindowSummary

pytestmark = pytest.mark.slow
START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 6
ORG = "o-exampleorg1"


def _second_trail(raw: Store) -> int:
    """Copy every CloudTrail object as an organization trail delivering to the same bucket would."""
    n = 0
    for obj in raw.find("AWSLogs/"):
        if "/CloudTrail/" not in obj.key or obj.key.startswith(f"AWSLogs/{ORG}/"):
            continue
        copy = obj.key.replace("AWSLogs/", f"AWSLogs/{ORG}/", 1)
        raw.write_atomic(copy, raw.read_bytes(obj.key))
        raw.set_landed(copy, obj.landed)
        n += 1
    return n


def _run(home: Path, monkeypatch: pytest.MonkeyPatch, trails: int) -> tuple[list[tuple], dict[str, int]]:
    monkeypatch.setenv("MAMORI_HOME", str(home))
    s = load_settings()
    steps = generate(START, HOURS, seed=11, sources=["cloudtrail"])
    if trails == 2:
        assert _second_trail(Store(s.raw_url, s.raw_conn_id)) > 0
    records = 0
    for h in range(HOURS + 1):
        ws = START + timedelta(hours=h)
        for b in ingest.plan_window("cloudtrail", ws, ws + timedelta(hours=1), s):
            ingest.convert_batch(b, s)
        ingest.finalize_window("cloudtrail", ws, ws + timedelta(hours=1), s)
        summary = WindowSummary.from_json(Store(s.lake_url).read_bytes(layout.success_key("cloudtrail", ws)))
        assert summary.records_in == summary.rows_out + summary.quarantined  # the copies reconcile too
        records += summary.rows_out
    ids = sorted({d for st in steps for d in st.detections})
    for h in range(HOURS):
        end = START + timedelta(hours=h + 1) + s.detect_lag
        detect.run_chunk(ids, end - timedelta(hours=1), end, s)
    engine = DuckDBEngine(s)
    try:
        counts = {
            t: engine.query(f"SELECT count(*) AS n FROM {t}").column("n")[0].as_py()
            for t in ("cloudtrail", "cloudtrail_delivered")
        }
    finally:
        engine.close()
    counts["summaries"] = records
    alerts = sorted((a.key, a.detection_id, a.hit_count) for a in Ledger(s.ledger_url).alerts())
    return alerts, counts


def test_two_trails_give_the_alerts_and_hit_counts_of_one(tmp_path, monkeypatch):
    one, one_counts = _run(tmp_path / "one", monkeypatch, trails=1)
    two, two_counts = _run(tmp_path / "two", monkeypatch, trails=2)
    assert len(one) >= 3
    assert two == one
    # The lake and the summaries keep every delivered record; the table detections read has each event once.
    assert one_counts["cloudtrail"] == one_counts["cloudtrail_delivered"] == one_counts["summaries"]
    assert two_counts["cloudtrail_delivered"] == two_counts["summaries"] == 2 * one_counts["summaries"]
    assert two_counts["cloudtrail"] == one_counts["cloudtrail"]
