"""Skipping and sharing scans changes nothing a detect run produces: over generated hours of every source with
a generator (the attack stories plus background), each rule's hits per window, and the ledger's alerts, window
contributions and suppressed counts, are identical to one query per rule; and the skip and the shared scans
actually happen (the engine is spied on)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from mamori import detect, ingest
from mamori.alerts.ledger import ALERT_HITS, ALERTS, SUPPRESSED, Ledger
from mamori.config import Settings, load_settings
from mamori.detections.loader import load_catalog
from mamori.engines.duckdb import DuckDBEngine
from mamori.sources import SOURCES

pytestmark = pytest.mark.slow
START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 6
# two windows past the data: only stragglers or nothing, so whole sources are skipped there
WINDOWS = [(START + timedelta(hours=h), START + timedelta(hours=h + 1)) for h in range(HOURS + 2)]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Settings:
    """Generated raw logs of every source (seed 7, the demo's), ingested hour by hour into one lake."""
    from mamori.dev.generate import write_samples

    home = tmp_path_factory.mktemp("shared-scan")
    saved = os.environ.get("MAMORI_HOME")
    os.environ["MAMORI_HOME"] = str(home)  # write_samples reads the settings from the environment
    try:
        s = load_settings()
        write_samples(START, HOURS, seed=7)
        for name in SOURCES:
            for t, u in [*WINDOWS, (WINDOWS[-1][1], WINDOWS[-1][1] + timedelta(hours=1))]:
                for batch in ingest.plan_window(name, t, u, s):
                    ingest.convert_batch(batch, s)
                ingest.finalize_window(name, t, u, s)
    finally:
        if saved is None:
            os.environ.pop("MAMORI_HOME", None)
        else:
            os.environ["MAMORI_HOME"] = saved
    return s


def _rows(hits: list[dict[str, Any]]) -> list[str]:
    return sorted(repr(sorted(h.items())) for h in hits)


def test_every_rule_gives_the_same_hits_with_skips_and_shared_scans(lake):
    catalog = load_catalog(lake.sql_dir, include_deprecated=False)
    shared: list[str] = []

    class Spy(DuckDBEngine):
        def shared_scan(self, table, where, columns=None):  # type: ignore[override]
            shared.append(table)
            return super().shared_scan(table, where, columns)

    engine = Spy(lake, threads=2)
    skipped = queried = 0
    try:
        for ws, we in WINDOWS:
            per_rule = {
                r.detection.id: r for r in detect.evaluate(catalog, engine, ws, we, set(SOURCES), False)
            }
            present = detect.sources_with_data(set(SOURCES), ws, we, lake)
            runs = list(detect.evaluate(catalog, engine, ws, we, present, True))
            assert sorted(r.detection.id for r in runs) == sorted(per_rule)  # source by source, any order
            for r in runs:
                base = per_rule[r.detection.id]
                assert base.error is None and r.error is None, r.detection.id
                assert _rows(r.hits) == _rows(base.hits), (r.detection.id, ws)
                if r.detection.reach is None:  # first-seen: its baseline reads days back, never shared
                    assert r.scan in ("own", "skipped"), r.detection.id
            skipped += sum(r.scan == "skipped" for r in runs)
            queried += sum(r.scan != "skipped" for r in runs)
    finally:
        engine.close()
    assert skipped and queried  # both paths were taken over these windows
    assert set(shared) >= {"cloudtrail", "vpcflow", "alb", "cloudwatch"}  # one shared scan per source


def _ledger(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(r) for r in conn.execute(sa.select(t)).all())
            for t in (ALERTS, ALERT_HITS, SUPPRESSED)
        }


def test_the_ledger_is_identical_to_one_query_per_rule(lake, tmp_path, monkeypatch):
    chunks = detect.detection_chunks(lake)
    urls = {}
    for mode in ("per_rule", "shared"):
        s = load_settings(
            {"MAMORI_HOME": str(lake.home), "MAMORI_LEDGER_URL": f"sqlite:///{tmp_path}/{mode}.db"}
        )
        with monkeypatch.context() as m:
            if mode == "per_rule":  # today's run: every rule queried, each with its own scan
                m.setattr(detect, "sources_with_data", lambda sources, *_: set(sources))
            for ws, we in WINDOWS:
                start, end = ws + s.detect_lag, we + s.detect_lag
                results = [detect.run_chunk(c, start, end, s, share_scans=mode == "shared") for c in chunks]
                assert detect.summarize_window(results, start, end, s)["rule_errors"] == []
        urls[mode] = s.ledger_url
    per_rule, shared = _ledger(urls["per_rule"]), _ledger(urls["shared"])
    assert per_rule["alerts"], "the stories alert"
    assert shared == per_rule
    assert len(Ledger(urls["shared"]).alerts()) == len(per_rule["alerts"])
