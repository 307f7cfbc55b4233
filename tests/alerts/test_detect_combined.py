"""On engines without shared scans (Athena) a detect window sends one combined statement per source instead of a
query per rule (`mamori.detections.combined`). The combined form is executed here on DuckDB, transpiled by the
project's dialect layer as every rule is: it must give every rule exactly the hits, alert keys and ledger rows
its own query gives, over generated demo hours that hold the attack scenarios."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from mamori import detect
from mamori.alerts.ledger import ALERT_HITS, ALERTS, Ledger
from mamori.config import load_settings
from mamori.detections import combined
from mamori.detections.loader import load_catalog
from mamori.engines.duckdb import DuckDBEngine
from mamori.sources import SOURCES

HOURS = 6  # the attack story needs 6 hours
WINDOWS = 3  # evaluated (both ways) of them
START = datetime(2026, 11, 1, tzinfo=UTC)  # the demo day the generators write (bench/sections/detections.py)


class RecordingEngine(DuckDBEngine):
    """The real DuckDB engine over the lake, keeping every statement it is sent (what Athena would be sent)."""

    sent: list[str]

    def query(self, sql):  # type: ignore[override]
        self.sent.append(sql)
        return super().query(sql)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """Demo hours of every source with a generator, converted through the real ingest code (once per module)."""
    from mamori import ingest
    from mamori.dev.generate import get_generator
    from mamori.lake import Store

    home = tmp_path_factory.mktemp("combined")
    settings = load_settings({"MAMORI_HOME": str(home)})
    raw = Store(settings.raw_url)

    def put(key, data, landed):
        raw.write_atomic(key, data)
        raw.set_landed(key, landed)

    for name in SOURCES:
        gen = get_generator(name)
        if gen is None:
            continue
        if name == "cloudtrail":
            from mamori.sources.cloudtrail.generate import generate_cloudtrail

            gen = functools.partial(generate_cloudtrail, events_per_file=40)
        gen(put, START, hours=HOURS, seed=11)
        end = START + timedelta(hours=HOURS + 2)
        for batch in ingest.plan_window(name, START, end, settings):
            ingest.convert_batch(batch, settings)
        ingest.finalize_window(name, START, end, settings)
    return home, START


def _settings(home, ledger):
    return load_settings(
        {
            "MAMORI_HOME": str(home),
            "MAMORI_LEDGER_URL": f"sqlite:///{ledger}",
            "MAMORI_DETECT_LAG_MINUTES": "60",
            "MAMORI_DETECT_OVERLAP_MINUTES": "0",
        }
    )


def _ledger_rows(settings):
    with Ledger(settings.ledger_url).engine.connect() as conn:
        alerts = conn.execute(sa.select(ALERTS).order_by(ALERTS.c.alert_key)).all()
        hits = conn.execute(
            sa.select(ALERT_HITS).order_by(ALERT_HITS.c.alert_key, ALERT_HITS.c.window_start)
        ).all()
    return [tuple(r) for r in alerts], [tuple(r) for r in hits]


@pytest.mark.slow
def test_combined_statements_give_every_rule_its_own_querys_hits_alerts_and_ledger_rows(
    lake, tmp_path, monkeypatch
):
    home, start_hour = lake
    per_rule_s = _settings(home, tmp_path / "per_rule.db")
    combined_s = _settings(home, tmp_path / "combined.db")
    sent: list[str] = []

    def engine(_s=None, tables=None):
        e = RecordingEngine(per_rule_s, threads=2, tables=tables)
        e.sent = sent
        return e

    monkeypatch.setattr(detect, "get_engine", engine)
    chunks = detect.detection_chunks(per_rule_s)
    per_rule, both = [], []
    for h in range(WINDOWS):
        start = start_hour + timedelta(hours=h) + per_rule_s.detect_lag
        end = start + timedelta(hours=1)
        per_rule += [
            r for c in chunks for r in detect.run_chunk(c, start, end, per_rule_s, share_scans=False)
        ]
        sent.clear()
        both += [r for c in chunks for r in detect.run_chunk(c, start, end, combined_s, combine=True)]
        assert sum(combined.VALUES_COLUMN in q for q in sent) >= 1  # combined statements were sent

    assert both == per_rule
    assert sum(r["hits"] for r in per_rule) > 100 and sum(bool(r["alerts"]) for r in per_rule) > 5
    assert not any(r.get("error") for r in per_rule)
    assert _ledger_rows(combined_s) == _ledger_rows(per_rule_s)


@pytest.mark.slow
def test_one_statement_per_source_plus_first_seen_rules_and_identical_hits_when_split(lake, monkeypatch):
    """Counted on `evaluate` over one demo hour: the statements Athena would be sent; then with the size limit
    lowered so the statement is split, the same hits from more, smaller statements."""
    home, start_hour = lake
    s = load_settings({"MAMORI_HOME": str(home)})
    catalog = load_catalog(s.sql_dir, include_deprecated=False)
    wstart, wend = start_hour + timedelta(hours=1), start_hour + timedelta(hours=2)
    engine = RecordingEngine(s, threads=2)
    engine.sent = []
    try:
        runs = list(detect.evaluate(catalog, engine, wstart, wend, set(SOURCES), combine=True))
        first_seen = {d.id for d in catalog if d.reach is None}
        rest: dict[str, list[str]] = {}
        for d in catalog:
            if d.reach is not None:
                rest.setdefault(d.header.log_source, []).append(d.id)
        alone = {ids[0] for ids in rest.values() if len(ids) == 1}  # nothing to combine it with
        assert {r.detection.id for r in runs if r.scan == "own"} == first_seen | alone
        statements = [q for q in engine.sent if combined.VALUES_COLUMN in q]
        assert len(engine.sent) == len(statements) + len(first_seen | alone) < len(catalog) / 3
        # one per source with rules to combine; the largest (CloudTrail) is split below the size limit
        assert len(rest) - len(alone) <= len(statements) <= len(rest) - len(alone) + 2
        assert all(len(q.encode()) <= combined.SAFE_QUERY_BYTES for q in engine.sent)
        hits = {r.detection.id: r.hits for r in runs}
        assert not [r for r in runs if r.error]

        engine.sent = []
        monkeypatch.setattr(detect, "COMBINED_QUERY_BYTES", 40_000)
        split = list(detect.evaluate(catalog, engine, wstart, wend, set(SOURCES), combine=True))
    finally:
        engine.close()
    assert len([q for q in engine.sent if combined.VALUES_COLUMN in q]) > len(statements)
    assert all(len(q.encode()) <= 40_000 for q in engine.sent if combined.VALUES_COLUMN in q)
    assert {r.detection.id: r.hits for r in split} == hits
    assert sum(map(len, hits.values())) > 0
