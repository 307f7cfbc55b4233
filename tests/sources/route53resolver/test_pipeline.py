"""Generated Resolver query logs through the real ingest pipeline and the real rule on DuckDB: every object is
claimed, every record reconciles, and over the whole lake the tunnelling rule raises exactly the alert the
generator's ground truth names (the background's look-alikes raise none)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mamori import ingest
from mamori.detections.backtest import backtest
from mamori.detections.loader import load_catalog
from mamori.dev.generate import write_samples
from mamori.engines import get_engine

START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 3  # the tunnel starts at 02:05


def test_ingested_day_gives_exactly_the_ground_truth_alert(settings):
    steps = write_samples(START, HOURS, seed=7, sources=["route53resolver"])
    (step,) = steps
    rows = 0
    t = START
    while t < START + timedelta(hours=HOURS + 1):
        for batch in ingest.plan_window("route53resolver", t, t + timedelta(hours=1), settings):
            ingest.convert_batch(batch, settings)
        summary = ingest.finalize_window("route53resolver", t, t + timedelta(hours=1), settings)
        assert summary["unclaimed"] == []
        assert summary["quarantined"] == 0
        assert summary["records_in"] == summary["rows_out"]
        rows += summary["rows_out"]
        t += timedelta(hours=1)
    assert rows > 500

    (det,) = [d for d in load_catalog(settings.sql_dir) if d.id == "route53resolver_dns_tunneling"]
    engine = get_engine(settings)
    try:
        result = backtest(det, engine, START, START + timedelta(hours=HOURS))
    finally:
        engine.close()
    assert result.hits > 60  # the tunnel's queries, and look-alike hits below the threshold
    assert [{k: a["dedup"][k] for k in ("account_id", "source_ip", "target")} for a in result.alerts] == [
        step.expected_dedup_values("route53resolver_dns_tunneling")
    ]
